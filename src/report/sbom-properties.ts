import { createHash } from "node:crypto";
import type { JsonReport, ReportLayer, ReportPackage } from "./model.js";

/**
 * What the CycloneDX and SPDX writers say beyond their standard fields, as `layerwatch:<key>`
 * name/value pairs: CycloneDX properties, SPDX annotations ("layerwatch:<key>=<value>"). Both
 * writers take them from here so the two formats carry the same facts under the same names
 * (docs: /work/notes/sbom-contract.md; the SBOM reader parses them back).
 */
export const PROPERTY_PREFIX = "layerwatch:";

export interface SbomProperty {
  name: string;
  value: string;
}

/**
 * The report's packages carry the extractor that found them once the model has `foundBy`; until
 * then the property is left out (read defensively, as the report model does not declare it yet).
 */
export function foundByOf(pkg: ReportPackage): string | undefined {
  const foundBy = (pkg as ReportPackage & { foundBy?: unknown }).foundBy;
  return typeof foundBy === "string" && foundBy !== "" ? foundBy : undefined;
}

/**
 * The layer that introduced the package. A report read back from an SBOM without layer facts has
 * none (the report model is making `layer` optional for that), so it is read as optional here.
 */
export function layerOf(pkg: ReportPackage): ReportLayer | undefined {
  return pkg.layer as ReportLayer | undefined;
}

function property(key: string, value: string | number | undefined): SbomProperty[] {
  return value === undefined || value === ""
    ? []
    : [{ name: `${PROPERTY_PREFIX}${key}`, value: String(value) }];
}

/** A package's facts beyond name, version, purl, licenses and hashes; absent fields are left out. */
export function packageProperties(pkg: ReportPackage): SbomProperty[] {
  const layer = layerOf(pkg);
  return [
    ...property("location", pkg.location),
    ...property("layer", layer?.index),
    ...property("layer:diffId", layer?.diffId),
    ...property("foundBy", foundByOf(pkg)),
    ...property("ecosystem", pkg.ecosystem),
    ...property("sourceName", pkg.sourceName),
    ...property("sourceVersion", pkg.sourceVersion),
    ...property("arch", pkg.arch),
    ...property("epoch", pkg.epoch),
    ...property("vendor", pkg.vendor),
    ...property("modularityLabel", pkg.modularityLabel),
    ...property("dev", pkg.dev ? "true" : undefined),
    ...property("osOwned", pkg.osOwned),
    ...property("license", pkg.license),
  ];
}

/** The image's identity, its layers (in order) and the base image, when known. */
export function imageProperties(image: JsonReport["image"]): SbomProperty[] {
  return [
    ...property("image:configDigest", image.configDigest),
    ...property("image:manifestDigest", image.manifestDigest),
    ...image.repoTags.flatMap((tag) => property("image:repoTag", tag)),
    ...property("image:os", image.os),
    ...property("image:architecture", image.architecture),
    ...image.layers.flatMap((layer) => [
      ...property(`layer:${layer.index}:diffId`, layer.diffId),
      ...property(`layer:${layer.index}:digest`, layer.digest),
      ...property(`layer:${layer.index}:createdBy`, layer.createdBy),
    ]),
    ...property("baseImage:reference", image.baseImage?.reference),
    ...property("baseImage:layers", image.baseImage?.layers),
    ...property("baseImage:from", image.baseImage?.from),
  ];
}

export function osProperties(os: NonNullable<JsonReport["os"]>): SbomProperty[] {
  return [
    ...property("os:ecosystem", os.ecosystem),
    ...property("os:prettyName", os.prettyName),
    ...property("os:endOfLife", os.endOfLife),
  ];
}

/** What an SBOM calls the image's version: the manifest digest, else the config digest (if any). */
export function imageVersion(image: JsonReport["image"]): string | undefined {
  return image.manifestDigest ?? (image.configDigest as string | undefined);
}

/** SBOM timestamps to the second, as SPDX writes them (YYYY-MM-DDThh:mm:ssZ). */
export function sbomTimestamp(createdAt: string): string {
  return new Date(createdAt).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Identifiers unique per (purl, location), stable across runs: two copies of one package at two
 * paths are two entries. `make` turns the pair into an identifier; a pair seen again (the same
 * purl listed twice in one file) gets the first free counter suffix.
 */
export function uniqueIds(packages: ReportPackage[], make: (pkg: ReportPackage) => string): string[] {
  const used = new Set<string>();
  return packages.map((pkg) => {
    const base = make(pkg);
    let id = base;
    for (let count = 2; used.has(id); count++) id = `${base}-${count}`;
    used.add(id);
    return id;
  });
}

export function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}
