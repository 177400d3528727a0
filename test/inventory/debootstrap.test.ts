/**
 * The OS package list of a real debootstrapped Debian bookworm image must be exactly what dpkg
 * itself says is installed in that root (dpkg-query on this machine, pointed at the image's
 * database), for the minimal image and for one with openssl, curl and ca-certificates added.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PackageURL } from "packageurl-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventoryImage } from "../../src/pipeline.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { buildDebianImage, type DebianImage } from "../helpers/debian-image.js";
import { findTool, missingTools, run } from "../helpers/tools.js";

const missing = missingTools(["debootstrap"]);
const dpkgQuery = findTool("dpkg-query");
const skipReason =
  missing?.message ?? (dpkgQuery ? undefined : "dpkg-query not found (apt-get install dpkg)");
if (skipReason) console.warn(`skipping debootstrap equality tests: ${skipReason}`);

const fixtureOsv = join(import.meta.dirname, "../../fixtures/osv");

let work: string;
let db: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-debootstrap-"));
  db = join(work, "db.sqlite");
  expect((await cli(["--db", db, "db", "import", fixtureOsv])).code).toBe(0);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** What dpkg says is installed: "name version source sourceVersion", sorted. */
async function dpkgQueryList(rootfsDir: string): Promise<string[]> {
  const { stdout } = await run(dpkgQuery as string, [
    `--admindir=${join(rootfsDir, "var/lib/dpkg")}`,
    "-W",
    "-f",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format syntax, not a template.
    "${Package} ${Version} ${source:Package} ${source:Version}\\n",
  ]);
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .sort();
}

async function scanReport(image: DebianImage): Promise<JsonReport> {
  const result = await cli(
    ["--db", db, "scan", `oci:${image.layoutDir}:${image.refName}`, "--format", "json", "--no-cache"],
    { XDG_CACHE_HOME: work },
  );
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as JsonReport;
}

async function expectDpkgEquality(image: DebianImage): Promise<JsonReport> {
  const report = await scanReport(image);
  const debs = report.packages.filter((p) => p.type === "deb");
  const ours = debs.map((p) => `${p.name} ${p.version} ${p.sourceName} ${p.sourceVersion}`).sort();
  const dpkg = await dpkgQueryList(image.rootfsDir);
  expect(dpkg.length).toBeGreaterThan(50);
  expect(ours).toEqual(dpkg);
  for (const pkg of debs) {
    const purl = PackageURL.fromString(pkg.purl);
    expect([purl.type, purl.namespace, purl.name, purl.version]).toEqual([
      "deb",
      "debian",
      pkg.name,
      pkg.version,
    ]);
    expect(pkg.ecosystem).toBe("Debian:12");
    expect(pkg.layer.index).toBe(0);
    expect(pkg.location).toBe("var/lib/dpkg/status");
  }
  return report;
}

describe.skipIf(skipReason !== undefined)("debootstrapped bookworm: layerwatch equals dpkg-query", () => {
  let minbase: DebianImage;
  let withTls: DebianImage;
  // Built in a hook: a cold debootstrap takes longer than a test may (hookTimeout is 300 s).
  beforeAll(async () => {
    minbase = await buildDebianImage();
    withTls = await buildDebianImage({ include: ["openssl", "curl", "ca-certificates"] });
  });

  it("lists the minbase image's packages exactly, all from layer 0", async () => {
    const image = minbase;
    const report = await expectDpkgEquality(image);
    expect(report.os?.ecosystem).toBe("Debian:12");
  });

  it("lists the image with openssl, curl and ca-certificates exactly, with their files", async () => {
    const image = withTls;
    const report = await expectDpkgEquality(image);
    const names = report.packages.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(["openssl", "curl", "ca-certificates", "libssl3"]));

    // The report leaves file lists out; the inventory underneath has them, from info/*.list.
    const { inventory } = await inventoryImage(`oci:${image.layoutDir}:${image.refName}`);
    const filesOf = (name: string) => inventory.packages.find((p) => p.name === name)?.files ?? [];
    // bookworm's packages still ship /bin/bash; merged-/usr comes from symlinks, not the lists.
    expect(filesOf("bash")).toContain("bin/bash");
    expect(filesOf("bash")).not.toContain("bin");
    expect(filesOf("curl")).toContain("usr/bin/curl");
    expect(filesOf("openssl")).toContain("usr/bin/openssl");
    // libssl3 is Multi-Arch: same, so its list is libssl3:<arch>.list.
    expect(filesOf("libssl3").some((path) => /^usr\/lib\/[^/]+\/libssl\.so\.3$/.test(path))).toBe(true);
    const withFiles = inventory.packages.filter((p) => p.type === "deb" && (p.files?.length ?? 0) > 0);
    expect(withFiles.length).toBe(inventory.packages.filter((p) => p.type === "deb").length);
  });
});
