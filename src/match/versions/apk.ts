import { cachedParser } from "./parse-cache.js";
import type { VersionScheme } from "./types.js";

/**
 * apk (Alpine, Wolfi, Chainguard) version ordering. A version reads
 * `number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}`:
 *
 * - numbers compare numerically, except that a later component starting with `0` compares as
 *   text (1.01 < 1.1, as Gentoo, whose scheme apk follows, orders them);
 * - one lower-case letter comes after the numbers (1.0 < 1.0a < 1.0b);
 * - suffixes `_alpha`, `_beta`, `_pre`, `_rc` order before the plain release, `_cvs`, `_svn`,
 *   `_git`, `_hg`, `_p` after it, each with an optional number;
 * - `~hash` names the commit a snapshot was built from and cannot be ordered, so it is ignored;
 * - `-rN` is the package revision.
 *
 * Versions outside that shape still occur in advisories and package databases (`6.6.2p1-r0`,
 * `10.2.22.r0`); they are read as far as the shape allows and ordered by what was read, a
 * version with unreadable text after its revision sorting before the same version without it,
 * and two versions that both break the shape before their revision compare as plain text. These
 * are the rules the version vectors shared with osv-scalibr encode.
 */

const PRE_RELEASE = ["alpha", "beta", "pre", "rc"] as const;
const POST_RELEASE = ["cvs", "svn", "git", "hg", "p"] as const;
/** A suffix's rank: the pre-release ones below the plain release, the post-release ones above. */
const NO_SUFFIX_RANK = PRE_RELEASE.length;
const suffixRank = new Map<string, number>([
  ...PRE_RELEASE.map((name, index) => [name, index] as const),
  ...POST_RELEASE.map((name, index) => [name, NO_SUFFIX_RANK + 1 + index] as const),
]);

const SUFFIX = /^_(alpha|beta|pre|rc|cvs|svn|git|hg|p)(\d*)/;
/** The full, strict shape, for telling versions apart from text that is not one. */
const VALID =
  /^\d+(?:\.\d+)*(?:[a-z]\d*)?(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*(?:~[0-9a-f]+)?(?:[-.]r\d+)?$/;

interface ApkVersion {
  text: string;
  /** Digit runs separated by dots; a trailing dot leaves an empty last one. */
  numbers: string[];
  letter: string;
  suffixes: Array<{ rank: number; number: bigint }>;
  revision: bigint;
  /** Text left after the revision (`1-r0-1` leaves `-1`). */
  rest: string;
  /** Something other than a revision followed the suffixes: the shape broke early. */
  broken: boolean;
}

function toBigInt(digits: string): bigint {
  return digits === "" ? 0n : BigInt(digits);
}

export function parseApkVersion(text: string): ApkVersion {
  let rest = text;
  const numberRun = /^(?:\d+\.?)*/.exec(rest)?.[0] ?? "";
  const numbers = numberRun === "" ? [] : numberRun.split(".");
  rest = rest.slice(numberRun.length);
  let letter = "";
  if (/^[a-z]/.test(rest)) {
    letter = rest.charAt(0);
    rest = rest.slice(1);
  }
  const suffixes: ApkVersion["suffixes"] = [];
  for (let match = SUFFIX.exec(rest); match; match = SUFFIX.exec(rest)) {
    suffixes.push({
      rank: suffixRank.get(match[1] as string) ?? NO_SUFFIX_RANK,
      number: toBigInt(match[2] ?? ""),
    });
    rest = rest.slice(match[0].length);
  }
  rest = rest.replace(/^~[0-9a-f]+/, "");
  let revision = 0n;
  let broken = false;
  if (rest !== "") {
    const match = /^-r(\d*)/.exec(rest);
    if (match) {
      revision = toBigInt(match[1] ?? "");
      rest = rest.slice(match[0].length);
    } else broken = true;
  }
  return { text, numbers, letter, suffixes, revision, rest, broken };
}

function sign(n: number | bigint): number {
  return n > 0 ? 1 : n < 0 ? -1 : 0;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareNumbers(a: string[], b: string[]): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i];
    const y = b[i];
    // The version with more numbers is the later one, as apk-tools has it: 1.0 > 1, and
    // 1.2.0 > 1.2_p1 (the suffix is not reached).
    if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : -1) : 1;
    const diff =
      i > 0 && (!/^[1-9]/.test(x) || !/^[1-9]/.test(y))
        ? // A later component with a leading zero (or empty, after a stray dot) compares as text.
          compareText(x, y)
        : sign(toBigInt(x) - toBigInt(y));
    if (diff !== 0) return diff;
  }
  return 0;
}

function compareSuffixes(a: ApkVersion["suffixes"], b: ApkVersion["suffixes"]): number {
  const none = { rank: NO_SUFFIX_RANK, number: 0n };
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] ?? none;
    const y = b[i] ?? none;
    const diff = sign(x.rank - y.rank) || sign(x.number - y.number);
    if (diff !== 0) return diff;
  }
  return 0;
}

const parseApkCached = cachedParser(parseApkVersion);

export function compareApkVersions(aText: string, bText: string): number {
  const a = parseApkCached(aText);
  const b = parseApkCached(bText);
  if (a.broken && b.broken) return compareText(a.text, b.text);
  return (
    compareNumbers(a.numbers, b.numbers) ||
    // No letter sorts before any letter.
    compareText(a.letter, b.letter) ||
    compareSuffixes(a.suffixes, b.suffixes) ||
    sign(a.revision - b.revision) ||
    // Unreadable text after the revision makes a version sort lower; what it says does not count.
    sign(Number(a.rest === "") - Number(b.rest === ""))
  );
}

export const apkScheme: VersionScheme = {
  name: "apk",
  compare: compareApkVersions,
  isValid: (version) => VALID.test(version),
};
