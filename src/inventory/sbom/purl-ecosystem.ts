import type { PackageURL } from "packageurl-js";
import { normalizePackageName } from "../../vulndb/ecosystem.js";
import { distroFromRelease } from "../os-release.js";
import type { Distro } from "../types.js";

/**
 * What a package URL says about a package in layerwatch's terms: the name its advisories use, the
 * version as the version schemes read it, and the OSV ecosystem. The extractors build purls from
 * packages; this goes the other way, for SBOMs that carry only the purl.
 */

/** Purl types of OS package managers: their advisories come per distribution release. */
export const osPackageTypes: ReadonlySet<string> = new Set(["deb", "apk", "rpm"]);

/** Language purl types and the OSV ecosystem their advisories are filed under. */
const languageEcosystems: Readonly<Record<string, string>> = {
  npm: "npm",
  pypi: "PyPI",
  maven: "Maven",
  golang: "Go",
  cargo: "crates.io",
  gem: "RubyGems",
  composer: "Packagist",
  nuget: "NuGet",
  hackage: "Hackage",
  cran: "CRAN",
  pub: "Pub",
};

/** Purl types whose namespace names the vendor (debian, alpine, redhat), not part of the name. */
const vendorNamespaceTypes: ReadonlySet<string> = new Set(["deb", "apk", "rpm", "alpm"]);

/**
 * Release names SBOM tools write where os-release has another ID: Trivy names OS families
 * ("alma", "redhat", "opensuse.leap") rather than os-release IDs.
 */
const releaseIdAliases: Readonly<Record<string, string>> = {
  alma: "almalinux",
  amazon: "amzn",
  oracle: "ol",
  redhat: "rhel",
  "cbl-mariner": "mariner",
  "opensuse.leap": "opensuse-leap",
  "opensuse.tumbleweed": "opensuse-tumbleweed",
  "suse linux enterprise server": "sles",
  "suse linux enterprise micro": "sle-micro",
};

/** The os-release ID for a distribution name as an SBOM writes it ("debian", "alma"). */
export function osReleaseId(name: string): string {
  const id = name.trim().toLowerCase();
  return releaseIdAliases[id] ?? id;
}

/**
 * The release a purl's `distro` qualifier names: "debian-12.15", "ubuntu-22.04",
 * "opensuse-leap-15.5", or a bare version ("3.15.11", as Trivy writes for Alpine) whose
 * distribution is the purl's namespace. A codename alone ("bookworm") names no version the
 * ecosystem table can use, so it gives undefined.
 */
export function releaseFromDistroQualifier(
  qualifier: string,
  namespace: string | undefined,
): { id: string; versionId: string } | undefined {
  const value = qualifier.trim();
  if (/^\d[\w.]*$/.test(value))
    return namespace ? { id: osReleaseId(namespace), versionId: value } : undefined;
  const match = /^(.+?)-(\d[\w.]*)$/.exec(value);
  if (!match) return undefined;
  return { id: osReleaseId(match[1] as string), versionId: match[2] as string };
}

/** The name layerwatch's extractors give a package with this purl ("@babel/traverse", "org.x:y"). */
export function nameFromPurl(purl: PackageURL): string {
  const namespace = purl.namespace;
  if (!namespace || vendorNamespaceTypes.has(purl.type)) return purl.name;
  return purl.type === "maven" ? `${namespace}:${purl.name}` : `${namespace}/${purl.name}`;
}

/** The form two spellings of one name are compared in (purls lowercase some names, PEP 503...). */
function nameKey(type: string, name: string): string {
  return type === "pypi" ? normalizePackageName("PyPI", name) : name.toLowerCase();
}

/**
 * The package's name: the purl's, spelled as the SBOM's own name field spells it when that is the
 * same name (a purl may lowercase a Go module path or normalise a Python name; advisories use the
 * package's own spelling). `candidates` are the SBOM's name, alone and joined with its group.
 */
export function packageName(purl: PackageURL, candidates: readonly string[]): string {
  const fromPurl = nameFromPurl(purl);
  const key = nameKey(purl.type, fromPurl);
  return candidates.find((candidate) => nameKey(purl.type, candidate) === key) ?? fromPurl;
}

/**
 * The version as layerwatch's extractors record it. A deb version carries its epoch ("1:2.38.1-5"),
 * which purls may move to the `epoch` qualifier; an rpm version is version-release with the epoch
 * apart, though some SBOMs write "1:3.0.7-24.el9" into the purl.
 */
export function versionFromPurl(purl: PackageURL): { version: string; epoch?: number } | undefined {
  const raw = purl.version;
  if (!raw) return undefined;
  const qualifier = purl.qualifiers?.epoch;
  const qualifierEpoch = qualifier !== undefined && /^\d+$/.test(qualifier) ? Number(qualifier) : undefined;
  if (purl.type === "deb") {
    const hasEpoch = /^\d+:/.test(raw);
    return { version: hasEpoch || qualifierEpoch === undefined ? raw : `${qualifierEpoch}:${raw}` };
  }
  if (purl.type === "rpm") {
    const inVersion = /^(\d+):(.+)$/.exec(raw);
    const version = inVersion ? (inVersion[2] as string) : raw;
    const epoch = qualifierEpoch ?? (inVersion ? Number(inVersion[1]) : undefined);
    return { version, ...(epoch !== undefined ? { epoch } : {}) };
  }
  return { version: raw };
}

/**
 * The OSV ecosystem of a package with this purl. An OS package's comes from its release: the
 * purl's `distro` qualifier, else the SBOM's operating system. A language package's comes from
 * its purl type. Other types (generic, github) have none and are listed but not matched.
 */
export function ecosystemFromPurl(purl: PackageURL, distro: Distro | undefined): string | undefined {
  if (!osPackageTypes.has(purl.type)) return languageEcosystems[purl.type];
  const qualifier = purl.qualifiers?.distro;
  const release = qualifier ? releaseFromDistroQualifier(qualifier, purl.namespace) : undefined;
  if (release) return distroFromRelease(release, "purl")?.osvEcosystem;
  return distro?.osvEcosystem;
}
