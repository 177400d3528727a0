/**
 * SemVer 2.0 precedence, shared by the ecosystems whose OSV ranges are of type SEMVER (Go,
 * crates.io) and by the orderings derived from it (NuGet, Pub). Numbers of any length compare
 * exactly, as digit strings.
 *
 * The parser is lenient in the ways OSV data and the version vectors shared with osv-scalibr
 * need: a `v` prefix, a missing minor or patch (read as 0), and numeric components past the
 * third, which are read as build metadata (so they do not count in the ordering).
 */

export interface Semver {
  /** major, minor, patch as digit strings. */
  core: [string, string, string];
  /** The dot-separated prerelease identifiers; empty for a release. */
  prerelease: string[];
  /** Build metadata, without the `+`; "" when absent. */
  build: string;
  /** Whether numeric components followed the patch (`1.2.3.4`): not SemVer, though it orders. */
  pastPatch: boolean;
}

import { cachedParser, decimalKey } from "./parse-cache.js";

const IDENTIFIERS = /^[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*$/;

/**
 * A version pattern's match, typed as the patterns are written: the first group (the leading
 * number) always takes part in a match, the later ones may not.
 */
export function versionGroups(match: RegExpExecArray): [string, string, ...Array<string | undefined>] {
  return match as unknown as [string, string, ...Array<string | undefined>];
}

/** Compares two strings of decimal digits as numbers, however long. */
export function compareDecimal(a: string, b: string): number {
  if (a === b) return 0;
  // Past the leading zeros, the longer number is the larger; of two as long, the first digit
  // that differs decides. Run on every comparison: no new strings.
  let i = 0;
  while (i < a.length && a.charCodeAt(i) === 48) i++;
  let j = 0;
  while (j < b.length && b.charCodeAt(j) === 48) j++;
  if (a.length - i !== b.length - j) return a.length - i < b.length - j ? -1 : 1;
  for (; i < a.length; i++, j++) {
    const difference = a.charCodeAt(i) - b.charCodeAt(j);
    if (difference !== 0) return difference < 0 ? -1 : 1;
  }
  return 0;
}

/** Compares as JavaScript strings (UTF-16 code units, which is byte order for ASCII). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function isNumeric(identifier: string): boolean {
  return /^\d+$/.test(identifier);
}

/**
 * SemVer's rule for two identifier lists (prerelease, or Pub's build): identifiers in order;
 * numeric ones by value, below alphanumeric ones, which compare as ASCII; when one list is a
 * prefix of the other, the shorter sorts first.
 */
export function compareIdentifiers(
  a: readonly string[],
  b: readonly string[],
  compareWords: (x: string, y: string) => number = compareText,
): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    const numericX = isNumeric(x);
    const numericY = isNumeric(y);
    const order =
      numericX && numericY ? compareDecimal(x, y) : numericX ? -1 : numericY ? 1 : compareWords(x, y);
    if (order !== 0) return order;
  }
  return Math.sign(a.length - b.length);
}

export function parseSemver(text: string): Semver | undefined {
  const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)$/s.exec(text);
  if (!match) return undefined;
  const [, major, minor, patch] = versionGroups(match);
  let rest = match[4] ?? "";
  let pastPatch = false;
  let build = "";
  if (rest.startsWith(".")) {
    if (patch === undefined) return undefined;
    // A fourth component and whatever follows it: build metadata, as the shared vectors have it.
    build = rest.slice(1);
    rest = "";
    pastPatch = true;
    if (!/^[0-9A-Za-z.+-]+$/.test(build)) return undefined;
  }
  let prerelease: string[] = [];
  if (rest.startsWith("-")) {
    const end = rest.indexOf("+");
    const label = end < 0 ? rest.slice(1) : rest.slice(1, end);
    if (!IDENTIFIERS.test(label)) return undefined;
    prerelease = label.split(".");
    rest = end < 0 ? "" : rest.slice(end);
  }
  if (rest.startsWith("+")) {
    build = rest.slice(1);
    if (!IDENTIFIERS.test(build)) return undefined;
    rest = "";
  }
  if (rest !== "") return undefined;
  return { core: [major, minor ?? "0", patch ?? "0"], prerelease, build, pastPatch };
}

/** SemVer 2.0 precedence: the numbers, then a prerelease below its release; build metadata is ignored. */
export function compareSemver(a: Semver, b: Semver): number {
  for (let i = 0; i < 3; i++) {
    const order = compareDecimal(a.core[i] as string, b.core[i] as string);
    if (order !== 0) return order;
  }
  const releaseA = a.prerelease.length === 0;
  const releaseB = b.prerelease.length === 0;
  if (releaseA || releaseB) return releaseA === releaseB ? 0 : releaseA ? 1 : -1;
  return compareIdentifiers(a.prerelease, b.prerelease);
}

/**
 * Orders two texts with `parse`, keeping the order total: text that does not parse sorts before
 * every version, and among itself as plain text.
 */
export function compareParsed<T>(
  a: string,
  b: string,
  parse: (text: string) => T | undefined,
  compare: (x: T, y: T) => number,
): number {
  const x = parse(a);
  const y = parse(b);
  if (x !== undefined && y !== undefined) return Math.sign(compare(x, y));
  if (x !== undefined) return 1;
  if (y !== undefined) return -1;
  return compareText(a, b);
}

/** parseSemver, reading each distinct text once. */
export const parseSemverCached = cachedParser(parseSemver);

/** The SemVer ordering for an ecosystem that writes versions as plain SemVer 2.0 (crates.io). */
export function compareSemverText(a: string, b: string): number {
  return compareParsed(a, b, parseSemverCached, compareSemver);
}

/** An identifier as compareIdentifiers tells them apart: a numeric one as its number. */
export function identifierKey(identifier: string): string {
  return isNumeric(identifier) ? decimalKey(identifier) : identifier;
}

/**
 * One text per class of equal versions under compareSemver (`withBuild`: comparePubParsed), for
 * the ordering `compareParsed(_, _, parse, compareSemver)`: the numbers without leading zeros,
 * the prerelease identifiers (numeric ones as numbers), and the build where it counts; text that
 * does not parse is itself behind another mark, as it equals only itself. Numeric identifiers
 * are all digits and the others are not, so the two kinds never meet.
 */
export function canonicalSemver(version: Semver | undefined, text: string, withBuild = false): string {
  if (!version) return `L${text}`;
  let canonical = `V${version.core.map(decimalKey).join(".")}`;
  if (version.prerelease.length > 0) canonical += `-${version.prerelease.map(identifierKey).join(".")}`;
  if (withBuild && version.build !== "")
    canonical += `+${version.build.split(".").map(identifierKey).join(".")}`;
  return canonical;
}
