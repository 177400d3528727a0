import { PackageURL } from "packageurl-js";
import { parseSourceRpm } from "../extractors/rpm.js";
import { toSpdxExpression } from "../license.js";
import type { Distro, Package } from "../types.js";
import { ecosystemFromPurl, osPackageTypes, packageName, versionFromPurl } from "./purl-ecosystem.js";

/**
 * One package as either SBOM format describes it, before it becomes a layerwatch Package: the
 * CycloneDX and SPDX readers fill this in, and `packageFromEntry` applies the rules both share.
 */
export interface SbomEntry {
  /** How the SBOM names the entry ("lodash 4.17.20", a bom-ref), for warnings. */
  label: string;
  purl?: string;
  /** The SBOM's own spellings of the name: the name alone and joined with its group. */
  names: string[];
  version?: string;
  /** The declared license as the SBOM writes it. */
  license?: string;
  sha1?: string;
  /**
   * Name/value pairs: CycloneDX properties as they are, SPDX annotations made into the same names
   * (layerwatch's "layerwatch:key=value" comments, Trivy's "Key: value" comments).
   */
  properties: Properties;
  /** SPDX sourceInfo as Trivy writes it: "built package from: NAME VERSION". */
  builtFrom?: { name: string; version: string };
}

/** What either reader makes of a document, before the shared rules turn it into an Inventory. */
export interface SbomDocument {
  format: "cyclonedx" | "spdx";
  /** "1.6" for CycloneDX, "SPDX-2.3" for SPDX. */
  specVersion: string;
  /** What the SBOM describes (CycloneDX metadata.component, SPDX's described package). */
  subject?: { name?: string; version?: string; properties: Properties };
  /** The operating-system component or package, when the SBOM has one. */
  os?: { name: string; version?: string; properties: Properties };
  entries: SbomEntry[];
}

/** A described element (the subject, or the OS) as a reader found it. */
export interface DescribedElement {
  name: string | undefined;
  version: string | undefined;
  properties: Properties;
}

/**
 * The subject and OS of a document, from what either reader found: the subject is kept without a
 * name (its properties may still list the image's layers), the OS only with one.
 */
export function subjectAndOs(
  subject: DescribedElement | undefined,
  os: DescribedElement | undefined,
): Pick<SbomDocument, "subject" | "os"> {
  return {
    ...(subject
      ? {
          subject: {
            ...(subject.name ? { name: subject.name } : {}),
            ...(subject.version ? { version: subject.version } : {}),
            properties: subject.properties,
          },
        }
      : {}),
    ...(os?.name
      ? { os: { name: os.name, ...(os.version ? { version: os.version } : {}), properties: os.properties } }
      : {}),
  };
}

/** Property values by name; a name may repeat (Trivy's DiffID lists every layer in order). */
export type Properties = ReadonlyMap<string, readonly string[]>;

export function propertyMap(pairs: Iterable<[string, string]>): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [name, value] of pairs) map.set(name, [...(map.get(name) ?? []), value]);
  return map;
}

export function firstProperty(properties: Properties, name: string): string | undefined {
  return properties.get(name)?.[0];
}

/** The property names layerwatch's own SBOM writers use (src/report/cyclonedx.ts, spdx.ts). */
export const LAYERWATCH = "layerwatch:";
export const TRIVY = "aquasecurity:trivy:";
export const SYFT = "syft:";

/** What the reader knows about the image the SBOM describes, for attributing packages to layers. */
export interface EntryContext {
  /** The SBOM file, recorded as the location of a package the SBOM gives no path for. */
  path: string;
  /** "cyclonedx" or "spdx": the extractor name packages without a layerwatch:foundBy get. */
  format: string;
  distro?: Distro;
  /** Layer index by diff id, from the SBOM's list of the image's layers. */
  layerByDiffId: ReadonlyMap<string, number>;
}

export type EntryResult =
  | { package: Package; layerDiffId?: string }
  | { skipped: "no-purl" | "bad-purl"; reason: string };

function lw(properties: Properties, key: string): string | undefined {
  return firstProperty(properties, `${LAYERWATCH}${key}`);
}

function parsePurl(text: string): PackageURL | string {
  try {
    const purl = PackageURL.fromString(text);
    // Names and versions never hold whitespace in any package manager layerwatch reads.
    if (/\s/.test(purl.name) || /\s/.test(purl.version ?? "")) return "a name or version with whitespace";
    return purl;
  } catch (error) {
    return (error as Error).message;
  }
}

/** A non-negative integer property ("3"), or undefined. */
function integer(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

interface SourcePackage {
  name?: string;
  version?: string;
}

/**
 * The source package an OS package was built from, which advisories name. In order: layerwatch's
 * own properties, Trivy's (SrcName, SrcEpoch:SrcVersion-SrcRelease), Syft's (syft:metadata:source
 * and sourceVersion for deb, sourceRpm for rpm, originPackage for apk), Trivy's SPDX sourceInfo,
 * then the purl's `upstream` qualifier ("name", "name@version", or an rpm's source file name).
 */
function sourcePackage(entry: SbomEntry, purl: PackageURL): SourcePackage {
  const p = entry.properties;
  const trivyName = firstProperty(p, `${TRIVY}SrcName`);
  if (trivyName) {
    const version = firstProperty(p, `${TRIVY}SrcVersion`);
    const release = firstProperty(p, `${TRIVY}SrcRelease`);
    const epoch = firstProperty(p, `${TRIVY}SrcEpoch`);
    const full = version
      ? `${epoch && epoch !== "0" ? `${epoch}:` : ""}${version}${release ? `-${release}` : ""}`
      : undefined;
    return { name: trivyName, ...(full ? { version: full } : {}) };
  }
  const syftSource = firstProperty(p, `${SYFT}metadata:source`);
  if (syftSource) {
    const version = firstProperty(p, `${SYFT}metadata:sourceVersion`);
    return { name: syftSource, ...(version ? { version } : {}) };
  }
  const sourceRpm = firstProperty(p, `${SYFT}metadata:sourceRpm`);
  const parsedRpm = sourceRpm ? parseSourceRpm(sourceRpm) : undefined;
  if (parsedRpm) return { name: parsedRpm.name, version: `${parsedRpm.version}-${parsedRpm.release}` };
  const origin = firstProperty(p, `${SYFT}metadata:originPackage`);
  if (origin) return { name: origin };
  if (entry.builtFrom) return entry.builtFrom;
  const upstream = purl.qualifiers?.upstream;
  if (upstream) {
    const rpm = purl.type === "rpm" ? parseSourceRpm(upstream) : undefined;
    if (rpm) return { name: rpm.name, version: `${rpm.version}-${rpm.release}` };
    const at = upstream.indexOf("@");
    return at > 0 ? { name: upstream.slice(0, at), version: upstream.slice(at + 1) } : { name: upstream };
  }
  return {};
}

/**
 * An OS package's source version as the matcher compares it: an rpm's is epoch:version-release,
 * as the rpm extractor records it, though a source rpm's file name carries no epoch.
 */
function osSourceVersion(version: string, rpmEpoch: number | undefined): string {
  return rpmEpoch === undefined || /^\d+:/.test(version) ? version : `${rpmEpoch}:${version}`;
}

/** A file Syft names as where it found the package, with the layer the file is in. */
interface SyftLocation {
  path: string;
  layerId?: string;
}

/**
 * Syft's locations (syft:location:N:path and :layerID, N from 0), in order. The SPDX reader
 * makes the same names from Syft's sourceInfo, which lists the paths without layers.
 */
function syftLocations(properties: Properties): SyftLocation[] {
  const locations: SyftLocation[] = [];
  for (let index = 0; ; index++) {
    const path = firstProperty(properties, `${SYFT}location:${index}:path`);
    if (path === undefined) return locations;
    const layerId = firstProperty(properties, `${SYFT}location:${index}:layerID`);
    locations.push({ path, ...(layerId ? { layerId } : {}) });
  }
}

/**
 * The location that says the package is installed: Syft lists a Debian package's copyright file
 * (usr/share/doc/NAME/copyright) beside its dpkg database entry, in either order depending on the
 * version (0.78 puts the copyright file first), and layerwatch's extractors record the database
 * file. So the first location outside usr/share/doc, else the first.
 */
function syftPackageLocation(properties: Properties): SyftLocation | undefined {
  const locations = syftLocations(properties);
  return locations.find((location) => !/^\/*usr\/share\/doc\//.test(location.path)) ?? locations[0];
}

/** The file the package was found in, root-relative like the extractors' locations. */
function locationOf(entry: SbomEntry, context: EntryContext): string {
  const p = entry.properties;
  const path =
    lw(p, "location") ??
    firstProperty(p, `${TRIVY}FilePath`) ??
    syftPackageLocation(p)?.path.replace(/^\/+/, "");
  return path || context.path;
}

/**
 * The layer that introduced the package: layerwatch's index, else the diff id Trivy or Syft give
 * looked up in the SBOM's layer list. -1 when the SBOM does not say (Package.layer): Syft names
 * each package's layer but lists no layers of the image, so its diff ids have no index.
 */
function layerOf(entry: SbomEntry, context: EntryContext): { layer: number; diffId?: string } {
  const p = entry.properties;
  const index = integer(lw(p, "layer"));
  const ownDiffId = lw(p, "layer:diffId");
  if (index !== undefined) return { layer: index, ...(ownDiffId ? { diffId: ownDiffId } : {}) };
  const diffId = firstProperty(p, `${TRIVY}LayerDiffID`) ?? syftPackageLocation(p)?.layerId ?? ownDiffId;
  const found = diffId === undefined ? undefined : context.layerByDiffId.get(diffId);
  return found === undefined ? { layer: -1 } : { layer: found, diffId };
}

/**
 * Turns one SBOM entry into a Package, or says why it was skipped. layerwatch's own properties
 * win over everything derived: a component that carries any says exactly what the scan found,
 * including that it has no ecosystem (a language package an OS package owns).
 */
export function packageFromEntry(entry: SbomEntry, context: EntryContext): EntryResult {
  if (!entry.purl) return { skipped: "no-purl", reason: entry.label };
  const purl = parsePurl(entry.purl);
  if (typeof purl === "string") return { skipped: "bad-purl", reason: `${entry.purl}: ${purl}` };
  const fromPurl = versionFromPurl(purl);
  const version = fromPurl?.version ?? entry.version;
  if (!version || /\s/.test(version)) return { skipped: "bad-purl", reason: `${entry.purl}: no version` };
  const p = entry.properties;
  const ownProperties = [...p.keys()].some((name) => name.startsWith(LAYERWATCH));
  const name = packageName(purl, entry.names);
  const isOsPackage = osPackageTypes.has(purl.type);
  const epoch = integer(lw(p, "epoch")) ?? fromPurl?.epoch;
  const derivedSource = isOsPackage ? sourcePackage(entry, purl) : {};
  const sourceName = lw(p, "sourceName") ?? (isOsPackage ? (derivedSource.name ?? name) : undefined);
  const sourceVersion =
    lw(p, "sourceVersion") ??
    (isOsPackage
      ? osSourceVersion(derivedSource.version ?? version, purl.type === "rpm" ? epoch : undefined)
      : undefined);
  const ecosystem = ownProperties ? lw(p, "ecosystem") : ecosystemFromPurl(purl, context.distro);
  const arch = lw(p, "arch") ?? (isOsPackage ? purl.qualifiers?.arch : undefined);
  const license = lw(p, "license") ?? entry.license;
  // As the inventory does for an image's packages (inventory.ts).
  const licenseExpression = license ? toSpdxExpression(license).expression : undefined;
  // layerwatch writes a Java archive's SHA-1 as the component's hash; other tools hash other
  // things (Trivy: an OS package's files), which the `sha1` field does not mean.
  const sha1 = ownProperties || purl.type === "maven" ? entry.sha1 : undefined;
  const vendor = lw(p, "vendor");
  const modularityLabel = lw(p, "modularityLabel");
  const osOwned = lw(p, "osOwned");
  const { layer, diffId } = layerOf(entry, context);
  return {
    package: {
      name,
      version,
      type: purl.type,
      purl: entry.purl,
      ...(ecosystem ? { ecosystem } : {}),
      ...(sourceName ? { sourceName } : {}),
      ...(sourceVersion ? { sourceVersion } : {}),
      ...(arch ? { arch } : {}),
      ...(epoch !== undefined ? { epoch } : {}),
      ...(license ? { license } : {}),
      ...(vendor ? { vendor } : {}),
      ...(modularityLabel ? { modularityLabel } : {}),
      ...(lw(p, "dev") === "true" ? { dev: true } : {}),
      ...(sha1 && /^[0-9a-f]{40}$/.test(sha1) ? { sha1 } : {}),
      ...(osOwned ? { osOwned } : {}),
      ...(licenseExpression ? { licenseExpression } : {}),
      location: locationOf(entry, context),
      layer,
      foundBy: lw(p, "foundBy") ?? context.format,
    },
    ...(diffId ? { layerDiffId: diffId } : {}),
  };
}
