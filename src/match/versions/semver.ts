import semver from "semver";
import type { VersionScheme } from "./types.js";

/** npm's ordering, as node-semver implements it (prerelease tags sort before the release). */
export const npmScheme: VersionScheme = {
  name: "semver",
  compare(a, b) {
    const va = semver.parse(a, { loose: true });
    const vb = semver.parse(b, { loose: true });
    if (va && vb) return va.compare(vb);
    // Unparsable versions sort before every valid one, and among themselves as text.
    if (va) return 1;
    if (vb) return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  },
  isValid: (version) => semver.parse(version, { loose: true }) !== null,
};
