import { randomUUID } from "node:crypto";
import { PackageURL } from "packageurl-js";
import type { JsonReport, ReportPackage } from "./model.js";
import {
  imageProperties,
  imageVersion,
  osProperties,
  packageProperties,
  type SbomProperty,
  sbomTimestamp,
  uniqueIds,
} from "./sbom-properties.js";

/**
 * CycloneDX 1.6 JSON (https://cyclonedx.org/docs/1.6/json/): the image as metadata.component,
 * the OS as an "operating-system" component, one "library" component per package of the report.
 * Objects are written field by field so the output's key order is fixed; only the timestamp and
 * the serial number change between runs over the same image.
 */

export interface CycloneDxOptions {
  /** The UUID of the BOM's serialNumber (urn:uuid:...); random when absent. */
  uuid?: string;
}

/** Purl types whose namespace is what CycloneDX calls the component's group. */
const GROUPED_TYPES = new Set(["npm", "maven", "golang"]);

/** The bom-ref of a package: its purl and where it was found, so copies at two paths differ. */
export function cycloneDxRef(pkg: ReportPackage): string {
  return `${pkg.purl}|${pkg.location}`;
}

/** The npm scope, Maven groupId or Go module path prefix goes to `group`, the rest is the name. */
function groupAndName(pkg: ReportPackage): { group?: string; name: string } {
  if (!GROUPED_TYPES.has(pkg.type)) return { name: pkg.name };
  try {
    const purl = PackageURL.fromString(pkg.purl);
    return purl.namespace ? { group: purl.namespace, name: purl.name } : { name: purl.name };
  } catch {
    // A purl the extractor built should parse; if one does not, the package keeps its own name.
    return { name: pkg.name };
  }
}

function licenses(pkg: ReportPackage): object[] | undefined {
  if (pkg.licenseExpression) return [{ expression: pkg.licenseExpression }];
  if (pkg.license) return [{ license: { name: pkg.license } }];
  return undefined;
}

function packageComponent(pkg: ReportPackage, ref: string): object {
  const { group, name } = groupAndName(pkg);
  const licenseList = licenses(pkg);
  return {
    type: "library",
    "bom-ref": ref,
    ...(group ? { group } : {}),
    name,
    ...(pkg.version ? { version: pkg.version } : {}),
    ...(pkg.sha1 ? { hashes: [{ alg: "SHA-1", content: pkg.sha1 }] } : {}),
    ...(licenseList ? { licenses: licenseList } : {}),
    purl: pkg.purl,
    evidence: { occurrences: [{ location: `/${pkg.location}` }] },
    properties: packageProperties(pkg),
  };
}

function nonEmpty(properties: SbomProperty[]): { properties?: SbomProperty[] } {
  return properties.length > 0 ? { properties } : {};
}

export function renderCycloneDx(report: JsonReport, options: CycloneDxOptions = {}): string {
  const refs = uniqueIds(report.packages, cycloneDxRef);
  const os = report.os;
  const bom = {
    $schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    serialNumber: `urn:uuid:${options.uuid ?? randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: sbomTimestamp(report.createdAt),
      tools: {
        components: [{ type: "application", name: report.tool.name, version: report.tool.version }],
      },
      component: {
        type: "container",
        "bom-ref": "image",
        name: report.image.source,
        ...(imageVersion(report.image) ? { version: imageVersion(report.image) } : {}),
        ...nonEmpty(imageProperties(report.image)),
      },
    },
    components: [
      ...(os
        ? [
            {
              type: "operating-system",
              "bom-ref": "os",
              name: os.id,
              ...(os.versionId ? { version: os.versionId } : {}),
              ...(os.prettyName ? { description: os.prettyName } : {}),
              ...nonEmpty(osProperties(os)),
            },
          ]
        : []),
      ...report.packages.map((pkg, index) => packageComponent(pkg, refs[index] as string)),
    ],
  };
  return `${JSON.stringify(bom, null, 2)}\n`;
}
