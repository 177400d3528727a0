/**
 * Build-hygiene findings in every report format, on the fixture image (fixtures/images/debian-app
 * with BuildKit's history for fixtures/dockerfiles/debian-app.Dockerfile, scanned against
 * fixtures/osv) with a hygiene list of each kind of location made up here in place of the image
 * checks' own: the JSON report against docs/report.schema.json, the table's section, SARIF against
 * the SARIF schema and GitHub's rules, JUnit's second testsuite, the Markdown table, and none in
 * CycloneDX.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allRules } from "../../src/hygiene/rules.js";
import type { HygieneFinding } from "../../src/hygiene/types.js";
import { type ScanResult, scanImage } from "../../src/pipeline.js";
import { applyHygienePolicy, withHygiene } from "../../src/policy/hygiene.js";
import { parseIgnoreFile } from "../../src/policy/ignore-file.js";
import { applyPolicy, type Policy } from "../../src/policy/policy.js";
import { renderCycloneDx } from "../../src/report/cyclonedx.js";
import { parseDockerfile } from "../../src/report/dockerfile-lines.js";
import { ruleAnchor, ruleDocUrl } from "../../src/report/hygiene.js";
import { renderJunit } from "../../src/report/junit.js";
import { renderMarkdown } from "../../src/report/markdown.js";
import { buildReport, type JsonReport } from "../../src/report/model.js";
import { renderSarif } from "../../src/report/sarif.js";
import { renderTable } from "../../src/report/table.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";
import { compileSchema } from "../helpers/schema.js";
import {
  buildFixtureImage,
  type FixtureHistory,
  type FixtureScan,
  fixtureDockerfile,
  fixtureStore,
} from "./fixture-scan.js";
import { type SarifTools, sarifTools } from "./sarif-tools.js";

const root = join(import.meta.dirname, "../..");

/** BuildKit's history for the fixture Dockerfile: layer 0 the base (FROM, line 10), 1 COPY (12-13), 2 RUN (16-18). */
const buildkitHistory: FixtureHistory = {
  layers: [
    "# debian.sh --arch 'amd64' out/ 'bookworm' '@1714348800'",
    "COPY --chown=root:root /src/node_modules /app/node_modules # buildkit",
    "RUN /bin/sh -c apt-get update  && apt-get install -y --no-install-recommends curl libcurl4 openssl # buildkit",
  ],
  empty: ["ENV NODE_ENV=production", 'CMD ["node" "/app/index.js"]'],
};

const dockerfilePath = fixtureDockerfile;
/** One finding of each location kind, in the order a scan hands them over (Dockerfile first). */
const unpinned: HygieneFinding = {
  ruleId: "LW-DF-002",
  severity: "low",
  message: "FROM debian:12 is not pinned by digest",
  location: { kind: "dockerfile", path: dockerfilePath, line: 10 },
};
const rootUser: HygieneFinding = {
  ruleId: "LW-DF-001",
  severity: "high",
  message: "the final stage sets no USER",
  location: { kind: "dockerfile", path: dockerfilePath, line: 10 },
};
const aptInline: HygieneFinding = {
  ruleId: "LW-DF-010",
  severity: "low",
  message: "apt package lists stay in the layer",
  location: { kind: "dockerfile", path: dockerfilePath, line: 16, endLine: 18 },
  suppressed: { reason: "the cache mount keeps them out", line: 15 },
};
const npmrc: HygieneFinding = {
  ruleId: "LW-IMG-006",
  severity: "critical",
  message: "app/.npmrc holds an npm token (npm_****)",
  location: { kind: "file", path: "app/.npmrc", layer: 1 },
};
const configUser: HygieneFinding = {
  ruleId: "LW-IMG-001",
  severity: "high",
  message: "config.User is empty: the image runs as root",
  location: { kind: "config", field: "config.User" },
};
const historySecret: HygieneFinding = {
  ruleId: "LW-IMG-003",
  severity: "medium",
  message: "a build command passed a password (****)",
  location: { kind: "config", field: "history[2].created_by" },
};
const hygiene = [unpinned, rootUser, aptInline, npmrc, configUser, historySecret];

let store: FixtureScan;
let scanned: ScanResult;
let tools: SarifTools | { missing: string };

function reportWith(findings: HygieneFinding[], rules: Partial<Policy>): JsonReport {
  const policy: Policy = { ignoreUnfixed: false, vex: [], ...rules };
  const result = { ...scanned, hygiene: findings };
  const verdict = withHygiene(
    applyPolicy(result.findings, result.inventory.packages, { digests: [] }, policy),
    applyHygienePolicy(findings, policy),
  );
  return buildReport(result, verdict, new Date(), { dockerfile: dockerfilePath });
}

beforeAll(async () => {
  store = await fixtureStore("hygiene-formats");
  const source = await store.archive(await buildFixtureImage(buildkitHistory), "image");
  const advisories = await AdvisoryStore.open(store.db);
  try {
    scanned = await scanImage(source, advisories);
  } finally {
    advisories.close();
  }
  tools = await sarifTools();
}, 300_000);

afterAll(async () => {
  await rm(store.work, { recursive: true, force: true });
});

describe("the JSON report", () => {
  it("lists hygiene findings most severe first with their rule's title, layer and policy marks, valid by the schema", async () => {
    const report = reportWith(hygiene, { failOn: "high" });
    const schema = JSON.parse(await readFile(join(root, "docs/report.schema.json"), "utf8")) as object;
    const validate = compileSchema(schema);
    expect(validate(report), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    expect(report.schemaVersion).toBe("1.3");
    expect(report.dockerfile).toBe(dockerfilePath);
    expect(report.hygiene.map((f) => [f.ruleId, f.severity, f.layer?.index, f.suppressed?.by])).toEqual([
      ["LW-IMG-006", "critical", 1, undefined],
      ["LW-DF-001", "high", undefined, undefined],
      ["LW-IMG-001", "high", undefined, undefined],
      // history[2] is the RUN's entry: layer 2 (the ENV and CMD entries come after and make none).
      ["LW-IMG-003", "medium", 2, undefined],
      ["LW-DF-002", "low", undefined, undefined],
      ["LW-DF-010", "low", undefined, "inline"],
    ]);
    expect(report.hygiene[0]?.layer?.diffId).toBe(report.image.layers[1]?.diffId);
    expect(report.summary.hygiene).toEqual({
      findings: 6,
      bySeverity: { critical: 1, high: 2, medium: 1, low: 2 },
    });
    // The fixture's critical minimist CVE, the two high ones, and three hygiene findings.
    expect(report.policy.hygiene).toEqual({ failing: 3, hidden: 0, suppressed: 1, known: 0 });
    expect(report.policy.failing).toBe(6);
    expect(report.policy.failed).toBe(true);
  });

  it("--severity hides hygiene findings too, and they only count", () => {
    const report = reportWith(hygiene, { severities: ["critical"], failOn: "low" });
    expect(report.hygiene.map((f) => f.ruleId)).toEqual(["LW-IMG-006"]);
    expect(report.policy.hygiene).toEqual({ failing: 1, hidden: 5, suppressed: 0, known: 0 });
  });
});

describe("the table", () => {
  it("has a Build hygiene section after the vulnerabilities, most severe first, with a status column when marked", () => {
    const text = renderTable(reportWith(hygiene, { failOn: "critical" }), { colour: false });
    const lines = text.split("\n");
    const at = lines.indexOf("Build hygiene: 6 (critical: 1, high: 2, medium: 1, low: 2)");
    expect(at).toBeGreaterThan(lines.findIndex((line) => line.startsWith("CRITICAL  CVE-2021-44906")));
    expect(lines[at + 2]).toMatch(/^SEVERITY\s+RULE\s+WHERE\s+MESSAGE\s+STATUS$/);
    expect(lines.slice(at + 3, at + 9).map((line) => line.split(/\s{2,}/).slice(0, 3))).toEqual([
      ["CRITICAL", "LW-IMG-006", "/app/.npmrc (layer 1)"],
      ["HIGH", "LW-DF-001", `${dockerfilePath}:10`],
      ["HIGH", "LW-IMG-001", "config.User"],
      ["MEDIUM", "LW-IMG-003", "history[2].created_by"],
      ["LOW", "LW-DF-002", `${dockerfilePath}:10`],
      ["LOW", "LW-DF-010", `${dockerfilePath}:16-18`],
    ]);
    expect(lines[at + 8]).toMatch(/suppressed \(inline\)$/);
    expect(text).toContain("Policy: 1 hygiene finding(s) suppressed (1 by layerwatch:ignore comments)");
    // The critical minimist CVE and the critical .npmrc token.
    expect(text).toContain("FAIL: 2 finding(s) at or above critical (1 vulnerability, 1 hygiene)");
  });

  it("shows no section when there are no hygiene findings", () => {
    const text = renderTable(reportWith([], {}), { colour: false });
    expect(text).not.toContain("Build hygiene");
  });
});

interface SarifLog {
  runs: Array<{
    tool: { driver: { rules: Array<{ id: string; helpUri: string; shortDescription: { text: string } }> } };
    results: Array<{
      ruleId: string;
      ruleIndex: number;
      level: string;
      locations: Array<{
        physicalLocation: {
          artifactLocation: { uri: string };
          region: { startLine: number; endLine?: number };
        };
        logicalLocations?: Array<{ fullyQualifiedName: string }>;
      }>;
      partialFingerprints: Record<string, string>;
      suppressions?: Array<{ kind: string }>;
    }>;
  }>;
}

describe("SARIF", () => {
  const stages = async () => parseDockerfile(await readFile(join(root, dockerfilePath), "utf8"));

  function placed(log: SarifLog): string[] {
    const run = log.runs[0];
    return (run?.results ?? [])
      .filter((r) => r.ruleId.startsWith("LW-"))
      .map((r) => {
        const location = r.locations[0];
        const region = location?.physicalLocation.region;
        return `${r.ruleId} ${r.level} ${location?.physicalLocation.artifactLocation.uri}:${region?.startLine}${region?.endLine ? `-${region.endLine}` : ""}${r.suppressions ? " suppressed" : ""}`;
      });
  }

  it("puts Dockerfile findings on their lines and image findings on the line that made their layer", async () => {
    const report = reportWith(hygiene, {});
    const log = JSON.parse(
      renderSarif(report, { dockerfile: { uri: dockerfilePath, stages: await stages() } }),
    ) as SarifLog;
    expect(placed(log)).toEqual([
      // .npmrc is in layer 1, made by the COPY at lines 12-13.
      `LW-IMG-006 error ${dockerfilePath}:12-13`,
      `LW-DF-001 error ${dockerfilePath}:10`,
      // config.User: the final stage's FROM.
      `LW-IMG-001 error ${dockerfilePath}:10-10`,
      // history[2] made layer 2: the RUN.
      `LW-IMG-003 warning ${dockerfilePath}:16-18`,
      `LW-DF-002 note ${dockerfilePath}:10`,
      `LW-DF-010 note ${dockerfilePath}:16-18 suppressed`,
    ]);
    const run = log.runs[0];
    const rules = run?.tool.driver.rules ?? [];
    for (const result of run?.results ?? []) expect(rules[result.ruleIndex]?.id).toBe(result.ruleId);
    const dfRule = rules.find((rule) => rule.id === "LW-DF-001");
    expect(dfRule?.helpUri).toMatch(/^https:\/\/.+\/docs\/rules\.md#lw-df-001-the-final-stage-runs-as-root$/);
    // Seven vulnerability results (fixtures/README.md) and the six hygiene ones.
    expect(run?.results).toHaveLength(13);
    if ("missing" in tools) {
      console.warn(`skipping SARIF validation: ${tools.missing}`);
      return;
    }
    expect(tools.validate(log), JSON.stringify(tools.validate.errors?.slice(0, 5), null, 2)).toBe(true);
    const file = join(store.work, "hygiene.sarif");
    await writeFile(file, JSON.stringify(log));
    const problems = await tools.multitool(file);
    expect(problems.filter((p) => p.ruleId.startsWith("GH") || p.level === "error")).toEqual([]);
  });

  it("without --dockerfile, image findings are at the image's pseudo-file (its repository name: the archive is tagged layerwatch/fixture) with a logical location", () => {
    const log = JSON.parse(renderSarif(reportWith([npmrc, configUser], {}))) as SarifLog;
    const results = (log.runs[0]?.results ?? []).filter((r) => r.ruleId.startsWith("LW-"));
    expect(
      results.map((r) => [
        r.locations[0]?.physicalLocation.artifactLocation.uri,
        r.locations[0]?.physicalLocation.region.startLine,
        r.locations[0]?.logicalLocations?.[0]?.fullyQualifiedName,
      ]),
    ).toEqual([
      ["layerwatch/fixture", 1, "/app/.npmrc"],
      ["layerwatch/fixture", 1, "config.User"],
    ]);
  });

  it("fingerprints survive lines moving and tell repeats of a rule apart", () => {
    const fingerprints = (findings: HygieneFinding[]) =>
      (JSON.parse(renderSarif(reportWith(findings, {}))) as SarifLog).runs[0]?.results
        .filter((r) => r.ruleId.startsWith("LW-"))
        .map((r) => r.partialFingerprints["layerwatch/v1"]);
    const moved = { ...rootUser, location: { ...rootUser.location, line: 14 } } as HygieneFinding;
    const before = fingerprints([rootUser]);
    expect(fingerprints([moved])).toEqual(before);
    const twice = fingerprints([
      unpinned,
      { ...unpinned, location: { ...unpinned.location, line: 5 } } as HygieneFinding,
    ]);
    expect(new Set(twice).size).toBe(2);
    expect(fingerprints([npmrc])).not.toEqual(
      fingerprints([{ ...npmrc, location: { kind: "file", path: "app/.env", layer: 1 } }]),
    );
  });
});

describe("JUnit", () => {
  it("has a build hygiene testsuite: failures at or above --fail-on, the rest skipped with the reason", () => {
    const ignoreFile = parseIgnoreFile(
      "ignore:\n  - rule: LW-IMG-003\n    reason: a dummy password\n",
      "i.yaml",
    );
    const xml = renderJunit(reportWith(hygiene, { failOn: "high", ignoreFile }));
    expect(XMLValidator.validate(xml)).toBe(true);
    const parsed = new XMLParser({
      ignoreAttributes: false,
      isArray: (name) => name === "testcase" || name === "testsuite",
    }).parse(xml) as {
      testsuites: {
        "@_tests": string;
        "@_failures": string;
        testsuite: Array<{
          "@_name": string;
          "@_tests": string;
          "@_failures": string;
          "@_skipped": string;
          testcase: Array<{
            "@_name": string;
            failure?: { "@_message": string };
            skipped?: { "@_message": string };
          }>;
        }>;
      };
    };
    const [vulnerabilities, buildHygiene] = parsed.testsuites.testsuite;
    expect(vulnerabilities?.["@_tests"]).toBe("7");
    expect(buildHygiene?.["@_name"]).toBe(`build hygiene: ${dockerfilePath}`);
    expect([buildHygiene?.["@_tests"], buildHygiene?.["@_failures"], buildHygiene?.["@_skipped"]]).toEqual([
      "6",
      "3",
      "3",
    ]);
    expect(
      buildHygiene?.testcase.map((t) => [t["@_name"], t.failure?.["@_message"] ?? t.skipped?.["@_message"]]),
    ).toEqual([
      [
        "LW-IMG-006 at /app/.npmrc (layer 1)",
        "critical LW-IMG-006: app/.npmrc holds an npm token (npm_****)",
      ],
      [`LW-DF-001 at ${dockerfilePath}:10`, "high LW-DF-001: the final stage sets no USER"],
      ["LW-IMG-001 at config.User", "high LW-IMG-001: config.User is empty: the image runs as root"],
      ["LW-IMG-003 at history[2].created_by", "suppressed by i.yaml: a dummy password"],
      [`LW-DF-002 at ${dockerfilePath}:10`, "low: below --fail-on high"],
      [
        `LW-DF-010 at ${dockerfilePath}:16-18`,
        "suppressed by a layerwatch:ignore comment (line 15): the cache mount keeps them out",
      ],
    ]);
    // The totals add both suites: 3 vulnerabilities and 3 hygiene findings fail.
    expect([parsed.testsuites["@_tests"], parsed.testsuites["@_failures"]]).toEqual(["13", "6"]);
  });
});

describe("Markdown", () => {
  it("adds a Build hygiene table after the findings, and the verdict says how many failing are hygiene", () => {
    const markdown = renderMarkdown(reportWith(hygiene, { failOn: "high" }));
    const lines = markdown.split("\n");
    const heading = lines.indexOf("#### Build hygiene");
    expect(heading).toBeGreaterThan(lines.findIndex((line) => line.includes("CVE-2021-44906")));
    expect(lines[heading + 2]).toBe("**6 hygiene findings** (1 critical, 2 high, 1 medium, 2 low).");
    expect(lines[heading + 4]).toBe("| Severity | Rule | Where | Message |");
    expect(lines[heading + 6]).toMatch(
      /^\| Critical \| \[LW-IMG-006\]\(https:\/\/\S+#lw-img-006\S*\) \| `\/app\/\.npmrc \(layer 1\)` \| app\/\.npmrc holds an npm token \(npm\\_\\\*\\\*\\\*\\\*\) \|$/,
    );
    expect(lines[heading + 11]).toMatch(/^\| Low \(suppressed\) \| \[LW-DF-010\]/);
    expect(markdown).toContain("**FAIL**: 6 findings at or above high (3 of them build hygiene).");
  });
});

describe("CycloneDX", () => {
  it("leaves hygiene findings out: they are not vulnerabilities of components", () => {
    const report = reportWith(hygiene, {});
    const bom = JSON.parse(renderCycloneDx(report, { vulnerabilities: true })) as {
      vulnerabilities: Array<{ id: string }>;
    };
    expect(bom.vulnerabilities.length).toBeGreaterThan(0);
    expect(bom.vulnerabilities.some((v) => v.id.startsWith("LW-"))).toBe(false);
    expect(JSON.stringify(bom)).not.toContain("LW-IMG-006");
  });
});

describe("rule links", () => {
  it("every rule's helpUri anchor is a heading of docs/rules.md, as GitHub makes anchors", async () => {
    const headings = (await readFile(join(root, "docs/rules.md"), "utf8"))
      .split("\n")
      .filter((line) => /^#{2,4} /.test(line))
      .map((line) => ruleAnchor(line.replace(/^#+ /, "")));
    expect(allRules.length).toBeGreaterThan(20);
    for (const rule of allRules) expect(headings, rule.id).toContain(ruleDocUrl(rule.id).split("#")[1]);
    // GitHub's rules, checked by hand on a heading of each shape.
    expect(ruleAnchor("LW-DF-007 A downloaded script is run without being checked (curl | sh)")).toBe(
      "lw-df-007-a-downloaded-script-is-run-without-being-checked-curl--sh",
    );
    expect(ruleAnchor("LW-IMG-002 A secret is in the image's environment")).toBe(
      "lw-img-002-a-secret-is-in-the-images-environment",
    );
  });
});
