import { cachedParser } from "./parse-cache.js";
import type { VersionScheme } from "./types.js";

interface DpkgVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** `[epoch:]upstream[-revision]`: the epoch is before the first colon, the revision after the last hyphen. */
export function parseDpkgVersion(text: string): DpkgVersion | undefined {
  const version = text.trim();
  if (version === "" || /\s/.test(version)) return undefined;
  let epoch = 0;
  let rest = version;
  const colon = version.indexOf(":");
  if (colon >= 0) {
    const epochText = version.slice(0, colon);
    if (!/^\d+$/.test(epochText)) return undefined;
    epoch = Number(epochText);
    rest = version.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf("-");
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : "";
  if (upstream === "" || (hyphen >= 0 && revision === "")) return undefined;
  return { epoch, upstream, revision };
}

const CODE_0 = 48;
const CODE_9 = 57;

function isDigit(code: number): boolean {
  return code >= CODE_0 && code <= CODE_9;
}

/**
 * Weight of a character in the non-digit parts: `~` sorts before everything, even the end of
 * the string; then the end of the string; then letters; then everything else.
 */
function weight(code: number | undefined): number {
  if (code === undefined || isDigit(code)) return 0;
  if (code === 126) return -1; // ~
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return code;
  return code + 256;
}

/** dpkg's comparison of one upstream version or revision string. */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit prefix, character by character.
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const wa = weight(i < a.length ? a.charCodeAt(i) : undefined);
      const wb = weight(j < b.length ? b.charCodeAt(j) : undefined);
      if (wa !== wb) return wa - wb;
      i++;
      j++;
    }
    // Digit run, compared as a number (leading zeros do not count).
    while (a.charCodeAt(i) === CODE_0) i++;
    while (b.charCodeAt(j) === CODE_0) j++;
    let firstDifference = 0;
    while (i < a.length && j < b.length && isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (firstDifference === 0) firstDifference = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDifference !== 0) return firstDifference;
  }
  return 0;
}

/** What a text is compared as: an unparsable version is a plain upstream string, for a total order. */
const comparable = cachedParser(
  (text: string): DpkgVersion => parseDpkgVersion(text) ?? { epoch: 0, upstream: text, revision: "" },
);
const parsedDpkg = cachedParser(parseDpkgVersion);

export function compareDpkgVersions(a: string, b: string): number {
  const pa = comparable(a);
  const pb = comparable(b);
  if (pa.epoch !== pb.epoch) return pa.epoch - pb.epoch;
  return compareFragment(pa.upstream, pb.upstream) || compareFragment(pa.revision, pb.revision);
}

/**
 * An upstream version or revision as compareFragment tells them apart: its non-digit runs as
 * written, each digit run as its number, a missing digit run as 0 (`1.` = `1.0`, `a` = `a0`, and
 * the empty string = `0`).
 */
function canonicalFragment(text: string): string {
  let canonical = "";
  let i = 0;
  while (i < text.length) {
    const nonDigits = i;
    while (i < text.length && !isDigit(text.charCodeAt(i))) i++;
    canonical += text.slice(nonDigits, i);
    while (text.charCodeAt(i) === CODE_0) i++;
    const digits = i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    canonical += digits === i ? "0" : text.slice(digits, i);
  }
  return canonical === "" ? "0" : canonical;
}

/**
 * `epoch:upstream-revision`, each part canonical. It reads back one way: the epoch ends at the
 * first colon, and no revision holds a hyphen (an unparsable text's revision is empty).
 */
function canonicalDpkg(text: string): string {
  const version = comparable(text);
  return `${version.epoch}:${canonicalFragment(version.upstream)}-${canonicalFragment(version.revision)}`;
}

export const dpkgScheme: VersionScheme = {
  name: "dpkg",
  compare: compareDpkgVersions,
  isValid: (version) => parsedDpkg(version) !== undefined,
  canonical: cachedParser(canonicalDpkg),
};
