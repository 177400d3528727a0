import { PackageURL } from "packageurl-js";
import { severityRank } from "../match/severity.js";
import type { SeverityLevel } from "../match/types.js";
import type { JsonReport, ReportFinding, ReportPackage } from "./model.js";

/**
 * What the CI formats (SARIF, JUnit, Markdown, CycloneDX vulnerabilities) share about findings:
 * the advisory page, the package a finding is about, whether it trips `--fail-on`.
 */

/** The advisory's page on osv.dev, which serves every id OSV knows, aliases included. */
export function advisoryUrl(id: string): string {
  return `https://osv.dev/vulnerability/${encodeURIComponent(id)}`;
}

/**
 * The report's package each finding is about (undefined where the report lacks it). A finding
 * names its package by purl and layer only, and one purl can be installed at two paths; the
 * matcher lists findings of one id in package order and matches every copy of a purl alike, so
 * the k-th finding of (id, purl, layer) is about the k-th package with that purl and layer.
 */
export function findingPackages(report: JsonReport): Array<ReportPackage | undefined> {
  const byKey = new Map<string, ReportPackage[]>();
  for (const pkg of report.packages) {
    const key = `${pkg.purl}\u0000${pkg.layer.index}`;
    byKey.set(key, [...(byKey.get(key) ?? []), pkg]);
  }
  const used = new Map<string, number>();
  return report.findings.map((finding) => {
    const key = `${finding.package.purl}\u0000${finding.layer.index}`;
    const seenKey = `${finding.id}\u0000${key}`;
    const nth = used.get(seenKey) ?? 0;
    used.set(seenKey, nth + 1);
    const candidates = byKey.get(key) ?? [];
    return candidates[nth] ?? candidates[0];
  });
}

/**
 * The package's identity without what changes when the image is rebuilt: no version, and no
 * qualifiers (a Debian purl's distro=debian-12 moves with a release upgrade, arch with the
 * platform). A purl that does not parse is kept whole.
 */
export function versionlessPurl(purl: string): string {
  try {
    const parsed = PackageURL.fromString(purl);
    return new PackageURL(
      parsed.type,
      parsed.namespace,
      parsed.name,
      undefined,
      undefined,
      undefined,
    ).toString();
  } catch {
    return purl;
  }
}

/**
 * Whether a finding trips the policy: at or above `--fail-on`, not suppressed (ignore file, VEX),
 * not known to `--baseline`. Without a threshold every other finding counts, as `--fail-on
 * unknown` would have it (the JUnit report marks them failed).
 */
export function isFailing(finding: ReportFinding, failOn: SeverityLevel | undefined): boolean {
  if (finding.suppressed || finding.baseline === "known") return false;
  return failOn === undefined || severityRank(finding.severity.level) >= severityRank(failOn);
}

/** Why a finding does not fail the build, in a few words. */
export function passReason(finding: ReportFinding, failOn: SeverityLevel | undefined): string {
  const suppressed = finding.suppressed;
  if (suppressed) return `suppressed by ${suppressed.source}: ${suppressed.reason}`;
  if (finding.baseline === "known") return "already in the baseline";
  return `${finding.severity.level}: below --fail-on ${failOn}`;
}

/** Severities from the most to the least severe, as the reports list them. */
export const severitiesDescending: SeverityLevel[] = ["critical", "high", "medium", "low", "unknown"];
