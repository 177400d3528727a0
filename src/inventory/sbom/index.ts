import { readFile, stat } from "node:fs/promises";
import { PackageURL } from "packageurl-js";
import { describeError, InputError } from "../../errors.js";
import type { LayerInfo } from "../../image/types.js";
import { distroFromRelease } from "../os-release.js";
import type { Distro, Inventory, InventoryWarning, Package } from "../types.js";
import { unwrapAttestation } from "./attestation.js";
import { cycloneDxSpecVersions, readCycloneDx } from "./cyclonedx.js";
import {
  type EntryContext,
  firstProperty,
  LAYERWATCH,
  type Properties,
  packageFromEntry,
  type SbomDocument,
  SYFT,
  TRIVY,
} from "./entry.js";
import { asObject, asString } from "./json.js";
import { osPackageTypes, osReleaseId, releaseFromDistroQualifier } from "./purl-ecosystem.js";
import { readSpdx, spdxVersions } from "./spdx.js";

/**
 * `sbom:FILE`: a CycloneDX or SPDX JSON document read in place of an image. The packages it lists
 * become an Inventory that is matched exactly as an image's is; what it says about the image
 * (digests, tags, layers) becomes the report's image section.
 */

export const SBOM_PREFIX = "sbom:";

/** Largest SBOM read into memory. */
const MAX_SBOM_BYTES = 512 * 1024 * 1024;

/** What an SBOM says about the image it describes; everything is optional but the layer list. */
export interface SbomImage {
  /** The SBOM's name for what it describes (an image reference, a directory). */
  name?: string;
  manifestDigest?: string;
  configDigest?: string;
  repoTags: string[];
  os?: string;
  architecture?: string;
  /** The layers the SBOM names, by index; empty when it names none. */
  layers: LayerInfo[];
  baseImage?: { reference: string; layers: number; from: "option" | "label" };
}

export interface SbomInventory {
  /** "CycloneDX 1.6", "SPDX-2.3". */
  format: string;
  inventory: Inventory;
  image: SbomImage;
}

/** The file an `sbom:FILE` source names, or undefined for any other source. */
export function sbomSourcePath(sourceText: string): string | undefined {
  if (!sourceText.startsWith(SBOM_PREFIX)) return undefined;
  const path = sourceText.slice(SBOM_PREFIX.length);
  if (path === "") throw new InputError(`${sourceText}: no path after '${SBOM_PREFIX}'`);
  return path;
}

/** Fails early, before any other work, when the SBOM file is not there. */
export async function assertSbomExists(sourceText: string, path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
  } catch (error) {
    throw new InputError(`${sourceText}: ${describeError(error)}`);
  }
}

/** Reads and parses the SBOM file. Every problem with the file as a whole is one InputError. */
export async function readSbomFile(sourceText: string): Promise<SbomInventory> {
  const path = sbomSourcePath(sourceText);
  if (path === undefined) throw new InputError(`${sourceText}: not an sbom: source`);
  await assertSbomExists(sourceText, path);
  if ((await stat(path)).size > MAX_SBOM_BYTES)
    throw new InputError(`${sourceText}: larger than ${MAX_SBOM_BYTES / 1024 / 1024} MiB; not read`);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(`${sourceText}: ${describeError(error)}`);
  }
  return readSbom(text, path, sourceText);
}

/** The document's format, or an InputError saying why it is neither format layerwatch reads. */
export function parseSbomDocument(text: string, subject: string): SbomDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new InputError(`${subject}: not JSON (${(error as Error).message})`);
  }
  const parsedObject = asObject(parsed);
  const document = parsedObject && unwrapAttestation(parsedObject, subject);
  if (document?.bomFormat === "CycloneDX") {
    const version = asString(document.specVersion) ?? "";
    if (!cycloneDxSpecVersions.includes(version))
      throw new InputError(
        `${subject}: CycloneDX specVersion ${version || "(none)"} is not supported; ${cycloneDxSpecVersions.join(", ")} are`,
      );
    return readCycloneDx(document, version);
  }
  const spdxVersion = asString(document?.spdxVersion);
  if (document && spdxVersion !== undefined) {
    if (!spdxVersions.includes(spdxVersion))
      throw new InputError(
        `${subject}: ${spdxVersion} is not supported; ${spdxVersions.join(" and ")} JSON are`,
      );
    return readSpdx(document, spdxVersion);
  }
  // SPDX 3 is JSON-LD: a @context and a @graph instead of spdxVersion.
  const spdx3 = document && "@context" in document && JSON.stringify(document["@context"]).includes("spdx");
  throw new InputError(
    spdx3
      ? `${subject}: SPDX 3 is not supported; SPDX 2.2 and 2.3 JSON are`
      : `${subject}: not a CycloneDX or SPDX JSON document (no bomFormat "CycloneDX" and no spdxVersion)`,
  );
}

/** The digest syntax the report schema uses (algorithm:encoded). */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** A digest the SBOM gives, or undefined when it gives none or a malformed one (said in `problems`). */
function digestOrUndefined(what: string, value: string | undefined, problems: string[]): string | undefined {
  if (value === undefined || DIGEST.test(value)) return value;
  problems.push(`the ${what} "${value}" is not a digest; left out`);
  return undefined;
}

/**
 * The image's layers as the SBOM lists them: layerwatch's layerwatch:layer:<index>:* properties,
 * else Trivy's DiffID properties, one per layer in order.
 */
function imageLayers(properties: Properties, problems: string[]): LayerInfo[] {
  const byIndex = new Map<number, LayerInfo>();
  for (const [name, values] of properties) {
    const match = /^layerwatch:layer:(\d+):(diffId|digest|createdBy)$/.exec(name);
    const value = values[0];
    if (!match || value === undefined) continue;
    const index = Number(match[1]);
    const layer = byIndex.get(index) ?? { index, diffId: "" };
    if (match[2] === "diffId") layer.diffId = value;
    else if (match[2] === "digest") layer.digest = value;
    else layer.createdBy = value;
    byIndex.set(index, layer);
  }
  if (byIndex.size === 0)
    (properties.get(`${TRIVY}DiffID`) ?? []).forEach((diffId, index) => {
      byIndex.set(index, { index, diffId });
    });
  const layers: LayerInfo[] = [];
  for (const layer of byIndex.values()) {
    if (!digestOrUndefined(`layer ${layer.index} diff id`, layer.diffId, problems)) continue;
    if (!digestOrUndefined(`layer ${layer.index} digest`, layer.digest, problems)) delete layer.digest;
    layers.push(layer);
  }
  return layers.sort((a, b) => a.index - b.index);
}

function imageFacts(document: SbomDocument, problems: string[]): SbomImage {
  const properties: Properties = document.subject?.properties ?? new Map();
  const own = (key: string) => firstProperty(properties, `${LAYERWATCH}${key}`);
  // Trivy's RepoDigest is "name@sha256:...".
  const trivyRepoDigest = firstProperty(properties, `${TRIVY}RepoDigest`)?.split("@").pop();
  const manifestDigest = digestOrUndefined(
    "manifest digest",
    own("image:manifestDigest") ?? trivyRepoDigest,
    problems,
  );
  const configDigest = digestOrUndefined(
    "config digest",
    own("image:configDigest") ?? firstProperty(properties, `${TRIVY}ImageID`),
    problems,
  );
  const ownTags = properties.get(`${LAYERWATCH}image:repoTag`);
  const repoTags = [...(ownTags ?? properties.get(`${TRIVY}RepoTag`) ?? [])];
  const os = own("image:os");
  const architecture = own("image:architecture");
  const baseReference = own("baseImage:reference");
  const baseLayers = own("baseImage:layers");
  const baseFrom = own("baseImage:from");
  if (baseReference && !/^\d+$/.test(baseLayers ?? ""))
    problems.push(`the base image ${baseReference} has no layer count ("${baseLayers ?? ""}"); left out`);
  return {
    ...(document.subject?.name ? { name: document.subject.name } : {}),
    ...(manifestDigest ? { manifestDigest } : {}),
    ...(configDigest ? { configDigest } : {}),
    repoTags,
    ...(os ? { os } : {}),
    ...(architecture ? { architecture } : {}),
    layers: imageLayers(properties, problems),
    ...(baseReference && baseLayers && /^\d+$/.test(baseLayers)
      ? {
          baseImage: {
            reference: baseReference,
            layers: Number(baseLayers),
            from: baseFrom === "label" ? ("label" as const) : ("option" as const),
          },
        }
      : {}),
  };
}

/**
 * The release the SBOM's packages come from: its operating-system component or package, else
 * the distro qualifier of its first OS package's purl.
 */
function distroOf(document: SbomDocument, path: string): Distro | undefined {
  if (document.os) {
    const properties = document.os.properties;
    const own = (key: string) => firstProperty(properties, `${LAYERWATCH}os:${key}`);
    // Syft's operating-system component carries the os-release fields themselves.
    const syft = (key: string) => firstProperty(properties, `${SYFT}distro:${key}`);
    const prettyName = own("prettyName") ?? syft("prettyName");
    const versionId = syft("versionID") || document.os.version;
    const distro = distroFromRelease(
      {
        id: osReleaseId(syft("id") || document.os.name),
        ...(versionId ? { versionId } : {}),
        ...(prettyName ? { prettyName } : {}),
      },
      path,
    );
    const ecosystem = own("ecosystem");
    if (distro) return ecosystem ? { ...distro, osvEcosystem: ecosystem } : distro;
  }
  for (const entry of document.entries) {
    let purl: PackageURL;
    try {
      purl = PackageURL.fromString(entry.purl ?? "");
    } catch {
      continue;
    }
    const qualifier = purl.qualifiers?.distro;
    if (!osPackageTypes.has(purl.type) || !qualifier) continue;
    const release = releaseFromDistroQualifier(qualifier, purl.namespace);
    if (release) return distroFromRelease(release, path);
  }
  return undefined;
}

/** How many entries were skipped for one reason, and the first few of them. */
function skippedWarning(path: string, what: string, reasons: string[]): InventoryWarning | undefined {
  if (reasons.length === 0) return undefined;
  const shown = reasons.slice(0, 3).join("; ");
  const more = reasons.length > 3 ? `; and ${reasons.length - 3} more` : "";
  const count = reasons.length === 1 ? "1 component" : `${reasons.length} components`;
  return { path, problem: `${count} ${what}; skipped (${shown}${more})` };
}

/** Parses an SBOM's text into an Inventory and what it says about the image. */
export function readSbom(text: string, path: string, subject = `${SBOM_PREFIX}${path}`): SbomInventory {
  const document = parseSbomDocument(text, subject);
  const distro = distroOf(document, path);
  const imageProblems: string[] = [];
  const image = imageFacts(document, imageProblems);
  const context: EntryContext = {
    path,
    format: document.format,
    ...(distro ? { distro } : {}),
    layerByDiffId: new Map(image.layers.map((layer) => [layer.diffId, layer.index])),
  };
  const packages: Package[] = [];
  const noPurl: string[] = [];
  const badPurl: string[] = [];
  const layers = new Map(image.layers.map((layer) => [layer.index, layer]));
  for (const entry of document.entries) {
    const result = packageFromEntry(entry, context);
    if ("skipped" in result) {
      (result.skipped === "no-purl" ? noPurl : badPurl).push(result.reason);
      continue;
    }
    const pkg = result.package;
    // A layer the image's list lacks is taken from the package's own diff id, else left unknown.
    if (pkg.layer >= 0 && !layers.has(pkg.layer)) {
      if (result.layerDiffId && DIGEST.test(result.layerDiffId))
        layers.set(pkg.layer, { index: pkg.layer, diffId: result.layerDiffId });
      else pkg.layer = -1;
    }
    packages.push(pkg);
  }
  const warnings = [
    ...imageProblems.map((problem) => ({ path, problem })),
    skippedWarning(path, "without a purl", noPurl),
    skippedWarning(path, "with a purl that cannot be read", badPurl),
  ].filter((warning): warning is InventoryWarning => warning !== undefined);
  if (packages.length === 0) {
    const skipped = noPurl.length + badPurl.length;
    throw new InputError(
      skipped === 0
        ? `${subject}: the SBOM lists no packages`
        : `${subject}: none of the SBOM's ${skipped} components has a usable purl`,
    );
  }
  // The order an image's inventory has, so the same packages give the same report.
  packages.sort(
    (a, b) =>
      a.type.localeCompare(b.type) || a.name.localeCompare(b.name) || a.location.localeCompare(b.location),
  );
  const specName =
    document.format === "cyclonedx" ? `CycloneDX ${document.specVersion}` : document.specVersion;
  return {
    format: specName,
    inventory: { ...(distro ? { distro } : {}), packages, warnings },
    image: { ...image, layers: [...layers.values()].sort((a, b) => a.index - b.index) },
  };
}
