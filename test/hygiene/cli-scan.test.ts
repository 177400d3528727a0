/**
 * `layerwatch scan IMAGE --dockerfile PATH`: the Dockerfile's hygiene findings and the image's in
 * one report, one policy and every format; `--no-hygiene`; a `--fail-on` tripped by hygiene alone;
 * a baseline that keeps knowing a finding after an edit moves its line. The image is the fixture
 * image (fixtures/images/debian-app: no User in its config) with BuildKit's history for
 * fixtures/dockerfiles/debian-app.Dockerfile, whose final stage sets no USER (LW-DF-001, line 10;
 * the image check LW-IMG-001 says the same of the config). Both rules are high (docs/rules.md).
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { compileSchema } from "../helpers/schema.js";
import {
  buildFixtureImage,
  type FixtureHistory,
  type FixtureScan,
  fixtureDockerfile,
  fixtureStore,
} from "../report/fixture-scan.js";

const root = join(import.meta.dirname, "../..");

const buildkitHistory: FixtureHistory = {
  layers: [
    "# debian.sh --arch 'amd64' out/ 'bookworm' '@1714348800'",
    "COPY --chown=root:root /src/node_modules /app/node_modules # buildkit",
    "RUN /bin/sh -c apt-get update  && apt-get install -y --no-install-recommends curl libcurl4 openssl # buildkit",
  ],
  empty: ["ENV NODE_ENV=production", 'CMD ["node" "/app/index.js"]'],
};

/** The fixture's three findings at or above high (fixtures/README.md), accepted for these tests. */
const acceptHighVulnerabilities = [
  "ignore:",
  ...["CVE-2021-44906", "CVE-2021-23337", "CVE-2022-24999"].flatMap((id) => [
    `  - id: ${id}`,
    "    reason: r",
  ]),
].join("\n");

let store: FixtureScan;
let source: string;

beforeAll(async () => {
  store = await fixtureStore("hygiene-scan");
  source = await store.archive(await buildFixtureImage(buildkitHistory), "image");
});

afterAll(async () => {
  await rm(store.work, { recursive: true, force: true });
});

describe("scan --dockerfile", () => {
  it("merges the Dockerfile's findings (first, in line order at a level) with the image's, in a valid report", async () => {
    const report = await store.report(source, ["--dockerfile", fixtureDockerfile]);
    const validate = compileSchema(JSON.parse(await readFile(join(root, "docs/report.schema.json"), "utf8")));
    expect(validate(report), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    expect(report.dockerfile).toBe(fixtureDockerfile);
    const where = (f: JsonReport["hygiene"][number]) =>
      f.location.kind === "dockerfile"
        ? `:${f.location.line}`
        : f.location.kind === "config"
          ? f.location.field
          : f.location.path;
    expect(report.hygiene.map((f) => `${f.severity} ${f.ruleId} ${where(f)}`)).toEqual([
      // No USER in the final stage (FROM debian:12 at line 10) ...
      "high LW-DF-001 :10",
      // ... and, seen from the image, no config.User.
      "high LW-IMG-001 config.User",
      // Both FROMs (lines 5 and 10) by tag only, no HEALTHCHECK, and the RUN at 16-18 keeps the
      // apt lists and names no versions.
      "low LW-DF-002 :5",
      "low LW-DF-002 :10",
      "low LW-DF-019 :10",
      "low LW-DF-010 :16",
      "low LW-DF-012 :16",
    ]);
    // Without --dockerfile, only the image's.
    const imageOnly = await store.report(source);
    expect(imageOnly.hygiene.map((f) => f.ruleId)).toEqual(["LW-IMG-001"]);
    expect(imageOnly.dockerfile).toBeUndefined();
  });

  it("--no-hygiene leaves both out", async () => {
    const report = await store.report(source, ["--dockerfile", fixtureDockerfile, "--no-hygiene"]);
    expect(report.hygiene).toEqual([]);
    expect(report.summary.hygiene.findings).toBe(0);
    expect(report.findings).toHaveLength(7);
  });

  it("fails on hygiene alone: with the high vulnerabilities accepted, the root user still trips --fail-on high", async () => {
    const ignoreFile = join(store.work, "accept-vulnerabilities.yaml");
    await writeFile(ignoreFile, acceptHighVulnerabilities);
    const imageArgs = ["--ignore-file", ignoreFile, "--fail-on", "high"];
    // The image alone: its config's root user is the one thing failing.
    const imageOnly = await store.scan(source, ["--format", "json", ...imageArgs]);
    expect(imageOnly.stderr).toBe("");
    expect(imageOnly.code).toBe(1);
    const imageReport = JSON.parse(imageOnly.stdout) as JsonReport;
    expect(imageReport.policy).toMatchObject({ failed: true, failing: 1, suppressed: 3 });
    expect(imageReport.policy.hygiene.failing).toBe(1);
    // Accept the image check's finding too: then only the Dockerfile's LW-DF-001 fails.
    await writeFile(
      ignoreFile,
      `${acceptHighVulnerabilities}\n  - rule: LW-IMG-001\n    field: config.User\n    reason: the fixture image is never run\n`,
    );
    expect((await store.scan(source, imageArgs)).code).toBe(0);
    const args = ["--dockerfile", fixtureDockerfile, ...imageArgs];
    const table = await store.scan(source, args);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain("FAIL: 1 finding(s) at or above high (0 vulnerabilities, 1 hygiene)");
    // Accepting LW-DF-001 for the fixture Dockerfiles only turns it into a pass.
    await writeFile(
      ignoreFile,
      `${acceptHighVulnerabilities}\n  - rule: LW-IMG-001\n    field: config.User\n    reason: the fixture image is never run\n  - rule: LW-DF-001\n    path: fixtures/dockerfiles/*.Dockerfile\n    reason: the fixture image is never run\n`,
    );
    const accepted = await store.scan(source, ["--format", "json", ...args]);
    expect(accepted.code).toBe(0);
    const marked = (JSON.parse(accepted.stdout) as JsonReport).hygiene.filter((f) => f.suppressed);
    expect(marked.map((f) => [f.ruleId, f.suppressed?.entry])).toEqual([
      ["LW-DF-001", 5],
      ["LW-IMG-001", 4],
    ]);
    expect(marked[0]?.suppressed).toEqual({
      by: "ignore",
      reason: "the fixture image is never run",
      source: ignoreFile,
      entry: 5,
    });
  });

  it("--severity hides hygiene findings like findings", async () => {
    const report = await store.report(source, [
      "--dockerfile",
      fixtureDockerfile,
      "--severity",
      "high,critical",
    ]);
    expect(report.hygiene.map((f) => f.ruleId)).toEqual(["LW-DF-001", "LW-IMG-001"]);
    expect(report.policy.hygiene.hidden).toBe(5);
  });

  it("a baseline knows the findings of a Dockerfile edited above them; a new one is new", async () => {
    // A copy of the repository, so that the Dockerfile keeps its path while it is edited.
    const repo = join(store.work, "repo");
    const copy = join(repo, fixtureDockerfile);
    const original = await readFile(join(root, fixtureDockerfile), "utf8");
    await mkdir(dirname(copy), { recursive: true });
    await writeFile(copy, original);
    const baselineFile = join(store.work, "baseline.json");
    const cwd = process.cwd();
    process.chdir(repo);
    try {
      await writeFile(
        baselineFile,
        JSON.stringify(await store.report(source, ["--dockerfile", fixtureDockerfile])),
      );
      // Two comment lines on top move every instruction down by two; an ADD of a plain file at
      // the end (line 22: the fixture has 19 lines) is LW-DF-006.
      await writeFile(copy, `# edited\n# twice\n${original}ADD config.json /app/\n`);
      const after = await store.report(source, [
        "--dockerfile",
        fixtureDockerfile,
        "--baseline",
        baselineFile,
      ]);
      expect(
        after.hygiene.map(
          (f) => `${f.ruleId} ${f.location.kind === "dockerfile" ? f.location.line : "-"} ${f.baseline}`,
        ),
      ).toEqual([
        "LW-DF-001 12 known",
        "LW-IMG-001 - known",
        "LW-DF-002 7 known",
        "LW-DF-002 12 known",
        "LW-DF-019 12 known",
        "LW-DF-010 18 known",
        "LW-DF-012 18 known",
        "LW-DF-006 22 new",
      ]);
      expect(after.summary.hygiene).toMatchObject({ new: 1, known: 7 });
    } finally {
      process.chdir(cwd);
    }
  });

  it("writes hygiene into JUnit as a second testsuite, read back", async () => {
    const junitFile = join(store.work, "scan.xml");
    const run = await store.scan(source, [
      "--dockerfile",
      fixtureDockerfile,
      "--format",
      `junit=${junitFile}`,
      "--fail-on",
      "medium",
    ]);
    expect(run.code).toBe(1);
    const parsed = new XMLParser({
      ignoreAttributes: false,
      isArray: (name) => name === "testcase" || name === "testsuite",
    }).parse(await readFile(junitFile, "utf8")) as {
      testsuites: {
        testsuite: Array<{
          "@_name": string;
          "@_tests": string;
          "@_failures": string;
          testcase: Array<{ "@_name": string; failure?: object }>;
        }>;
      };
    };
    const suites = parsed.testsuites.testsuite;
    expect(suites.map((suite) => [suite["@_name"], suite["@_tests"], suite["@_failures"]])).toEqual([
      [source, "7", "4"],
      [`build hygiene: ${fixtureDockerfile}`, "7", "2"],
    ]);
    expect(suites[1]?.testcase.filter((t) => t.failure).map((t) => t["@_name"])).toEqual([
      `LW-DF-001 at ${fixtureDockerfile}:10`,
      "LW-IMG-001 at config.User",
    ]);
  });
});
