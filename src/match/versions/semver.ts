import semver, { type SemVer } from "semver";
import { cachedParser } from "./parse-cache.js";
import type { VersionScheme } from "./types.js";

const parseNpm = cachedParser((text: string): SemVer | null => semver.parse(text, { loose: true }));

/**
 * npm's ordering, as node-semver implements it (prerelease tags sort before the release). It has
 * no canonical form: node-semver compares numeric prerelease identifiers too long for an exact
 * integer as imprecise numbers and stops at the first pair it finds equal so, which makes its
 * equality intransitive for such versions.
 */
export const npmScheme: VersionScheme = {
  name: "semver",
  compare(a, b) {
    const va = parseNpm(a);
    const vb = parseNpm(b);
    if (va && vb) return va.compare(vb);
    // Unparsable versions sort before every valid one, and among themselves as text.
    if (va) return 1;
    if (vb) return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  },
  isValid: (version) => parseNpm(version) !== null,
};
