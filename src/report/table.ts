import type { SeverityLevel } from "../match/types.js";
import type { JsonReport, ReportFinding } from "./model.js";

const colours: Record<SeverityLevel, string> = {
  critical: "\u001b[1;31m",
  high: "\u001b[31m",
  medium: "\u001b[33m",
  low: "\u001b[36m",
  unknown: "\u001b[2m",
};
const RESET = "\u001b[0m";

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/** What the policy made of a finding: suppressed (and by what), or known to or new since the baseline. */
function policyStatus(finding: ReportFinding): string {
  if (finding.suppressed) return `suppressed (${finding.suppressed.by})`;
  return finding.baseline ?? "";
}

/** The footer's line about what the policy set aside, when it set anything aside. */
function policyLine(report: JsonReport): string | undefined {
  const { policy } = report;
  const parts: string[] = [];
  if (policy.suppressed > 0) {
    const by = (source: "ignore" | "vex") =>
      report.findings.filter((f) => f.suppressed?.by === source).length;
    const sources = [
      ...(by("ignore") > 0 ? [`${by("ignore")} by the ignore file`] : []),
      ...(by("vex") > 0 ? [`${by("vex")} by VEX`] : []),
    ];
    parts.push(`${policy.suppressed} suppressed (${sources.join(", ")})`);
  }
  if (policy.hidden > 0) {
    const flags = [
      ...(policy.severities ? ["--severity"] : []),
      ...(policy.ignoreUnfixed ? ["--ignore-unfixed"] : []),
    ];
    parts.push(`${policy.hidden} hidden by ${flags.join(" and ")}`);
  }
  if (policy.baseline !== undefined)
    parts.push(`${policy.known} known to the baseline, ${report.summary.new ?? 0} new`);
  return parts.length > 0 ? `Policy: ${parts.join("; ")}` : undefined;
}

/** A terminal table of the findings, most severe first, with a summary line. */
const severityRank: Record<ReportFinding["severity"]["level"], number> = {
  critical: 0,
  high: 1,
  medium: 2,
  low: 3,
  unknown: 4,
};

/** One package: the same purl installed in the same layer. */
function packageKey(finding: ReportFinding): string {
  return `${finding.package.purl}\u0000${finding.layer.index}`;
}

/**
 * The findings grouped by package, so a package's problems read together: the package with the
 * most severe finding first, and within a package the most severe first; ties keep the report's
 * order (sort is stable).
 */
function groupedByPackage(findings: readonly ReportFinding[]): ReportFinding[] {
  const worst = new Map<string, number>();
  for (const finding of findings) {
    const key = packageKey(finding);
    worst.set(key, Math.min(worst.get(key) ?? 4, severityRank[finding.severity.level]));
  }
  const firstSeen = new Map<string, number>();
  findings.forEach((finding, i) => {
    if (!firstSeen.has(packageKey(finding))) firstSeen.set(packageKey(finding), i);
  });
  const groupOrder = (finding: ReportFinding) => {
    const key = packageKey(finding);
    return [worst.get(key) ?? 4, firstSeen.get(key) ?? 0] as const;
  };
  return [...findings].sort((a, b) => {
    const [worstA, firstA] = groupOrder(a);
    const [worstB, firstB] = groupOrder(b);
    return (
      worstA - worstB || firstA - firstB || severityRank[a.severity.level] - severityRank[b.severity.level]
    );
  });
}

export function renderTable(report: JsonReport, options: { colour: boolean }): string {
  const lines: string[] = [];
  const os = report.os
    ? (report.os.prettyName ?? `${report.os.id} ${report.os.versionId ?? ""}`.trim())
    : "unknown OS";
  lines.push(
    `${report.image.source} (${os}, ${report.summary.packages} packages, ${report.image.layers.length} layers)`,
  );
  if (report.os?.eol)
    lines.push(`WARNING: ${os} reached end of life on ${report.os.endOfLife}; it gets no security fixes`);
  const counts = (["critical", "high", "medium", "low", "unknown"] as const)
    .map((level) => `${level}: ${report.summary.bySeverity[level]}`)
    .join(", ");
  lines.push(`Findings: ${report.summary.findings} (${counts})`);
  if (report.findings.length > 0) {
    // A STATUS column only when the policy marked a finding, so a plain scan's table stays as it was.
    const marked = report.findings.some((finding) => finding.suppressed || finding.baseline);
    const header = [
      "SEVERITY",
      "ID",
      "PACKAGE",
      "INSTALLED",
      "FIXED",
      "LAYER",
      ...(marked ? ["STATUS"] : []),
    ];
    const findings = groupedByPackage(report.findings);
    const rows = findings.map((finding, i) => {
      // A package's name and version are printed on its group's first row only.
      const continues = i > 0 && packageKey(findings[i - 1] as ReportFinding) === packageKey(finding);
      return [
        finding.severity.level.toUpperCase(),
        finding.id,
        continues ? "" : finding.package.name,
        continues ? "" : finding.installedVersion,
        finding.fixedVersion ?? "(not fixed)",
        // -1: an SBOM that does not say which layer.
        finding.layer.index < 0 ? "-" : String(finding.layer.index),
        ...(marked ? [policyStatus(finding)] : []),
      ];
    });
    const widths = header.map((title, column) =>
      Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
    );
    lines.push("");
    lines.push(
      header
        .map((title, column) => pad(title, widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    );
    findings.forEach((finding, i) => {
      const cells = (rows[i] ?? []).map((cell, column) => pad(cell, widths[column] ?? 0));
      if (options.colour && cells[0] !== undefined)
        cells[0] = `${colours[finding.severity.level]}${cells[0]}${RESET}`;
      lines.push(cells.join("  ").trimEnd());
    });
  }
  const setAside = policyLine(report);
  if (setAside) {
    lines.push("");
    lines.push(setAside);
  }
  if (report.policy.failOn) {
    // With a baseline only new findings fail; suppressed ones never do.
    const what = report.policy.baseline !== undefined ? "new finding" : "finding";
    lines.push(
      ...(setAside ? [] : [""]),
      report.policy.failed
        ? `FAIL: ${report.policy.failing} ${what}(s) at or above ${report.policy.failOn}`
        : `PASS: no ${what} at or above ${report.policy.failOn}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
