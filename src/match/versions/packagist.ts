import { cachedParser } from "./parse-cache.js";
import { compareDecimal, compareParsed } from "./semver2.js";
import type { VersionScheme } from "./types.js";

/**
 * Packagist's ordering: PHP's version_compare, which Composer compares versions with, as OSV
 * applies it to the version strings Packagist lists:
 *
 * - a leading `v` or `V` is dropped; `-`, `_` and `+` become `.`, and a `.` goes between a
 *   digit and a character that is neither a digit nor a dot (`1.0.0rc2` is `1.0.0.rc.2`);
 * - the dot-separated parts compare in order: numbers by value; words by their stability, a
 *   word being known by how it starts: `dev` < `a`(lpha) < `b`(eta) < `RC`/`rc` < `#` < `p`
 *   (`pl`, `patch`), and any other word below them all, upper-case `ALPHA` and `BETA` included,
 *   as PHP has it; a number counts as `#`, so it sorts above a prerelease word and below a
 *   patch word;
 * - when one version runs out of parts, the next part of the other decides: a number makes it
 *   the later version, a word compares as against `#` (`1.0-dev` < `1.0` < `1.0pl1`,
 *   `1.0` < `1.0.0`); `dev-foo` branches sort before every numbered version.
 *
 * Composer normalises versions before comparing them (it pads them to four numbers, `1.0` =
 * `1.0.0.0`, and lower-cases stability words, `BETA` = `beta`); OSV's ordering, which the
 * version vectors shared with osv-scalibr and osv.dev encode, compares the strings as Packagist
 * lists them (`1.0` < `1.0.0`, `1.9.0-ALPHA.1` = `1.9.0-BETA.1`), and so does this.
 */

/** PHP's table, matched on how a word starts (`patch` is `p`, `alpha2x` is `a`) and on case. */
const STABILITIES: Array<[prefix: string, rank: number]> = [
  ["dev", 0],
  ["a", 1],
  ["b", 2],
  ["RC", 3],
  ["rc", 3],
  ["#", 4],
  ["p", 5],
];
/** Where a number stands among the stability words. */
const NUMBER_RANK = 4;
const UNKNOWN_RANK = -1;

function stabilityRank(word: string): number {
  for (const [prefix, rank] of STABILITIES) if (word.startsWith(prefix)) return rank;
  return UNKNOWN_RANK;
}

function isNumber(part: string): boolean {
  return /^\d+$/.test(part);
}

/** The parts a version compares by, after PHP's canonicalisation. */
export function packagistParts(text: string): string[] {
  return text
    .trim()
    .replace(/^[vV]/, "")
    .replace(/[-_+]/g, ".")
    .replace(/([^\d.])(?=\d)/g, "$1.")
    .replace(/(\d)(?=[^\d.])/g, "$1.")
    .split(".");
}

function rankOf(part: string): number {
  return isNumber(part) ? NUMBER_RANK : stabilityRank(part);
}

export function comparePackagistParts(a: readonly string[], b: readonly string[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    const order = isNumber(x) && isNumber(y) ? compareDecimal(x, y) : Math.sign(rankOf(x) - rankOf(y));
    if (order !== 0) return order;
  }
  if (a.length > b.length) {
    const next = a[length] as string;
    return isNumber(next) ? 1 : comparePackagistParts(a.slice(length), ["#"]);
  }
  if (b.length > a.length) {
    const next = b[length] as string;
    return isNumber(next) ? -1 : comparePackagistParts(["#"], b.slice(length));
  }
  return 0;
}

const parsePackagistCached = cachedParser(parsePackagistVersion);

export function comparePackagistVersions(a: string, b: string): number {
  return compareParsed(a, b, parsePackagistCached, comparePackagistParts);
}

/** Any non-empty text without whitespace orders; PHP's version_compare accepts every string. */
export function parsePackagistVersion(text: string): string[] | undefined {
  const version = text.trim();
  return version === "" || /\s/.test(version) ? undefined : packagistParts(version);
}

export const packagistScheme: VersionScheme = {
  name: "packagist",
  compare: comparePackagistVersions,
  isValid: (version) => parsePackagistCached(version) !== undefined,
  // No canonical form: a number and a word ranked like one (`#`) are equal, yet two numbers
  // may not be, so equality here is not transitive.
};
