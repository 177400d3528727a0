import { cachedParser, decimalKey } from "./parse-cache.js";
import {
  compareDecimal,
  compareIdentifiers,
  compareParsed,
  compareText,
  isNumeric,
  versionGroups,
} from "./semver2.js";
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
  const [, major, minor = "0", patch = "0", revision = "0", label] = versionGroups(match);
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

const parseNugetCached = cachedParser(parseNugetVersion);

export function compareNugetVersions(a: string, b: string): number {
  return compareParsed(a, b, parseNugetCached, compareNugetParsed);
}

/**
 * The four numbers without leading zeros and the labels, numeric ones as numbers and the others
 * in upper case, as compareNugetParsed tells them apart; text that does not parse is itself.
 */
function canonicalNuget(text: string): string {
  const version = parseNugetCached(text);
  if (!version) return `L${text}`;
  const numbers = version.numbers.map(decimalKey).join(".");
  if (version.labels.length === 0) return `V${numbers}`;
  const labels = version.labels.map((label) => (isNumeric(label) ? decimalKey(label) : label.toUpperCase()));
  return `V${numbers}-${labels.join(".")}`;
}

export const nugetScheme: VersionScheme = {
  name: "nuget",
  compare: compareNugetVersions,
  isValid: (version) => parseNugetCached(version) !== undefined,
  canonical: cachedParser(canonicalNuget),
};
