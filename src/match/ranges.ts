import type { OsvAffected, OsvEvent, OsvRange } from "../vulndb/osv.js";
import type { VersionScheme } from "./versions/types.js";

export interface RangeVerdict {
  affected: boolean;
  /** The fix that ends the stretch of the range the version lies in, when the range names one. */
  fixed?: string;
}

type Kind = "introduced" | "fixed" | "last_affected" | "limit";

interface RangeEvent {
  kind: Kind;
  version: string;
}

const kinds = new Set<string>(["introduced", "fixed", "last_affected", "limit"]);

function eventOf(event: OsvEvent): RangeEvent | undefined {
  const [kind, version] = Object.entries(event)[0] ?? [];
  if (kind === undefined || !kinds.has(kind) || typeof version !== "string") return undefined;
  return { kind: kind as Kind, version };
}

/** "0" (and crates.io's "0.0.0-0") open a range at the very beginning of the version line. */
function isOrigin(event: RangeEvent): boolean {
  return event.kind === "introduced" && (event.version === "0" || event.version === "0.0.0-0");
}

/**
 * The range's events in the ecosystem's order, not the file's. Events at one version keep the
 * file's order, as a stable sort leaves them: `{fixed: 2.0.0}, {introduced: 2.0.0}` joins two
 * stretches (scrapy's PYSEC-2024-258 lists 2.0.0 as affected), `{introduced: X}, {fixed: X}` is
 * empty. An event whose version the scheme cannot order is dropped: it cannot be placed.
 */
function sortedEvents(range: OsvRange, scheme: VersionScheme): RangeEvent[] {
  // A record's ranges are evaluated again for every version and every fix candidate: sort once.
  let byScheme = sortedCache.get(range);
  if (!byScheme) {
    byScheme = new Map();
    sortedCache.set(range, byScheme);
  }
  let sorted = byScheme.get(scheme);
  if (!sorted) {
    sorted = sortEvents(range, scheme);
    byScheme.set(scheme, sorted);
  }
  return sorted;
}

const sortedCache = new WeakMap<OsvRange, Map<VersionScheme, RangeEvent[]>>();

function sortEvents(range: OsvRange, scheme: VersionScheme): RangeEvent[] {
  const events = range.events
    .map(eventOf)
    .filter((e): e is RangeEvent => e !== undefined && (isOrigin(e) || scheme.isValid(e.version)));
  return events.sort((a, b) => {
    if (isOrigin(a) || isOrigin(b)) return Number(isOrigin(b)) - Number(isOrigin(a));
    return scheme.compare(a.version, b.version);
  });
}

/**
 * Evaluates one ECOSYSTEM or SEMVER range as the OSV schema's evaluation pseudocode does: walking
 * the events in version order, `introduced` switches the range on at its version, `fixed` off at
 * its version, `last_affected` off just above its own; `limit` events bound the whole range (a
 * version at or above every limit is outside it). GIT ranges name commits, not versions, and
 * never apply to a package version.
 */
export function evaluateRange(version: string, range: OsvRange, scheme: VersionScheme): RangeVerdict {
  if (range.type !== "ECOSYSTEM" && range.type !== "SEMVER") return { affected: false };
  const events = sortedEvents(range, scheme);
  const order = (event: RangeEvent): number => (isOrigin(event) ? 1 : scheme.compare(version, event.version));
  const limits = events.filter((event) => event.kind === "limit");
  if (limits.length > 0 && !limits.some((limit) => order(limit) < 0)) return { affected: false };
  let affected = false;
  for (const event of events) {
    const position = order(event);
    if (event.kind === "introduced") {
      if (position >= 0) affected = true;
    } else if (event.kind === "fixed") {
      if (position >= 0) affected = false;
    } else if (event.kind === "last_affected") {
      if (position > 0) affected = false;
    }
  }
  if (!affected) return { affected: false };
  // The version's stretch ends at the first closing event above it; only a `fixed` names a fix.
  const end = events.find(
    (event) =>
      (event.kind === "fixed" && order(event) < 0) ||
      (event.kind === "last_affected" && order(event) <= 0) ||
      (event.kind === "limit" && order(event) < 0),
  );
  return end?.kind === "fixed" ? { affected: true, fixed: end.version } : { affected: true };
}

function inVersionsList(version: string, affected: OsvAffected, scheme: VersionScheme): boolean {
  return (affected.versions ?? []).some(
    (listed) => listed === version || (scheme.isValid(listed) && scheme.compare(listed, version) === 0),
  );
}

/** Whether an `affected` entry covers the version: any of its ranges, or its `versions` list. */
export function entryCovers(version: string, affected: OsvAffected, scheme: VersionScheme): boolean {
  return (
    (affected.ranges ?? []).some((range) => evaluateRange(version, range, scheme).affected) ||
    inVersionsList(version, affected, scheme)
  );
}

/**
 * The fix for a version that some entries cover, from the fixes their ranges name: the lowest
 * above the version that no entry covers in turn. An advisory may list a package once per branch
 * or module stream, and a fix named for one branch may still be affected through another; none
 * is returned when every named fix is.
 */
export function lowestUnaffectedFix(
  version: string,
  candidates: string[],
  entries: OsvAffected[],
  scheme: VersionScheme,
): string | undefined {
  return [...new Set(candidates)]
    .filter((candidate) => scheme.compare(candidate, version) > 0)
    .sort((a, b) => scheme.compare(a, b))
    .find((candidate) => entries.every((entry) => !entryCovers(candidate, entry, scheme)));
}

/**
 * Whether one `affected` entry covers the version (OSV: in any of its ranges, or listed in its
 * `versions`), and the fix its ranges name for it, per lowestUnaffectedFix.
 */
export function evaluateAffected(
  version: string,
  affected: OsvAffected,
  scheme: VersionScheme,
): RangeVerdict {
  const fixes: string[] = [];
  let covered = false;
  for (const range of affected.ranges ?? []) {
    const verdict = evaluateRange(version, range, scheme);
    if (!verdict.affected) continue;
    covered = true;
    if (verdict.fixed !== undefined) fixes.push(verdict.fixed);
  }
  if (!covered && !inVersionsList(version, affected, scheme)) return { affected: false };
  const fixed = lowestUnaffectedFix(version, fixes, [affected], scheme);
  return fixed ? { affected: true, fixed } : { affected: true };
}
