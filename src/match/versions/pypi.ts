import { explain } from "@renovatebot/pep440";
import { cachedParser } from "./parse-cache.js";
import type { VersionScheme } from "./types.js";

/**
 * PyPI's ordering, as PEP 440 defines it (epochs, pre-, post- and dev-releases, local versions).
 * @renovatebot/pep440 reads a version (normalising spellings: `1.0-ALPHA.1` is `1.0a1`); the
 * comparison is PEP 440's sort key, as the packaging library builds it, on what was read, so each
 * distinct text is read once however often it is compared. Versions that do not parse (legacy,
 * pre-PEP 440 strings such as "0.9-doduo") sort before every valid one, as the packaging
 * library's LegacyVersion did, and among themselves as text (a simplification of its legacy key),
 * so a bad version never throws.
 */

/** The parts of a version that order it, in the order they are compared. */
interface Pep440Key {
  epoch: number;
  /** The release numbers without their trailing zeros (`1.0` = `1.0.0` = `1`). */
  release: number[];
  /**
   * Where the pre-release puts the version: before every pre-release (a dev release of a final
   * version, `1.0.dev1` < `1.0a1`), among them, or after them (no pre-release).
   */
  preRank: -1 | 0 | 1;
  /** The pre-release's letter (`a`, `b`, `rc`) and number when preRank is 0. */
  preLetter: string;
  preNumber: number;
  /** No post-release sorts before any post-release. */
  post: number | undefined;
  /** No dev release sorts after any dev release. */
  dev: number | undefined;
  /**
   * The local version's segments (`+ubuntu.1`), numbers where they read as one; none sorts before
   * any. Text segments sort before numeric ones.
   */
  local: Array<number | string> | undefined;
}

/** A bare release (`1.2.3`), most of what PyPI lists: read here as the library reads it. */
const BARE_RELEASE = /^[0-9]+(?:\.[0-9]+)*$/;

function keyOf(text: string): Pep440Key | undefined {
  if (BARE_RELEASE.test(text)) {
    const release = text.split(".").map(Number);
    while (release.length > 0 && release[release.length - 1] === 0) release.pop();
    return {
      epoch: 0,
      release,
      preRank: 1,
      preLetter: "",
      preNumber: 0,
      post: undefined,
      dev: undefined,
      local: undefined,
    };
  }
  const version = explain(text);
  if (!version) return undefined;
  const release = [...version.release];
  while (release.length > 0 && release[release.length - 1] === 0) release.pop();
  // explain() gives pre as [letter, number] or null, post and dev as a number or null, and the
  // local version joined with dots (its numeric segments written as numbers).
  const pre = version.pre as [string, number] | null;
  const post = version.post as unknown as number | null;
  const dev = version.dev as unknown as number | null;
  const preRank = pre ? 0 : post === null && dev !== null ? -1 : 1;
  return {
    epoch: version.epoch,
    release,
    preRank,
    preLetter: pre ? pre[0] : "",
    preNumber: pre ? pre[1] : 0,
    post: post ?? undefined,
    dev: dev ?? undefined,
    local:
      version.local === null
        ? undefined
        : version.local.split(".").map((part) => (Number.isNaN(Number(part)) ? part : Number(part))),
  };
}

const key = cachedParser(keyOf);

function order<T extends number | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareReleases(a: readonly number[], b: readonly number[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const byNumber = order(a[i] as number, b[i] as number);
    if (byNumber !== 0) return byNumber;
  }
  return order(a.length, b.length);
}

function compareLocal(a: Pep440Key["local"], b: Pep440Key["local"]): number {
  if (a === undefined || b === undefined) return order(a === undefined ? 0 : 1, b === undefined ? 0 : 1);
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] as number | string;
    const y = b[i] as number | string;
    const numericX = typeof x === "number";
    const numericY = typeof y === "number";
    const bySegment = numericX === numericY ? order(x, y) : numericX ? 1 : -1;
    if (bySegment !== 0) return bySegment;
  }
  return order(a.length, b.length);
}

function compareKeys(a: Pep440Key, b: Pep440Key): number {
  return (
    order(a.epoch, b.epoch) ||
    compareReleases(a.release, b.release) ||
    order(a.preRank, b.preRank) ||
    (a.preRank === 0 ? order(a.preLetter, b.preLetter) || order(a.preNumber, b.preNumber) : 0) ||
    order(a.post === undefined ? 0 : 1, b.post === undefined ? 0 : 1) ||
    order(a.post ?? 0, b.post ?? 0) ||
    order(a.dev === undefined ? 1 : 0, b.dev === undefined ? 1 : 0) ||
    order(a.dev ?? 0, b.dev ?? 0) ||
    compareLocal(a.local, b.local)
  );
}

/**
 * The key written out, one `|`-separated section per part; an unparsable text is itself behind
 * another mark. Numbers are written as JavaScript writes them (one text per number, exactly the
 * numbers compareKeys tells apart) and listed with commas, which no such text holds (a huge one
 * is written `1.5e+300`).
 */
function canonicalPypi(text: string): string {
  const k = key(text);
  if (!k) return `L${text}`;
  const pre = k.preRank === 0 ? `${k.preLetter}${k.preNumber}` : k.preRank < 0 ? "<" : ">";
  const local = k.local?.map((part) => (typeof part === "number" ? `n${part}` : `s${part}`)).join(",") ?? "-";
  return `V${k.epoch}|${k.release.join(",")}|${pre}|${k.post ?? "-"}|${k.dev ?? "-"}|${local}`;
}

export const pypiScheme: VersionScheme = {
  name: "pep440",
  compare(a, b) {
    const ka = key(a);
    const kb = key(b);
    if (ka && kb) return compareKeys(ka, kb);
    if (ka) return 1;
    if (kb) return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  },
  isValid: (version) => key(version) !== undefined,
  // Remembered: the version asked about is looked up in one list after another.
  canonical: cachedParser(canonicalPypi),
};
