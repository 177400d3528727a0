import { expect } from "vitest";
import type { JsonReport } from "../../src/report/model.js";

/** What a finding says, in the order the report lists them. */
export function findingRows(report: JsonReport) {
  return report.findings.map((f) => ({
    id: f.id,
    pkg: f.package.name,
    installed: f.installedVersion,
    fixed: f.fixedVersion,
    level: f.severity.level,
    layer: f.layer.index,
  }));
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
