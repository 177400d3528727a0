import { compareNumberLists } from "./numeric-list.js";
import { cachedParser, decimalKey } from "./parse-cache.js";
import { compareParsed } from "./semver2.js";
import type { VersionScheme } from "./types.js";

/**
 * Hackage's ordering, as Cabal's Version has it (the versions the Haskell Package Versioning
 * Policy describes): a dot-separated list of numbers, compared as lists, so a version sorts
 * before any longer version it is a prefix of (`1.0` < `1.0.0` < `1.0.0.1`).
 */
export function parseHackageVersion(text: string): string[] | undefined {
  const version = text.trim();
  return /^\d+(?:\.\d+)*$/.test(version) ? version.split(".") : undefined;
}

const parseHackageCached = cachedParser(parseHackageVersion);

export function compareHackageVersions(a: string, b: string): number {
  return compareParsed(a, b, parseHackageCached, compareNumberLists);
}

export const hackageScheme: VersionScheme = {
  name: "hackage",
  compare: compareHackageVersions,
  isValid: (version) => parseHackageCached(version) !== undefined,
  // The numbers without leading zeros: lists of different lengths are never equal.
  canonical: cachedParser((version) => {
    const numbers = parseHackageCached(version);
    return numbers ? `V${numbers.map(decimalKey).join(".")}` : `L${version}`;
  }),
};
