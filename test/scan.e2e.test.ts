import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../src/report/model.js";
import { cli } from "./helpers/cli.js";
import {
  type BuiltImage,
  buildImage,
  filesFromDirectory,
  imageFromFixture,
  writeDockerArchive,
  writeOciArchive,
  writeOciLayout,
} from "./helpers/image-builder.js";
import { zipFixtureEcosystem } from "./helpers/osv-zip.js";
import { findingRows } from "./helpers/report.js";
import { compileSchema } from "./helpers/schema.js";

const fixtureImage = join(import.meta.dirname, "../fixtures/images/debian-app");
const fixtureOsv = join(import.meta.dirname, "../fixtures/osv");

let work: string;
let db: string;
let image: BuiltImage;
const sources: Record<string, string> = {};

/** The findings the fixture image must produce, and no others (see fixtures/README.md). */
const expectedFindings = [
  { id: "CVE-2021-44906", pkg: "minimist", installed: "1.2.5", fixed: "1.2.6", level: "critical", layer: 1 },
  { id: "CVE-2021-23337", pkg: "lodash", installed: "4.17.20", fixed: "4.17.21", level: "high", layer: 1 },
  { id: "CVE-2022-24999", pkg: "qs", installed: "6.7.0", fixed: "6.7.3", level: "high", layer: 1 },
  { id: "CVE-2020-28500", pkg: "lodash", installed: "4.17.20", fixed: "4.17.21", level: "medium", layer: 1 },
  {
    id: "CVE-2005-2541",
    pkg: "tar",
    installed: "1.34+dfsg-1.2+deb12u1",
    fixed: undefined,
    level: "low",
    layer: 0,
  },
  {
    id: "CVE-2023-46218",
    pkg: "curl",
    installed: "7.88.1-10+deb12u4",
    fixed: "7.88.1-10+deb12u5",
    level: "unknown",
    layer: 2,
  },
  {
    id: "CVE-2023-46218",
    pkg: "libcurl4",
    installed: "7.88.1-10+deb12u4",
    fixed: "7.88.1-10+deb12u5",
    level: "unknown",
    layer: 2,
  },
];

async function scanJson(source: string, extra: string[] = []) {
  const run = await cli(["--db", db, "scan", source, "--format", "json", ...extra]);
  return { ...run, report: run.stdout ? (JSON.parse(run.stdout) as JsonReport) : undefined };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-e2e-"));
  db = join(work, "db.sqlite");
  image = await imageFromFixture(fixtureImage, {
    emptyHistory: ["/bin/sh -c #(nop)  ENV NODE_ENV=production"],
  });
  sources.dockerLegacy = `docker-archive:${join(work, "image-legacy.tar")}`;
  sources.dockerOci = `docker-archive:${join(work, "image-docker25.tar")}`;
  sources.ociArchive = `oci-archive:${join(work, "image-oci.tar")}`;
  sources.ociLayout = `oci:${join(work, "layout")}`;
  await writeDockerArchive(image, join(work, "image-legacy.tar"));
  await writeDockerArchive(image, join(work, "image-docker25.tar"), { layout: "oci" });
  await writeOciArchive(image, join(work, "image-oci.tar"));
  await writeOciLayout(image, join(work, "layout"));
  const osv = join(work, "osv");
  await zipFixtureEcosystem(join(fixtureOsv, "npm"), osv, "npm");
  await zipFixtureEcosystem(join(fixtureOsv, "Debian"), osv, "Debian");
  const imported = await cli(["--db", db, "db", "import", osv]);
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("layerwatch scan, end to end", () => {
  it("reports exactly the expected findings for a docker-archive", async () => {
    const { code, report, stderr } = await scanJson(sources.dockerLegacy as string);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(report?.schemaVersion).toBe("1.3");
    expect(report?.os).toEqual({
      id: "debian",
      versionId: "12",
      prettyName: "Debian GNU/Linux 12 (bookworm)",
      ecosystem: "Debian:12",
      // Debian 12's LTS ends on 2028-06-30.
      endOfLife: "2028-06-30",
      eol: new Date().toISOString().slice(0, 10) > "2028-06-30",
    });
    expect(findingRows(report as JsonReport)).toEqual(expectedFindings);
  });

  it("writes JSON that validates against the documented schema", async () => {
    const { report } = await scanJson(sources.ociArchive as string, ["--fail-on", "high"]);
    const schema = JSON.parse(
      await readFile(join(import.meta.dirname, "../docs/report.schema.json"), "utf8"),
    );
    const validate = compileSchema(schema);
    expect(validate(report), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // The schema is strict enough to catch a report that strays from it.
    expect(validate({ ...report, findings: [{ id: "X" }] })).toBe(false);
  });

  it("lists the installed packages with source names, purls and the layer that introduced them", async () => {
    const { report } = await scanJson(sources.dockerLegacy as string);
    const packages = Object.fromEntries(
      (report as JsonReport).packages.map((p) => [`${p.type}:${p.name}`, p]),
    );
    // nano is deinstalled (config-files only): not a package of the image.
    expect(Object.keys(packages).sort()).toEqual([
      "deb:base-files",
      "deb:curl",
      "deb:libbz2-1.0",
      "deb:libc6",
      "deb:libcurl4",
      "deb:libssl3",
      "deb:openssl",
      "deb:tar",
      "deb:zlib1g",
      "npm:@babel/traverse",
      "npm:body-parser",
      "npm:lodash",
      "npm:minimist",
      "npm:qs",
      "npm:semver",
    ]);
    expect(packages["deb:libssl3"]).toMatchObject({
      version: "3.0.11-1~deb12u2",
      sourceName: "openssl",
      sourceVersion: "3.0.11-1~deb12u2",
      purl: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
      layer: { index: 2 },
    });
    expect(packages["deb:libbz2-1.0"]).toMatchObject({
      version: "1.0.8-5+b1",
      sourceName: "bzip2",
      sourceVersion: "1.0.8-5",
    });
    // libc6 is in the status file every layer rewrote, but layer 0 introduced it.
    expect(packages["deb:libc6"]?.layer.index).toBe(0);
    expect(packages["deb:curl"]?.layer).toMatchObject({
      index: 2,
      createdBy: "/bin/sh -c #(nop) layer 2-upgrade",
    });
    expect(packages["npm:@babel/traverse"]).toMatchObject({
      purl: "pkg:npm/%40babel/traverse@7.23.2",
      location: "app/node_modules/@babel/traverse/package.json",
    });
    expect(packages["npm:qs"]?.location).toBe("app/node_modules/body-parser/node_modules/qs/package.json");
  });

  it("gives the same packages and findings for every archive layout of the same image", async () => {
    const reference = (await scanJson(sources.dockerLegacy as string)).report as JsonReport;
    for (const source of [sources.dockerOci, sources.ociArchive, sources.ociLayout] as string[]) {
      const { report, code } = await scanJson(source);
      expect(code, source).toBe(0);
      expect(report?.packages, source).toEqual(
        reference.packages.map((p) => ({ ...p, layer: { ...p.layer, digest: expect.any(String) } })),
      );
      expect(findingRows(report as JsonReport), source).toEqual(findingRows(reference));
      expect(report?.image.layers.map((l) => l.diffId)).toEqual(image.diffIds);
    }
  });

  it("exits 1 when a finding is at or above --fail-on, and 0 below it", async () => {
    // The base layer without its node_modules, which the app layer of the full image deletes.
    const base = (await filesFromDirectory(join(fixtureImage, "0-base"))).filter(
      (f) => !f.path.includes("node_modules"),
    );
    const upgrade = await filesFromDirectory(join(fixtureImage, "2-upgrade"));
    // Run as a user other than root: the image check LW-IMG-001 (high) has nothing to say.
    const osOnly = await buildImage(
      [
        { files: base, createdBy: "base" },
        { files: upgrade, createdBy: "apt-get install curl" },
      ],
      { user: "1000:1000" },
    );
    const path = join(work, "os-only.tar");
    await writeDockerArchive(osOnly, path);
    // Worst findings here: tar (low) and curl (unknown severity).
    expect((await scanJson(`docker-archive:${path}`, ["--fail-on", "medium"])).code).toBe(0);
    const low = await scanJson(`docker-archive:${path}`, ["--fail-on", "low"]);
    expect(low.code).toBe(1);
    expect(low.report?.policy).toEqual({
      failOn: "low",
      failed: true,
      failing: 1,
      hidden: 0,
      suppressed: 0,
      known: 0,
      hygiene: { failing: 0, hidden: 0, suppressed: 0, known: 0 },
    });
    // The same image as root: its high hygiene finding fails --fail-on medium, unless hygiene is off.
    const asRoot = join(work, "os-only-root.tar");
    await writeDockerArchive(
      await buildImage([
        { files: base, createdBy: "base" },
        { files: upgrade, createdBy: "apt-get install curl" },
      ]),
      asRoot,
    );
    const rootRun = await scanJson(`docker-archive:${asRoot}`, ["--fail-on", "medium"]);
    expect(rootRun.code).toBe(1);
    expect(rootRun.report?.hygiene.map((f) => [f.ruleId, f.severity])).toEqual([["LW-IMG-001", "high"]]);
    expect((await scanJson(`docker-archive:${asRoot}`, ["--fail-on", "medium", "--no-hygiene"])).code).toBe(
      0,
    );
    expect((await scanJson(sources.ociLayout as string, ["--fail-on", "critical"])).code).toBe(1);
    const bad = await cli(["--db", db, "scan", sources.ociLayout as string, "--fail-on", "severe"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      "layerwatch: error: --fail-on severe: not a severity; use one of unknown, low, medium, high, critical\n",
    );
  });

  it("prints a table with the findings by default", async () => {
    const { code, stdout } = await cli(["--db", db, "scan", sources.ociArchive as string]);
    expect(code).toBe(0);
    const lines = stdout.split("\n");
    expect(lines[0]).toContain("(Debian GNU/Linux 12 (bookworm), 15 packages, 3 layers)");
    expect(lines[1]).toBe("Findings: 7 (critical: 1, high: 2, medium: 1, low: 1, unknown: 2)");
    expect(lines[3]).toMatch(/^SEVERITY\s+ID\s+PACKAGE\s+INSTALLED\s+FIXED\s+LAYER$/);
    expect(lines[4]).toMatch(/^CRITICAL\s+CVE-2021-44906\s+minimist\s+1\.2\.5\s+1\.2\.6\s+1$/);
    // Grouped by package, the most severe package first: lodash's medium finding follows its high
    // one (without repeating the package) and comes before qs's high one.
    expect(lines.slice(5, 8).map((line) => line.split(/\s{2,}/).slice(0, 3))).toEqual([
      ["HIGH", "CVE-2021-23337", "lodash"],
      ["MEDIUM", "CVE-2020-28500", "4.17.21"],
      ["HIGH", "CVE-2022-24999", "qs"],
    ]);
    expect(stdout).not.toContain("\u001b[");
  });

  it("runs as the installed binary with its documented exit codes", async () => {
    const bin = join(import.meta.dirname, "../bin/layerwatch.js");
    const run = spawnSync(
      process.execPath,
      [bin, "--db", db, "scan", sources.dockerLegacy as string, "--fail-on", "high"],
      {
        encoding: "utf8",
      },
    );
    expect(run.status).toBe(1);
    // The three findings at or above high, and the image's root user (LW-IMG-001, high).
    expect(run.stdout).toContain("FAIL: 4 finding(s) at or above high (3 vulnerabilities, 1 hygiene)");
    const missing = spawnSync(
      process.execPath,
      [bin, "--db", db, "scan", "docker-archive:/nonexistent.tar"],
      { encoding: "utf8" },
    );
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(
      "layerwatch: error: docker-archive:/nonexistent.tar: no such file or directory\n",
    );
    await writeFile(join(work, "not-an-image.tar"), "hello");
    const junk = spawnSync(
      process.execPath,
      [bin, "--db", db, "scan", `docker-archive:${join(work, "not-an-image.tar")}`],
      {
        encoding: "utf8",
      },
    );
    expect(junk.status).toBe(2);
    expect(junk.stderr.split("\n")).toHaveLength(2);
  });
});
