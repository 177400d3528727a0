/**
 * Findings the policy sets aside (an ignore file entry, an OpenVEX statement) in the CI formats:
 * listed, marked, never failing. The fixture image's minimist CVE is ignored and curl's CVE is
 * declared not_affected for curl and libcurl4 by a VEX document.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { cycloneDx16Validator } from "../helpers/sbom-schemas.js";
import { buildFixtureImage, type FixtureScan, fixtureStore } from "./fixture-scan.js";

let store: FixtureScan;
let files: Record<"json" | "junit" | "sarif" | "cyclonedx" | "markdown", string>;
let ignoreFile: string;
let vexFile: string;
let code: number;

beforeAll(async () => {
  store = await fixtureStore("suppressed");
  const source = await store.archive(await buildFixtureImage(), "image");
  ignoreFile = join(store.work, "ignore.yaml");
  await writeFile(
    ignoreFile,
    "ignore:\n  - id: GHSA-xvch-5gv4-984h\n    reason: minimist only parses our own build flags\n",
  );
  vexFile = join(store.work, "curl.vex.json");
  await writeFile(
    vexFile,
    JSON.stringify({
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "https://example.invalid/vex/curl-1",
      author: "layerwatch tests",
      timestamp: "2024-01-10T00:00:00Z",
      version: 1,
      statements: [
        {
          vulnerability: { name: "CVE-2023-46218" },
          products: [
            { "@id": "pkg:deb/debian/curl@7.88.1-10+deb12u4?arch=amd64&distro=debian-12" },
            { "@id": "pkg:deb/debian/libcurl4@7.88.1-10+deb12u4?arch=amd64&distro=debian-12&upstream=curl" },
          ],
          status: "not_affected",
          justification: "vulnerable_code_not_in_execute_path",
        },
      ],
    }),
  );
  files = {
    json: join(store.work, "report.json"),
    junit: join(store.work, "report.xml"),
    sarif: join(store.work, "report.sarif"),
    cyclonedx: join(store.work, "report.cdx.json"),
    markdown: join(store.work, "report.md"),
  };
  const spec = Object.entries(files)
    .map(([format, path]) => `${format}=${path}`)
    .join(",");
  const run = await store.scan(source, [
    "--format",
    spec,
    "--fail-on",
    "high",
    "--ignore-file",
    ignoreFile,
    "--vex",
    vexFile,
  ]);
  expect(run.stderr).toBe("");
  code = run.code;
});

afterAll(async () => {
  await rm(store.work, { recursive: true, force: true });
});

describe("suppressed findings in the CI formats", () => {
  it("are listed and marked in every format, and fail nothing", async () => {
    const report = JSON.parse(await readFile(files.json, "utf8")) as JsonReport;
    expect(report.findings.map((f) => [f.id, f.package.name, f.suppressed?.by])).toEqual([
      ["CVE-2021-44906", "minimist", "ignore"],
      ["CVE-2021-23337", "lodash", undefined],
      ["CVE-2022-24999", "qs", undefined],
      ["CVE-2020-28500", "lodash", undefined],
      ["CVE-2005-2541", "tar", undefined],
      ["CVE-2023-46218", "curl", "vex"],
      ["CVE-2023-46218", "libcurl4", "vex"],
    ]);
    // lodash's and qs's high CVEs still fail the build, and so does the image check's root user
    // (LW-IMG-001, high: the fixture's config sets no User), which neither file speaks of.
    expect(code).toBe(1);
    expect(report.policy.failing).toBe(3);
    expect(report.hygiene.map((f) => [f.ruleId, f.suppressed])).toEqual([["LW-IMG-001", undefined]]);

    const junit = await readFile(files.junit, "utf8");
    expect(junit).toContain('tests="7" failures="2" errors="0" skipped="5"');
    expect(junit).toContain(
      `<skipped message="suppressed by ${ignoreFile}: minimist only parses our own build flags"/>`,
    );

    const sarif = JSON.parse(await readFile(files.sarif, "utf8")) as {
      runs: Array<{ results: Array<{ ruleId: string; suppressions?: Array<Record<string, string>> }> }>;
    };
    const results = sarif.runs[0]?.results ?? [];
    expect(results.map((r) => r.suppressions?.[0]?.kind)).toEqual([
      "external",
      undefined,
      undefined,
      undefined,
      undefined,
      "external",
      "external",
      // LW-IMG-001's result, after the findings'.
      undefined,
    ]);
    expect(results[0]?.suppressions?.[0]).toEqual({
      kind: "external",
      status: "accepted",
      justification: `${ignoreFile}: minimist only parses our own build flags`,
    });

    const markdown = await readFile(files.markdown, "utf8");
    expect(markdown).toContain("| Critical (suppressed) | `minimist` |");
    expect(markdown).toContain("| Unknown (suppressed) | `curl` |");
    expect(markdown).toContain("| High | `lodash` |");
  });

  it("gives CycloneDX the VEX statement's state and justification, and the ignore entry as detail", async () => {
    const bom = JSON.parse(await readFile(files.cyclonedx, "utf8")) as {
      vulnerabilities: Array<{ id: string; analysis?: Record<string, unknown> }>;
    };
    const validate = cycloneDx16Validator();
    expect(validate(bom), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    const byId = Object.fromEntries(bom.vulnerabilities.map((v) => [v.id, v.analysis]));
    expect(byId["CVE-2023-46218"]).toMatchObject({
      state: "not_affected",
      // OpenVEX's vulnerable_code_not_in_execute_path.
      justification: "code_not_reachable",
      response: ["update"],
    });
    expect(byId["CVE-2021-44906"]?.state).toBeUndefined();
    expect(byId["CVE-2021-44906"]?.detail).toBe(
      `minimist 1.2.5: fixed in 1.2.6; ignored (${ignoreFile}): minimist only parses our own build flags`,
    );
    expect(byId["CVE-2021-23337"]).toEqual({
      response: ["update"],
      detail: "lodash 4.17.20: fixed in 4.17.21",
    });
  });
});
