import { expect } from "vitest";
import type { JsonReport, ReportFinding } from "../../src/report/model.js";
import type { CliRun } from "./cli.js";

/** What a finding says, whatever layer it is in. */
function findingFacts(f: ReportFinding) {
  return {
    id: f.id,
    pkg: f.package.name,
    installed: f.installedVersion,
    fixed: f.fixedVersion,
    level: f.severity.level,
  };
}

/** What a finding says, in the order the report lists them. */
export function findingRows(report: JsonReport) {
  return report.findings.map((f) => ({ ...findingFacts(f), layer: f.layer.index }));
}

/**
 * What a finding says without its layer, for comparing a scan of an image with one of an SBOM or a
 * directory (which have one layer or none); only the findings for packages of `type`, when given.
 */
export function layerlessFindingRows(report: JsonReport, type?: string) {
  return report.findings.filter((f) => type === undefined || f.package.type === type).map(findingFacts);
}

/**
 * The findings as [id, aliases, name@installed, fixed, level, layer] (without the level when
 * `level` is false), by package and then id: what the end-to-end tests read off the advisories.
 */
export function findingsByPackage(report: JsonReport, { level = true } = {}) {
  return report.findings
    .map((f) => [
      f.id,
      f.aliases.join(","),
      `${f.package.name}@${f.installedVersion}`,
      f.fixedVersion,
      ...(level ? [f.severity.level] : []),
      f.layer.index,
    ])
    .sort((a, b) => `${a[2]} ${a[0]}`.localeCompare(`${b[2]} ${b[0]}`));
}

/** A CLI run with its JSON report, when it printed one. */
export function withReport(run: CliRun): CliRun & { report: JsonReport | undefined } {
  return { ...run, report: run.stdout ? (JSON.parse(run.stdout) as JsonReport) : undefined };
}

/** The JSON report of a run that said only `stderr` (text, or a pattern it matches) and exited 0. */
export function expectReport(run: CliRun, stderr: string | RegExp): JsonReport {
  if (typeof stderr === "string") expect(run.stderr).toBe(stderr);
  else expect(run.stderr).toMatch(stderr);
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as JsonReport;
}

/** A bad input gives one error line naming it, exit code 2, nothing on stdout, and no stack trace. */
export function expectOneErrorLine(
  run: { code: number | null; stderr: string; stdout: string },
  pattern: RegExp,
): void {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe("");
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}
