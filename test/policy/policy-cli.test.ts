import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport, ReportFinding } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import {
  buildImage,
  filesFromDirectory,
  imageFromFixture,
  writeDockerArchive,
} from "../helpers/image-builder.js";
import { zipFixtureEcosystem } from "../helpers/osv-zip.js";
import { expectOneErrorLine } from "../helpers/report.js";
import { compileSchema } from "../helpers/schema.js";

/**
 * The policy rules through the CLI, on the fixture image (fixtures/README.md) and its seven
 * findings. Every expectation below is worked out from those seven, as an unfiltered run lists
 * them (the first test pins them down).
 */

const root = join(import.meta.dirname, "../..");
const fixtureImage = join(root, "fixtures/images/debian-app");

let work: string;
let db: string;
let image: string;
let configDigest: string;

/** The unfiltered run's findings: [id, package, level, fixState], read off fixtures/osv by hand. */
const allFindings = [
  ["CVE-2021-44906", "minimist", "critical", "fixed"],
  ["CVE-2021-23337", "lodash", "high", "fixed"],
  ["CVE-2022-24999", "qs", "high", "fixed"],
  ["CVE-2020-28500", "lodash", "medium", "fixed"],
  // Debian's urgency "unimportant": low, and no fix planned.
  ["CVE-2005-2541", "tar", "low", "will-not-fix"],
  ["CVE-2023-46218", "curl", "unknown", "fixed"],
  ["CVE-2023-46218", "libcurl4", "unknown", "fixed"],
] as const;
type Row = (typeof allFindings)[number];

const key = (row: readonly string[]) => `${row[0]} ${row[1]}`;
const keys = (rows: readonly Row[]) => rows.map(key);
const listed = (report: JsonReport | undefined) =>
  (report?.findings ?? []).map((f) => `${f.id} ${f.package.name}`);
const finding = (report: JsonReport | undefined, id: string, pkg: string): ReportFinding | undefined =>
  report?.findings.find((f) => f.id === id && f.package.name === pkg);
const suppressedKeys = (report: JsonReport | undefined) =>
  (report?.findings ?? []).filter((f) => f.suppressed).map((f) => `${f.id} ${f.package.name}`);

async function scan(extra: string[], source = image) {
  const run = await cli(["--db", db, "scan", `docker-archive:${source}`, "--format", "json", ...extra]);
  return { ...run, report: run.stdout ? (JSON.parse(run.stdout) as JsonReport) : undefined };
}

async function writeText(name: string, text: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-policy-"));
  db = join(work, "db.sqlite");
  image = join(work, "image.tar");
  const built = await imageFromFixture(fixtureImage);
  configDigest = built.configDigest;
  await writeDockerArchive(built, image);
  const osv = join(work, "osv");
  await zipFixtureEcosystem(join(root, "fixtures/osv/npm"), osv, "npm");
  await zipFixtureEcosystem(join(root, "fixtures/osv/Debian"), osv, "Debian");
  const imported = await cli(["--db", db, "db", "import", osv]);
  expect(imported.code).toBe(0);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("the fixture image without a policy", () => {
  it("lists the seven findings, none marked, and counts nothing set aside", async () => {
    const { code, report, stderr } = await scan([]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(report?.findings.map((f) => [f.id, f.package.name, f.severity.level, f.fixState])).toEqual(
      allFindings,
    );
    // The alias groups the id rules below rely on (from the GHSA and DSA records' aliases).
    expect(finding(report, "CVE-2021-44906", "minimist")?.aliases).toEqual(["GHSA-xvch-5gv4-984h"]);
    expect(finding(report, "CVE-2023-46218", "curl")?.aliases).toEqual(["CVE-2023-46219", "DSA-5587-1"]);
    expect(report?.findings.some((f) => f.suppressed || f.baseline)).toBe(false);
    expect(report?.policy).toEqual({
      failed: false,
      failing: 0,
      hidden: 0,
      suppressed: 0,
      known: 0,
      hygiene: { failing: 0, hidden: 0, suppressed: 0, known: 0 },
    });
    expect(report?.schemaVersion).toBe("1.3");
    // The image check's one finding: the image's config sets no User, so it runs as root.
    expect(report?.hygiene.map((f) => [f.ruleId, f.severity, f.location])).toEqual([
      ["LW-IMG-001", "high", { kind: "config", field: "config.User" }],
    ]);
  });
});

describe("--severity and --ignore-unfixed", () => {
  it("--severity high,critical lists only those, counts the rest hidden, and only they can fail", async () => {
    const shown = allFindings.filter((row) => row[2] === "high" || row[2] === "critical");
    const run = await scan(["--severity", "high,critical", "--fail-on", "medium"]);
    expect(listed(run.report)).toEqual(keys(shown));
    expect(run.report?.summary.findings).toBe(3);
    expect(run.report?.summary.bySeverity).toEqual({ critical: 1, high: 2, medium: 0, low: 0, unknown: 0 });
    // lodash's medium CVE-2020-28500 would fail --fail-on medium; hidden, it does not. The fourth
    // failing is the image's root user (LW-IMG-001, high), shown by --severity high too.
    expect(run.report?.policy).toMatchObject({ severities: ["high", "critical"], hidden: 4, failing: 4 });
    expect(run.report?.policy.hygiene).toEqual({ failing: 1, hidden: 0, suppressed: 0, known: 0 });
    expect(run.code).toBe(1);
  });

  it("hiding every finding at or above --fail-on turns exit 1 into 0", async () => {
    expect((await scan(["--fail-on", "high"])).code).toBe(1);
    const run = await scan(["--severity", "medium,low,unknown", "--fail-on", "high"]);
    expect(run.code).toBe(0);
    expect(listed(run.report)).toEqual(
      keys(allFindings.filter((row) => ["medium", "low", "unknown"].includes(row[2]))),
    );
    expect(run.report?.policy).toMatchObject({ failed: false, failing: 0, hidden: 3 });
  });

  it("--ignore-unfixed hides tar's will-not-fix finding, the only one without a fixed version", async () => {
    // tar (low) is what fails --fail-on low when only low and unknown findings are shown.
    const before = await scan(["--severity", "low,unknown", "--fail-on", "low"]);
    expect(before.code).toBe(1);
    expect(before.report?.policy.failing).toBe(1);
    const run = await scan(["--severity", "low,unknown", "--fail-on", "low", "--ignore-unfixed"]);
    expect(run.code).toBe(0);
    expect(listed(run.report)).toEqual(["CVE-2023-46218 curl", "CVE-2023-46218 libcurl4"]);
    expect(run.report?.policy).toMatchObject({ ignoreUnfixed: true, hidden: 5, failing: 0 });
    const alone = await scan(["--ignore-unfixed"]);
    expect(listed(alone.report)).toEqual(keys(allFindings.filter((row) => row[3] === "fixed")));
  });

  it("refuses a severity list with an unknown level", async () => {
    const run = await cli(["--db", db, "scan", `docker-archive:${image}`, "--severity", "high,severe"]);
    expectOneErrorLine(run, /^layerwatch: error: --severity severe: not a severity; use one of /);
  });
});

describe("the ignore file", () => {
  it("suppresses a finding by an alias id: the GHSA of a finding whose id is its CVE", async () => {
    const file = await writeText(
      "by-ghsa.yaml",
      "ignore:\n  - id: GHSA-xvch-5gv4-984h\n    reason: minimist parses only our own constant argv\n",
    );
    expect((await scan(["--fail-on", "critical"])).code).toBe(1);
    const run = await scan(["--ignore-file", file, "--fail-on", "critical"]);
    expect(run.code).toBe(0);
    // Still listed, marked; not dropped.
    expect(run.report?.findings).toHaveLength(7);
    expect(finding(run.report, "CVE-2021-44906", "minimist")?.suppressed).toEqual({
      by: "ignore",
      reason: "minimist parses only our own constant argv",
      source: file,
      entry: 1,
    });
    expect(suppressedKeys(run.report)).toEqual(["CVE-2021-44906 minimist"]);
    expect(run.report?.policy).toMatchObject({ ignoreFile: file, suppressed: 1, failing: 0, failed: false });
  });

  it("matches the primary CVE, any other alias (the second CVE, the DSA), without regard to case", async () => {
    for (const id of ["CVE-2023-46218", "CVE-2023-46219", "DSA-5587-1", "dsa-5587-1"]) {
      const file = await writeText("by-id.yaml", `ignore:\n  - id: ${id}\n    reason: curl is not used\n`);
      const run = await scan(["--ignore-file", file]);
      expect(suppressedKeys(run.report), id).toEqual(["CVE-2023-46218 curl", "CVE-2023-46218 libcurl4"]);
    }
    // An id of another vulnerability (CVE-2020-8203 is fixed in the installed lodash) suppresses nothing.
    const other = await writeText("other.yaml", "ignore:\n  - id: CVE-2020-8203\n    reason: fixed\n");
    expect(suppressedKeys((await scan(["--ignore-file", other])).report)).toEqual([]);
  });

  it("matches packages by purl pattern: name, name@version, wildcards, qualifiers, and id with package", async () => {
    const cases: Array<[string, string[]]> = [
      ["pkg:npm/lodash", ["CVE-2021-23337 lodash", "CVE-2020-28500 lodash"]],
      ["pkg:npm/lodash@4.17.20", ["CVE-2021-23337 lodash", "CVE-2020-28500 lodash"]],
      ["pkg:npm/lodash@4.17.21", []],
      ["pkg:npm/lodash@4.17.*", ["CVE-2021-23337 lodash", "CVE-2020-28500 lodash"]],
      [
        "pkg:npm/*",
        ["CVE-2021-44906 minimist", "CVE-2021-23337 lodash", "CVE-2022-24999 qs", "CVE-2020-28500 lodash"],
      ],
      ["pkg:deb/debian/curl", ["CVE-2023-46218 curl"]],
      ["pkg:deb/*/*curl*", ["CVE-2023-46218 curl", "CVE-2023-46218 libcurl4"]],
      // libcurl4's purl says upstream=curl; curl's own does not.
      ["pkg:deb/debian/*?upstream=curl", ["CVE-2023-46218 libcurl4"]],
      ["pkg:deb/debian/tar?distro=debian-12", ["CVE-2005-2541 tar"]],
      ["pkg:deb/debian/tar?distro=debian-11", []],
    ];
    for (const [pattern, expected] of cases) {
      const file = await writeText(
        "by-purl.yaml",
        `ignore:\n  - package: "${pattern}"\n    reason: accepted\n`,
      );
      const run = await scan(["--ignore-file", file]);
      expect(run.code, pattern).toBe(0);
      expect(suppressedKeys(run.report), pattern).toEqual(expected);
    }
    const both = await writeText(
      "both.yaml",
      "ignore:\n  - id: CVE-2023-46218\n    package: pkg:deb/debian/curl\n    reason: the curl binary is removed at runtime\n",
    );
    expect(suppressedKeys((await scan(["--ignore-file", both])).report)).toEqual(["CVE-2023-46218 curl"]);
  });

  it("an entry applies through its expires day; after it, it stops applying and the report warns, naming it", async () => {
    const entry = (expires: string) =>
      `ignore:\n  - id: CVE-2021-44906\n    reason: minimist parses only our argv\n    expires: ${expires}\n`;
    const today = await writeText("today.yaml", entry(day(0)));
    const inForce = await scan(["--ignore-file", today, "--fail-on", "critical"]);
    expect(inForce.code).toBe(0);
    expect(finding(inForce.report, "CVE-2021-44906", "minimist")?.suppressed?.expires).toBe(day(0));
    expect(inForce.stderr).toBe("");

    const yesterday = day(-1);
    const expired = await writeText("expired.yaml", entry(yesterday));
    const run = await scan(["--ignore-file", expired, "--fail-on", "critical"]);
    expect(run.code).toBe(1);
    expect(suppressedKeys(run.report)).toEqual([]);
    const warning = {
      subject: `${expired}: entry 1 (CVE-2021-44906)`,
      problem: `expired on ${yesterday}; it no longer applies`,
    };
    expect(run.report?.warnings).toContainEqual(warning);
    expect(run.stderr).toBe(`layerwatch: warning: ${warning.subject}: ${warning.problem}\n`);
  });

  it("reads .layerwatchignore.yaml from the current directory by default (the built CLI)", async () => {
    const dir = await mkdtemp(join(work, "cwd-"));
    await writeFile(
      join(dir, ".layerwatchignore.yaml"),
      "ignore:\n  - package: pkg:npm/minimist\n    reason: build-time only\n",
    );
    const run = spawnSync(
      process.execPath,
      [
        join(root, "bin/layerwatch.js"),
        "--db",
        db,
        "scan",
        `docker-archive:${image}`,
        "-f",
        "json",
        "--fail-on",
        "critical",
      ],
      { cwd: dir, encoding: "utf8" },
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(finding(report, "CVE-2021-44906", "minimist")?.suppressed).toMatchObject({
      by: "ignore",
      source: ".layerwatchignore.yaml",
    });
    expect(report.policy.ignoreFile).toBe(".layerwatchignore.yaml");
  });

  it("refuses a bad ignore file with one line naming the file and the entry (exit 2)", async () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        "unknown-key.yaml",
        "ignore:\n  - id: CVE-2021-44906\n    reason: ok\n  - id: CVE-2021-23337\n    reson: typo\n",
        /: entry 2 \(CVE-2021-23337\): unknown key "reson"; use id, package, rule, path, field, reason, expires$/,
      ],
      [
        "no-reason.yaml",
        "ignore:\n  - package: pkg:npm/lodash\n",
        /: entry 1 \(pkg:npm\/lodash\): reason is required/,
      ],
      [
        "bad-date.yaml",
        "ignore:\n  - id: CVE-2021-44906\n    reason: ok\n    expires: 2025-02-30\n",
        /: entry 1 \(CVE-2021-44906\): expires "2025-02-30": not a date \(YYYY-MM-DD\)$/,
      ],
      [
        "bad-purl.yaml",
        "ignore:\n  - package: npm/lodash\n    reason: ok\n",
        /: entry 1 \(npm\/lodash\): package npm\/lodash: not a package URL: it must start with pkg:$/,
      ],
      ["nothing.yaml", "ignore:\n  - reason: everything\n", /: entry 1: give id, package or both, or rule$/],
      [
        "top.yaml",
        "ignores:\n  - id: CVE-2021-44906\n    reason: ok\n",
        /: unknown key "ignores"; use ignore$/,
      ],
      [
        "syntax.yaml",
        "ignore:\n  - id: [CVE-2021-44906\n",
        /: Flow sequence in block collection must be sufficiently indented and end with a \] at line 3, column 1$/,
      ],
    ];
    for (const [name, text, pattern] of cases) {
      const file = await writeText(name, text);
      const run = await cli(["--db", db, "scan", `docker-archive:${image}`, "--ignore-file", file]);
      expectOneErrorLine(
        run,
        new RegExp(`^layerwatch: error: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}${pattern.source}`),
      );
    }
    const missing = await cli([
      "--db",
      db,
      "scan",
      `docker-archive:${image}`,
      "--ignore-file",
      join(work, "absent.yaml"),
    ]);
    expectOneErrorLine(
      missing,
      /^layerwatch: error: --ignore-file .*absent\.yaml: no such file or directory$/,
    );
  });
});

/** An OpenVEX v0.2.0 document with the given statements. */
function vexDocument(statements: object[], timestamp = "2024-05-01T10:00:00Z"): string {
  return JSON.stringify({
    "@context": "https://openvex.dev/ns/v0.2.0",
    "@id": "https://example.com/vex/layerwatch-test",
    author: "layerwatch tests",
    timestamp,
    version: 1,
    statements,
  });
}

const minimistStatement = (status: string, extra: object = {}) => ({
  vulnerability: { name: "CVE-2021-44906", aliases: ["GHSA-xvch-5gv4-984h"] },
  products: [{ "@id": "pkg:npm/minimist@1.2.5" }],
  status,
  ...(status === "not_affected" ? { justification: "vulnerable_code_not_in_execute_path" } : {}),
  ...extra,
});

describe("OpenVEX", () => {
  it("not_affected suppresses the critical finding, so --fail-on critical exits 0 (grype#1639)", async () => {
    const vex = await writeText("not-affected.vex.json", vexDocument([minimistStatement("not_affected")]));
    const run = await scan(["--vex", vex, "--fail-on", "critical"]);
    expect(run.code).toBe(0);
    expect(run.report?.policy).toMatchObject({
      failOn: "critical",
      failed: false,
      failing: 0,
      suppressed: 1,
      vex: [vex],
    });
    expect(finding(run.report, "CVE-2021-44906", "minimist")?.suppressed).toEqual({
      by: "vex",
      reason: "not_affected (vulnerable_code_not_in_execute_path)",
      source: vex,
      entry: 1,
      status: "not_affected",
      justification: "vulnerable_code_not_in_execute_path",
    });
    // The other findings still count: --fail-on high fails on lodash and qs, and on the image's
    // root user (LW-IMG-001, high), which VEX does not speak of.
    const high = await scan(["--vex", vex, "--fail-on", "high"]);
    expect(high.code).toBe(1);
    expect(high.report?.policy.failing).toBe(3);
    expect(high.report?.policy.hygiene.failing).toBe(1);
  });

  it("affected and under_investigation do not suppress", async () => {
    for (const status of ["affected", "under_investigation"]) {
      const vex = await writeText(`${status}.vex.json`, vexDocument([minimistStatement(status)]));
      const run = await scan(["--vex", vex, "--fail-on", "critical"]);
      expect(run.code, status).toBe(1);
      expect(suppressedKeys(run.report), status).toEqual([]);
    }
  });

  it("fixed suppresses, and the statement may name the finding by its GHSA only", async () => {
    const vex = await writeText(
      "fixed.vex.json",
      vexDocument([
        {
          vulnerability: { name: "GHSA-xvch-5gv4-984h" },
          products: [{ "@id": "pkg:npm/minimist" }],
          status: "fixed",
          status_notes: "patched in our fork",
        },
      ]),
    );
    const run = await scan(["--vex", vex, "--fail-on", "critical"]);
    expect(run.code).toBe(0);
    expect(finding(run.report, "CVE-2021-44906", "minimist")?.suppressed).toMatchObject({
      by: "vex",
      status: "fixed",
      reason: "patched in our fork",
    });
  });

  it("the image as product (pkg:oci with its digest) with a subcomponent; another image's digest does not match", async () => {
    const statement = (digest: string) => ({
      vulnerability: { name: "CVE-2023-46218" },
      products: [
        {
          "@id": `pkg:oci/debian-app@${encodeURIComponent(digest)}`,
          subcomponents: [{ "@id": "pkg:deb/debian/libcurl4@7.88.1-10+deb12u4?arch=amd64&distro=debian-12" }],
        },
      ],
      status: "not_affected",
      justification: "vulnerable_code_not_in_execute_path",
    });
    const vex = await writeText("image.vex.json", vexDocument([statement(configDigest)]));
    expect(suppressedKeys((await scan(["--vex", vex])).report)).toEqual(["CVE-2023-46218 libcurl4"]);
    const other = await writeText(
      "other-image.vex.json",
      vexDocument([statement(`sha256:${"0".repeat(64)}`)]),
    );
    expect(suppressedKeys((await scan(["--vex", other])).report)).toEqual([]);
    // Without subcomponents the image product covers every package with that vulnerability.
    const whole = await writeText(
      "whole-image.vex.json",
      vexDocument([
        { ...statement(configDigest), products: [{ "@id": `pkg:oci/debian-app@${configDigest}` }] },
      ]),
    );
    expect(suppressedKeys((await scan(["--vex", whole])).report)).toEqual([
      "CVE-2023-46218 curl",
      "CVE-2023-46218 libcurl4",
    ]);
  });

  it("the latest statement wins, by timestamp, within a document and across documents", async () => {
    const laterAffected = await writeText(
      "later-affected.vex.json",
      vexDocument([
        minimistStatement("not_affected", { timestamp: "2024-05-01T10:00:00Z" }),
        minimistStatement("affected", { timestamp: "2024-06-01T10:00:00Z", action_statement: "upgrade" }),
      ]),
    );
    expect((await scan(["--vex", laterAffected, "--fail-on", "critical"])).code).toBe(1);
    // Time decides, not the order in the file: here not_affected, written first, is the latest.
    const laterNotAffected = await writeText(
      "later-not-affected.vex.json",
      vexDocument([
        minimistStatement("not_affected", { timestamp: "2024-06-01T10:00:00Z" }),
        minimistStatement("affected", { timestamp: "2024-05-01T10:00:00Z", action_statement: "upgrade" }),
        minimistStatement("under_investigation", { timestamp: "2024-03-01T10:00:00Z" }),
      ]),
    );
    const latest = await scan(["--vex", laterNotAffected, "--fail-on", "critical"]);
    expect(latest.code).toBe(0);
    expect(finding(latest.report, "CVE-2021-44906", "minimist")?.suppressed?.entry).toBe(1);
    // Across files: a statement inherits its document's timestamp; the newer document wins
    // whichever order the files are given in.
    const old = await writeText(
      "old.vex.json",
      vexDocument([minimistStatement("not_affected")], "2024-01-01T00:00:00Z"),
    );
    const recent = await writeText(
      "new.vex.json",
      vexDocument([minimistStatement("affected")], "2024-02-01T00:00:00Z"),
    );
    expect((await scan(["--vex", old, "--vex", recent, "--fail-on", "critical"])).code).toBe(1);
    expect((await scan(["--vex", recent, "--vex", old, "--fail-on", "critical"])).code).toBe(1);
    const newer = await writeText(
      "newer.vex.json",
      vexDocument([minimistStatement("not_affected")], "2024-03-01T00:00:00Z"),
    );
    const both = await scan(["--vex", recent, "--vex", newer, "--fail-on", "critical"]);
    expect(both.code).toBe(0);
    expect(finding(both.report, "CVE-2021-44906", "minimist")?.suppressed?.source).toBe(newer);
  });

  it("refuses a bad VEX document with one line naming the file (exit 2)", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ["not-json.vex.json", "{ not json", /: not JSON: /],
      [
        "csaf.vex.json",
        JSON.stringify({ document: { category: "csaf_vex" } }),
        /: not an OpenVEX document \(@context undefined/,
      ],
      [
        "bad-status.vex.json",
        vexDocument([minimistStatement("maybe")]),
        /: statement 1 \(CVE-2021-44906\): status "maybe": use one of not_affected, affected, fixed, under_investigation$/,
      ],
      [
        "no-justification.vex.json",
        vexDocument([{ ...minimistStatement("affected"), status: "not_affected" }]),
        /: statement 1 \(CVE-2021-44906\): a not_affected statement needs a justification or an impact_statement$/,
      ],
      [
        "no-products.vex.json",
        vexDocument([{ ...minimistStatement("fixed"), products: [] }]),
        /: statement 1 \(CVE-2021-44906\): products must list at least one product$/,
      ],
      [
        "bad-time.vex.json",
        vexDocument([minimistStatement("fixed")], "yesterday"),
        /: timestamp "yesterday" is not an RFC 3339 date-time$/,
      ],
    ];
    for (const [name, text, pattern] of cases) {
      const file = await writeText(name, text);
      const run = await cli(["--db", db, "scan", `docker-archive:${image}`, "--vex", file]);
      expectOneErrorLine(
        run,
        new RegExp(
          `^layerwatch: error: --vex ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}${pattern.source}`,
        ),
      );
    }
    const missing = await cli([
      "--db",
      db,
      "scan",
      `docker-archive:${image}`,
      "--vex",
      join(work, "absent.json"),
    ]);
    expectOneErrorLine(missing, /^layerwatch: error: --vex .*absent\.json: no such file or directory$/);
  });
});

describe("--baseline", () => {
  let baseline: string;

  beforeAll(async () => {
    // The image as it was before: no minimist yet, and lodash at 4.17.15 (vulnerable to the same
    // two advisories, and to CVE-2020-8203, fixed in 4.17.19).
    const layerDirs = ["0-base", "1-app", "2-upgrade"];
    const layers = await Promise.all(
      layerDirs.map(async (name) => {
        const files = (await filesFromDirectory(join(fixtureImage, name)))
          .filter((file) => !file.path.startsWith("app/node_modules/minimist"))
          .map((file) =>
            file.path === "app/node_modules/lodash/package.json"
              ? {
                  ...file,
                  content: Buffer.from(
                    JSON.stringify({ name: "lodash", version: "4.17.15", license: "MIT" }),
                  ),
                }
              : file,
          );
        return { files, createdBy: `/bin/sh -c #(nop) layer ${name}` };
      }),
    );
    const earlier = join(work, "earlier.tar");
    await writeDockerArchive(await buildImage(layers), earlier);
    const run = await scan([], earlier);
    expect(run.code).toBe(0);
    expect(run.report?.findings.map((f) => `${f.id} ${f.package.name}@${f.installedVersion}`)).toEqual([
      // GitHub rates it high, like CVE-2021-23337; findings of one severity are listed by id.
      "CVE-2020-8203 lodash@4.17.15",
      "CVE-2021-23337 lodash@4.17.15",
      "CVE-2022-24999 qs@6.7.0",
      "CVE-2020-28500 lodash@4.17.15",
      "CVE-2005-2541 tar@1.34+dfsg-1.2+deb12u1",
      "CVE-2023-46218 curl@7.88.1-10+deb12u4",
      "CVE-2023-46218 libcurl4@7.88.1-10+deb12u4",
    ]);
    baseline = await writeText("baseline.json", run.stdout);
  });

  it("fails only on the finding the baseline lacks; lodash's findings are known across its upgrade", async () => {
    // Without the baseline, --fail-on high fails on three findings and the image's root user
    // (LW-IMG-001, high); the baseline had the root user too, so it is known.
    expect((await scan(["--fail-on", "high"])).report?.policy.failing).toBe(4);
    const run = await scan(["--baseline", baseline, "--fail-on", "high"]);
    expect(run.code).toBe(1);
    expect(run.report?.policy).toMatchObject({ baseline, failing: 1, known: 6, failed: true });
    expect(run.report?.summary).toMatchObject({ findings: 7, new: 1, known: 6 });
    expect(run.report?.findings.map((f) => [`${f.id} ${f.package.name}`, f.baseline])).toEqual(
      allFindings.map((row) => [key(row), row[1] === "minimist" ? "new" : "known"]),
    );
    expect(run.report?.hygiene.map((f) => [f.ruleId, f.baseline])).toEqual([["LW-IMG-001", "known"]]);
    expect(run.report?.summary.hygiene).toMatchObject({ new: 0, known: 1 });
    // Known findings never fail, whatever the threshold.
    const known = await scan([
      "--baseline",
      baseline,
      "--fail-on",
      "unknown",
      "--severity",
      "high,medium,low,unknown",
    ]);
    expect(known.code).toBe(0);
    expect(known.report?.policy).toMatchObject({ failing: 0, known: 6, hidden: 1 });
    // A suppressed new finding does not fail either.
    const vex = await writeText("baseline.vex.json", vexDocument([minimistStatement("not_affected")]));
    expect((await scan(["--baseline", baseline, "--vex", vex, "--fail-on", "critical"])).code).toBe(0);
  });

  it("refuses a file that is not a layerwatch report with one line naming it (exit 2)", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ["not-json.json", "[1,", /: not JSON: /],
      [
        "sbom.json",
        JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.6" }),
        /: not a layerwatch JSON report/,
      ],
      [
        "future.json",
        JSON.stringify({ schemaVersion: "2.0", tool: { name: "layerwatch" }, findings: [] }),
        /: report schema version "2.0" is not one this layerwatch reads \(1\.x\)$/,
      ],
      [
        "broken.json",
        JSON.stringify({ schemaVersion: "1.2", tool: { name: "layerwatch" }, findings: [{ id: "CVE-1" }] }),
        /: finding 1: needs id, aliases and package.name and .type$/,
      ],
    ];
    for (const [name, text, pattern] of cases) {
      const file = await writeText(name, text);
      const run = await cli(["--db", db, "scan", `docker-archive:${image}`, "--baseline", file]);
      expectOneErrorLine(
        run,
        new RegExp(
          `^layerwatch: error: --baseline ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}${pattern.source}`,
        ),
      );
    }
    const missing = await cli([
      "--db",
      db,
      "scan",
      `docker-archive:${image}`,
      "--baseline",
      join(work, "absent.json"),
    ]);
    expectOneErrorLine(missing, /^layerwatch: error: --baseline .*absent\.json: no such file or directory$/);
  });

  it("writes every policy mark in a report that validates against the schema, and the table's footer counts them", async () => {
    const ignore = await writeText(
      "schema.yaml",
      "ignore:\n  - package: pkg:npm/qs\n    reason: only parses our own forms\n    expires: 2999-12-31\n",
    );
    const vex = await writeText("schema.vex.json", vexDocument([minimistStatement("not_affected")]));
    const args = [
      "--ignore-file",
      ignore,
      "--vex",
      vex,
      "--baseline",
      baseline,
      "--ignore-unfixed",
      "--fail-on",
      "high",
    ];
    const run = await scan(args);
    expect(run.code).toBe(0);
    const schema = JSON.parse(await readFile(join(root, "docs/report.schema.json"), "utf8"));
    const validate = compileSchema(schema);
    expect(validate(run.report), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(
      validate({ ...run.report, findings: [{ ...run.report?.findings[0], suppressed: { by: "ignore" } }] }),
    ).toBe(false);
    // minimist (critical, new) by VEX and qs (high, known) by the ignore file; tar hidden; lodash's
    // high finding is known: nothing at or above high counts.
    expect(run.report?.policy).toMatchObject({ suppressed: 2, hidden: 1, known: 5, failing: 0 });

    const table = await cli(["--db", db, "scan", `docker-archive:${image}`, ...args]);
    const lines = table.stdout.split("\n");
    expect(lines[1]).toBe("Findings: 6 (critical: 1, high: 2, medium: 1, low: 0, unknown: 2)");
    expect(lines[3]).toMatch(/^SEVERITY\s+ID\s+PACKAGE\s+INSTALLED\s+FIXED\s+LAYER\s+STATUS$/);
    expect(lines[4]).toMatch(/^CRITICAL\s+CVE-2021-44906\s+minimist\s.*\s1\s+suppressed \(vex\)$/);
    expect(lines[5]).toMatch(/^HIGH\s+CVE-2021-23337\s+lodash\s.*\s1\s+known$/);
    // Grouped by package: lodash's medium finding follows its high one, without the name again.
    expect(lines[6]).toMatch(/^MEDIUM\s+CVE-2020-28500\s{3,}4\.17\.21\s+1\s+known$/);
    expect(lines[7]).toMatch(/^HIGH\s+CVE-2022-24999\s+qs\s.*\s1\s+suppressed \(ignore\)$/);
    expect(table.stdout).toContain(
      "\nPolicy: 2 suppressed (1 by the ignore file, 1 by VEX); 1 hidden by --ignore-unfixed; 5 known to the baseline, 1 new; 1 hygiene finding(s) known to the baseline, 0 new\n" +
        "PASS: no new finding at or above high\n",
    );
  });
});
