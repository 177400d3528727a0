import { randomUUID } from "node:crypto";
import { PackageURL } from "packageurl-js";
import { advisoryUrl, findingPackages } from "./findings.js";
import type { JsonReport, ReportFinding, ReportPackage } from "./model.js";
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
  /**
   * Whether to write the report's findings as `vulnerabilities` (`scan --format cyclonedx`);
   * `sbom` writes none, as it matched nothing.
   */
  vulnerabilities?: boolean;
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

/** Who rated a severity, by the matcher's source names (match/types.ts `Severity.source`). */
const ratingSources: Record<string, string> = {
  debian: "Debian",
  ubuntu: "Ubuntu",
  almalinux: "AlmaLinux",
  bitnami: "Bitnami",
  ghsa: "GitHub Advisories",
  nvd: "NVD",
};

/** CycloneDX's name of the CVSS version a vector is written in; "other" for a vendor's word. */
function scoreMethod(vector: string | undefined): string {
  if (!vector) return "other";
  if (vector.startsWith("CVSS:4.0/")) return "CVSSv4";
  if (vector.startsWith("CVSS:3.1/")) return "CVSSv31";
  if (vector.startsWith("CVSS:3.0/")) return "CVSSv3";
  // CVSS v2 vectors carry no version prefix ("AV:N/AC:L/Au:N/C:P/I:P/A:P").
  return /^AV:[LAN]\//.test(vector) ? "CVSSv2" : "other";
}

function rating(severity: ReportFinding["severity"], id: string): object | undefined {
  if (severity.source === "none") return undefined;
  // A score computed from the record's own vector: OSV's record is the source.
  const name = ratingSources[severity.source] ?? "OSV";
  return {
    source: { name, ...(name === "OSV" ? { url: advisoryUrl(id) } : {}) },
    ...(severity.score !== undefined ? { score: severity.score } : {}),
    severity: severity.level,
    method: scoreMethod(severity.vector),
    ...(severity.vector ? { vector: severity.vector } : {}),
  };
}

/** OpenVEX justifications as CycloneDX's impact analysis names them. */
const vexJustifications: Record<string, string> = {
  component_not_present: "code_not_present",
  vulnerable_code_not_present: "code_not_present",
  vulnerable_code_not_in_execute_path: "code_not_reachable",
  vulnerable_code_cannot_be_controlled_by_adversary: "protected_at_runtime",
  inline_mitigations_already_exist: "protected_by_mitigating_control",
};

/**
 * The analysis state a VEX document gave, when it gave every package of the vulnerability the same
 * status: not_affected, or resolved for "fixed". Ignore-file entries accept a risk, which is no
 * state CycloneDX has; they go in the detail only.
 */
function vexState(
  findings: ReportFinding[],
): { state?: string; justification?: string; detail: string } | undefined {
  const suppressions = findings.flatMap((f) => (f.suppressed ? [f.suppressed] : []));
  if (suppressions.length === 0) return undefined;
  const detail = [
    ...new Set(suppressions.map((s) => `${s.by === "vex" ? "VEX" : "ignored"} (${s.source}): ${s.reason}`)),
  ].join("; ");
  const statuses = new Set(suppressions.map((s) => (s.by === "vex" ? s.status : undefined)));
  const status =
    suppressions.length === findings.length && statuses.size === 1 ? [...statuses][0] : undefined;
  const justification =
    status === "not_affected" ? vexJustifications[suppressions[0]?.justification ?? ""] : undefined;
  if (status === "not_affected")
    return { state: "not_affected", ...(justification ? { justification } : {}), detail };
  if (status === "fixed") return { state: "resolved", detail };
  return { detail };
}

/**
 * One vulnerability per id (an alias group), affecting every component a finding of that id names,
 * with each distinct rating, the fixed versions as the recommendation, and the fix state as the
 * analysis' response: "update" where a fix is published, "will_not_fix" where the distribution
 * plans none (no state: layerwatch does not assess exploitability).
 */
function vulnerabilities(report: JsonReport, refs: string[]): object[] {
  const refOf = new Map(report.packages.map((pkg, index) => [pkg, refs[index] as string]));
  const packages = findingPackages(report);
  const groups = new Map<string, Array<{ finding: ReportFinding; ref?: string }>>();
  report.findings.forEach((finding, index) => {
    const pkg = packages[index];
    const ref = pkg ? refOf.get(pkg) : undefined;
    groups.set(finding.id, [...(groups.get(finding.id) ?? []), { finding, ...(ref ? { ref } : {}) }]);
  });
  return [...groups].map(([id, members]) => {
    const first = (members[0] as { finding: ReportFinding }).finding;
    const ratings = new Map<string, object>();
    for (const { finding } of members) {
      const rated = rating(finding.severity, id);
      if (rated) ratings.set(JSON.stringify(rated), rated);
    }
    const fixes = members.filter((m) => m.finding.fixedVersion !== undefined);
    const unfixable = members.filter((m) => m.finding.fixState === "will-not-fix");
    const response = [
      ...(fixes.length > 0 ? ["update"] : []),
      ...(unfixable.length > 0 ? ["will_not_fix"] : []),
    ];
    const vex = vexState(members.map((m) => m.finding));
    const detail = [
      ...fixes.map(
        (m) => `${m.finding.package.name} ${m.finding.installedVersion}: fixed in ${m.finding.fixedVersion}`,
      ),
      ...unfixable.map((m) => `${m.finding.package.name} ${m.finding.installedVersion}: no fix planned`),
    ].join("; ");
    const affects = new Map<string, object>();
    for (const { finding, ref } of members)
      if (ref)
        affects.set(ref, { ref, versions: [{ version: finding.installedVersion, status: "affected" }] });
    return {
      "bom-ref": `vulnerability:${id}`,
      id,
      source: { name: "OSV", url: advisoryUrl(id) },
      ...(first.aliases.length > 0
        ? {
            references: first.aliases.map((alias) => ({
              id: alias,
              source: { name: "OSV", url: advisoryUrl(alias) },
            })),
          }
        : {}),
      ...(ratings.size > 0 ? { ratings: [...ratings.values()] } : {}),
      ...(first.summary ? { description: first.summary } : {}),
      ...(fixes.length > 0
        ? {
            recommendation: fixes
              .map((m) => `Upgrade ${m.finding.package.name} to ${m.finding.fixedVersion}.`)
              .join(" "),
          }
        : {}),
      advisories: [{ url: advisoryUrl(id) }],
      ...(response.length > 0 || vex
        ? {
            analysis: {
              ...(vex?.state ? { state: vex.state } : {}),
              ...(vex?.justification ? { justification: vex.justification } : {}),
              ...(response.length > 0 ? { response } : {}),
              detail: [detail, ...(vex ? [vex.detail] : [])].filter((text) => text !== "").join("; "),
            },
          }
        : {}),
      affects: [...affects.values()],
    };
  });
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
    ...(options.vulnerabilities ? { vulnerabilities: vulnerabilities(report, refs) } : {}),
  };
  return `${JSON.stringify(bom, null, 2)}\n`;
}
