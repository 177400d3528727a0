import { compareNumberLists } from "./numeric-list.js";
import { cachedParser, decimalKey } from "./parse-cache.js";
import { compareParsed } from "./semver2.js";
import type { VersionScheme } from "./types.js";

/**
 * CRAN's ordering, as R's package_version has it: numbers separated by `.` or `-`, which mean
 * the same (`1.0-1` = `1.0.1`), compared one by one as numbers (`0.9` < `0.75`, `0.01` = `0.1`);
 * a version sorts before any longer version it is a prefix of (`0.3.2` < `0.3.2.0`).
 */
export function parseCranVersion(text: string): string[] | undefined {
  const version = text.trim();
  return /^\d+(?:[.-]\d+)*$/.test(version) ? version.split(/[.-]/) : undefined;
}

const parseCranCached = cachedParser(parseCranVersion);

export function compareCranVersions(a: string, b: string): number {
  return compareParsed(a, b, parseCranCached, compareNumberLists);
}

export const cranScheme: VersionScheme = {
  name: "cran",
  compare: compareCranVersions,
  isValid: (version) => parseCranCached(version) !== undefined,
  // The numbers without leading zeros: lists of different lengths are never equal.
  canonical: cachedParser((version) => {
    const numbers = parseCranCached(version);
    return numbers ? `V${numbers.map(decimalKey).join(".")}` : `L${version}`;
  }),
};
