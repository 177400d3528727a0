/**
 * `layerwatch scan --format sarif` on the fixture image (seven findings against fixtures/osv):
 * valid SARIF 2.1.0 by the schema and by GitHub's ingestion rules (Microsoft's SARIF Multitool,
 * fetched from npm at test time), one result per alias group, fingerprints that survive a rebuild,
 * and the Dockerfile line of each layer for BuildKit's and the classic builder's history.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { securitySeverity } from "../../src/report/sarif.js";
import { expectOneErrorLine } from "../helpers/report.js";
import {
  buildFixtureImage,
  type FixtureHistory,
  type FixtureScan,
  fixtureDockerfile,
  fixtureStore,
} from "./fixture-scan.js";
import { type SarifTools, sarifTools } from "./sarif-tools.js";

interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: string;
  message: { text: string };
  locations: Array<{
    physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; endLine?: number } };
  }>;
  partialFingerprints: Record<string, string>;
  properties: Record<string, unknown>;
}
interface SarifRule {
  id: string;
  shortDescription: { text: string };
  fullDescription: { text: string };
  helpUri: string;
  defaultConfiguration: { level: string };
  properties: { "security-severity"?: string; tags: string[] };
}
interface SarifLog {
  version: string;
  runs: Array<{
    tool: { driver: { name: string; version: string; rules: SarifRule[] } };
    results: SarifResult[];
  }>;
}

/**
 * Debian's own record for CVE-2023-46218 in bookworm, in the shape of fixtures/osv/Debian's CVE
 * records (the facts: Debian's tracker lists curl fixed in 7.88.1-10+deb12u5, the version
 * DSA-5587-1 names). DSA-5587-1 aliases it, so both records match curl and libcurl4: a scanner
 * that reports per record (osv-scanner#3093) says each of them twice.
 */
const debianCve46218 = {
  id: "CVE-2023-46218",
  summary: "curl: cookie mixed case PSL bypass",
  affected: [
    {
      package: { ecosystem: "Debian:12", name: "curl" },
      ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "7.88.1-10+deb12u5" }] }],
    },
  ],
  aliases: [],
  published: "2023-12-07T01:15:07Z",
  modified: "2024-05-01T11:19:24Z",
};

/** BuildKit's history for fixtures/dockerfiles/debian-app.Dockerfile (debian:12's own first). */
const buildkitHistory: FixtureHistory = {
  layers: [
    "# debian.sh --arch 'amd64' out/ 'bookworm' '@1714348800'",
    "COPY --chown=root:root /src/node_modules /app/node_modules # buildkit",
    "RUN /bin/sh -c apt-get update  && apt-get install -y --no-install-recommends curl libcurl4 openssl # buildkit",
  ],
  empty: ["ENV NODE_ENV=production", 'CMD ["node" "/app/index.js"]'],
};

/** The classic builder's (and buildah's): COPY's sources become a digest, RUN a shell command. */
const classicHistory: FixtureHistory = {
  layers: [
    "/bin/sh -c #(nop) ADD file:4b3f2ecd5e3b6c1a0d8c3f7e61ba4f9a7c2d0e5b8a1f6c3d9e2b7a4c0f1d8e6b in / ",
    "/bin/sh -c #(nop) COPY dir:8d1c6b0e2f4a9c3b7e5d1a6f0c8b2e4d9a3f7c1b5e0d6a2c8f4b9e3d7a1c5f0b in /app/node_modules ",
    "/bin/sh -c apt-get update      && apt-get install -y --no-install-recommends curl libcurl4 openssl",
  ],
  empty: ["/bin/sh -c #(nop)  ENV NODE_ENV=production", '/bin/sh -c #(nop)  CMD ["node" "/app/index.js"]'],
};

let store: FixtureScan;
let tools: SarifTools | { missing: string };
let source: string;
let report: JsonReport;
let log: SarifLog;

async function sarifOf(scanSource: string, extra: string[] = []): Promise<SarifLog> {
  const run = await store.scan(scanSource, ["--format", "sarif", ...extra]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as SarifLog;
}

/** The findings' results (the build-hygiene ones, marked `hygiene`, follow them). */
function results(sarif: SarifLog): SarifResult[] {
  return (sarif.runs[0]?.results ?? []).filter((r) => r.properties.hygiene !== true);
}

/** The build-hygiene results: the fixture image's config sets no User (LW-IMG-001). */
function hygieneResults(sarif: SarifLog): SarifResult[] {
  return (sarif.runs[0]?.results ?? []).filter((r) => r.properties.hygiene === true);
}

/** Schema and GitHub's rules, when the Multitool could be had (else the test says it skipped). */
async function expectValidForGithub(sarif: SarifLog, name: string): Promise<boolean> {
  if ("missing" in tools) {
    console.warn(`skipping SARIF validation: ${tools.missing}`);
    return false;
  }
  const valid = tools.validate(sarif);
  expect(valid, JSON.stringify(tools.validate.errors?.slice(0, 5), null, 2)).toBe(true);
  const file = join(store.work, `${name}.sarif`);
  await writeFile(file, JSON.stringify(sarif));
  const problems = await tools.multitool(file);
  // GitHub's rules (GH*) find nothing; SARIF's own only the informationUri advice (no project URL).
  expect(problems.filter((p) => p.ruleId.startsWith("GH") || p.level === "error")).toEqual([]);
  expect(problems.map((p) => p.ruleId)).toEqual(["SARIF2005"]);
  return true;
}

beforeAll(async () => {
  store = await fixtureStore("sarif", [debianCve46218]);
  source = await store.archive(await buildFixtureImage(), "image");
  report = await store.report(source);
  log = await sarifOf(source);
  tools = await sarifTools();
});

afterAll(async () => {
  await rm(store.work, { recursive: true, force: true });
});

describe("layerwatch scan --format sarif", () => {
  it("validates against the SARIF 2.1.0 schema and GitHub's ingestion rules, which catch a broken log", async (context) => {
    if (!(await expectValidForGithub(log, "plain"))) return context.skip();
    if ("missing" in tools) return;
    const badLevel = structuredClone(log);
    (badLevel.runs[0]?.results[0] as SarifResult).level = "fatal";
    expect(tools.validate(badLevel)).toBe(false);
    // Without a location GitHub cannot show a result; its rules say so.
    const noLocation = structuredClone(log);
    (noLocation.runs[0]?.results[0] as SarifResult).locations = [];
    const file = join(store.work, "no-location.sarif");
    await writeFile(file, JSON.stringify(noLocation));
    const problems = await tools.multitool(file);
    expect(problems.some((p) => p.ruleId.startsWith("GH") && p.level === "error")).toBe(true);
  });

  it("has one result per finding: the two records for curl's CVE are one result per package", () => {
    expect(log.version).toBe("2.1.0");
    expect(log.runs).toHaveLength(1);
    expect(log.runs[0]?.tool.driver.name).toBe("layerwatch");
    const list = results(log);
    expect(report.findings).toHaveLength(7);
    expect(list.map((r) => [r.ruleId, r.properties.purl])).toEqual(
      report.findings.map((f) => [f.id, f.package.purl]),
    );
    // DSA-5587-1 and Debian's CVE-2023-46218 record both match curl and libcurl4: one result each,
    // named by the CVE, the DSA an alias.
    const curl = list.filter((r) => r.ruleId === "CVE-2023-46218");
    expect(curl.map((r) => r.properties.purl)).toEqual([
      "pkg:deb/debian/curl@7.88.1-10+deb12u4?arch=amd64&distro=debian-12",
      "pkg:deb/debian/libcurl4@7.88.1-10+deb12u4?arch=amd64&distro=debian-12&upstream=curl",
    ]);
    for (const result of curl) expect(result.properties.aliases).toEqual(["CVE-2023-46219", "DSA-5587-1"]);
    // No package has two results of one alias group.
    const byPackage = new Map<string, Set<string>>();
    for (const result of list) {
      const seen = byPackage.get(String(result.properties.purl)) ?? new Set<string>();
      const names = [result.ruleId, ...((result.properties.aliases as string[] | undefined) ?? [])];
      for (const name of names) {
        expect(seen.has(name), `${name} twice for ${result.properties.purl}`).toBe(false);
        seen.add(name);
      }
      byPackage.set(String(result.properties.purl), seen);
    }
    // One rule per id, then one per hygiene rule; each result points at its own.
    const rules = log.runs[0]?.tool.driver.rules ?? [];
    expect(rules.map((r) => r.id)).toEqual([...new Set(report.findings.map((f) => f.id)), "LW-IMG-001"]);
    for (const result of [...list, ...hygieneResults(log)])
      expect(rules[result.ruleIndex]?.id).toBe(result.ruleId);
    expect(hygieneResults(log).map((r) => [r.ruleId, r.level])).toEqual([["LW-IMG-001", "error"]]);
  });

  it("describes each rule with the advisory's page, its level and GitHub's security-severity", () => {
    const rules = Object.fromEntries((log.runs[0]?.tool.driver.rules ?? []).map((r) => [r.id, r]));
    // fixtures/osv/npm/GHSA-xvch-5gv4-984h.json: CRITICAL, "Prototype Pollution in minimist".
    expect(rules["CVE-2021-44906"]).toMatchObject({
      shortDescription: { text: "Prototype Pollution in minimist" },
      helpUri: "https://osv.dev/vulnerability/CVE-2021-44906",
      defaultConfiguration: { level: "error" },
      properties: { "security-severity": "9.5" },
    });
    expect(rules["CVE-2021-44906"]?.fullDescription.text).toContain("GHSA-xvch-5gv4-984h");
    expect(rules["CVE-2021-44906"]?.properties.tags).toContain("security");
    // GHSA HIGH, MODERATE; Debian's "unimportant" is low; DSA-5587-1 rates nothing.
    expect(rules["CVE-2021-23337"]?.properties["security-severity"]).toBe("8.0");
    expect(rules["CVE-2020-28500"]?.properties["security-severity"]).toBe("5.5");
    expect(rules["CVE-2005-2541"]?.properties["security-severity"]).toBe("2.0");
    expect(rules["CVE-2023-46218"]?.properties["security-severity"]).toBeUndefined();
    expect(results(log).map((r) => r.level)).toEqual([
      "error",
      "error",
      "error",
      "warning",
      "note",
      "note",
      "note",
    ]);
    // A CVSS score in the level's band is used as it is; a v2 9.3 that NVD calls "high" is not
    // put in GitHub's critical band.
    expect(securitySeverity({ level: "high", source: "cvss_v3", score: 7.5 })).toBe("7.5");
    expect(securitySeverity({ level: "high", source: "cvss_v2", score: 9.3 })).toBe("8.0");
  });

  it("fingerprints each result: stable across a rebuild that moves versions and digests, distinct per package", async () => {
    const fingerprints = results(log).map((r) => r.partialFingerprints["layerwatch/v1"]);
    expect(new Set(fingerprints).size).toBe(7);
    for (const value of fingerprints) expect(value).toMatch(/^[0-9a-f]{64}$/);
    const again = await sarifOf(source);
    expect(results(again).map((r) => r.partialFingerprints)).toEqual(
      results(log).map((r) => r.partialFingerprints),
    );
    // The same Dockerfile rebuilt later: qs resolved to 6.7.1 (still affected, fixed in 6.7.3),
    // and a layer with other bytes, so every digest differs.
    const rebuilt = await buildFixtureImage(
      undefined,
      {
        "1-app/app/node_modules/body-parser/node_modules/qs/package.json": Buffer.from(
          '{"name": "qs", "version": "6.7.1", "license": "BSD-3-Clause"}\n',
        ),
      },
      [{ layer: 2, path: "etc/build-date", content: Buffer.from("2024-06-01\n") }],
    );
    const rebuiltSource = await store.archive(rebuilt, "rebuilt");
    const rebuiltReport = await store.report(rebuiltSource);
    expect(rebuiltReport.image.configDigest).not.toBe(report.image.configDigest);
    expect(rebuiltReport.image.layers.map((l) => l.diffId)).not.toEqual(
      report.image.layers.map((l) => l.diffId),
    );
    const later = results(await sarifOf(rebuiltSource));
    const qs = later.find((r) => r.ruleId === "CVE-2022-24999");
    expect(qs?.properties.installedVersion).toBe("6.7.1");
    expect(later.map((r) => [r.ruleId, r.partialFingerprints])).toEqual(
      results(log).map((r) => [r.ruleId, r.partialFingerprints]),
    );
  });

  it("without --dockerfile, points at the image's name (no tag) as a file, at line 1", () => {
    expect(report.image.repoTags).toEqual(["layerwatch/fixture:latest"]);
    for (const result of [...results(log), ...hygieneResults(log)])
      expect(result.locations[0]?.physicalLocation).toEqual({
        artifactLocation: { uri: "layerwatch/fixture" },
        region: { startLine: 1 },
      });
    expect(hygieneResults(log)).toHaveLength(1);
  });
});

describe("layerwatch scan --format sarif --dockerfile", () => {
  // fixtures/dockerfiles/debian-app.Dockerfile: FROM debian:12 on line 10, the COPY of
  // node_modules on lines 12-13, the RUN that installs curl on lines 16-18.
  const expected = {
    minimist: [12, 13],
    lodash: [12, 13],
    qs: [12, 13],
    tar: [10, 10],
    curl: [16, 18],
    libcurl4: [16, 18],
  } as Record<string, [number, number]>;

  async function placements(history: FixtureHistory, name: string) {
    const image = await store.archive(await buildFixtureImage(history), name);
    const sarif = await sarifOf(image, ["--dockerfile", fixtureDockerfile]);
    await expectValidForGithub(sarif, name);
    return results(sarif).map((r) => {
      const location = r.locations[0]?.physicalLocation;
      const name = /^(\S+) /.exec(r.message.text)?.[1] ?? "";
      expect(location?.artifactLocation.uri).toBe(fixtureDockerfile);
      return {
        name,
        lines: [location?.region.startLine, location?.region.endLine],
        by: r.properties.dockerfileLineBy,
      };
    });
  }

  it("places BuildKit's layers by their created_by text, and the base image's at FROM", async () => {
    for (const placed of await placements(buildkitHistory, "buildkit")) {
      expect(placed.lines, placed.name).toEqual(expected[placed.name]);
      expect(placed.by, placed.name).toBe(placed.name === "tar" ? "base-image" : "text");
    }
    // The Dockerfile's final stage sets no USER (LW-DF-001 at its FROM, line 10), and the image
    // check's config.User finding, which no layer made, is placed at that stage's FROM too.
    const sarif = await sarifOf(
      await store.archive(await buildFixtureImage(buildkitHistory), "buildkit-hygiene"),
      ["--dockerfile", fixtureDockerfile],
    );
    const hygiene = hygieneResults(sarif).map((r) => {
      const location = r.locations[0]?.physicalLocation;
      return `${r.ruleId} ${location?.artifactLocation.uri}:${location?.region.startLine}`;
    });
    expect(hygiene).toContain(`LW-DF-001 ${fixtureDockerfile}:10`);
    expect(hygiene).toContain(`LW-IMG-001 ${fixtureDockerfile}:10`);
  });

  it("places the classic builder's COPY (a digest, not the Dockerfile's words) by position", async () => {
    for (const placed of await placements(classicHistory, "classic")) {
      expect(placed.lines, placed.name).toEqual(expected[placed.name]);
      const by = { tar: "base-image", curl: "text", libcurl4: "text" } as Record<string, string>;
      expect(placed.by, placed.name).toBe(by[placed.name] ?? "position");
    }
  });

  it("refuses a Dockerfile that is not there before scanning", async () => {
    const run = await store.scan(source, ["--format", "sarif", "--dockerfile", join(store.work, "Nope")]);
    expectOneErrorLine(run, /^layerwatch: error: --dockerfile .*Nope: /);
  });
});
