/**
 * AlmaLinux 9 advisories against an rpm database written by rpm itself: tiny packages built with
 * rpmbuild under real AlmaLinux 9 names and versions from before (and one at) their fixes, a real
 * SQLite rpmdb, an AlmaLinux 9.3 image around it, `layerwatch db import` of AlmaLinux's OSV data
 * and `layerwatch scan`. The expected findings were worked out by hand from the records, whose
 * ranges are quoted below and checked against the zip first.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import type { OsvRecord } from "../../src/vulndb/osv.js";
import { cli } from "../helpers/cli.js";
import { buildImage, writeOciLayout } from "../helpers/image-builder.js";
import { readOsvZip } from "../helpers/osv-records.js";
import {
  buildRpms,
  installRpmdb,
  rpmbuildUnavailable,
  rpmQueryAll,
  type TinySourcePackage,
} from "../helpers/rpmbuild.js";
import { sharedData } from "../helpers/shared-data.js";

const unavailable = rpmbuildUnavailable();
if (unavailable) console.warn(`skipping the AlmaLinux rpm end-to-end test: ${unavailable}`);
const almaZip = sharedData("osv/AlmaLinux/all.zip");

/** Real AlmaLinux 9 packages, each at a release some advisories fix and later ones do not. */
const PACKAGES: TinySourcePackage[] = [
  { source: "less", version: "590", release: "3.el9_3", binaries: ["less"], license: "GPLv3+ or BSD" },
  { source: "tar", epoch: 2, version: "1.34", release: "6.el9_1", binaries: ["tar"], license: "GPLv3+" },
  // libcurl is a subpackage: its source rpm is curl-7.76.1-26.el9_3.2.src.rpm.
  { source: "curl", version: "7.76.1", release: "26.el9_3.2", binaries: ["libcurl"], license: "MIT" },
  // At the fix of the newest sudo advisory: nothing applies.
  { source: "sudo", version: "1.9.17p2", release: "3.el9_8", binaries: ["sudo"], license: "ISC" },
];

interface Advisory {
  id: string;
  /** The record's one range for the package: ECOSYSTEM, introduced "0", fixed this. */
  fixed: string;
  /** Whether that range covers the version built above, by rpm's order. */
  affects: boolean;
}

/**
 * Every AlmaLinux:9 advisory in the shared data that names each binary package, worked out by
 * hand. rpm compares epoch first, then version and release segment by segment, numbers as numbers.
 */
const ADVISORIES: Record<string, Advisory[]> = {
  // installed 590-3.el9_3
  less: [
    { id: "ALSA-2023:3725", fixed: "590-2.el9_2", affects: false }, // release 2 < 3
    { id: "ALSA-2024:1692", fixed: "590-3.el9_3", affects: false }, // exactly the fix
    { id: "ALSA-2024:3513", fixed: "590-4.el9_4", affects: true }, // release 3 < 4
  ],
  // installed 2:1.34-6.el9_1 (epoch 2, as the records write it)
  tar: [
    { id: "ALSA-2023:0959", fixed: "2:1.34-6.el9_1", affects: false }, // exactly the fix
    { id: "ALSA-2026:0067", fixed: "2:1.34-9.el9_7", affects: true }, // release 6 < 9
  ],
  // installed 7.76.1-26.el9_3.2; the records name curl, curl-minimal, libcurl, ... alike
  libcurl: [
    { id: "ALSA-2022:6157", fixed: "7.76.1-14.el9_0.5", affects: false },
    { id: "ALSA-2022:8299", fixed: "7.76.1-19.el9", affects: false },
    { id: "ALSA-2023:0333", fixed: "7.76.1-19.el9_1.1", affects: false },
    { id: "ALSA-2023:1701", fixed: "7.76.1-19.el9_1.2", affects: false },
    { id: "ALSA-2023:2478", fixed: "7.76.1-23.el9", affects: false },
    { id: "ALSA-2023:2650", fixed: "7.76.1-23.el9_2.1", affects: false },
    { id: "ALSA-2023:4354", fixed: "7.76.1-23.el9_2.2", affects: false },
    { id: "ALSA-2023:5763", fixed: "7.76.1-23.el9_2.4", affects: false },
    { id: "ALSA-2023:6679", fixed: "7.76.1-26.el9", affects: false }, // el9 < el9_3
    { id: "ALSA-2023:6745", fixed: "7.76.1-26.el9_3.2", affects: false }, // exactly the fix
    { id: "ALSA-2024:1129", fixed: "7.76.1-26.el9_3.3", affects: true }, // el9_3.2 < el9_3.3
    { id: "ALSA-2024:5529", fixed: "7.76.1-29.el9_4.1", affects: true }, // 26 < 29
    { id: "ALSA-2026:1350", fixed: "7.76.1-35.el9_7.3", affects: true },
    { id: "ALSA-2026:55439", fixed: "7.76.1-40.el9_8.5", affects: true },
  ],
  // installed 1.9.17p2-3.el9_8: 1.9.5p2 < 1.9.17p2 (5 < 17), and the newest fix is this build
  sudo: [
    { id: "ALSA-2023:0282", fixed: "1.9.5p2-7.el9_1.1", affects: false },
    { id: "ALSA-2024:0811", fixed: "1.9.5p2-10.el9_3", affects: false },
    { id: "ALSA-2025:9978", fixed: "1.9.5p2-10.el9_6.1", affects: false },
    { id: "ALSA-2026:12310", fixed: "1.9.5p2-15.el9_7", affects: false },
    { id: "ALSA-2026:19220", fixed: "1.9.17p2-3.el9_8", affects: false }, // exactly the fix
  ],
};

const almaOsRelease = `NAME="AlmaLinux"
VERSION="9.3 (Shamrock Pampas Cat)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.3 (Shamrock Pampas Cat)"
`;

/** The ranges each AlmaLinux:9 record gives a package name, by record id. */
function almalinux9Ranges(records: Map<string, OsvRecord>, name: string): Map<string, unknown> {
  const ranges = new Map<string, unknown>();
  for (const record of records.values()) {
    if (record.withdrawn) continue;
    for (const entry of record.affected ?? [])
      if (entry.package?.ecosystem === "AlmaLinux:9" && entry.package.name === name)
        ranges.set(record.id, { ranges: entry.ranges, versions: entry.versions ?? [] });
  }
  return ranges;
}

describe.skipIf(unavailable !== undefined || !almaZip)(
  "AlmaLinux 9 advisories against an rpmdb written by rpm",
  () => {
    let work: string;
    let root: string;
    let report: JsonReport;
    let records: Map<string, OsvRecord>;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), "layerwatch-alma-e2e-"));
      root = join(work, "root");
      const built = await buildRpms(work, PACKAGES);
      const rpmdb = await installRpmdb(work, root, [...built.values()]);
      const image = await buildImage([
        {
          files: [
            { path: "etc/os-release", type: "file", content: Buffer.from(almaOsRelease) },
            { path: "var/lib/rpm/rpmdb.sqlite", type: "file", content: rpmdb },
          ],
          createdBy: "/bin/sh -c #(nop) ADD almalinux-9.3 rootfs",
        },
      ]);
      const layout = join(work, "layout");
      await writeOciLayout(image, layout);

      const db = join(work, "store.sqlite");
      const imported = await cli(["--db", db, "db", "import", almaZip as string]);
      expect(imported.code, imported.stderr).toBe(0);
      const scan = await cli(["--db", db, "scan", `oci:${layout}`, "--format", "json", "--no-cache"]);
      expect(scan.stderr).toBe("");
      expect(scan.code).toBe(0);
      report = JSON.parse(scan.stdout) as JsonReport;
      records = await readOsvZip(almaZip as string);
    }, 180_000);

    afterAll(async () => {
      if (work) await rm(work, { recursive: true, force: true });
    });

    it("holds the records as worked out by hand: every one naming the packages, with its range", () => {
      for (const [name, advisories] of Object.entries(ADVISORIES)) {
        const expected = new Map(
          advisories.map((a) => [
            a.id,
            {
              ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: a.fixed }] }],
              versions: [],
            },
          ]),
        );
        expect(almalinux9Ranges(records, name), name).toEqual(expected);
      }
      // libcurl is looked up by its source package too: the records give curl the same ranges.
      expect(almalinux9Ranges(records, "curl")).toEqual(almalinux9Ranges(records, "libcurl"));
    });

    it("reads the packages rpm recorded, with their source rpms, in AlmaLinux:9", async () => {
      expect(await rpmQueryAll(work, root)).toEqual([
        "less 590-3.el9_3 less-590-3.el9_3.src.rpm",
        "libcurl 7.76.1-26.el9_3.2 curl-7.76.1-26.el9_3.2.src.rpm",
        "sudo 1.9.17p2-3.el9_8 sudo-1.9.17p2-3.el9_8.src.rpm",
        "tar 2:1.34-6.el9_1 tar-1.34-6.el9_1.src.rpm",
      ]);
      expect(report.os?.ecosystem).toBe("AlmaLinux:9");
      expect(report.warnings).toEqual([]);
      const rows = report.packages
        .map((p) => [p.name, p.epoch, p.version, p.sourceName, p.sourceVersion, p.ecosystem, p.purl])
        .sort();
      expect(rows).toEqual([
        [
          "less",
          undefined,
          "590-3.el9_3",
          "less",
          "590-3.el9_3",
          "AlmaLinux:9",
          "pkg:rpm/almalinux/less@590-3.el9_3?arch=x86_64&distro=almalinux-9.3",
        ],
        [
          "libcurl",
          undefined,
          "7.76.1-26.el9_3.2",
          "curl",
          "7.76.1-26.el9_3.2",
          "AlmaLinux:9",
          "pkg:rpm/almalinux/libcurl@7.76.1-26.el9_3.2?arch=x86_64&distro=almalinux-9.3",
        ],
        [
          "sudo",
          undefined,
          "1.9.17p2-3.el9_8",
          "sudo",
          "1.9.17p2-3.el9_8",
          "AlmaLinux:9",
          "pkg:rpm/almalinux/sudo@1.9.17p2-3.el9_8?arch=x86_64&distro=almalinux-9.3",
        ],
        [
          "tar",
          2,
          "1.34-6.el9_1",
          "tar",
          "2:1.34-6.el9_1",
          "AlmaLinux:9",
          "pkg:rpm/almalinux/tar@1.34-6.el9_1?arch=x86_64&distro=almalinux-9.3&epoch=2",
        ],
      ]);
    });

    it("reports exactly the advisories whose ranges cover the installed versions, with their fixes", () => {
      const findings = report.findings
        .map((f) => [f.package.name, f.id, f.installedVersion, f.fixedVersion, f.fixState, f.ecosystem])
        .sort();
      const installed = (name: string) => report.packages.find((p) => p.name === name)?.version;
      const expected = Object.entries(ADVISORIES)
        .flatMap(([name, advisories]) =>
          advisories
            .filter((a) => a.affects)
            .map((a) => [name, a.id, installed(name), a.fixed, "fixed", "AlmaLinux:9"]),
        )
        .sort();
      expect(findings).toEqual(expected);
      // Spelled out: one for less, one for tar, four for libcurl, none for sudo at its fix.
      expect(findings.map((f) => f[1])).toEqual([
        "ALSA-2024:3513",
        "ALSA-2024:1129",
        "ALSA-2024:5529",
        "ALSA-2026:1350",
        "ALSA-2026:55439",
        "ALSA-2026:0067",
      ]);
      expect(report.findings.filter((f) => f.package.name === "sudo")).toEqual([]);
    });
  },
);
