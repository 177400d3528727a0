import { randomUUID } from "node:crypto";
import type { JsonReport, ReportPackage } from "./model.js";
import {
  foundByOf,
  imageProperties,
  imageVersion,
  layerOf,
  osProperties,
  packageProperties,
  type SbomProperty,
  sbomTimestamp,
  shortHash,
  uniqueIds,
} from "./sbom-properties.js";

/**
 * SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/): a package for the image
 * (CONTAINER), one for the OS (OPERATING_SYSTEM) and one per package of the report (LIBRARY); the
 * document DESCRIBES the image, which CONTAINS the others. What SPDX has no field for goes in
 * each package's annotations as "layerwatch:<key>=<value>". Only the creation time and the UUID
 * in the document namespace change between runs over the same image.
 */

export interface SpdxOptions {
  /** The UUID that makes the documentNamespace unique; random when absent. */
  uuid?: string;
}

const IMAGE_ID = "SPDXRef-Image";
const OS_ID = "SPDXRef-OperatingSystem";
const NOASSERTION = "NOASSERTION";

/** SPDX identifiers allow letters, digits, "." and "-" only. */
function idText(text: string, maxLength: number): string {
  return text
    .replace(/[^A-Za-z0-9.-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, maxLength);
}

/** "SPDXRef-Package-npm-minimist-1.2.5-<hash of purl and location>": readable and unique per copy. */
export function spdxPackageId(pkg: ReportPackage): string {
  const readable = idText(`${pkg.type}-${pkg.name}-${pkg.version}`, 80);
  return `SPDXRef-Package-${readable}-${shortHash(`${pkg.purl}\n${pkg.location}`)}`;
}

/** A LicenseRef for declared text that is no SPDX expression: the same text, the same id. */
export function licenseRefFor(declared: string): string {
  const readable = idText(declared, 40);
  return `LicenseRef-${readable ? `${readable}-` : ""}${shortHash(declared)}`;
}

interface ExtractedLicense {
  licenseId: string;
  extractedText: string;
  name: string;
}

/**
 * licenseDeclared for each package, and the extracted licensing info every LicenseRef it uses
 * needs: a declared text without an SPDX expression becomes its own LicenseRef; a LicenseRef
 * inside a valid expression (npm allows "LicenseRef-...") is declared with the package's text.
 */
class LicenseRefs {
  readonly extracted = new Map<string, ExtractedLicense>();

  declaredFor(pkg: ReportPackage): string {
    if (pkg.licenseExpression) {
      for (const [id] of pkg.licenseExpression.matchAll(/(?<![\w.:-])LicenseRef-[A-Za-z0-9.-]+/g))
        this.add(id, pkg.license ?? id);
      return pkg.licenseExpression;
    }
    if (pkg.license) {
      const id = licenseRefFor(pkg.license);
      this.add(id, pkg.license);
      return id;
    }
    return NOASSERTION;
  }

  private add(licenseId: string, text: string): void {
    if (!this.extracted.has(licenseId))
      this.extracted.set(licenseId, { licenseId, extractedText: text, name: text });
  }
}

function annotations(properties: SbomProperty[], created: string, annotator: string): object {
  if (properties.length === 0) return {};
  return {
    annotations: properties.map((property) => ({
      annotationDate: created,
      annotationType: "OTHER",
      annotator,
      comment: `${property.name}=${property.value}`,
    })),
  };
}

function sourceInfo(pkg: ReportPackage): string {
  const foundBy = foundByOf(pkg);
  const layer = layerOf(pkg);
  return `found${foundBy ? ` by ${foundBy}` : ""} in ${pkg.location}${layer ? `, layer ${layer.index}` : ""}`;
}

export function renderSpdx(report: JsonReport, options: SpdxOptions = {}): string {
  const created = sbomTimestamp(report.createdAt);
  const tool = `${report.tool.name}-${report.tool.version}`;
  const annotator = `Tool: ${tool}`;
  const ids = uniqueIds(report.packages, spdxPackageId);
  const licenseRefs = new LicenseRefs();
  const os = report.os;
  const unknownLicense = { licenseConcluded: NOASSERTION, licenseDeclared: NOASSERTION };

  const imagePackage = {
    name: report.image.source,
    SPDXID: IMAGE_ID,
    ...(imageVersion(report.image) ? { versionInfo: imageVersion(report.image) } : {}),
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    ...unknownLicense,
    copyrightText: NOASSERTION,
    primaryPackagePurpose: "CONTAINER",
    ...annotations(imageProperties(report.image), created, annotator),
  };
  const osPackages = os
    ? [
        {
          name: os.id,
          SPDXID: OS_ID,
          ...(os.versionId ? { versionInfo: os.versionId } : {}),
          downloadLocation: NOASSERTION,
          filesAnalyzed: false,
          ...unknownLicense,
          copyrightText: NOASSERTION,
          ...(os.prettyName ? { description: os.prettyName } : {}),
          // The SPDX 2.3 JSON schema spells it with an underscore (the spec's tag-value text with a
          // dash); the schema is what JSON consumers validate against.
          primaryPackagePurpose: "OPERATING_SYSTEM",
          ...annotations(osProperties(os), created, annotator),
        },
      ]
    : [];
  const packages = report.packages.map((pkg, index) => ({
    name: pkg.name,
    SPDXID: ids[index] as string,
    ...(pkg.version ? { versionInfo: pkg.version } : {}),
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    ...(pkg.sha1 ? { checksums: [{ algorithm: "SHA1", checksumValue: pkg.sha1 }] } : {}),
    sourceInfo: sourceInfo(pkg),
    licenseConcluded: NOASSERTION,
    licenseDeclared: licenseRefs.declaredFor(pkg),
    copyrightText: NOASSERTION,
    externalRefs: [
      { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: pkg.purl },
    ],
    primaryPackagePurpose: "LIBRARY",
    ...annotations(packageProperties(pkg), created, annotator),
  }));

  const contained = [...(os ? [OS_ID] : []), ...(ids as string[])];
  const document = {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: report.image.source,
    documentNamespace: `https://layerwatch.invalid/spdx/${idText(report.image.source, 100) || "image"}-${options.uuid ?? randomUUID()}`,
    creationInfo: { created, creators: [`Tool: ${tool}`] },
    packages: [imagePackage, ...osPackages, ...packages],
    ...(licenseRefs.extracted.size > 0
      ? { hasExtractedLicensingInfos: [...licenseRefs.extracted.values()] }
      : {}),
    relationships: [
      { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: IMAGE_ID },
      ...contained.map((id) => ({
        spdxElementId: IMAGE_ID,
        relationshipType: "CONTAINS",
        relatedSpdxElement: id,
      })),
    ],
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
