/**
 * `layerwatch scan --format table,sarif=FILE,...`: several formats from one scan, through the
 * installed binary (needs `npm run build`), each file the same as that format written alone, and
 * the errors a wrong list gets before anything is scanned.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { expectOneErrorLine } from "../helpers/report.js";
import { normaliseSbom } from "../helpers/sbom-fixture.js";
import { buildFixtureImage, type FixtureScan, fixtureDockerfile, fixtureStore } from "./fixture-scan.js";

const bin = join(import.meta.dirname, "../../bin/layerwatch.js");
const built = existsSync(join(import.meta.dirname, "../../lib/cli/report-outputs.js"));
if (!built) console.warn("multi-format: lib/ is not built (npm run build); the binary's tests are skipped");

let store: FixtureScan;
let source: string;

function layerwatch(args: string[]) {
  const run = spawnSync(process.execPath, [bin, "--db", store.db, "scan", source, ...args], {
    encoding: "utf8",
    cwd: join(import.meta.dirname, "../.."),
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** What differs between two runs over one image: the time, the BOM's serial number. */
function normalise(text: string): string {
  // Every testsuite's: JUnit has a second one for build hygiene.
  return normaliseSbom(text).replace(/timestamp="[^"]*"/g, 'timestamp="TIMESTAMP"');
}

beforeAll(async () => {
  store = await fixtureStore("multi-format");
  source = await store.archive(await buildFixtureImage(), "image");
});

afterAll(async () => {
  await rm(store.work, { recursive: true, force: true });
});

describe.skipIf(!built)("layerwatch scan with several formats", () => {
  const formats = ["sarif", "json", "junit", "markdown", "cyclonedx"] as const;

  it("writes every file from one scan, the table to standard output, each as that format alone", async () => {
    const file = (format: string) => join(store.work, `report.${format}`);
    const spec = ["table", ...formats.map((format) => `${format}=${file(format)}`)].join(",");
    const run = layerwatch(["--format", spec, "--fail-on", "high", "--dockerfile", fixtureDockerfile]);
    expect(run.stderr).toBe("");
    // The policy's exit code, with every report written all the same.
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^docker-archive:.* \(Debian GNU\/Linux 12 \(bookworm\), 15 packages, 3 layers\)\n/,
    );
    // The three findings at or above high; the Dockerfile's final stage sets no USER (LW-DF-001,
    // high) and the image's config no User (LW-IMG-001, high).
    expect(run.stdout).toContain("FAIL: 5 finding(s) at or above high (3 vulnerabilities, 2 hygiene)");
    const written = Object.fromEntries(
      await Promise.all(
        formats.map(async (format) => [format, await readFile(file(format), "utf8")] as const),
      ),
    );
    // Each file is what that format alone writes (-o), but for the time and the BOM's serial.
    for (const format of formats) {
      const alone = join(store.work, `alone.${format}`);
      const single = layerwatch([
        "--format",
        format,
        "-o",
        alone,
        "--fail-on",
        "high",
        "--dockerfile",
        fixtureDockerfile,
      ]);
      expect(single.stdout, format).toBe("");
      expect(single.code, format).toBe(1);
      expect(normalise(written[format] as string), format).toBe(normalise(await readFile(alone, "utf8")));
    }
    // And they say the same about the scan.
    const report = JSON.parse(written.json as string) as JsonReport;
    const ids = report.findings.map((f) => f.id);
    expect(ids).toHaveLength(7);
    const sarif = JSON.parse(written.sarif as string) as {
      runs: Array<{ results: Array<{ ruleId: string }> }>;
    };
    // The findings' results, then the hygiene findings'.
    expect(sarif.runs[0]?.results.map((r) => r.ruleId)).toEqual([
      ...ids,
      ...report.hygiene.map((f) => f.ruleId),
    ]);
    expect(report.hygiene.filter((f) => f.severity === "high").map((f) => f.ruleId)).toEqual([
      "LW-DF-001",
      "LW-IMG-001",
    ]);
    const bom = JSON.parse(written.cyclonedx as string) as { vulnerabilities: Array<{ id: string }> };
    expect(bom.vulnerabilities.map((v) => v.id)).toEqual([...new Set(ids)]);
    expect(written.junit).toContain('tests="7" failures="3" errors="0" skipped="4"');
    expect(written.junit).toContain(`<testsuite name="build hygiene: ${fixtureDockerfile}"`);
    expect(written.markdown?.match(/^\| \[CVE-[^\]]*\]/gm)?.map((cell) => cell.slice(3, -1))).toEqual(ids);
    for (const id of new Set(ids)) expect(run.stdout).toContain(id);
  });

  it("still takes -o for a single format, and for the one format a list sends to standard output", async () => {
    const single = join(store.work, "single.json");
    const run = layerwatch(["--format", "json", "-o", single]);
    expect([run.code, run.stdout, run.stderr]).toEqual([0, "", ""]);
    expect((JSON.parse(await readFile(single, "utf8")) as JsonReport).findings).toHaveLength(7);
    const sarifFile = join(store.work, "listed.sarif");
    const markdownFile = join(store.work, "listed.md");
    const listed = layerwatch(["--format", `sarif=${sarifFile},markdown`, "-o", markdownFile]);
    expect([listed.code, listed.stdout, listed.stderr]).toEqual([0, "", ""]);
    expect(await readFile(markdownFile, "utf8")).toContain("**7 findings**");
    expect(JSON.parse(await readFile(sarifFile, "utf8"))).toMatchObject({ version: "2.1.0" });
  });
});

describe("layerwatch scan --format errors", () => {
  it.each([
    [
      ["--format", "table,xml=out.xml"],
      /^layerwatch: error: --format xml: use one of table, json, sarif, cyclonedx, junit, markdown$/,
    ],
    [
      ["--format", "table,json"],
      /^layerwatch: error: --format table,json: table and json would both go to standard output; give FORMAT=FILE$/,
    ],
    [
      ["--format", "sarif=a.out,json=./a.out"],
      /^layerwatch: error: --format sarif=a\.out,json=\.\/a\.out: two formats would write .*a\.out$/,
    ],
    [
      ["--format", "sarif=a.sarif", "-o", "b.json"],
      /^layerwatch: error: -o b\.json: every format in --format sarif=a\.sarif names its own file$/,
    ],
    [["--format", "sarif="], /^layerwatch: error: --format sarif=: no file after '='$/],
    [["--format", "table,,json=x"], /^layerwatch: error: --format table,,json=x: an empty entry$/],
  ])("refuses %j with one error line, before scanning", async (args, message) => {
    // A source that does not exist: the list is refused before the image is looked at.
    const run = await store.scan(`docker-archive:${join(store.work, "absent.tar")}`, args);
    expectOneErrorLine(run, message);
  });
});
