import { compareDecimal, compareIdentifiers, compareParsed, compareText } from "./semver2.js";
import type { VersionScheme } from "./types.js";

/**
 * NuGet's ordering (NuGet.Versioning): up to four numbers, `major.minor.patch.revision`, a
 * missing one being 0 (`1.0` = `1.0.0.0`, and `1.0.01` = `1.0.1`); then a release sorts after
 * its prereleases; prerelease labels compare as SemVer 2.0 identifiers, but with text compared
 * without regard to case (`1.0.0-BETA` = `1.0.0-beta`); metadata after `+` does not count.
 */

interface NugetVersion {
  numbers: [string, string, string, string];
  labels: string[];
}

const VERSION =
  /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export function parseNugetVersion(text: string): NugetVersion | undefined {
  const match = VERSION.exec(text.trim());
  if (!match) return undefined;
  const [, major, minor = "0", patch = "0", revision = "0", label] = match as unknown as [
    string,
    string,
    string?,
    string?,
    string?,
    string?,
  ];
  return { numbers: [major, minor, patch, revision], labels: label === undefined ? [] : label.split(".") };
}

function compareIgnoringCase(a: string, b: string): number {
  return compareText(a.toUpperCase(), b.toUpperCase());
}

export function compareNugetParsed(a: NugetVersion, b: NugetVersion): number {
  for (let i = 0; i < 4; i++) {
    const order = compareDecimal(a.numbers[i] as string, b.numbers[i] as string);
    if (order !== 0) return order;
  }
  const releaseA = a.labels.length === 0;
  const releaseB = b.labels.length === 0;
  if (releaseA || releaseB) return releaseA === releaseB ? 0 : releaseA ? 1 : -1;
  return compareIdentifiers(a.labels, b.labels, compareIgnoringCase);
}

export function compareNugetVersions(a: string, b: string): number {
  return compareParsed(a, b, parseNugetVersion, compareNugetParsed);
}

export const nugetScheme: VersionScheme = {
  name: "nuget",
  compare: compareNugetVersions,
  isValid: (version) => parseNugetVersion(version) !== undefined,
};
