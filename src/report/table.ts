import type { SeverityLevel } from "../match/types.js";
import type { JsonReport } from "./model.js";

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

/** A terminal table of the findings, most severe first, with a summary line. */
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
    const header = ["SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED", "LAYER"];
    const rows = report.findings.map((finding) => [
      finding.severity.level.toUpperCase(),
      finding.id,
      finding.package.name,
      finding.installedVersion,
      finding.fixedVersion ?? "(not fixed)",
      // -1: an SBOM that does not say which layer.
      finding.layer.index < 0 ? "-" : String(finding.layer.index),
    ]);
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
    report.findings.forEach((finding, i) => {
      const cells = (rows[i] ?? []).map((cell, column) => pad(cell, widths[column] ?? 0));
      if (options.colour && cells[0] !== undefined)
        cells[0] = `${colours[finding.severity.level]}${cells[0]}${RESET}`;
      lines.push(cells.join("  ").trimEnd());
    });
  }
  if (report.policy.failOn) {
    lines.push("");
    lines.push(
      report.policy.failed
        ? `FAIL: ${report.policy.failing} finding(s) at or above ${report.policy.failOn}`
        : `PASS: no finding at or above ${report.policy.failOn}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
