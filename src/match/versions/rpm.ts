import { cachedParser } from "./parse-cache.js";
import type { VersionScheme } from "./types.js";

export interface RpmVersion {
  /** Compared as a version string, as rpm does ("0" when absent). */
  epoch: string;
  version: string;
  /** Absent when the text has no hyphen (an advisory's "introduced: 0"). */
  release?: string;
}

/** `[epoch:]version[-release]`: the epoch ends at the first colon, the release starts after the last hyphen. */
export function parseRpmVersion(text: string): RpmVersion {
  const colon = text.indexOf(":");
  const epoch = colon >= 0 ? text.slice(0, colon) : "";
  const rest = colon >= 0 ? text.slice(colon + 1) : text;
  const hyphen = rest.lastIndexOf("-");
  return {
    epoch: epoch === "" ? "0" : epoch,
    version: hyphen >= 0 ? rest.slice(0, hyphen) : rest,
    ...(hyphen >= 0 ? { release: rest.slice(hyphen + 1) } : {}),
  };
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isAsciiLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

const TILDE = 126;
const CARET = 94;

/**
 * rpm's rpmvercmp (4.15+). Both strings are cut into runs of digits and runs of ASCII letters;
 * everything else only separates runs. Digit runs compare as numbers and beat letter runs.
 * `~` sorts before anything, even the end of the string (1.0~rc1 < 1.0); `^` sorts after the end
 * of the string but before anything else (1.0 < 1.0^git1 < 1.0.1).
 */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isDigit(a.charCodeAt(i)) && !isAsciiLetter(a.charCodeAt(i))) {
      const code = a.charCodeAt(i);
      if (code === TILDE || code === CARET) break;
      i++;
    }
    while (j < b.length && !isDigit(b.charCodeAt(j)) && !isAsciiLetter(b.charCodeAt(j))) {
      const code = b.charCodeAt(j);
      if (code === TILDE || code === CARET) break;
      j++;
    }
    const ca = i < a.length ? a.charCodeAt(i) : undefined;
    const cb = j < b.length ? b.charCodeAt(j) : undefined;
    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === CARET || cb === CARET) {
      // The end of one string sorts before a caret; a caret sorts before anything else.
      if (ca === undefined) return -1;
      if (cb === undefined) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === undefined || cb === undefined) break;
    const numeric = isDigit(ca);
    const runEnd = (text: string, from: number) => {
      let end = from;
      while (
        end < text.length &&
        (numeric ? isDigit(text.charCodeAt(end)) : isAsciiLetter(text.charCodeAt(end)))
      )
        end++;
      return end;
    };
    const endA = runEnd(a, i);
    const endB = runEnd(b, j);
    // b has a run of the other kind here: a digit run is newer than a letter run.
    if (endB === j) return numeric ? 1 : -1;
    let runA = a.slice(i, endA);
    let runB = b.slice(j, endB);
    if (numeric) {
      runA = runA.replace(/^0+/, "");
      runB = runB.replace(/^0+/, "");
      if (runA.length !== runB.length) return runA.length < runB.length ? -1 : 1;
    }
    if (runA !== runB) return runA < runB ? -1 : 1;
    i = endA;
    j = endB;
  }
  if (i >= a.length && j >= b.length) return 0;
  // Whichever string has something left is newer.
  return i < a.length ? 1 : -1;
}

/**
 * Orders `[epoch:]version[-release]` the way rpm orders packages: epoch, then version, then
 * release, each with rpmvercmp. A missing epoch is 0. A version without a release sorts before
 * the same version with any release, so the bare versions some advisories use order totally.
 */
const parseRpmCached = cachedParser(parseRpmVersion);

export function compareRpmVersions(a: string, b: string): number {
  const va = parseRpmCached(a);
  const vb = parseRpmCached(b);
  const byEpoch = rpmvercmp(va.epoch, vb.epoch);
  if (byEpoch !== 0) return byEpoch;
  const byVersion = rpmvercmp(va.version, vb.version);
  if (byVersion !== 0) return byVersion;
  if (va.release === undefined || vb.release === undefined) {
    return (va.release === undefined ? 0 : 1) - (vb.release === undefined ? 0 : 1);
  }
  return rpmvercmp(va.release, vb.release);
}

export const rpmScheme: VersionScheme = {
  name: "rpm",
  compare: compareRpmVersions,
  isValid: (version) => version !== "" && !/\s/.test(version),
};
