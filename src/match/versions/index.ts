import { ecosystemBase } from "../../vulndb/ecosystem.js";
import { dpkgScheme } from "./dpkg.js";
import { npmScheme } from "./semver.js";
import type { VersionScheme } from "./types.js";

/** Each OSV ecosystem (base name) and the version ordering its advisories are written in. */
const schemes: Record<string, VersionScheme> = {
  Debian: dpkgScheme,
  Ubuntu: dpkgScheme,
  npm: npmScheme,
};

export function versionSchemeFor(ecosystem: string): VersionScheme | undefined {
  return schemes[ecosystemBase(ecosystem)];
}

export type { VersionScheme };
