import { cachedParser } from "./parse-cache.js";
import { canonicalSemver, compareSemverText, parseSemverCached } from "./semver2.js";
import type { VersionScheme } from "./types.js";

/**
 * crates.io's ordering: SemVer 2.0 precedence, which is what OSV's SEMVER ranges for crates
 * are written in (build metadata does not count, `0.0.0-0` is the lowest version of all).
 * Cargo's own `semver` crate breaks ties on build metadata for a total order, but a range cannot
 * tell two builds of one version apart, so they compare equal here.
 */
export const cargoScheme: VersionScheme = {
  name: "semver2",
  compare: compareSemverText,
  isValid: (version) => {
    const parsed = parseSemverCached(version);
    return parsed !== undefined && !parsed.pastPatch;
  },
  canonical: cachedParser((version) => canonicalSemver(parseSemverCached(version), version)),
};
