import { cachedParser, decimalKey } from "./parse-cache.js";
import { compareDecimal, compareParsed, compareText } from "./semver2.js";
import type { VersionScheme } from "./types.js";

/**
 * RubyGems' ordering, as Gem::Version defines it:
 *
 * - a version is digits, then dot-separated runs of letters and digits, optionally followed by
 *   `-label`; a hyphen means the same as `.pre.` (`1.0-rc1` is `1.0.pre.rc1`);
 * - it is cut into segments of digits (numbers) and of letters (strings), at dots and wherever
 *   letters meet digits (`1.0.a10` and `1.0.a.10` are the same);
 * - the first string segment starts the prerelease part; zeros at the end of the release part
 *   and of the prerelease part are dropped (`1.0` = `1.0.0`, `1.0.a.0` = `1.0.a`);
 * - segments compare in order, a missing one counting as 0; a string sorts before a number (so
 *   a prerelease sorts before its release, `1.0.b1` < `1.0`), numbers by value, strings by
 *   their bytes (case matters).
 */

type Segment = string | { digits: string };

/** Gem::Version's own pattern: the first segment is all digits. */
const VERSION = /^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
/** What still orders by the same rules: letters may follow the first digits (`1beta`). */
const ORDERABLE = /^[0-9][0-9a-zA-Z]*(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

function dropTrailingZeros(segments: Segment[]): Segment[] {
  let end = segments.length;
  while (end > 0) {
    const last = segments[end - 1] as Segment;
    if (typeof last === "string" || /[1-9]/.test(last.digits)) break;
    end--;
  }
  return segments.slice(0, end);
}

/**
 * The canonical segments a version compares by; undefined when the text cannot be ordered.
 * RubyGems refuses `1beta` (letters in the first segment), but it orders unambiguously, after
 * `0.9` and before `1`, so it is read rather than sorted below every version.
 */
export function parseGemVersion(text: string): Segment[] | undefined {
  const version = text.trim();
  if (!ORDERABLE.test(version)) return undefined;
  const segments: Segment[] = (version.replaceAll("-", ".pre.").match(/[0-9]+|[a-z]+/gi) ?? []).map((run) =>
    /^[0-9]/.test(run) ? { digits: run } : run,
  );
  const firstString = segments.findIndex((segment) => typeof segment === "string");
  if (firstString < 0) return dropTrailingZeros(segments);
  return [
    ...dropTrailingZeros(segments.slice(0, firstString)),
    ...dropTrailingZeros(segments.slice(firstString)),
  ];
}

const ZERO: Segment = { digits: "0" };

export function compareGemSegments(a: Segment[], b: Segment[]): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] ?? ZERO;
    const y = b[i] ?? ZERO;
    if (typeof x === "string" && typeof y === "string") {
      const order = compareText(x, y);
      if (order !== 0) return order;
    } else if (typeof x === "string") return -1;
    else if (typeof y === "string") return 1;
    else {
      const order = compareDecimal(x.digits, y.digits);
      if (order !== 0) return order;
    }
  }
  return 0;
}

const parseGemCached = cachedParser(parseGemVersion);

export function compareGemVersions(a: string, b: string): number {
  return compareParsed(a, b, parseGemCached, compareGemSegments);
}

/**
 * The segments, numbers without leading zeros. A comparison pads the shorter list with zeros,
 * but a list never ends in a zero (parseGemVersion drops them), so lists of different lengths
 * differ somewhere; strings are letters and numbers digits, so the two never meet.
 */
function canonicalGem(text: string): string {
  const segments = parseGemCached(text);
  if (!segments) return `L${text}`;
  return `V${segments.map((segment) => (typeof segment === "string" ? segment : decimalKey(segment.digits))).join(".")}`;
}

export const rubygemsScheme: VersionScheme = {
  name: "rubygems",
  compare: compareGemVersions,
  isValid: (version) => VERSION.test(version.trim()),
  canonical: cachedParser(canonicalGem),
};
