import { cachedParser } from "./parse-cache.js";
import type { VersionScheme } from "./types.js";

/**
 * Maven version ordering, as Maven's version order specification describes it:
 *
 * - a version is split into tokens at `.` and `-` and wherever digits meet non-digits (such a
 *   transition counts as a `-`); each token remembers the separator before it, and an empty token
 *   reads as `0`;
 * - numbers compare numerically (any length); text compares case-insensitively, the known
 *   qualifiers in the order alpha < beta < milestone < rc = cr < snapshot < "" = ga = final =
 *   release < sp, and any other text after them, alphabetically; `a`, `b` and `m` directly
 *   followed by a number mean alpha, beta and milestone (`1a1` = `1-alpha-1`);
 * - "null" tokens (0 and "") at the end, and right before each `-`, are dropped (`1.0.0` = `1`,
 *   `1-ga-1` = `1-1`);
 * - the shorter version is padded with nulls; tokens with the same separator compare by value,
 *   number > qualifier; where the separators differ, `.qualifier` < `-qualifier` < `-number` <
 *   `.number` (`6.1.12.rc5` < `6.1.12rc1`, as Maven's ComparableVersion nests them).
 *
 * These are the rules the version vectors shared with osv-scalibr encode, generated ones included.
 */

type Separator = "." | "-";

interface Token {
  separator: Separator;
  /** A number, as its digits without leading zeros ("" is zero)... */
  number?: string;
  /** ...or a qualifier, lower-cased and with its aliases resolved. */
  text?: string;
}

const QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const ALIASES: Record<string, string> = { cr: "rc", ga: "", final: "", release: "" };
const SHORT_ALIASES: Record<string, string> = { a: "alpha", b: "beta", m: "milestone" };

function isDigit(char: string): boolean {
  return char >= "0" && char <= "9";
}

function isNull(token: Token): boolean {
  return token.number !== undefined ? token.number === "" : token.text === "";
}

function tokenize(version: string): Token[] {
  const tokens: Token[] = [];
  const text = version.trim().toLowerCase();
  let separator: Separator = ".";
  let current = "";
  const finish = (followedByDigit: boolean) => {
    if (current === "" || isDigit(current[0] as string)) {
      tokens.push({ separator, number: current.replace(/^0+/, "") });
    } else {
      const short = followedByDigit ? SHORT_ALIASES[current] : undefined;
      const name = short ?? current;
      tokens.push({ separator, text: ALIASES[name] ?? name });
    }
    current = "";
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === "." || char === "-") {
      finish(false);
      separator = char;
      continue;
    }
    if (current !== "" && isDigit(char) !== isDigit(current[0] as string)) {
      finish(isDigit(char));
      separator = "-";
    }
    current += char;
  }
  if (current !== "" || text.length === 0 || text.endsWith(".") || text.endsWith("-")) finish(false);
  // Drop the null tokens at the end and those right before a hyphen, from the end backwards.
  for (let i = tokens.length - 1; i >= 0; i--) {
    const next = tokens[i + 1];
    if (isNull(tokens[i] as Token) && (next === undefined || next.separator === "-")) tokens.splice(i, 1);
  }
  return tokens;
}

function compareNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function qualifierKey(text: string): [number, string] {
  const known = QUALIFIERS.indexOf(text);
  return known >= 0 ? [known, ""] : [QUALIFIERS.length, text];
}

function compareQualifiers(a: string, b: string): number {
  const [rankA, restA] = qualifierKey(a);
  const [rankB, restB] = qualifierKey(b);
  if (rankA !== rankB) return rankA - rankB;
  return restA < restB ? -1 : restA > restB ? 1 : 0;
}

/** Where separators or kinds differ: .qualifier < -qualifier < -number < .number */
function kindRank(token: Token): number {
  if (token.number === undefined) return token.separator === "." ? 0 : 1;
  return token.separator === "-" ? 2 : 3;
}

function compareTokens(a: Token, b: Token): number {
  if (a.separator === b.separator) {
    if (a.text !== undefined && b.text !== undefined) return compareQualifiers(a.text, b.text);
    if (a.number !== undefined && b.number !== undefined) return compareNumbers(a.number, b.number);
  }
  return kindRank(a) - kindRank(b);
}

/** The null a missing token stands for, shaped like the token on the other side. */
function padFor(other: Token): Token {
  return other.number !== undefined
    ? { separator: other.separator, number: "" }
    : { separator: other.separator, text: "" };
}

/** Token lists are shared between comparisons: nothing below changes one. */
const tokens = cachedParser(tokenize);

export function compareMavenVersions(a: string, b: string): number {
  const left = tokens(a);
  const right = tokens(b);
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i++) {
    const l = left[i];
    const r = right[i];
    const result = compareTokens(l ?? padFor(r as Token), r ?? padFor(l as Token));
    if (result !== 0) return Math.sign(result);
  }
  return 0;
}

/**
 * The token list written out: each token's separator, then `#` and its number or `$` and its
 * qualifier. Two versions are equal exactly when their lists are: every null a comparison could
 * pad with has been dropped from the end, so lists of different lengths differ somewhere, and
 * tokens are equal only with the same separator, kind and value.
 */
function canonicalMaven(version: string): string {
  let canonical = "";
  for (const token of tokens(version))
    canonical +=
      token.number !== undefined ? `${token.separator}#${token.number}` : `${token.separator}$${token.text}`;
  return canonical;
}

export const mavenScheme: VersionScheme = {
  name: "maven",
  compare: compareMavenVersions,
  canonical: cachedParser(canonicalMaven),
  // Maven orders any text; only an empty version or one with whitespace inside is not a version.
  isValid: (version) => version.trim() !== "" && !/\s/.test(version.trim()),
};
