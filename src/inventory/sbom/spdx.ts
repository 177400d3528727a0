import {
  type DescribedElement,
  LAYERWATCH,
  propertyMap,
  type SbomDocument,
  type SbomEntry,
  SYFT,
  subjectAndOs,
  TRIVY,
} from "./entry.js";
import { asObject, asString, type JsonObject, objectsIn, stringsIn } from "./json.js";

/**
 * SPDX 2.2 and 2.3 JSON. Packages name themselves through a purl external reference; the package
 * the document DESCRIBES is what the SBOM is about (the image, or the project an npm SBOM was made
 * for), not one of its packages, and an OPERATING-SYSTEM package names the release. What SPDX has
 * no field for travels in package annotations: layerwatch writes "layerwatch:key=value", Trivy
 * "Key: value"; both become the properties the CycloneDX reader sees under the same names.
 */

export const spdxVersions: readonly string[] = ["SPDX-2.2", "SPDX-2.3"];

const NO_LICENSE = new Set(["NOASSERTION", "NONE", ""]);

/**
 * Syft's sourceInfo, "acquired package info from DPKG DB: /path, /path", lists the files it found
 * the package in (Syft's SPDX has no annotations); they become the syft:location:N:path names its
 * CycloneDX uses, so both formats pick the package's location by one rule.
 */
function syftLocations(pkg: JsonObject): Array<[string, string]> {
  const match = /^acquired package info from [^:]*: (.+)$/s.exec(asString(pkg.sourceInfo) ?? "");
  if (!match) return [];
  return (match[1] as string)
    .split(", ")
    .filter((path) => path.trim() !== "")
    .map((path, index) => [`${SYFT}location:${index}:path`, path.trim()]);
}

function annotations(pkg: JsonObject, bySyft: boolean): Map<string, string[]> {
  return propertyMap([
    ...(bySyft ? syftLocations(pkg) : []),
    ...objectsIn(pkg.annotations).flatMap((annotation): Array<[string, string]> => {
      const comment = asString(annotation.comment) ?? "";
      if (comment.startsWith(LAYERWATCH)) {
        const equals = comment.indexOf("=");
        return equals > 0 ? [[comment.slice(0, equals), comment.slice(equals + 1)]] : [];
      }
      // Trivy's annotations are "Key: value" from annotator "Tool: trivy-<version>".
      if (/^Tool:\s*trivy\b/i.test(asString(annotation.annotator) ?? "")) {
        const match = /^([A-Za-z]+): (.*)$/s.exec(comment);
        if (match) return [[`${TRIVY}${match[1]}`, match[2] as string]];
      }
      return [];
    }),
  ]);
}

function purlOf(pkg: JsonObject): string | undefined {
  const reference = objectsIn(pkg.externalRefs).find((ref) => asString(ref.referenceType) === "purl");
  return asString(reference?.referenceLocator);
}

function entryOf(pkg: JsonObject, bySyft: boolean): SbomEntry {
  const name = asString(pkg.name) ?? "";
  const version = asString(pkg.versionInfo);
  const purl = purlOf(pkg);
  const declared = asString(pkg.licenseDeclared);
  const checksum = objectsIn(pkg.checksums).find((c) => asString(c.algorithm)?.toUpperCase() === "SHA1");
  const sha1 = asString(checksum?.checksumValue)?.toLowerCase();
  const builtFrom = /^built package from: (\S+) (\S+)$/.exec(asString(pkg.sourceInfo) ?? "");
  return {
    label: asString(pkg.SPDXID) ?? `${name}${version ? ` ${version}` : ""}`,
    ...(purl ? { purl } : {}),
    names: [name],
    ...(version ? { version } : {}),
    ...(declared && !NO_LICENSE.has(declared) ? { license: declared } : {}),
    ...(sha1 ? { sha1 } : {}),
    properties: annotations(pkg, bySyft),
    ...(builtFrom ? { builtFrom: { name: builtFrom[1] as string, version: builtFrom[2] as string } } : {}),
  };
}

function describedElement(pkg: JsonObject | undefined): DescribedElement | undefined {
  return (
    pkg && {
      name: asString(pkg.name),
      version: asString(pkg.versionInfo),
      properties: annotations(pkg, false),
    }
  );
}

/** The SPDX ids the document describes: documentDescribes and DESCRIBES / DESCRIBED_BY relationships. */
function describedIds(document: JsonObject): Set<string> {
  const documentId = asString(document.SPDXID) ?? "SPDXRef-DOCUMENT";
  const ids = new Set(stringsIn(document.documentDescribes));
  for (const relationship of objectsIn(document.relationships)) {
    const type = asString(relationship.relationshipType);
    const from = asString(relationship.spdxElementId);
    const to = asString(relationship.relatedSpdxElement);
    if (type === "DESCRIBES" && from === documentId && to) ids.add(to);
    if (type === "DESCRIBED_BY" && to === documentId && from) ids.add(from);
  }
  return ids;
}

/** Whether Syft made the document: its creators name "Tool: syft-VERSION". */
function madeBySyft(document: JsonObject): boolean {
  return stringsIn(asObject(document.creationInfo)?.creators).some((creator) =>
    /^Tool:\s*syft-/i.test(creator),
  );
}

export function readSpdx(document: JsonObject, specVersion: string): SbomDocument {
  const packages = objectsIn(document.packages);
  const bySyft = madeBySyft(document);
  const described = describedIds(document);
  const isDescribed = (pkg: JsonObject) => described.has(asString(pkg.SPDXID) ?? "");
  // The 2.3 JSON schema spells it OPERATING_SYSTEM; tag-value, and Trivy's JSON, OPERATING-SYSTEM.
  const purpose = (pkg: JsonObject) => asString(pkg.primaryPackagePurpose)?.replace(/_/g, "-");
  const subjects = packages.filter(isDescribed);
  const subject = subjects.find((pkg) => purpose(pkg) === "CONTAINER") ?? subjects[0];
  const os = packages.find((pkg) => purpose(pkg) === "OPERATING-SYSTEM");
  return {
    format: "spdx",
    specVersion,
    ...subjectAndOs(describedElement(subject), describedElement(os)),
    entries: packages
      .filter((pkg) => !isDescribed(pkg) && pkg !== os && purpose(pkg) !== "CONTAINER")
      .map((pkg) => entryOf(pkg, bySyft)),
  };
}
