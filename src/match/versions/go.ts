import { cachedParser } from "./parse-cache.js";
import {
  canonicalSemver,
  compareParsed,
  compareSemver,
  parseSemver,
  type Semver,
  versionGroups,
} from "./semver2.js";
import type { VersionScheme } from "./types.js";

/**
 * The Go ecosystem's ordering: SemVer 2.0, which Go modules use, with the `v` prefix optional
 * because OSV's Go records drop it (`1.2.3`, `0.0.0-20191109021931-daa7c04131f5`).
 * Pseudo-versions need nothing special: they are prereleases whose identifiers sort by commit
 * time. `+incompatible` is build metadata and does not count.
 *
 * The standard library and toolchain (OSV packages `stdlib` and `toolchain`) are versioned by
 * Go release tags instead, which a binary reports as `go1.19.8`, `go1.21rc2` or `go1.9beta1`.
 * OSV writes those as SemVer (`1.21.0-rc.2`), so a tag is converted first:
 *
 * - `goX.Y[.Z]` is `X.Y.Z` (Z = 0 when absent, `go1` is 1.0.0);
 * - a `betaN`/`rcN` suffix becomes the prerelease `-beta.N`/`-rc.N`;
 * - from Go 1.21 on, a bare `goX.Y` names the language version, which go/version orders below
 *   the release candidates of X.Y; it becomes `X.Y.0-0`, the lowest version of that line (the
 *   one OSV's records open such a line with);
 * - what follows the tag after whitespace or a hyphen (`go1.22.1 X:boringcrypto`,
 *   `go1.21.0-bigcorp`, a custom toolchain) does not count, as go/version ignores it.
 */

const GO_TAG = /^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(beta|rc)(\d+))?(?:-\S*)?$/;
/** The same release-tag shape without the prefix (`1.21rc2`), which is not SemVer. */
const BARE_TAG = /^(\d+)\.(\d+)(?:\.(\d+))?(beta|rc)(\d+)$/;

/** A Go release tag (`go1.21rc2`) as OSV writes it (`1.21.0-rc.2`); other text as it is. */
export function goTagToSemver(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith("go")) {
    const tag = trimmed.split(/\s/)[0] as string;
    const match = GO_TAG.exec(tag);
    if (!match) return trimmed;
    const [, major, minor = "0", patch, kind, number] = versionGroups(match);
    const languageVersion =
      patch === undefined && kind === undefined && (Number(major) > 1 || Number(minor) >= 21);
    if (languageVersion) return `${major}.${minor}.0-0`;
    return `${major}.${minor}.${patch ?? "0"}${kind ? `-${kind}.${number}` : ""}`;
  }
  const bare = BARE_TAG.exec(trimmed);
  if (bare) {
    const [, major, minor, patch = "0", kind, number] = bare;
    return `${major}.${minor}.${patch}-${kind}.${number}`;
  }
  return trimmed;
}

export function parseGoVersion(text: string): Semver | undefined {
  return parseSemver(goTagToSemver(text));
}

const parseGoCached = cachedParser(parseGoVersion);

export function compareGoVersions(a: string, b: string): number {
  return compareParsed(a, b, parseGoCached, compareSemver);
}

export const goScheme: VersionScheme = {
  name: "go-semver",
  compare: compareGoVersions,
  isValid: (version) => {
    const parsed = parseGoCached(version);
    return parsed !== undefined && !parsed.pastPatch;
  },
  canonical: cachedParser((version) => canonicalSemver(parseGoCached(version), version)),
};
