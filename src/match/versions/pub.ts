import { cachedParser } from "./parse-cache.js";
import {
  canonicalSemver,
  compareDecimal,
  compareIdentifiers,
  compareParsed,
  parseSemverCached,
  type Semver,
} from "./semver2.js";
import type { VersionScheme } from "./types.js";

/**
 * Pub's ordering (Dart's pub_semver): SemVer 2.0, except that build metadata counts. After the
 * numbers and the prerelease, a version without a build sorts before the same version with one
 * (`1.0.0-pre+build` < `1.0.0` < `1.0.0+build`), and builds compare like prerelease identifiers
 * (`1.2.3+1` < `1.2.3+a`, `1.2.3+a` < `1.2.3+a1`).
 */
export function comparePubParsed(a: Semver, b: Semver): number {
  for (let i = 0; i < 3; i++) {
    const order = compareDecimal(a.core[i] as string, b.core[i] as string);
    if (order !== 0) return order;
  }
  const releaseA = a.prerelease.length === 0;
  const releaseB = b.prerelease.length === 0;
  if (releaseA !== releaseB) return releaseA ? 1 : -1;
  const byPrerelease = compareIdentifiers(a.prerelease, b.prerelease);
  if (byPrerelease !== 0) return byPrerelease;
  const builtA = a.build !== "";
  const builtB = b.build !== "";
  if (builtA !== builtB) return builtA ? 1 : -1;
  return compareIdentifiers(a.build.split("."), b.build.split("."));
}

export function comparePubVersions(a: string, b: string): number {
  return compareParsed(a, b, parseSemverCached, comparePubParsed);
}

export const pubScheme: VersionScheme = {
  name: "pub",
  compare: comparePubVersions,
  isValid: (version) => {
    const parsed = parseSemverCached(version);
    return parsed !== undefined && !parsed.pastPatch;
  },
  // A build counts: it is part of the canonical text.
  canonical: cachedParser((version) => canonicalSemver(parseSemverCached(version), version, true)),
};
