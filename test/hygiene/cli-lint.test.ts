/**
 * `layerwatch lint DOCKERFILE` on Dockerfiles written here: exit codes (0, 1 at --fail-on, 2 for bad
 * input with one error line), the table, the JSON report against docs/report.schema.json, SARIF
 * against the SARIF schema and GitHub's rules, inline and ignore-file suppressions. What each
 * Dockerfile should give is read off docs/rules.md's rules by hand: root.Dockerfile has no USER
 * (LW-DF-001, high), an untagged, unpinned FROM (LW-DF-003 medium, LW-DF-002 low), no HEALTHCHECK
 * (LW-DF-019 low) and an unpinned `apk add` set aside by a comment (LW-DF-012 low).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLint } from "../../src/cli/lint.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { expectOneErrorLine } from "../helpers/report.js";
import { compileSchema } from "../helpers/schema.js";
import { type SarifTools, sarifTools } from "../report/sarif-tools.js";

const root = join(import.meta.dirname, "../..");
const digest = `sha256:${"a".repeat(64)}`;

const cleanDockerfile = [
  `FROM debian:12@${digest}`,
  "RUN useradd --system app",
  "USER app",
  'HEALTHCHECK CMD ["/bin/true"]',
  'CMD ["/bin/true"]',
  "",
].join("\n");

const rootDockerfile = [
  "# a build that runs as root",
  "FROM alpine",
  "# layerwatch:ignore LW-DF-012 curl follows the alpine release",
  "RUN apk add curl \\",
  " && rm -rf /var/cache/apk/*",
  'CMD ["sh"]',
  "",
].join("\n");

let work: string;
let clean: string;
let rootFile: string;
let tools: SarifTools | { missing: string };

/** runLint as the CLI calls it, with `work` as the working directory (the repository root). */
async function lintIn(path: string, options: Partial<Parameters<typeof runLint>[1]> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runLint(
    path,
    { format: "table", ...options },
    {
      stdout: { write: (text: string) => (stdout += text), isTTY: false },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
    },
    work,
  );
  return { code, stdout, stderr };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-lint-"));
  clean = join(work, "clean.Dockerfile");
  rootFile = join(work, "root.Dockerfile");
  await writeFile(clean, cleanDockerfile);
  await writeFile(rootFile, rootDockerfile);
  tools = await sarifTools();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("layerwatch lint", () => {
  it("a Dockerfile without findings exits 0, whatever --fail-on", async () => {
    const run = await cli(["lint", clean, "--fail-on", "low"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/: 0 hygiene finding\(s\)\n\nPASS: no finding at or above low\n$/);
  });

  it("lists the findings most severe first, and exits 1 only when one reaches --fail-on", async () => {
    const run = await lintIn(rootFile, { failOn: "high" });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("root.Dockerfile: 5 hygiene finding(s)");
    expect(lines[2]).toMatch(/^SEVERITY\s+RULE\s+WHERE\s+MESSAGE\s+STATUS$/);
    expect(lines.slice(3, 8).map((line) => line.split(/\s{2,}/).slice(0, 3))).toEqual([
      ["HIGH", "LW-DF-001", "root.Dockerfile:2"],
      ["MEDIUM", "LW-DF-003", "root.Dockerfile:2"],
      // At one level, in the Dockerfile's order.
      ["LOW", "LW-DF-002", "root.Dockerfile:2"],
      ["LOW", "LW-DF-019", "root.Dockerfile:2"],
      ["LOW", "LW-DF-012", "root.Dockerfile:4-5"],
    ]);
    expect(lines[7]).toMatch(/suppressed \(inline\)$/);
    expect(lines.slice(8)).toEqual([
      "",
      "Policy: 1 hygiene finding(s) suppressed (1 by layerwatch:ignore comments)",
      "FAIL: 1 finding(s) at or above high",
    ]);
    expect((await lintIn(rootFile, { failOn: "critical" })).code).toBe(0);
    // low: DF-001, -002, -003 and -019; the suppressed DF-012 never counts.
    const low = await lintIn(rootFile, { failOn: "low", format: "json" });
    expect(low.code).toBe(1);
    expect((JSON.parse(low.stdout) as JsonReport).policy.failing).toBe(4);
  });

  it("writes the JSON report's shape, valid by docs/report.schema.json", async () => {
    const run = await lintIn(rootFile, { format: "json", failOn: "medium" });
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as JsonReport;
    const validate = compileSchema(JSON.parse(await readFile(join(root, "docs/report.schema.json"), "utf8")));
    expect(validate(report), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    expect(report.dockerfile).toBe("root.Dockerfile");
    expect(report.image).toEqual({ source: "root.Dockerfile", repoTags: [], layers: [] });
    expect(report.findings).toEqual([]);
    expect(report.hygiene[0]).toEqual({
      ruleId: "LW-DF-001",
      severity: "high",
      title: "The final stage runs as root",
      message: expect.stringContaining("sets no USER") as unknown as string,
      location: { kind: "dockerfile", path: "root.Dockerfile", line: 2 },
    });
    expect(report.hygiene.find((f) => f.ruleId === "LW-DF-012")?.suppressed).toEqual({
      by: "inline",
      reason: "curl follows the alpine release",
      source: "root.Dockerfile",
      line: 3,
    });
    expect(report.summary.hygiene).toEqual({
      findings: 5,
      bySeverity: { critical: 0, high: 1, medium: 1, low: 3 },
    });
    expect(report.policy).toMatchObject({ failOn: "medium", failed: true, failing: 2 });
  });

  it("writes SARIF to a file beside the table: valid, each finding at its line, one rule per rule id", async (context) => {
    const sarifFile = join(work, "lint.sarif");
    const run = await lintIn(rootFile, { format: `table,sarif=${sarifFile}` });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("root.Dockerfile: 5 hygiene finding(s)");
    const log = JSON.parse(await readFile(sarifFile, "utf8")) as {
      runs: Array<{
        tool: {
          driver: { rules: Array<{ id: string; helpUri: string; shortDescription: { text: string } }> };
        };
        results: Array<{
          ruleId: string;
          level: string;
          locations: Array<{
            physicalLocation: {
              artifactLocation: { uri: string };
              region: { startLine: number; endLine?: number };
            };
          }>;
          suppressions?: Array<{ kind: string }>;
        }>;
      }>;
    };
    const sarifRun = log.runs[0];
    expect(
      sarifRun?.results.map((r) => {
        const location = r.locations[0]?.physicalLocation;
        return `${r.ruleId} ${r.level} ${location?.artifactLocation.uri}:${location?.region.startLine}${r.suppressions ? ` ${r.suppressions[0]?.kind}` : ""}`;
      }),
    ).toEqual([
      "LW-DF-001 error root.Dockerfile:2",
      "LW-DF-003 warning root.Dockerfile:2",
      "LW-DF-002 note root.Dockerfile:2",
      "LW-DF-019 note root.Dockerfile:2",
      "LW-DF-012 note root.Dockerfile:4 inSource",
    ]);
    expect(sarifRun?.tool.driver.rules.map((rule) => [rule.id, rule.shortDescription.text])).toEqual([
      ["LW-DF-001", "The final stage runs as root"],
      ["LW-DF-003", "The base image uses the latest tag or no tag"],
      ["LW-DF-002", "The base image is not pinned by digest"],
      ["LW-DF-019", expect.any(String)],
      ["LW-DF-012", expect.any(String)],
    ]);
    if ("missing" in tools) {
      console.warn(`skipping SARIF validation: ${tools.missing}`);
      return context.skip();
    }
    expect(tools.validate(log), JSON.stringify(tools.validate.errors?.slice(0, 5), null, 2)).toBe(true);
    const problems = await tools.multitool(sarifFile);
    expect(problems.filter((p) => p.ruleId.startsWith("GH") || p.level === "error")).toEqual([]);
  });

  it("the ignore file sets a rule aside everywhere, or only at the paths it names", async () => {
    const ignoreFile = join(work, "ignore.yaml");
    await writeFile(
      ignoreFile,
      [
        "ignore:",
        "  - rule: LW-DF-001",
        "    path: other/*.Dockerfile",
        "    reason: only the other image may run as root",
        "  - rule: LW-DF-003",
        "    reason: alpine is rebuilt by us",
        "    expires: 2000-01-01",
      ].join("\n"),
    );
    // Entry 1 names another path, entry 2 expired: nothing set aside, one warning.
    const before = await lintIn(rootFile, { format: "json", failOn: "high", ignoreFile });
    expect(before.code).toBe(1);
    expect(before.stderr).toBe(
      `layerwatch: warning: ${ignoreFile}: entry 2 (LW-DF-003): expired on 2000-01-01; it no longer applies\n`,
    );
    await writeFile(
      ignoreFile,
      [
        "ignore:",
        "  - rule: lw-df-001",
        "    path: root.Dockerfile",
        "    reason: a build image, never deployed",
        "  - rule: LW-DF-003",
        "    reason: alpine is rebuilt by us",
      ].join("\n"),
    );
    const after = await lintIn(rootFile, { format: "json", failOn: "medium", ignoreFile });
    expect(after.stderr).toBe("");
    expect(after.code).toBe(0);
    const report = JSON.parse(after.stdout) as JsonReport;
    expect(
      report.hygiene.filter((f) => f.suppressed?.by === "ignore").map((f) => [f.ruleId, f.suppressed?.entry]),
    ).toEqual([
      ["LW-DF-001", 1],
      ["LW-DF-003", 2],
    ]);
    expect(report.policy.hygiene).toEqual({ failing: 0, hidden: 0, suppressed: 3, known: 0 });
    const unknownRule = join(work, "unknown-rule.yaml");
    await writeFile(unknownRule, "ignore:\n  - rule: LW-DF-999\n    reason: typo\n");
    expectOneErrorLine(
      await cli(["lint", rootFile, "--ignore-file", unknownRule]),
      /^layerwatch: error: .*unknown-rule\.yaml: entry 1 \(LW-DF-999\): rule LW-DF-999: no such rule \(docs\/rules\.md lists them\)$/,
    );
  });

  it("bad input is one error line and exit code 2", async () => {
    expectOneErrorLine(
      await cli(["lint", join(work, "missing.Dockerfile")]),
      /^layerwatch: error: .*missing\.Dockerfile: .*(ENOENT|no such file)/,
    );
    const notDockerfile = join(work, "notes.txt");
    await writeFile(notDockerfile, "just some notes\n");
    expectOneErrorLine(
      await cli(["lint", notDockerfile]),
      /^layerwatch: error: .*notes\.txt: no FROM instruction; not a Dockerfile$/,
    );
    expectOneErrorLine(
      await cli(["lint", clean, "--format", "junit"]),
      /^layerwatch: error: --format junit: use one of table, json, sarif$/,
    );
    expectOneErrorLine(
      await cli(["lint", clean, "--fail-on", "severe"]),
      /^layerwatch: error: --fail-on severe: not a severity/,
    );
  });
});
