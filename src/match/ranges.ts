import type { OsvAffected, OsvEvent, OsvRange } from "../vulndb/osv.js";
import type { VersionScheme } from "./versions/types.js";

export interface RangeVerdict {
  affected: boolean;
  /** The fix above the installed version, when the range names one. */
  fixed?: string;
}

type Kind = "introduced" | "fixed" | "last_affected" | "limit";

function eventParts(event: OsvEvent): { kind: Kind; version: string } {
  const [kind, version] = Object.entries(event)[0] as [Kind, string];
  return { kind, version };
}

/** "0" (and crates.io's "0.0.0-0") open a range at the very beginning of the version line. */
function isOrigin(part: { kind: Kind; version: string }): boolean {
  return part.kind === "introduced" && (part.version === "0" || part.version === "0.0.0-0");
}

/**
 * Evaluates one ECOSYSTEM or SEMVER range as the OSV schema defines it: the events, sorted by
 * version, switch the range on (introduced) and off (fixed, or just past last_affected).
 */
export function evaluateRange(version: string, range: OsvRange, scheme: VersionScheme): RangeVerdict {
  if (range.type !== "ECOSYSTEM" && range.type !== "SEMVER") return { affected: false };
  const events = range.events.map(eventParts).filter((e) => isOrigin(e) || scheme.isValid(e.version));
  events.sort((a, b) => {
    if (isOrigin(a)) return isOrigin(b) ? 0 : -1;
    if (isOrigin(b)) return 1;
    return scheme.compare(a.version, b.version);
  });
  let affected = false;
  let fixed: string | undefined;
  for (const event of events) {
    const order = isOrigin(event) ? 1 : scheme.compare(version, event.version);
    switch (event.kind) {
      case "introduced":
        if (order >= 0) affected = true;
        break;
      case "fixed":
        if (order >= 0) affected = false;
        else if (affected && fixed === undefined) fixed = event.version;
        break;
      case "last_affected":
        if (order > 0) affected = false;
        break;
      case "limit":
        if (order >= 0) affected = false;
        break;
    }
  }
  return affected ? { affected, ...(fixed ? { fixed } : {}) } : { affected: false };
}

/** Whether one `affected` entry covers the version: its explicit list, or any of its ranges. */
export function evaluateAffected(
  version: string,
  affected: OsvAffected,
  scheme: VersionScheme,
): RangeVerdict {
  let verdict: RangeVerdict = { affected: false };
  for (const range of affected.ranges ?? []) {
    const result = evaluateRange(version, range, scheme);
    if (!result.affected) continue;
    if (!verdict.affected) verdict = result;
    else if (result.fixed && (!verdict.fixed || scheme.compare(result.fixed, verdict.fixed) > 0))
      verdict = result;
  }
  if (
    !verdict.affected &&
    (affected.versions ?? []).some((listed) => listed === version || scheme.compare(listed, version) === 0)
  ) {
    verdict = { affected: true };
  }
  return verdict;
}
