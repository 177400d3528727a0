import { advisoryUrl, severitiesDescending } from "./findings.js";
import { hygieneWhere, ruleDocUrl } from "./hygiene.js";
import type { JsonReport, ReportFinding, ReportHygieneFinding } from "./model.js";

/**
 * GitHub-flavoured Markdown for a pull request comment or an Action's job summary: a heading, a
 * table of counts by severity, then the most severe findings (the report lists them most severe
 * first) capped at `maxRows`, with a line saying how many more there are, and the policy verdict.
 *
 * Text from the image (package names, versions, the layer's created_by) is put in code spans:
 * nothing in them is read as Markdown or HTML, and GitHub does not turn "@scope/name" into a
 * mention there. A code span in a table still ends its cell at "|", so pipes are escaped, and a
 * backtick in the text gets a longer fence.
 *
 * Build-hygiene findings follow under their own heading: counts, then a table (severity, rule
 * linked to docs/rules.md, where, message), capped at `maxRows` too.
 */

export interface MarkdownOptions {
  /** Findings listed at most; the rest are counted. */
  maxRows?: number;
}

export const DEFAULT_MARKDOWN_ROWS = 25;

/** The longest created_by shown for a layer; the full text is in the JSON report. */
const MAX_LAYER_TEXT = 60;

/** Inline code for a table cell: any text, shown as it is. */
export function codeCell(text: string): string {
  const flat = text.replace(/[\r\n]+/g, " ").replace(/\|/g, "\\|");
  if (flat === "") return "";
  const longestTicks = Math.max(0, ...[...flat.matchAll(/`+/g)].map((run) => run[0].length));
  const fence = "`".repeat(longestTicks + 1);
  // A space inside the fence when the text starts or ends with a backtick (CommonMark strips one).
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/**
 * Plain text inside a line (never at its start, where "#", "-" or "1." would mean something):
 * the inline punctuation and HTML escaped, "@" kept from mentioning anyone.
 */
export function escapeMarkdownText(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ")
    .replace(/[\\`*_[\]|~<>]/g, (c) => `\\${c}`)
    .replace(/&/g, "&amp;")
    .replace(/@/g, "@\u200b");
}

function layerCell(finding: ReportFinding): string {
  if (finding.layer.index < 0) return "-";
  const createdBy = finding.layer.createdBy;
  if (!createdBy) return String(finding.layer.index);
  const short = createdBy.length > MAX_LAYER_TEXT ? `${createdBy.slice(0, MAX_LAYER_TEXT - 1)}…` : createdBy;
  return `${finding.layer.index} ${codeCell(short)}`;
}

/** Findings the policy keeps listed but does not count: suppressed, or known to the baseline. */
function setAside(finding: ReportFinding): string {
  if (finding.suppressed) return " (suppressed)";
  return finding.baseline === "known" ? " (known)" : "";
}

function label(level: string): string {
  return level.charAt(0).toUpperCase() + level.slice(1);
}

function hygieneSetAside(finding: ReportHygieneFinding): string {
  if (finding.suppressed) return " (suppressed)";
  return finding.baseline === "known" ? " (known)" : "";
}

function hygieneMarkdown(report: JsonReport, maxRows: number): string[] {
  const { hygiene } = report;
  if (hygiene.length === 0) return [];
  const counts = (["critical", "high", "medium", "low"] as const)
    .filter((level) => report.summary.hygiene.bySeverity[level] > 0)
    .map((level) => `${report.summary.hygiene.bySeverity[level]} ${level}`)
    .join(", ");
  const lines = [
    "",
    "#### Build hygiene",
    "",
    `**${hygiene.length} hygiene finding${hygiene.length === 1 ? "" : "s"}** (${counts}).`,
  ];
  if (maxRows > 0) {
    // Severity first: a row never starts like a findings row ("| [ID](...)"), which tools read.
    lines.push("", "| Severity | Rule | Where | Message |", "| --- | --- | --- | --- |");
    for (const finding of hygiene.slice(0, maxRows))
      lines.push(
        `| ${label(finding.severity)}${hygieneSetAside(finding)} | [${escapeMarkdownText(finding.ruleId)}](${ruleDocUrl(finding.ruleId)}) | ${codeCell(hygieneWhere(finding))} | ${escapeMarkdownText(finding.message)} |`,
      );
  }
  const more = hygiene.length - Math.min(hygiene.length, maxRows);
  if (more > 0)
    lines.push("", `…and ${more} more hygiene finding${more === 1 ? "" : "s"} (see the full report).`);
  return lines;
}

export function renderMarkdown(report: JsonReport, options: MarkdownOptions = {}): string {
  const maxRows = Math.max(0, options.maxRows ?? DEFAULT_MARKDOWN_ROWS);
  const os = report.os
    ? (report.os.prettyName ?? `${report.os.id} ${report.os.versionId ?? ""}`.trim())
    : undefined;
  const lines: string[] = [];
  lines.push(`### layerwatch: ${codeCell(report.image.source)}`);
  lines.push("");
  const findings = report.summary.findings;
  lines.push(
    `${findings === 0 ? "No known vulnerabilities" : `**${findings} finding${findings === 1 ? "" : "s"}**`} in ${report.summary.packages} package${report.summary.packages === 1 ? "" : "s"}${os ? ` (${escapeMarkdownText(os)})` : ""}.`,
  );
  if (report.os?.eol && report.os.endOfLife)
    lines.push(
      "",
      `> **Warning**: ${escapeMarkdownText(os ?? report.os.id)} reached end of life on ${report.os.endOfLife}; it gets no security fixes.`,
    );
  lines.push("", "| Severity | Findings |", "| --- | ---: |");
  for (const level of severitiesDescending)
    lines.push(`| ${label(level)} | ${report.summary.bySeverity[level]} |`);
  if (report.findings.length > 0 && maxRows > 0) {
    lines.push(
      "",
      "| ID | Severity | Package | Installed → Fixed | Layer |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const finding of report.findings.slice(0, maxRows)) {
      const fixed = finding.fixedVersion
        ? codeCell(finding.fixedVersion)
        : finding.fixState === "will-not-fix"
          ? "no fix planned"
          : "no fix yet";
      lines.push(
        `| [${escapeMarkdownText(finding.id)}](${advisoryUrl(finding.id)}) | ${label(finding.severity.level)}${setAside(finding)} | ${codeCell(finding.package.name)} | ${codeCell(finding.installedVersion)} → ${fixed} | ${layerCell(finding)} |`,
      );
    }
  }
  const more = report.findings.length - Math.min(report.findings.length, maxRows);
  if (more > 0) lines.push("", `…and ${more} more finding${more === 1 ? "" : "s"} (see the full report).`);
  lines.push(...hygieneMarkdown(report, maxRows));
  if (report.policy.failOn) {
    const hygieneFailing = report.policy.hygiene.failing;
    const split = hygieneFailing > 0 ? ` (${hygieneFailing} of them build hygiene)` : "";
    lines.push(
      "",
      report.policy.failed
        ? `**FAIL**: ${report.policy.failing} finding${report.policy.failing === 1 ? "" : "s"} at or above ${report.policy.failOn}${split}.`
        : `**PASS**: no finding at or above ${report.policy.failOn}.`,
    );
  }
  return `${lines.join("\n")}\n`;
}
