/**
 * Python distributions from real Debian 12 packages, end to end through the built CLI. The
 * python3-* .debs are downloaded with apt-get and unpacked with dpkg-deb:
 *
 *   layer 0  base-files as dpkg installs it (etc/os-release, the status file)
 *   layer 1  `apt-get install python3-requests python3-urllib3 ...`: their files, including the
 *            *.egg-info / *.dist-info in usr/lib/python3/dist-packages, the status file and .lists
 *   layer 2  the same metadata folders copied into usr/local/lib/python3.11/site-packages, where
 *            dpkg owns nothing (as a pip install would leave them)
 *
 * The expected names, versions and licences are read from the metadata files here; the expected
 * findings were read by hand from the real PyPI records in the shared data.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { builtCli, isBuilt } from "../helpers/cli.js";
import {
  controlField,
  type DebianPackage,
  debianPackagesUnavailable,
  dpkgLayerFiles,
  unpackDebs,
} from "../helpers/debian-debs.js";
import { buildImage, filesFromDirectory, type LayerFile, writeOciLayout } from "../helpers/image-builder.js";
import { expectReport, findingsByPackage } from "../helpers/report.js";
import { sharedData } from "../helpers/shared-data.js";

const PYTHON_DEBS = [
  "python3-certifi",
  "python3-chardet",
  "python3-idna",
  "python3-requests",
  "python3-urllib3",
];
const DIST_PACKAGES = "usr/lib/python3/dist-packages";
const SITE_PACKAGES = "usr/local/lib/python3.11/site-packages";

/** A distribution's metadata as the file says it, read here without layerwatch's parser. */
interface Distribution {
  deb: string;
  /** The metadata folder's name (urllib3-1.26.12.egg-info). */
  folder: string;
  /** METADATA or PKG-INFO, relative to the folder. */
  file: string;
  name: string;
  version: string;
  license: string;
}

/** The `Key: value` header lines before the first empty line (continuations left out). */
function headerValue(text: string, key: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    if (line === "") return undefined;
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).toLowerCase() === key.toLowerCase())
      return line.slice(colon + 1).trim();
  }
  return undefined;
}

/** PEP 503: runs of "-", "_" and "." become one "-", lower-cased. */
const pep503 = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

async function distributionsOf(pkg: DebianPackage): Promise<Distribution[]> {
  const dir = join(pkg.root, DIST_PACKAGES);
  const found: Distribution[] = [];
  for (const folder of (await readdir(dir)).sort()) {
    const file = folder.endsWith(".dist-info") ? "METADATA" : folder.endsWith(".egg-info") ? "PKG-INFO" : "";
    if (file === "") continue;
    const text = await readFile(join(dir, folder, file), "utf8");
    const [name, version] = [headerValue(text, "Name"), headerValue(text, "Version")];
    const license = headerValue(text, "License-Expression") ?? headerValue(text, "License");
    if (!name || !version || !license) throw new Error(`${pkg.name}: ${folder}/${file} lacks a header`);
    found.push({ deb: pkg.name, folder, file, name, version, license });
  }
  return found;
}

describe("Python distributions from Debian 12's python3-* packages, through the CLI", () => {
  let unavailable = debianPackagesUnavailable();
  let work: string;
  let layout: string;
  let packages: DebianPackage[] = [];
  let distributions: Distribution[] = [];

  const skipIfUnavailable = (context: TestContext) => {
    if (unavailable) context.skip(unavailable);
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-python-debian-"));
    if (unavailable) {
      console.warn(`skipping the Debian python3-* tests: ${unavailable}`);
      return;
    }
    let unpacked: DebianPackage[];
    try {
      unpacked = await unpackDebs(["base-files", ...PYTHON_DEBS], join(work, "debs"));
    } catch (error) {
      // Only apt failing to fetch (no mirror reachable) is a reason to skip; anything else fails.
      const message = (error as Error).message;
      if (!message.startsWith("apt-get ")) throw error;
      unavailable = `the Debian mirror could not be used (${message.split("\n").slice(-2).join(" ").trim()})`;
      console.warn(`skipping the Debian python3-* tests: ${unavailable}`);
      return;
    }
    const [base, ...rest] = unpacked as [DebianPackage, ...DebianPackage[]];
    packages = rest;
    expect(isBuilt(), "lib/ is missing: run npm run build").toBe(true);
    distributions = (await Promise.all(packages.map(distributionsOf))).flat();

    const sitePackages: LayerFile[] = [
      "usr/local",
      "usr/local/lib",
      "usr/local/lib/python3.11",
      SITE_PACKAGES,
    ].map((path) => ({ path, type: "directory" }));
    for (const dist of distributions) {
      const pkg = packages.find((p) => p.name === dist.deb) as DebianPackage;
      const files = await filesFromDirectory(join(pkg.root, DIST_PACKAGES, dist.folder));
      sitePackages.push(
        { path: `${SITE_PACKAGES}/${dist.folder}`, type: "directory" },
        ...files.map((file) => ({ ...file, path: `${SITE_PACKAGES}/${dist.folder}/${file.path}` })),
      );
    }
    const image = await buildImage([
      { createdBy: "ADD rootfs.tar / (base-files)", files: await dpkgLayerFiles([base]) },
      {
        createdBy: `RUN apt-get install -y ${PYTHON_DEBS.join(" ")}`,
        files: await dpkgLayerFiles(packages, [base]),
      },
      { createdBy: "RUN pip install --target site-packages ...", files: sitePackages },
    ]);
    layout = join(work, "layout");
    await writeOciLayout(image, layout);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("unpacked one metadata folder per package, at the upstream versions Debian 12 ships", (context) => {
    skipIfUnavailable(context);
    // The findings below were read for these versions; a Debian point release that moved one
    // to another upstream version needs them read again.
    expect(distributions.map((d) => [d.deb, d.name, d.version, d.file])).toEqual([
      ["python3-certifi", "certifi", "2022.9.24", "PKG-INFO"],
      ["python3-chardet", "chardet", "5.1.0", "METADATA"],
      ["python3-idna", "idna", "3.3", "PKG-INFO"],
      ["python3-requests", "requests", "2.28.1", "PKG-INFO"],
      ["python3-urllib3", "urllib3", "1.26.12", "PKG-INFO"],
    ]);
  });

  it("reports the site-packages copies as PyPI packages and the dist-packages copies as dpkg's", async (context) => {
    skipIfUnavailable(context);
    const sbom = await builtCli(["sbom", `oci:${layout}`, "--format", "json", "--no-cache"]);
    const report = expectReport(sbom, "");
    expect(report.os).toMatchObject({ id: "debian", versionId: "12" });

    const debs = new Map(report.packages.filter((p) => p.type === "deb").map((p) => [p.name, p]));
    expect([...debs.keys()].sort()).toEqual(["base-files", ...PYTHON_DEBS]);
    for (const pkg of packages)
      expect(debs.get(pkg.name)?.version).toBe(controlField(pkg.control, "Version"));

    const pypi = report.packages.filter((p) => p.type === "pypi");
    expect(pypi).toHaveLength(distributions.length * 2);
    for (const dist of distributions) {
      const installed = pypi.find((p) => p.location === `${SITE_PACKAGES}/${dist.folder}/${dist.file}`);
      expect(installed, dist.folder).toMatchObject({
        name: dist.name,
        version: dist.version,
        purl: `pkg:pypi/${pep503(dist.name)}@${dist.version}`,
        ecosystem: "PyPI",
        license: dist.license,
      });
      expect(installed?.osOwned, dist.folder).toBeUndefined();
      expect(installed?.layer.index, dist.folder).toBe(2);

      const debianCopy = pypi.find((p) => p.location === `${DIST_PACKAGES}/${dist.folder}/${dist.file}`);
      expect(debianCopy, dist.folder).toMatchObject({ name: dist.name, version: dist.version });
      expect(debianCopy?.osOwned, dist.folder).toBe(debs.get(dist.deb)?.purl);
      expect(debianCopy?.ecosystem, dist.folder).toBeUndefined();
      expect(debianCopy?.layer.index, dist.folder).toBe(1);
    }
  });

  it("matches the real PyPI advisories against the site-packages copies only", async (context) => {
    skipIfUnavailable(context);
    const zip = sharedData("osv/PyPI/all.zip");
    if (!zip) return context.skip("../shared/data/osv/PyPI/all.zip is absent");
    const db = join(work, "pypi.sqlite");
    const imported = await builtCli(["--db", db, "db", "import", zip]);
    expect(imported.code, imported.stderr).toBe(0);
    const scan = await builtCli(["--db", db, "scan", `oci:${layout}`, "--format", "json", "--no-cache"]);
    const report = expectReport(scan, "");
    const findings = findingsByPackage(report, { level: false });
    // Every PYSEC record in the shared data whose affected package is one of these five, read by
    // hand: each range below holds the version Debian ships; the others do not (requests' four
    // older ranges end before 2.28.1, urllib3's eleven others end before 1.26.12 or start at
    // 2.x, and none names chardet). The fix is the range's end on the 1.x branch where a record
    // has two.
    expect(findings).toEqual([
      // certifi 2022.9.24
      ["CVE-2022-23491", "GHSA-43fp-rhv2-5gv8,PYSEC-2022-42986", "certifi@2022.9.24", "2022.12.7", 2], // [2017.11.5, 2022.12.7)
      ["CVE-2023-37920", "GHSA-xqr8-7jwr-rhp7,PYSEC-2023-135", "certifi@2022.9.24", "2023.7.22", 2], // [2015.4.28, 2023.7.22)
      ["CVE-2024-39689", "GHSA-248v-346w-9cwc,PYSEC-2024-230", "certifi@2022.9.24", "2024.7.4", 2], // [2021.5.30, 2024.7.4)
      // idna 3.3
      ["CVE-2024-3651", "GHSA-jjg7-2v4v-x38h,PYSEC-2024-60", "idna@3.3", "3.7", 2], // [0.1, 3.7)
      ["CVE-2026-45409", "GHSA-65pc-fj4g-8rjx,PYSEC-2026-215", "idna@3.3", "3.15", 2], // [0, 3.15)
      // requests 2.28.1
      ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q,PYSEC-2023-74", "requests@2.28.1", "2.31.0", 2], // [2.3.0, 2.31.0)
      ["CVE-2024-35195", "GHSA-9wx4-h78v-vm56,PYSEC-2026-1873", "requests@2.28.1", "2.32.0", 2], // [0, 2.32.0)
      ["CVE-2024-47081", "GHSA-9hjg-9r4m-mvj7,PYSEC-2026-1872", "requests@2.28.1", "2.32.4", 2], // [0, 2.32.4)
      ["CVE-2026-25645", "GHSA-gc5v-m9x4-r6x2,PYSEC-2026-2275", "requests@2.28.1", "2.33.0", 2], // [0, 2.33.0)
      // urllib3 1.26.12
      ["CVE-2023-43804", "GHSA-v845-jxx5-vc9f,PYSEC-2023-192", "urllib3@1.26.12", "1.26.17", 2], // [0, 1.26.17)
      ["CVE-2023-45803", "GHSA-g4mx-q9vg-27p4,PYSEC-2023-212", "urllib3@1.26.12", "1.26.18", 2], // [0, 1.26.18)
      ["CVE-2024-37891", "GHSA-34jh-p97f-mpxf,PYSEC-2026-1995", "urllib3@1.26.12", "1.26.19", 2], // [0, 1.26.19)
      ["CVE-2025-50181", "GHSA-pq67-6m6q-mj2v,PYSEC-2026-1999", "urllib3@1.26.12", "2.5.0", 2], // [0, 2.5.0)
      ["CVE-2025-66418", "GHSA-gm62-xv2j-4w53,PYSEC-2026-1998", "urllib3@1.26.12", "2.6.0", 2], // [1.24, 2.6.0)
      ["CVE-2025-66471", "GHSA-2xpw-w6gg-jr37,PYSEC-2026-1994", "urllib3@1.26.12", "2.6.0", 2], // [1.0, 2.6.0)
      ["CVE-2026-21441", "GHSA-38jv-5279-wg99,PYSEC-2026-1996", "urllib3@1.26.12", "2.6.3", 2], // [1.22, 2.6.3)
      ["CVE-2026-44431", "GHSA-qccp-gfcp-xxvc,PYSEC-2026-141", "urllib3@1.26.12", "2.7.0", 2], // [1.23, 2.7.0)
    ]);
    // The Debian copies carry Debian's fixes and are matched only as deb packages (no Debian
    // records are imported here), so no finding points at layer 1.
    for (const finding of report.findings)
      expect(finding.package.purl).toBe(`pkg:pypi/${finding.package.name}@${finding.installedVersion}`);
  });
});
