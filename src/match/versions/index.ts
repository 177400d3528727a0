import { ecosystemBase } from "../../vulndb/ecosystem.js";
import { apkScheme } from "./apk.js";
import { cargoScheme } from "./cargo.js";
import { cranScheme } from "./cran.js";
import { dpkgScheme } from "./dpkg.js";
import { goScheme } from "./go.js";
import { hackageScheme } from "./hackage.js";
import { mavenScheme } from "./maven.js";
import { nugetScheme } from "./nuget.js";
import { packagistScheme } from "./packagist.js";
import { pubScheme } from "./pub.js";
import { pypiScheme } from "./pypi.js";
import { rpmScheme } from "./rpm.js";
import { rubygemsScheme } from "./rubygems.js";
import { npmScheme } from "./semver.js";
import type { VersionScheme } from "./types.js";

/** Each OSV ecosystem (base name) and the version ordering its advisories are written in. */
const schemes: Record<string, VersionScheme> = {
  Debian: dpkgScheme,
  Ubuntu: dpkgScheme,
  npm: npmScheme,
  Maven: mavenScheme,
  PyPI: pypiScheme,
  Go: goScheme,
  "crates.io": cargoScheme,
  RubyGems: rubygemsScheme,
  NuGet: nugetScheme,
  Packagist: packagistScheme,
  Hackage: hackageScheme,
  CRAN: cranScheme,
  Pub: pubScheme,
  Alpine: apkScheme,
  Wolfi: apkScheme,
  Chainguard: apkScheme,
  AlmaLinux: rpmScheme,
  "Rocky Linux": rpmScheme,
  "Red Hat": rpmScheme,
  openSUSE: rpmScheme,
  SUSE: rpmScheme,
  Mageia: rpmScheme,
  "Photon OS": rpmScheme,
  "Azure Linux": rpmScheme,
  openEuler: rpmScheme,
};

export function versionSchemeFor(ecosystem: string): VersionScheme | undefined {
  return schemes[ecosystemBase(ecosystem)];
}

export type { VersionScheme };
