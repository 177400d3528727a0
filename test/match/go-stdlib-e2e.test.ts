/**
 * Debian 12's Go programs (docker-registry, skopeo, umoci: built with go1.19.8) end to end: copied
 * to /usr/local/bin in an image, where no dpkg package owns them, `layerwatch scan` must report
 * each one's `stdlib` v1.19.8 with every Go standard-library advisory of the Go project's data
 * whose ranges cover 1.19.8. The expected set is computed here from the zip's records with a
 * comparator of this test's own, not the product's. The same binaries at /usr/bin, installed by
 * dpkg, are the Debian packages' builds: matched only as those packages.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Package } from "../../src/inventory/types.js";
import { type AdvisorySource, matchPackages } from "../../src/match/matcher.js";
import { inventoryImage } from "../../src/pipeline.js";
import type { JsonReport } from "../../src/report/model.js";
import type { OsvRecord } from "../../src/vulndb/osv.js";
import { cli } from "../helpers/cli.js";
import { buildImage, type LayerFile, writeOciLayout } from "../helpers/image-builder.js";
import { readOsvZip } from "../helpers/osv-records.js";
import { sharedData } from "../helpers/shared-data.js";

/** Debian 12's Go programs, each in the layer index it is copied to below. */
const PROGRAMS = ["docker-registry", "skopeo", "umoci"] as const;
const GO_VERSION = "1.19.8";

const missingPrograms = PROGRAMS.filter((name) => !existsSync(`/usr/bin/${name}`));
if (missingPrograms.length > 0)
  console.warn(
    `skipping: ${missingPrograms.join(", ")} not installed (apt-get install ${missingPrograms.join(" ")})`,
  );
const goZip = sharedData("osv/Go/all.zip");

// ---- SemVer as the Go advisories write it: x.y.z with an optional pre-release ----------------

/** Compares dot-separated pre-release identifiers as SemVer 2.0 does (numbers below words). */
function comparePrerelease(a: string, b: string): number {
  const left = a.split(".");
  const right = b.split(".");
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    if (x === y) continue;
    const xNumber = /^\d+$/.test(x);
    const yNumber = /^\d+$/.test(y);
    if (xNumber && yNumber) return Number(x) - Number(y);
    if (xNumber !== yNumber) return xNumber ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** x.y.z[-pre]; "0" is OSV's "the beginning of time", below every version. */
function compareSemver(a: string, b: string): number {
  if (a === "0" || b === "0") return a === b ? 0 : a === "0" ? -1 : 1;
  const parse = (version: string) => {
    const match = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(version);
    if (!match) throw new Error(`not a plain SemVer version: ${version}`);
    return { core: [Number(match[1]), Number(match[2]), Number(match[3])], pre: match[4] };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++)
    if (x.core[i] !== y.core[i]) return (x.core[i] as number) - (y.core[i] as number);
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined || y.pre === undefined) return x.pre === undefined ? 1 : -1;
  return comparePrerelease(x.pre, y.pre);
}

/**
 * Whether one SEMVER range covers `version`: the last `introduced` at or below it comes after the
 * last `fixed` at or below it. The stdlib records hold only introduced and fixed events (checked).
 */
function rangeCovers(events: Array<Record<string, string>>, version: string): boolean {
  let introduced: string | undefined;
  let fixed: string | undefined;
  for (const event of events) {
    const [kind, value] = Object.entries(event)[0] ?? [];
    if (value === undefined || compareSemver(value, version) > 0) continue;
    if (kind === "introduced" && (introduced === undefined || compareSemver(value, introduced) > 0))
      introduced = value;
    else if (kind === "fixed" && (fixed === undefined || compareSemver(value, fixed) > 0)) fixed = value;
    else if (kind !== "introduced" && kind !== "fixed") throw new Error(`unexpected event ${kind}`);
  }
  return introduced !== undefined && (fixed === undefined || compareSemver(fixed, introduced) < 0);
}

/** The stdlib entries of the Go data, and the ids of the (not withdrawn) records covering `version`. */
function stdlibAdvisoriesCovering(records: Map<string, OsvRecord>, version: string): string[] {
  const ids: string[] = [];
  for (const record of records.values()) {
    if (record.withdrawn) continue;
    const entries = (record.affected ?? []).filter(
      (entry) => entry.package?.ecosystem === "Go" && entry.package.name === "stdlib",
    );
    const covers = entries.some((entry) => {
      expect(entry.versions ?? [], `${record.id}: a versions list`).toEqual([]);
      return (entry.ranges ?? []).some((range) => {
        expect(range.type, record.id).toBe("SEMVER");
        return rangeCovers(range.events as Array<Record<string, string>>, version);
      });
    });
    if (covers) ids.push(record.id);
  }
  return ids.sort();
}

describe("the comparator of this test", () => {
  it("orders releases, pre-releases and the beginning of time", () => {
    expect(compareSemver("1.19.8", "1.19.9")).toBeLessThan(0);
    expect(compareSemver("1.19.10", "1.19.9")).toBeGreaterThan(0);
    expect(compareSemver("1.20.0-0", "1.19.8")).toBeGreaterThan(0);
    expect(compareSemver("1.19.0-0", "1.19.0")).toBeLessThan(0);
    expect(compareSemver("1.27.0-0", "1.27.0-rc.3")).toBeLessThan(0);
    expect(compareSemver("0", "0.0.1")).toBeLessThan(0);
    const twoLines: Array<Record<string, string>> = [
      { introduced: "0" },
      { fixed: "1.19.9" },
      { introduced: "1.20.0-0" },
      { fixed: "1.20.4" },
    ];
    expect(
      ["1.19.8", "1.19.9", "1.20.0-rc.1", "1.20.3", "1.20.4"].map((v) => rangeCovers(twoLines, v)),
    ).toEqual([true, false, true, true, false]);
  });
});

describe.skipIf(missingPrograms.length > 0 || !goZip)(
  "Debian 12's Go programs against the Go stdlib advisories",
  () => {
    let work: string;
    let layout: string;
    let report: JsonReport;
    let records: Map<string, OsvRecord>;
    let expected: string[];

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), "layerwatch-go-stdlib-"));
      const status = execFileSync("dpkg-query", ["-s", ...PROGRAMS]).toString();
      const programFile = (dir: string, name: string): LayerFile => ({
        path: `${dir}/${name}`,
        type: "file",
        mode: 0o755,
        content: readFileSync(`/usr/bin/${name}`),
      });
      const image = await buildImage([
        {
          // The packages as dpkg installed them: their binaries are the Debian builds.
          files: [
            { path: "etc/os-release", type: "file", content: Buffer.from('ID=debian\nVERSION_ID="12"\n') },
            { path: "var/lib/dpkg/status", type: "file", content: Buffer.from(status) },
            ...PROGRAMS.map(
              (name): LayerFile => ({
                path: `var/lib/dpkg/info/${name}.list`,
                type: "file",
                content: readFileSync(`/var/lib/dpkg/info/${name}.list`),
              }),
            ),
            ...PROGRAMS.map((name) => programFile("usr/bin", name)),
          ],
          createdBy: "apt-get install docker-registry skopeo umoci",
        },
        // Copies no package owns, one layer each, so each one's findings tell which it was.
        ...PROGRAMS.map((name) => ({
          files: [programFile("usr/local/bin", name)],
          createdBy: `COPY ${name} /usr/local/bin/`,
        })),
      ]);
      layout = join(work, "layout");
      await writeOciLayout(image, layout, { gzip: false });

      const db = join(work, "store.sqlite");
      const imported = await cli(["--db", db, "db", "import", goZip as string]);
      expect(imported.code, imported.stderr).toBe(0);
      const scan = await cli(["--db", db, "scan", `oci:${layout}`, "--format", "json", "--no-cache"]);
      expect(scan.stderr).toBe("");
      expect(scan.code).toBe(0);
      report = JSON.parse(scan.stdout) as JsonReport;

      records = await readOsvZip(goZip as string);
      expected = stdlibAdvisoriesCovering(records, GO_VERSION);
    }, 180_000);

    afterAll(async () => {
      if (work) await rm(work, { recursive: true, force: true });
    });

    /** The GO-* ids among a layer's findings (a finding is named by a CVE alias where it has one). */
    const goIdsOfLayer = (layer: number) =>
      report.findings
        .filter((finding) => finding.layer.index === layer)
        .flatMap((finding) => [finding.id, ...finding.aliases].filter((id) => id.startsWith("GO-")))
        .sort();

    it("reads stdlib v1.19.8 from each copy at /usr/local/bin, in the Go ecosystem", () => {
      const rows = report.packages
        .filter((p) => p.type === "golang")
        .map((p) => [p.location, p.name, p.version, p.ecosystem, p.osOwned, p.layer.index]);
      const debPurl = (name: string) =>
        report.packages.find((p) => p.type === "deb" && p.name === name)?.purl;
      expect(rows.sort()).toEqual(
        [
          ...PROGRAMS.map((name, i) => [
            `usr/local/bin/${name}`,
            "stdlib",
            `v${GO_VERSION}`,
            "Go",
            undefined,
            i + 1,
          ]),
          ...PROGRAMS.map((name) => [
            `usr/bin/${name}`,
            "stdlib",
            `v${GO_VERSION}`,
            undefined,
            debPurl(name),
            0,
          ]),
        ].sort(),
      );
      for (const name of PROGRAMS) expect(debPurl(name)).toMatch(new RegExp(`^pkg:deb/debian/${name}@`));
    });

    it("reports, for each copy, exactly the stdlib advisories whose ranges cover 1.19.8", () => {
      // A sanity floor: go1.19.8 (April 2023) is old, and the Go data has over 100 stdlib records.
      expect(expected.length).toBeGreaterThan(50);
      PROGRAMS.forEach((name, i) => {
        const layer = i + 1;
        expect(goIdsOfLayer(layer), name).toEqual(expected);
        for (const finding of report.findings.filter((f) => f.layer.index === layer)) {
          expect(finding.package.purl, `${name} ${finding.id}`).toBe(`pkg:golang/stdlib@v${GO_VERSION}`);
          expect(finding.installedVersion).toBe(`v${GO_VERSION}`);
          expect(finding.ecosystem).toBe("Go");
        }
      });
    });

    it("agrees with records checked by hand", () => {
      // GO-2023-1752 (CVE-2023-24540, html/template JavaScript whitespace): introduced 0, fixed
      // 1.19.9; introduced 1.20.0-0, fixed 1.20.4. 1.19.8 is the last release before the fix.
      // GO-2023-2102 (CVE-2023-39325, HTTP/2 rapid reset): introduced 0, fixed 1.20.10; 1.21.0-0..1.21.3.
      // GO-2023-1878 (CVE-2023-29406, net/http Host header): fixed 1.19.11 and 1.20.6.
      // GO-2023-1569 (CVE-2022-41725, mime/multipart): fixed 1.19.6, before 1.19.8: not listed.
      // GO-2022-0969 (CVE-2022-27664, HTTP/2 DoS): fixed 1.18.6 and 1.19.1: not listed.
      const events = (id: string) =>
        records
          .get(id)
          ?.affected?.find((a) => a.package?.name === "stdlib")
          ?.ranges?.flatMap((r) => r.events);
      expect(events("GO-2023-1752")).toEqual([
        { introduced: "0" },
        { fixed: "1.19.9" },
        { introduced: "1.20.0-0" },
        { fixed: "1.20.4" },
      ]);
      expect(events("GO-2023-2102")).toEqual([
        { introduced: "0" },
        { fixed: "1.20.10" },
        { introduced: "1.21.0-0" },
        { fixed: "1.21.3" },
      ]);
      expect(expected).toEqual(expect.arrayContaining(["GO-2023-1752", "GO-2023-2102", "GO-2023-1878"]));
      expect(expected).not.toContain("GO-2023-1569");
      expect(expected).not.toContain("GO-2022-0969");

      for (let layer = 1; layer <= PROGRAMS.length; layer++) {
        const byGoId = (id: string) =>
          report.findings.find((f) => f.layer.index === layer && [f.id, ...f.aliases].includes(id));
        // Named by the CVE alias; the fix is the lowest release after 1.19.8 on its line.
        expect(byGoId("GO-2023-1752")).toMatchObject({ id: "CVE-2023-24540", fixedVersion: "1.19.9" });
        expect(byGoId("GO-2023-2102")).toMatchObject({
          id: "CVE-2023-39325",
          aliases: expect.arrayContaining(["GO-2023-2102", "GHSA-4374-p667-p6c8"]),
          fixedVersion: "1.20.10",
        });
        expect(byGoId("GO-2023-1878")).toMatchObject({ id: "CVE-2023-29406", fixedVersion: "1.19.11" });
        expect(byGoId("GO-2023-1569")).toBeUndefined();
      }
    });

    it("matches the dpkg-owned copies at /usr/bin only as their Debian packages", async () => {
      // Nothing in the Go data names skopeo, docker-registry or umoci, and the /usr/bin copies'
      // stdlib has no ecosystem: the base layer has no finding at all.
      expect(report.findings.filter((f) => f.layer.index === 0)).toEqual([]);

      // What the matcher asks the store for, for the base layer's packages: each Debian package by
      // its source package within Debian, never Go's stdlib.
      const { inventory } = await inventoryImage(`oci:${layout}`);
      const base = inventory.packages.filter((p: Package) => p.layer === 0);
      const asked: string[] = [];
      const recording: AdvisorySource = {
        recordsFor: (ecosystem, name) => {
          asked.push(`${ecosystem} ${name}`);
          return [];
        },
      };
      matchPackages(base, recording);
      const sourceOf = (name: string) =>
        // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
        execFileSync("dpkg-query", ["-W", "-f", "${source:Package}", name]).toString().trim();
      expect(asked.sort()).toEqual(PROGRAMS.map((name) => `Debian:12 ${sourceOf(name)}`).sort());
    });
  },
);
