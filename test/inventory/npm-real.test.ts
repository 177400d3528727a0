/**
 * A real npm install scanned end to end: express 4.17.1, lodash 4.17.11 and minimist 1.2.0 from
 * the npm registry (about fifty real packages, one of them nested where versions conflict) in an
 * /app layer, and semver 5.7.1 installed globally in usr/local, read by the built CLI from an OCI
 * layout. What layerwatch reports is compared with the tree npm wrote to disk, and the scan with
 * the findings read by hand from the real GitHub advisories in the shared data.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { zipMembers } from "../../src/vulndb/zip.js";
import { builtCli, isBuilt } from "../helpers/cli.js";
import { buildImage, filesFromDirectory, type LayerFile, writeOciLayout } from "../helpers/image-builder.js";
import {
  type InstalledNpmPackage,
  installNpmProject,
  type NpmProject,
  RegistryUnreachable,
  walkNodeModules,
} from "../helpers/npm-install.js";
import { expectReport, findingsByPackage } from "../helpers/report.js";
import { sharedData } from "../helpers/shared-data.js";

/** The image has no OS layer, which the CLI says, and nothing else. */
const noOsWarning =
  "layerwatch: warning: image: no OS release found (etc/os-release); OS packages are not matched\n";

/** Puts a directory's files under `prefix` in the layer, with the prefix's own folders first. */
async function filesUnder(dir: string, prefix: string): Promise<LayerFile[]> {
  const parents = prefix.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"));
  const files = await filesFromDirectory(dir);
  return [
    ...parents.map((path): LayerFile => ({ path, type: "directory" })),
    ...files.map((file) => ({ ...file, path: `${prefix}/${file.path}` })),
  ];
}

/** name@version at the manifest's place in the image, the way the comparison below keys it. */
const keyed = (pkg: InstalledNpmPackage, prefix: string, layer: number) =>
  [pkg.name, pkg.version, `${prefix}/${pkg.manifest}`, layer] as const;

const byLocation = (a: readonly unknown[], b: readonly unknown[]) =>
  `${a[2]}\u0000${a[0]}`.localeCompare(`${b[2]}\u0000${b[0]}`);

describe("a real npm install of express, lodash and minimist, scanned through the CLI", () => {
  let project: NpmProject | undefined;
  let unavailable: string | undefined;
  let work: string;
  let layout: string;
  let appTree: InstalledNpmPackage[] = [];
  let globalTree: InstalledNpmPackage[] = [];

  const skipIfUnavailable = (context: TestContext) => {
    if (unavailable) context.skip(unavailable);
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-npm-real-"));
    try {
      project = await installNpmProject({
        dependencies: { express: "4.17.1", lodash: "4.17.11", minimist: "1.2.0" },
        global: { semver: "5.7.1" },
      });
    } catch (error) {
      if (!(error instanceof RegistryUnreachable)) throw error;
      unavailable = error.message;
      console.warn(`skipping the real npm install tests: ${unavailable}`);
      return;
    }
    expect(isBuilt(), "lib/ is missing: run npm run build").toBe(true);
    const globalPrefix = project.globalPrefix as string;
    appTree = await walkNodeModules(project.projectDir);
    globalTree = await walkNodeModules(globalPrefix, "lib/node_modules");

    const image = await buildImage([
      {
        createdBy: "COPY package.json package-lock.json node_modules /app/",
        files: await filesUnder(project.projectDir, "app"),
      },
      {
        createdBy: "RUN npm install -g semver@5.7.1",
        files: await filesUnder(globalPrefix, "usr/local"),
      },
    ]);
    layout = join(work, "layout");
    await writeOciLayout(image, layout);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("installed the tree npm's lockfile describes, one copy nested where versions conflict", async (context) => {
    skipIfUnavailable(context);
    const projectDir = (project as NpmProject).projectDir;
    const lock = JSON.parse(await readFile(join(projectDir, "package-lock.json"), "utf8")) as {
      lockfileVersion: number;
      packages: Record<string, { version?: string }>;
    };
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(2);
    // npm's own record of what it put where ("" is the project itself) agrees with the disk.
    const locked = Object.entries(lock.packages)
      .filter(([path]) => path !== "")
      .map(([path, entry]) => `${path}@${entry.version}`)
      .sort();
    expect(appTree.map((p) => `${p.manifest.replace(/\/package\.json$/, "")}@${p.version}`).sort()).toEqual(
      locked,
    );
    // Every package.json anywhere below node_modules that names a package is one of them: the
    // tree holds no stray manifests (test fixtures, sub-packages) that a scanner should skip.
    const manifests: string[] = [];
    for (const path of await readdir(join(projectDir, "node_modules"), { recursive: true })) {
      if (!/(?:^|\/)package\.json$/.test(path)) continue;
      const manifest = JSON.parse(await readFile(join(projectDir, "node_modules", path), "utf8"));
      if (typeof manifest.name === "string" && typeof manifest.version === "string")
        manifests.push(`node_modules/${path}`);
    }
    expect(manifests.sort()).toEqual(appTree.map((p) => p.manifest).sort());
    expect(appTree.length).toBeGreaterThanOrEqual(45);
    for (const pinned of ["express@4.17.1", "lodash@4.17.11", "minimist@1.2.0", "qs@6.7.0", "send@0.17.1"])
      expect(appTree.map((p) => `${p.name}@${p.version}`)).toContain(pinned);
    // express 4.17.1 pins debug 2.6.9 (which wants ms 2.0.0) while send 0.17.1 pins ms 2.1.1.
    expect(appTree.filter((p) => p.name === "ms").map((p) => [p.version, p.manifest])).toEqual([
      ["2.0.0", "node_modules/ms/package.json"],
      ["2.1.1", "node_modules/send/node_modules/ms/package.json"],
    ]);
    expect(globalTree.map((p) => [p.name, p.version, p.manifest])).toEqual([
      ["semver", "5.7.1", "lib/node_modules/semver/package.json"],
    ]);
  });

  it("sbom lists every installed package once, at its own location and layer", async (context) => {
    skipIfUnavailable(context);
    const sbom = await builtCli(["sbom", `oci:${layout}`, "--format", "json", "--no-cache"]);
    const report = expectReport(sbom, noOsWarning);
    const npmPackages = report.packages.filter((p) => p.type === "npm");
    const expected = [
      ...appTree.map((p) => keyed(p, "app", 0)),
      ...globalTree.map((p) => keyed(p, "usr/local", 1)),
    ];
    expect(npmPackages.map((p) => [p.name, p.version, p.location, p.layer.index]).sort(byLocation)).toEqual(
      expected.map((entry) => [...entry]).sort(byLocation),
    );
    // The lockfile is in the image, but each package it lists is installed beside it: none is
    // reported a second time from app/package-lock.json.
    expect(npmPackages.filter((p) => p.location === "app/package-lock.json")).toEqual([]);
    for (const pkg of npmPackages) {
      expect(pkg.ecosystem, pkg.location).toBe("npm");
      const name = pkg.name.startsWith("@") ? `%40${pkg.name.slice(1)}` : pkg.name;
      expect(pkg.purl, pkg.location).toBe(`pkg:npm/${name}@${pkg.version}`);
      expect(pkg.dev, pkg.location).toBeUndefined();
    }
  });

  it("scan finds the advisories of the shared npm records that apply, and no others", async (context) => {
    skipIfUnavailable(context);
    const zip = sharedData("osv/npm/all.zip");
    if (!zip) return context.skip("../shared/data/osv/npm/all.zip is absent");
    // Every real GitHub advisory for npm in the shared data, as a directory of <ID>.json files.
    const osv = join(work, "osv-npm");
    await mkdir(osv, { recursive: true });
    let records = 0;
    for await (const member of zipMembers(zip)) {
      if (!member.name.endsWith(".json")) continue;
      await writeFile(join(osv, member.name), await member.read());
      records++;
    }
    expect(records).toBeGreaterThanOrEqual(20);
    const db = join(work, "npm.sqlite");
    const imported = await builtCli(["--db", db, "db", "import", osv]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain(`imported ${records} records, skipped 0`);

    const scan = await builtCli(["--db", db, "scan", `oci:${layout}`, "--format", "json", "--no-cache"]);
    const report = expectReport(scan, noOsWarning);
    const findings = findingsByPackage(report);
    // Read off the records: each range holds the installed version, the fix is the range's end
    // on the installed version's branch, the level is GitHub's database_specific.severity.
    expect(findings).toEqual([
      // GHSA-qwcr-r2fm-qrc7: body-parser [0, 1.20.3), HIGH.
      ["CVE-2024-45590", "GHSA-qwcr-r2fm-qrc7", "body-parser@1.19.0", "1.20.3", "high", 0],
      // GHSA-pxg6-pf52-xh8x: cookie [0, 0.7.0), LOW.
      ["CVE-2024-47764", "GHSA-pxg6-pf52-xh8x", "cookie@0.4.0", "0.7.0", "low", 0],
      // GHSA-rv95-896h-c2vc: express [0, 4.19.2), MODERATE.
      ["CVE-2024-29041", "GHSA-rv95-896h-c2vc", "express@4.17.1", "4.19.2", "medium", 0],
      // GHSA-p6mc-m468-83gw: lodash [0, 4.17.20), HIGH; GHSA-35jh-r3h4-6jhm: [0, 4.17.21), HIGH.
      ["CVE-2020-8203", "GHSA-p6mc-m468-83gw", "lodash@4.17.11", "4.17.20", "high", 0],
      ["CVE-2021-23337", "GHSA-35jh-r3h4-6jhm", "lodash@4.17.11", "4.17.21", "high", 0],
      // GHSA-vh95-rmgr-6w4m: minimist [1.0.0, 1.2.3), MODERATE; GHSA-xvch-5gv4-984h: [1.0.0, 1.2.6), CRITICAL.
      ["CVE-2020-7598", "GHSA-vh95-rmgr-6w4m", "minimist@1.2.0", "1.2.3", "medium", 0],
      ["CVE-2021-44906", "GHSA-xvch-5gv4-984h", "minimist@1.2.0", "1.2.6", "critical", 0],
      // GHSA-9wv6-86v2-598j: path-to-regexp [0, 0.1.10) among five branches, HIGH.
      ["CVE-2024-45296", "GHSA-9wv6-86v2-598j", "path-to-regexp@0.1.7", "0.1.10", "high", 0],
      // GHSA-hrpp-h998-j3pp: qs [6.7.0, 6.7.3) among nine branches, HIGH.
      ["CVE-2022-24999", "GHSA-hrpp-h998-j3pp", "qs@6.7.0", "6.7.3", "high", 0],
      // GHSA-c2qf-rxjj-qqgw: semver [0, 5.7.2) on the 5.x branch, MODERATE; the global install.
      ["CVE-2022-25883", "GHSA-c2qf-rxjj-qqgw", "semver@5.7.1", "5.7.2", "medium", 1],
    ]);
    // Each finding points at the one installed copy of its package.
    const express = report.findings.find((f) => f.id === "CVE-2024-29041");
    expect(express?.package.purl).toBe("pkg:npm/express@4.17.1");
  });
});
