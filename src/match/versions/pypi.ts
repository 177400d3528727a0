import { compare, valid } from "@renovatebot/pep440";
import type { VersionScheme } from "./types.js";

/**
 * PyPI's ordering, as PEP 440 defines it (epochs, pre-, post- and dev-releases, local versions),
 * through @renovatebot/pep440. Versions it cannot parse (legacy, pre-PEP 440 strings such as
 * "0.9-doduo") sort before every valid one, as the packaging library's LegacyVersion did, and
 * among themselves as text (a simplification of its legacy key), so a bad version never throws.
 */
export const pypiScheme: VersionScheme = {
  name: "pep440",
  compare(a, b) {
    const va = valid(a) !== null;
    const vb = valid(b) !== null;
    if (va && vb) return compare(a, b);
    if (va) return 1;
    if (vb) return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  },
  isValid: (version) => valid(version) !== null,
};
