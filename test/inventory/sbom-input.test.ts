/**
 * `layerwatch scan sbom:FILE` on SBOMs other tools made: Trivy's CycloneDX of a root filesystem
 * (the fixture image's and a real debootstrapped Debian's), npm's own SPDX and CycloneDX
 * (`npm sbom`) of the fixture image's app, and the CycloneDX files cdxgen made of its plugin
 * binaries. An SBOM of what an image holds must give the findings that scanning the image gives.
 *
 * Syft: no Syft binary can be had here (no npm package ships one); sbom-syft.test.ts reads
 * fixtures written in the shape of real Syft output.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSbom } from "../../src/inventory/sbom/index.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { buildDebianImage, type DebianImage } from "../helpers/debian-image.js";
import { imageFromFixture, writeOciArchive } from "../helpers/image-builder.js";
import { expectOneErrorLine, layerlessFindingRows, withReport } from "../helpers/report.js";
import { compileSchema } from "../helpers/schema.js";
import { sharedData } from "../helpers/shared-data.js";
import { missingTools } from "../helpers/tools.js";
import { cdxgenPluginsDir, trivyOrSkipReason } from "../helpers/trivy.js";
import { applyLayerDirectory } from "../helpers/unpack.js";

const run = promisify(execFile);
const fixtureImage = join(import.meta.dirname, "../../fixtures/images/debian-app");
const fixtureOsv = join(import.meta.dirname, "../../fixtures/osv");
const schema = JSON.parse(readFileSync(join(import.meta.dirname, "../../docs/report.schema.json"), "utf8"));
const validate = compileSchema(schema);

let work: string;
let db: string;
/** The fixture image as an OCI archive, and its final filesystem unpacked. */
let imageSource: string;
let rootfs: string;
let imageReport: JsonReport;
let trivy: string | undefined;
let trivySkip = "";

async function scanJson(source: string, extra: string[] = [], store = db) {
  const result = await cli(["--db", store, "scan", source, "--format", "json", "--no-cache", ...extra], {
    XDG_CACHE_HOME: work,
  });
  return withReport(result);
}

/** The OS packages as matching sees them: name, version, source package, release. */
function debRows(report: JsonReport) {
  return report.packages
    .filter((p) => p.type === "deb")
    .map((p) => ({
      name: p.name,
      version: p.version,
      sourceName: p.sourceName,
      sourceVersion: p.sourceVersion,
      arch: p.arch,
      ecosystem: p.ecosystem,
    }))
    .sort((a, b) => `${a.name} ${a.version}`.localeCompare(`${b.name} ${b.version}`));
}

async function trivyCycloneDx(root: string, out: string): Promise<string> {
  await run(
    trivy as string,
    [
      "rootfs",
      "--offline-scan",
      "--skip-version-check",
      "--disable-telemetry",
      "--quiet",
      "--cache-dir",
      join(work, "trivy-cache"),
      "--format",
      "cyclonedx",
      "--output",
      out,
      root,
    ],
    { timeout: 120_000 },
  );
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-sbom-input-"));
  db = join(work, "db.sqlite");
  expect((await cli(["--db", db, "db", "import", fixtureOsv])).code).toBe(0);
  const image = await imageFromFixture(fixtureImage, {
    emptyHistory: ["/bin/sh -c #(nop)  ENV NODE_ENV=production"],
  });
  await writeOciArchive(image, join(work, "image.tar"));
  imageSource = `oci-archive:${join(work, "image.tar")}`;
  rootfs = join(work, "rootfs");
  for (const layer of ["0-base", "1-app", "2-upgrade"])
    await applyLayerDirectory(join(fixtureImage, layer), rootfs);
  const scanned = await scanJson(imageSource);
  expect(scanned.code).toBe(0);
  imageReport = scanned.report as JsonReport;
  const found = trivyOrSkipReason();
  if ("trivy" in found) trivy = found.trivy;
  else {
    trivySkip = found.skip;
    console.warn(`skipping the Trivy and cdxgen SBOM tests: ${trivySkip}`);
  }
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("Trivy's CycloneDX (trivy rootfs)", () => {
  it("gives the fixture image's OS findings and packages", async (context) => {
    if (!trivy) return context.skip(trivySkip);
    const sbom = await trivyCycloneDx(rootfs, join(work, "fixture.trivy.cdx.json"));
    const { code, stderr, report } = await scanJson(`sbom:${sbom}`);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const ours = report as JsonReport;
    // The fixture's three OS findings (test/scan.e2e.test.ts, fixtures/README.md).
    expect(layerlessFindingRows(ours)).toEqual([
      { id: "CVE-2005-2541", pkg: "tar", installed: "1.34+dfsg-1.2+deb12u1", fixed: undefined, level: "low" },
      {
        id: "CVE-2023-46218",
        pkg: "curl",
        installed: "7.88.1-10+deb12u4",
        fixed: "7.88.1-10+deb12u5",
        level: "unknown",
      },
      {
        id: "CVE-2023-46218",
        pkg: "libcurl4",
        installed: "7.88.1-10+deb12u4",
        fixed: "7.88.1-10+deb12u5",
        level: "unknown",
      },
    ]);
    expect(layerlessFindingRows(ours)).toEqual(layerlessFindingRows(imageReport, "deb"));
    // Trivy writes zlib1g's epoch as a purl qualifier and its source as SrcEpoch/SrcName.
    expect(debRows(ours)).toEqual(debRows(imageReport));
    expect(debRows(ours).find((p) => p.name === "zlib1g")).toMatchObject({
      version: "1:1.2.13.dfsg-1",
      sourceName: "zlib",
      sourceVersion: "1:1.2.13.dfsg-1",
    });
    expect(ours.os).toMatchObject({ id: "debian", versionId: "12.5", ecosystem: "Debian:12" });
    // A root filesystem has no layers: the SBOM says none, so none is claimed.
    expect(ours.image).toEqual({ source: `sbom:${sbom}`, repoTags: [], layers: [] });
    expect(ours.findings.every((f) => f.layer.index === -1 && f.layer.diffId === undefined)).toBe(true);
    expect(ours.packages.every((p) => p.location === sbom)).toBe(true);
    expect(validate(ours), JSON.stringify(validate.errors, null, 2)).toBe(true);

    // Converted into layerwatch's own formats, nothing is lost, the unknown layers included.
    for (const format of ["cyclonedx", "spdx"]) {
      const converted = join(work, `fixture.trivy-to-layerwatch.${format}.json`);
      const made = await cli(["sbom", `sbom:${sbom}`, "--format", format, "-o", converted]);
      expect(made.stderr).toBe("");
      const again = (await scanJson(`sbom:${converted}`)).report as JsonReport;
      expect(again.packages).toEqual(ours.packages);
      expect(again.findings).toEqual(ours.findings);
    }
  });

  describe.skipIf(missingTools(["debootstrap"]) !== undefined)("a real debootstrapped Debian", () => {
    let debian: DebianImage;
    /** The fixture advisories and, where present, the shared npm export (layer 1's lodash and minimist). */
    let debianDb: string;
    beforeAll(async () => {
      debian = await buildDebianImage({ include: ["openssl", "curl", "ca-certificates"] });
      debianDb = join(work, "debian.sqlite");
      const npmZip = sharedData("osv/npm/all.zip");
      const imported = await cli(["--db", debianDb, "db", "import", fixtureOsv, ...(npmZip ? [npmZip] : [])]);
      expect(imported.code).toBe(0);
    });

    it("gives the findings and OS packages that scanning the image gives", async (context) => {
      if (!trivy) return context.skip(trivySkip);
      const sbom = await trivyCycloneDx(debian.rootfsDir, join(work, "debian.trivy.cdx.json"));
      const viaSbom = await scanJson(`sbom:${sbom}`, [], debianDb);
      const viaImage = await scanJson(`oci:${debian.layoutDir}:${debian.refName}`, [], debianDb);
      expect(viaSbom.stderr).toBe("");
      expect(viaImage.code).toBe(0);
      const ours = viaSbom.report as JsonReport;
      const image = viaImage.report as JsonReport;
      // The rootfs is the image's layer 0: its OS packages, without layer 1's node_modules.
      expect(debRows(ours).length).toBeGreaterThan(100);
      expect(debRows(ours)).toEqual(debRows(image));
      expect(layerlessFindingRows(ours)).toEqual(layerlessFindingRows(image, "deb"));
      expect(layerlessFindingRows(ours).map((f) => `${f.id} ${f.pkg}`)).toContain("CVE-2005-2541 tar");
      // bsdutils carries an epoch its source (util-linux) does not: dpkg's Source field has none.
      expect(debRows(ours).find((p) => p.name === "bsdutils")).toMatchObject({
        version: expect.stringMatching(/^1:2\.38\.1-/),
        sourceName: "util-linux",
        sourceVersion: expect.stringMatching(/^2\.38\.1-/),
      });
      expect(validate(ours), JSON.stringify(validate.errors, null, 2)).toBe(true);
    });
  });
});

describe("npm's own SBOMs of the fixture app (npm sbom)", () => {
  async function npmSbom(format: "spdx" | "cyclonedx"): Promise<string> {
    const { stdout } = await run("npm", ["sbom", "--sbom-format", format, "--offline"], {
      cwd: join(rootfs, "app"),
      maxBuffer: 16 * 1024 * 1024,
    });
    const out = join(work, `app.npm.${format}.json`);
    await writeFile(out, stdout);
    return out;
  }

  /** The image's packages under the app, which is what npm sbom sees. */
  function appPackages(report: JsonReport) {
    return report.packages
      .filter((p) => p.type === "npm" && p.location.startsWith("app/node_modules/"))
      .map((p) => `${p.name}@${p.version}`)
      .sort();
  }

  for (const format of ["spdx", "cyclonedx"] as const) {
    it(`reads npm's ${format} and gives the image's npm findings`, async () => {
      const sbom = await npmSbom(format);
      const { code, stderr, report } = await scanJson(`sbom:${sbom}`);
      expect(stderr).toBe("");
      expect(code).toBe(0);
      const ours = report as JsonReport;
      // The document's subject (the app itself) is not one of its packages.
      expect(ours.packages.map((p) => `${p.name}@${p.version}`).sort()).toEqual(appPackages(imageReport));
      expect(ours.packages.map((p) => p.name)).not.toContain("fixture-app");
      expect(layerlessFindingRows(ours)).toEqual(layerlessFindingRows(imageReport, "npm"));
      expect(layerlessFindingRows(ours).map((f) => `${f.id} ${f.pkg}`)).toEqual([
        "CVE-2021-44906 minimist",
        "CVE-2021-23337 lodash",
        "CVE-2022-24999 qs",
        "CVE-2020-28500 lodash",
      ]);
      // No OS in an npm project's SBOM, and no warning that there is none.
      expect(ours.os).toBeNull();
      expect(ours.packages.find((p) => p.name === "@babel/traverse")).toMatchObject({
        purl: "pkg:npm/%40babel/traverse@7.23.2",
        ecosystem: "npm",
        license: "MIT",
      });
      expect(validate(ours), JSON.stringify(validate.errors, null, 2)).toBe(true);
    });
  }

  it("converts an SBOM: layerwatch sbom sbom:FILE lists what scan lists", async () => {
    const sbom = await npmSbom("cyclonedx");
    const listed = await cli(["sbom", `sbom:${sbom}`, "--format", "json"]);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    const scanned = (await scanJson(`sbom:${sbom}`)).report as JsonReport;
    expect((JSON.parse(listed.stdout) as JsonReport).packages).toEqual(scanned.packages);
  });
});

describe("cdxgen's CycloneDX of its plugin binaries (shipped in the plugin package)", () => {
  function read(relative: string) {
    return readSbom(readFileSync(join(cdxgenPluginsDir, relative), "utf8"), relative);
  }

  it("lists every component of the combined SBOM under its ecosystem", (context) => {
    if (!trivy) return context.skip(trivySkip);
    const { format, inventory, image } = read("sbom-postbuild.cdx.json");
    expect(format).toBe("CycloneDX 1.7");
    expect(inventory.warnings).toEqual([]);
    expect(inventory.distro).toBeUndefined();
    expect(image).toEqual({ repoTags: [], layers: [] });
    // Counted with jq from the file: 645 components, every one with a purl: 372 cargo, 150 maven,
    // 107 golang, 7 nuget, 7 generic and 2 github (the last two have no advisory ecosystem).
    expect(inventory.packages).toHaveLength(645);
    const byEcosystem: Record<string, number> = {};
    for (const pkg of inventory.packages)
      byEcosystem[pkg.ecosystem ?? "none"] = (byEcosystem[pkg.ecosystem ?? "none"] ?? 0) + 1;
    expect(byEcosystem).toEqual({ "crates.io": 372, Maven: 150, Go: 107, NuGet: 7, none: 9 });
    const named = (name: string) => inventory.packages.filter((p) => p.name === name);
    // The purl lowercases the Go module path; the component's name keeps its case, as advisories do.
    expect(named("github.com/CycloneDX/cyclonedx-go")).toMatchObject([
      { type: "golang", version: "v0.11.0", purl: "pkg:golang/github.com/cyclonedx/cyclonedx-go@v0.11.0" },
    ]);
    expect(named("com.fasterxml:aalto-xml").map((p) => p.version)).toEqual(["1.3.0", "1.3.3"]);
    expect(named("com.fasterxml:aalto-xml")[0]).toMatchObject({ ecosystem: "Maven", license: "Apache-2.0" });
    expect(named("FSharp.Core")).toMatchObject([{ type: "nuget", version: "10.1.400", ecosystem: "NuGet" }]);
    expect(named("owasp-dep-scan/dosai")).toMatchObject([{ type: "github", version: "4.1.0" }]);
    expect(inventory.packages.every((p) => p.layer === -1 && p.location === "sbom-postbuild.cdx.json")).toBe(
      true,
    );
  });

  it("reads framework components as packages too (kosi's Gradle SBOM)", (context) => {
    if (!trivy) return context.skip(trivySkip);
    const { inventory, image } = read("kosi/sbom-kosi-postbuild.cdx.json");
    // jq: 135 components, all pkg:maven: 128 of type library and 7 of type framework.
    expect(inventory.packages).toHaveLength(135);
    expect(inventory.packages.every((p) => p.type === "maven" && p.ecosystem === "Maven")).toBe(true);
    expect(inventory.packages.filter((p) => p.name === "org.checkerframework:checker-qual")).toHaveLength(2);
    expect(image.name).toBe("kosi");
  });
});

describe("bad SBOMs", () => {
  async function npmCycloneDx(): Promise<
    Record<string, unknown> & { components: Array<Record<string, unknown>> }
  > {
    const { stdout } = await run("npm", ["sbom", "--sbom-format", "cyclonedx", "--offline"], {
      cwd: join(rootfs, "app"),
    });
    return JSON.parse(stdout);
  }

  async function scanDocument(name: string, text: string) {
    const path = join(work, name);
    await writeFile(path, text);
    return { path, ...(await scanJson(`sbom:${path}`)) };
  }

  it("a missing file is one error line naming it", async () => {
    const missing = join(work, "no-such.cdx.json");
    expectOneErrorLine(await scanJson(`sbom:${missing}`), new RegExp(`sbom:${missing}: no such file`));
    expectOneErrorLine(await cli(["sbom", `sbom:${missing}`]), /no such file/);
    expectOneErrorLine(await scanJson("sbom:"), /^layerwatch: .*sbom:: no path after 'sbom:'/);
  });

  it("a file that is not JSON, or JSON of neither format, is one error line", async () => {
    const text = await scanDocument("not.json", "bomFormat: CycloneDX\n");
    expectOneErrorLine(text, new RegExp(`sbom:${text.path}: not JSON`));
    const other = await scanDocument("other.json", JSON.stringify({ name: "x", packages: [] }));
    expectOneErrorLine(other, /not a CycloneDX or SPDX JSON document/);
  });

  it("an unsupported spec version, or a document without packages, is one error line", async () => {
    const document = await npmCycloneDx();
    const old = await scanDocument("old.cdx.json", JSON.stringify({ ...document, specVersion: "1.1" }));
    expectOneErrorLine(old, /CycloneDX specVersion 1\.1 is not supported; 1\.2, .*1\.7 are/);
    const empty = await scanDocument("empty.cdx.json", JSON.stringify({ ...document, components: [] }));
    expectOneErrorLine(empty, new RegExp(`sbom:${empty.path}: the SBOM lists no packages`));
    const spdx = JSON.parse(
      (await run("npm", ["sbom", "--sbom-format", "spdx", "--offline"], { cwd: join(rootfs, "app") })).stdout,
    );
    const spdx21 = await scanDocument("old.spdx.json", JSON.stringify({ ...spdx, spdxVersion: "SPDX-2.1" }));
    expectOneErrorLine(spdx21, /SPDX-2\.1 is not supported; SPDX-2\.2 and SPDX-2\.3 JSON are/);
  });

  it("skips components without a usable purl, counts them in warnings, and scans the rest", async () => {
    const document = await npmCycloneDx();
    const components = document.components.map((component) => {
      if (component.name === "lodash") return { ...component, purl: "pkg:" };
      if (component.name === "minimist") {
        const { purl: _purl, ...rest } = component;
        return rest;
      }
      return component;
    });
    const { code, stderr, report, path } = await scanDocument(
      "bad-purls.cdx.json",
      JSON.stringify({ ...document, components }),
    );
    expect(code).toBe(0);
    expect(stderr.trimEnd().split("\n")).toEqual([
      `layerwatch: warning: ${path}: 1 component without a purl; skipped (minimist@1.2.5)`,
      `layerwatch: warning: ${path}: 1 component with a purl that cannot be read; skipped (pkg:: Invalid purl: "type" is a required component)`,
    ]);
    const ours = report as JsonReport;
    expect(ours.packages.map((p) => p.name).sort()).toEqual([
      "@babel/traverse",
      "body-parser",
      "qs",
      "semver",
    ]);
    expect(layerlessFindingRows(ours).map((f) => `${f.id} ${f.pkg}`)).toEqual(["CVE-2022-24999 qs"]);
    expect(ours.warnings).toHaveLength(2);
  });

  it("refuses --base-image for an SBOM", async () => {
    const sbom = join(work, "base.cdx.json");
    await writeFile(sbom, JSON.stringify(await npmCycloneDx()));
    expectOneErrorLine(
      await scanJson(`sbom:${sbom}`, ["--base-image", imageSource]),
      /--base-image does not apply to sbom:/,
    );
  });
});
