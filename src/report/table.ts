import type { SeverityLevel } from "../match/types.js";
import { hygieneWhere } from "./hygiene.js";
import type { JsonReport, ReportFinding, ReportHygieneFinding } from "./model.js";

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
  const hygieneParts = hygienePolicyParts(report);
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
  parts.push(...hygieneParts);
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

/** Lays out rows under a header, columns padded to their widest cell; the first cell coloured. */
function layoutRows(
  header: string[],
  rows: string[][],
  colourOf: (row: number) => string | undefined,
): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const lines = [
    header
      .map((title, column) => pad(title, widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  ];
  rows.forEach((row, i) => {
    const cells = row.map((cell, column) => pad(cell, widths[column] ?? 0));
    const colour = colourOf(i);
    if (colour && cells[0] !== undefined) cells[0] = `${colour}${cells[0]}${RESET}`;
    lines.push(cells.join("  ").trimEnd());
  });
  return lines;
}

function hygieneStatus(finding: ReportHygieneFinding): string {
  if (finding.suppressed) return `suppressed (${finding.suppressed.by})`;
  return finding.baseline ?? "";
}

/**
 * The "Build hygiene" section: its counts, then one row per hygiene finding (the report lists them
 * most severe first), with a STATUS column when the policy marked one. Nothing without findings.
 */
function hygieneLines(report: JsonReport, colour: boolean): string[] {
  const { hygiene } = report;
  const summary = report.summary.hygiene;
  if (hygiene.length === 0) return [];
  const counts = (["critical", "high", "medium", "low"] as const)
    .map((level) => `${level}: ${summary.bySeverity[level]}`)
    .join(", ");
  const marked = hygiene.some((finding) => finding.suppressed || finding.baseline);
  const header = ["SEVERITY", "RULE", "WHERE", "MESSAGE", ...(marked ? ["STATUS"] : [])];
  const rows = hygiene.map((finding) => [
    finding.severity.toUpperCase(),
    finding.ruleId,
    hygieneWhere(finding),
    finding.message,
    ...(marked ? [hygieneStatus(finding)] : []),
  ]);
  return [
    "",
    `Build hygiene: ${summary.findings} (${counts})`,
    "",
    ...layoutRows(header, rows, (i) => {
      const finding = hygiene[i];
      return colour && finding ? colours[finding.severity] : undefined;
    }),
  ];
}

/** The footer's line about the hygiene findings the policy set aside. */
function hygienePolicyParts(report: JsonReport): string[] {
  const counts = report.policy.hygiene;
  const parts: string[] = [];
  if (counts.suppressed > 0) {
    const by = (source: "inline" | "ignore") =>
      report.hygiene.filter((finding) => finding.suppressed?.by === source).length;
    const sources = [
      ...(by("inline") > 0 ? [`${by("inline")} by layerwatch:ignore comments`] : []),
      ...(by("ignore") > 0 ? [`${by("ignore")} by the ignore file`] : []),
    ];
    parts.push(`${counts.suppressed} hygiene finding(s) suppressed (${sources.join(", ")})`);
  }
  if (counts.hidden > 0) parts.push(`${counts.hidden} hygiene finding(s) hidden by --severity`);
  if (report.policy.baseline !== undefined && report.hygiene.length > 0)
    parts.push(
      `${counts.known} hygiene finding(s) known to the baseline, ${report.summary.hygiene.new ?? 0} new`,
    );
  return parts;
}

/**
 * PASS or FAIL against --fail-on; a scan's says how many of the failing are hygiene findings when
 * any are (a lint's are all hygiene findings).
 */
function verdictLine(report: JsonReport, lint = false): string | undefined {
  const { policy } = report;
  if (!policy.failOn) return undefined;
  // With a baseline only new findings fail; suppressed ones never do.
  const what = policy.baseline !== undefined ? "new finding" : "finding";
  const hygieneFailing = policy.hygiene.failing;
  const split =
    hygieneFailing > 0 && !lint
      ? ` (${policy.failing - hygieneFailing} vulnerabilit${policy.failing - hygieneFailing === 1 ? "y" : "ies"}, ${hygieneFailing} hygiene)`
      : "";
  return policy.failed
    ? `FAIL: ${policy.failing} ${what}(s) at or above ${policy.failOn}${split}`
    : `PASS: no ${what} at or above ${policy.failOn}`;
}

/** `layerwatch lint`'s table: the Dockerfile, its hygiene findings and the verdict. */
export function renderLintTable(report: JsonReport, options: { colour: boolean }): string {
  const lines = [
    `${report.dockerfile ?? report.image.source}: ${report.summary.hygiene.findings} hygiene finding(s)`,
  ];
  lines.push(...hygieneLines(report, options.colour).slice(2));
  const parts = hygienePolicyParts(report);
  if (parts.length > 0) lines.push("", `Policy: ${parts.join("; ")}`);
  const verdict = verdictLine(report, true);
  if (verdict) lines.push(...(parts.length > 0 ? [] : [""]), verdict);
  return `${lines.join("\n")}\n`;
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
  lines.push(...hygieneLines(report, options.colour));
  const setAside = policyLine(report);
  if (setAside) {
    lines.push("");
    lines.push(setAside);
  }
  const verdict = verdictLine(report);
  if (verdict) lines.push(...(setAside ? [] : [""]), verdict);
  return `${lines.join("\n")}\n`;
}
