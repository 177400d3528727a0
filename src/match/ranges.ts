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
  /** Whether it opens the range at the very beginning (isOrigin), kept to ask once. */
  origin: boolean;
}

const kinds = new Set<string>(["introduced", "fixed", "last_affected", "limit"]);

/** The two verdicts without a fix, shared: asked for every record's every range, and never changed. */
const NOT_AFFECTED: RangeVerdict = Object.freeze({ affected: false });
const AFFECTED: RangeVerdict = Object.freeze({ affected: true });

/** "0" (and crates.io's "0.0.0-0") open a range at the very beginning of the version line. */
function isOrigin(kind: Kind, version: string): boolean {
  return kind === "introduced" && (version === "0" || version === "0.0.0-0");
}

function eventOf(event: OsvEvent): RangeEvent | undefined {
  const [kind, version] = Object.entries(event)[0] ?? [];
  if (kind === undefined || !kinds.has(kind) || typeof version !== "string") return undefined;
  return { kind: kind as Kind, version, origin: isOrigin(kind as Kind, version) };
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
    .filter((e): e is RangeEvent => e !== undefined && (e.origin || scheme.isValid(e.version)));
  return events.sort((a, b) => {
    if (a.origin || b.origin) return Number(b.origin) - Number(a.origin);
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
  if (range.type !== "ECOSYSTEM" && range.type !== "SEMVER") return NOT_AFFECTED;
  // One pass, comparing the version with each event once: whether it lies below some limit,
  // whether the walk leaves it affected, and the first closing event above it, which ends its
  // stretch (only a `fixed` names a fix).
  let limited = false;
  let belowALimit = false;
  let affected = false;
  let end: RangeEvent | undefined;
  for (const event of sortedEvents(range, scheme)) {
    const position = event.origin ? 1 : scheme.compare(version, event.version);
    if (event.kind === "introduced") {
      if (position >= 0) affected = true;
    } else if (event.kind === "fixed") {
      if (position >= 0) affected = false;
      else end ??= event;
    } else if (event.kind === "last_affected") {
      if (position > 0) affected = false;
      else end ??= event;
    } else {
      limited = true;
      if (position < 0) {
        belowALimit = true;
        end ??= event;
      }
    }
  }
  if ((limited && !belowALimit) || !affected) return NOT_AFFECTED;
  return end?.kind === "fixed" ? { affected: true, fixed: end.version } : AFFECTED;
}

/** An affected entry's `versions`, arranged for asking whether a version is among them. */
interface ListedVersions {
  /** Every listed text: a version written as listed needs no comparison. */
  texts: Set<string>;
  /** The canonical forms of the listed versions the scheme can order, where it has them. */
  canonical?: Set<string>;
  /** The listed versions the scheme can order, compared one by one where it has no canonical form. */
  valid: string[];
}

/** Per entry and scheme: a record's list is asked about for every version and every fix candidate. */
const listedCache = new WeakMap<OsvAffected, Map<VersionScheme, ListedVersions>>();

function listedVersions(affected: OsvAffected, versions: string[], scheme: VersionScheme): ListedVersions {
  let byScheme = listedCache.get(affected);
  if (!byScheme) {
    byScheme = new Map();
    listedCache.set(affected, byScheme);
  }
  let listed = byScheme.get(scheme);
  if (!listed) {
    const valid = versions.filter((text) => scheme.isValid(text));
    const canonical = scheme.canonical?.bind(scheme);
    listed = {
      texts: new Set(versions),
      valid,
      ...(canonical ? { canonical: new Set(valid.map(canonical)) } : {}),
    };
    byScheme.set(scheme, listed);
  }
  return listed;
}

/**
 * Whether the entry lists the version: as written, or as a version the scheme orders equal to it
 * (PyPI `1.0` is listed as `1.0.0`). A scheme's canonical form makes that a set lookup; otherwise
 * each listed version is compared.
 */
function inVersionsList(version: string, affected: OsvAffected, scheme: VersionScheme): boolean {
  const versions = affected.versions;
  if (versions === undefined || versions.length === 0) return false;
  const listed = listedVersions(affected, versions, scheme);
  if (listed.texts.has(version)) return true;
  if (listed.canonical && scheme.canonical) return listed.canonical.has(scheme.canonical(version));
  return listed.valid.some((text) => scheme.compare(text, version) === 0);
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
  if (candidates.length === 0) return undefined;
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
  if (!covered && !inVersionsList(version, affected, scheme)) return NOT_AFFECTED;
  const fixed = lowestUnaffectedFix(version, fixes, [affected], scheme);
  return fixed ? { affected: true, fixed } : AFFECTED;
}
