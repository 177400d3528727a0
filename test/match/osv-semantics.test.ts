import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Package } from "../../src/inventory/types.js";
import { type AdvisorySource, type MatchOptions, matchPackages } from "../../src/match/matcher.js";
import { evaluateAffected, evaluateRange } from "../../src/match/ranges.js";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { pypiScheme } from "../../src/match/versions/pypi.js";
import { normalizePackageName } from "../../src/vulndb/ecosystem.js";
import type { OsvRecord } from "../../src/vulndb/osv.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";
import { readOsvZip } from "../helpers/osv-records.js";
import { sharedData } from "../helpers/shared-data.js";

// Every record here is a real one, read from the shared OSV zips (../shared/data/osv).
const zip = (ecosystem: string, file = "all.zip") => sharedData(`osv/${ecosystem}/${file}`);

/** An in-memory advisory source over records, answering as the store does (base ecosystem, normalised name). */
function sourceOf(records: Iterable<OsvRecord>): AdvisorySource {
  const all = [...records];
  return {
    recordsFor: (ecosystem, name) =>
      all.filter((record) =>
        (record.affected ?? []).some(
          (entry) =>
            entry.package !== undefined &&
            entry.package.ecosystem.split(":")[0] === ecosystem.split(":")[0] &&
            normalizePackageName(entry.package.ecosystem, entry.package.name) ===
              normalizePackageName(ecosystem, name),
        ),
      ),
  };
}

function pkg(ecosystem: string, name: string, version: string, extra: Partial<Package> = {}): Package {
  return {
    name,
    version,
    type: "x",
    purl: `pkg:x/${name}@${version}`,
    ecosystem,
    location: "x",
    layer: 0,
    foundBy: "test",
    ...extra,
  };
}

/** The findings for one package, as (id, fixed, fixState, matched records). */
function findingsFor(records: Iterable<OsvRecord>, pkgs: Package[], options: MatchOptions = {}) {
  return matchPackages(pkgs, sourceOf(records), options).findings.map((f) => ({
    package: f.packageIndex,
    id: f.id,
    fixed: f.fixedVersion,
    fixState: f.fixState,
    records: f.matchedRecords,
  }));
}

describe("OSV range semantics on real records", () => {
  const pypiZip = zip("PyPI");
  const cratesZip = zip("crates.io");
  let pypi = new Map<string, OsvRecord>();
  let crates = new Map<string, OsvRecord>();
  beforeAll(async () => {
    if (pypiZip) pypi = await readOsvZip(pypiZip);
    if (cratesZip)
      crates = await readOsvZip(cratesZip, ["RUSTSEC-2017-0002", "RUSTSEC-2018-0004", "RUSTSEC-2019-0031"]);
  }, 60_000);

  it.skipIf(!pypiZip)("sorts a range's events by the ecosystem's order, not the file's", () => {
    // PYSEC-2015-22 lists django's branches newest first: [1.8, 1.8.4), [1.7, 1.7.10), [1.4, 1.4.22).
    // Read in file order, 1.7.5 would be switched off again by "fixed 1.4.22".
    const range = pypi.get("PYSEC-2015-22")?.affected?.[0]?.ranges?.[0];
    expect(range?.events).toEqual([
      { introduced: "1.8" },
      { fixed: "1.8.4" },
      { introduced: "1.7" },
      { fixed: "1.7.10" },
      { introduced: "1.4" },
      { fixed: "1.4.22" },
    ]);
    const at = (version: string) =>
      evaluateRange(version, range ?? { type: "ECOSYSTEM", events: [] }, pypiScheme);
    expect(at("1.7.5")).toEqual({ affected: true, fixed: "1.7.10" });
    expect(at("1.4.21")).toEqual({ affected: true, fixed: "1.4.22" });
    expect(at("1.8")).toEqual({ affected: true, fixed: "1.8.4" });
    expect(at("1.3").affected).toBe(false);
    expect(at("1.5").affected).toBe(false);
    expect(at("1.7.10").affected).toBe(false);
  });

  it.skipIf(!pypiZip)("includes last_affected itself, and finds no fix in a last_affected stretch", () => {
    // PYSEC-2017-152: instack, introduced 0, last_affected 7.2.0, 6.1.0 and 5.3.0 (out of order):
    // in version order the range ends just above 5.3.0.
    const range = pypi.get("PYSEC-2017-152")?.affected?.[0]?.ranges?.[0];
    expect(range?.events).toEqual([
      { introduced: "0" },
      { last_affected: "7.2.0" },
      { last_affected: "6.1.0" },
      { last_affected: "5.3.0" },
    ]);
    const at = (version: string) =>
      evaluateRange(version, range ?? { type: "ECOSYSTEM", events: [] }, pypiScheme);
    expect(at("5.3.0")).toEqual({ affected: true });
    expect(at("1.0.0")).toEqual({ affected: true });
    expect(at("5.3.1").affected).toBe(false);
    expect(at("7.0.0").affected).toBe(false);
  });

  it.skipIf(!pypiZip)("joins two stretches where a fix and an introduction share a version", () => {
    // PYSEC-2024-258 (scrapy): [0, 2.0.0) then [2.0.0, 2.11.2), and its versions list has 2.0.0.
    const entry = pypi.get("PYSEC-2024-258")?.affected?.[0];
    const ecosystem = entry?.ranges?.find((range) => range.type === "ECOSYSTEM");
    expect(ecosystem?.events).toEqual([
      { introduced: "0" },
      { fixed: "2.0.0" },
      { introduced: "2.0.0" },
      { fixed: "2.11.2" },
    ]);
    expect(entry?.versions).toContain("2.0.0");
    expect(evaluateRange("2.0.0", ecosystem ?? { type: "ECOSYSTEM", events: [] }, pypiScheme)).toEqual({
      affected: true,
      fixed: "2.11.2",
    });
  });

  it.skipIf(!pypiZip)("never applies a GIT range to a package version", () => {
    // The same record's GIT range opens at "0" and is fixed by a commit; read as versions it would
    // cover every release. scrapy 2.11.2 is the fix of its ECOSYSTEM range.
    const entry = pypi.get("PYSEC-2024-258")?.affected?.[0];
    const git = entry?.ranges?.find((range) => range.type === "GIT");
    expect(git?.events[0]).toEqual({ introduced: "0" });
    expect(evaluateRange("2.11.2", git ?? { type: "GIT", events: [] }, pypiScheme).affected).toBe(false);
    expect(evaluateAffected("2.11.2", entry ?? {}, pypiScheme).affected).toBe(false);
    expect(evaluateAffected("2.11.1", entry ?? {}, pypiScheme)).toEqual({ affected: true, fixed: "2.11.2" });
  });

  it.skipIf(!pypiZip)(
    "puts every version PyPI advisories list inside their ranges, but 7 the data gets wrong",
    () => {
      // PyPA's records enumerate the affected releases in `versions` beside ECOSYSTEM ranges: a
      // check of the range evaluation over half a million (record, version) pairs. The only
      // disagreements are the records' own: django's PYSEC-2023-61 lists 3.2a1..3.2rc1 and
      // 4.2a1..4.2rc1, pre-releases that PEP 440 orders below the "introduced: 3.2" and "4.2" it
      // gives; wagtail's PYSEC-2021-114 lists 2.11.6 which its own "fixed: 2.11.6" excludes.
      const outside: string[] = [];
      let checked = 0;
      for (const record of pypi.values()) {
        if (record.withdrawn) continue;
        for (const entry of record.affected ?? []) {
          if (!entry.versions?.length || !(entry.ranges ?? []).some((range) => range.type === "ECOSYSTEM"))
            continue;
          const rangesOnly = { ...entry, versions: [] };
          for (const version of entry.versions) {
            if (!pypiScheme.isValid(version)) continue;
            checked++;
            if (!evaluateAffected(version, rangesOnly, pypiScheme).affected)
              outside.push(`${record.id} ${version}`);
          }
        }
      }
      expect(checked).toBeGreaterThan(500_000);
      expect(outside.sort()).toEqual([
        "PYSEC-2021-114 2.11.6",
        "PYSEC-2023-61 3.2a1",
        "PYSEC-2023-61 3.2b1",
        "PYSEC-2023-61 3.2rc1",
        "PYSEC-2023-61 4.2a1",
        "PYSEC-2023-61 4.2b1",
        "PYSEC-2023-61 4.2rc1",
      ]);
      // The versions list still counts: the record matches a version it lists.
      const django = pypi.get("PYSEC-2023-61")?.affected?.[0] ?? {};
      expect(evaluateAffected("3.2rc1", django, pypiScheme).affected).toBe(true);
    },
  );

  it.skipIf(!cratesZip)("opens crates.io's ranges at 0.0.0-0, several pairs in one range", () => {
    // RUSTSEC-2017-0002: hyper [0.0.0-0, 0.9.18) and [0.10.0, 0.10.2).
    const records = crates.values();
    expect(
      findingsFor(records, [pkg("crates.io", "hyper", "0.1.0"), pkg("crates.io", "hyper", "0.9.18")]),
    ).toEqual([
      {
        package: 0,
        id: "CVE-2017-18587",
        fixed: "0.9.18",
        fixState: "fixed",
        records: ["RUSTSEC-2017-0002"],
      },
    ]);
    expect(findingsFor(crates.values(), [pkg("crates.io", "hyper", "0.10.1")])[0]?.fixed).toBe("0.10.2");
    // RUSTSEC-2018-0004 opens its second stretch at the pre-release 0.4.0-0: claxon 0.4.0-alpha is in it.
    expect(findingsFor(crates.values(), [pkg("crates.io", "claxon", "0.4.0-alpha")])[0]?.fixed).toBe("0.4.1");
    expect(findingsFor(crates.values(), [pkg("crates.io", "claxon", "0.3.5")])).toEqual([]);
  });

  it.skipIf(!cratesZip || !pypiZip)("never matches a withdrawn record", () => {
    // RUSTSEC-2019-0031 (spin, withdrawn 2020-10-08) and PYSEC-2006-10 (plone, withdrawn
    // 2026-07-09) would otherwise match these versions.
    const spin = crates.get("RUSTSEC-2019-0031") as OsvRecord;
    const plone = pypi.get("PYSEC-2006-10") as OsvRecord;
    expect(spin.withdrawn).toBe("2020-10-08T12:00:00Z");
    expect(plone.withdrawn).toBe("2026-07-09T15:54:00Z");
    const scheme = versionSchemeFor("PyPI");
    expect(scheme && evaluateAffected("2.5", plone.affected?.[0] ?? {}, scheme).affected).toBe(true);
    expect(
      findingsFor([spin, plone], [pkg("crates.io", "spin", "0.0.0-0"), pkg("PyPI", "plone", "2.5")]),
    ).toEqual([]);
  });
});

describe("one advisory naming one package in several affected entries", () => {
  const npmZip = zip("npm");
  const mavenZip = zip("Maven");
  const almaZip = zip("AlmaLinux");
  const records = new Map<string, OsvRecord>();
  beforeAll(async () => {
    if (npmZip) for (const [id, r] of await readOsvZip(npmZip, ["GHSA-9wv6-86v2-598j"])) records.set(id, r);
    if (mavenZip)
      for (const [id, r] of await readOsvZip(mavenZip, ["GHSA-h4h5-3hr4-j3g2"])) records.set(id, r);
    if (almaZip) for (const [id, r] of await readOsvZip(almaZip, ["ALBA-2019:0973"])) records.set(id, r);
  });

  it.skipIf(!npmZip)("gives one finding with the fix of the branch the version is on", () => {
    // GHSA-9wv6-86v2-598j lists path-to-regexp five times, branches out of order.
    const found = findingsFor(records.values(), [
      pkg("npm", "path-to-regexp", "0.1.7"),
      pkg("npm", "path-to-regexp", "6.2.1"),
      pkg("npm", "path-to-regexp", "3.3.0"),
    ]);
    expect(found).toEqual([
      {
        package: 0,
        id: "CVE-2024-45296",
        fixed: "0.1.10",
        fixState: "fixed",
        records: ["GHSA-9wv6-86v2-598j"],
      },
      {
        package: 1,
        id: "CVE-2024-45296",
        fixed: "6.3.0",
        fixState: "fixed",
        records: ["GHSA-9wv6-86v2-598j"],
      },
    ]);
  });

  it.skipIf(!mavenZip)("does so for RubyGems' pre-release-opened branches too", () => {
    // GHSA-h4h5-3hr4-j3g2: google-protobuf [0, 3.16.3), [3.17.0.rc.1, 3.19.6), [3.20.0.rc.1, 3.20.3), ...
    const found = findingsFor(records.values(), [
      pkg("RubyGems", "google-protobuf", "3.16.0"),
      pkg("RubyGems", "google-protobuf", "3.20.1"),
      pkg("RubyGems", "google-protobuf", "3.20.3"),
    ]);
    expect(found.map((f) => [f.package, f.fixed])).toEqual([
      [0, "3.16.3"],
      [1, "3.20.3"],
    ]);
  });

  it.skipIf(!almaZip)(
    "takes the lowest fix that no entry still calls affected (AlmaLinux module streams)",
    () => {
      // ALBA-2019:0973 fixes oci-systemd-hook in three module streams (el8.3.0, el8.4.0, el8.5.0
      // builds). rpm orders the older streams' builds below the newer's, so a build older than all
      // three is fixed only by the el8.5.0 one: the others are still below another stream's fix.
      const found = findingsFor(records.values(), [
        pkg("AlmaLinux:8", "oci-systemd-hook", "0.1.15-1.git2d0b8a3.module_el8.4.0+2496+12421f43", {
          type: "rpm",
          epoch: 1,
          sourceName: "oci-systemd-hook",
          sourceVersion: "1:0.1.15-1.git2d0b8a3.module_el8.4.0+2496+12421f43",
        }),
      ]);
      expect(found).toEqual([
        {
          package: 0,
          id: "ALBA-2019:0973",
          fixed: "1:0.1.15-2.git2d0b8a3.module_el8.5.0+119+9a9ec082",
          fixState: "fixed",
          records: ["ALBA-2019:0973"],
        },
      ]);
    },
  );
});

describe("package names as each ecosystem compares them", () => {
  const paths = { PyPI: zip("PyPI"), Maven: zip("Maven"), npm: zip("npm"), Go: zip("Go") };
  const absent = Object.values(paths).some((p) => p === undefined);
  let work = "";
  let store: AdvisoryStore | undefined;
  beforeAll(async () => {
    if (absent) return;
    work = await mkdtemp(join(tmpdir(), "layerwatch-names-"));
    store = await AdvisoryStore.open(join(work, "db.sqlite"), { create: true });
    // Only the records named here: the store indexes them by normalised name, as a real import does.
    const ids = {
      PyPI: ["PYSEC-2020-341"],
      Maven: ["GHSA-77rm-9x9h-xj3g", "GHSA-2h3j-m7gr-25xj"],
      npm: ["GHSA-8hc4-vh64-cxmj", "GHSA-wf5p-g6vw-rhxx"],
      Go: ["GO-2021-0237"],
    };
    for (const [ecosystem, wanted] of Object.entries(ids))
      store.putRecords([
        ...(await readOsvZip(paths[ecosystem as keyof typeof paths] as string, wanted)).values(),
      ]);
  });
  afterAll(async () => {
    store?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });
  const ids = (...pkgs: Package[]) =>
    matchPackages(pkgs, store as AdvisoryStore)
      .findings.map((f) => `${f.packageIndex} ${f.matchedRecords.join(",")}`)
      .sort();

  it.skipIf(absent)("PyPI: PEP 503", () => {
    // PYSEC-2020-341 names "jw.util" (fixed 2.3); pip treats JW_Util and jw-util as the same project.
    expect(
      ids(pkg("PyPI", "JW_Util", "2.2"), pkg("PyPI", "jw-util", "2.2"), pkg("PyPI", "jw_util", "2.3")),
    ).toEqual(["0 PYSEC-2020-341", "1 PYSEC-2020-341"]);
  });

  it.skipIf(absent)("NuGet and Packagist: without regard to case", () => {
    // GHSA-77rm-9x9h-xj3g names NuGet's Google.Protobuf and Packagist's google/protobuf (< 3.15.0).
    expect(
      ids(pkg("NuGet", "google.protobuf", "3.14.0"), pkg("Packagist", "Google/Protobuf", "3.14.0")),
    ).toEqual(["0 GHSA-77rm-9x9h-xj3g", "1 GHSA-77rm-9x9h-xj3g"]);
  });

  it.skipIf(absent)("npm: exactly, so GitHub's 'Axios' record misses axios, as on osv.dev", () => {
    // GHSA-8hc4-vh64-cxmj names "Axios" (1.3.2 to 1.7.4); GHSA-wf5p-g6vw-rhxx names "axios"
    // (0.8.1 to 1.6.0). Legacy mixed-case npm names are separate packages.
    expect(ids(pkg("npm", "axios", "1.5.0"), pkg("npm", "Axios", "1.5.0"))).toEqual([
      "0 GHSA-wf5p-g6vw-rhxx",
      "1 GHSA-8hc4-vh64-cxmj",
    ]);
  });

  it.skipIf(absent)("Maven group:artifact and Go module paths: exactly", () => {
    // GHSA-2h3j-m7gr-25xj: org.apache.pdfbox:pdfbox [2.0.0, 2.0.23); GO-2021-0237:
    // github.com/AndrewBurian/powermux, fixed 1.1.1.
    expect(
      ids(
        pkg("Maven", "org.apache.pdfbox:pdfbox", "2.0.22"),
        pkg("Maven", "org.apache.pdfbox:PDFBox", "2.0.22"),
        pkg("Go", "github.com/AndrewBurian/powermux", "v1.1.0"),
        pkg("Go", "github.com/andrewburian/powermux", "v1.1.0"),
      ),
    ).toEqual(["0 GHSA-2h3j-m7gr-25xj", "2 GO-2021-0237"]);
  });
});

describe("OS packages: source packages within their release", () => {
  const debianZip = zip("Debian");
  const ubuntuZip = zip("Ubuntu");
  const almaZip = zip("AlmaLinux");
  const records = new Map<string, OsvRecord>();
  beforeAll(async () => {
    if (debianZip) for (const [id, r] of await readOsvZip(debianZip)) records.set(id, r);
    if (ubuntuZip) for (const [id, r] of await readOsvZip(ubuntuZip)) records.set(id, r);
    if (almaZip) for (const [id, r] of await readOsvZip(almaZip, ["ALSA-2022:1065"])) records.set(id, r);
  });
  const deb = (ecosystem: string, name: string, version: string, source: string, sourceVersion = version) =>
    pkg(ecosystem, name, version, { type: "deb", sourceName: source, sourceVersion });

  it.skipIf(!debianZip)(
    "Debian: by source package, in the record's major release and its point releases",
    () => {
      // DSA-3029-1: nginx in Debian:7, fixed 1.2.1-2.2+wheezy3, alias CVE-2014-3616.
      const nginxCommon = (ecosystem: string) => deb(ecosystem, "nginx-common", "1.2.1-2.2+wheezy2", "nginx");
      expect(
        findingsFor(records.values(), [
          nginxCommon("Debian:7"),
          nginxCommon("Debian:7.11"),
          nginxCommon("Debian:8"),
        ]),
      ).toEqual([
        {
          package: 0,
          id: "CVE-2014-3616",
          fixed: "1.2.1-2.2+wheezy3",
          fixState: "fixed",
          records: ["DSA-3029-1"],
        },
        {
          package: 1,
          id: "CVE-2014-3616",
          fixed: "1.2.1-2.2+wheezy3",
          fixState: "fixed",
          records: ["DSA-3029-1"],
        },
      ]);
      // The binary name is not what Debian's advisories name.
      expect(
        findingsFor(records.values(), [deb("Debian:7", "nginx", "1.2.1-2.2+wheezy2", "nginx-src")]),
      ).toEqual([]);
    },
  );

  it.skipIf(!debianZip)(
    "Debian: no fix and urgency 'unimportant' is will-not-fix; 'low' is not-fixed",
    () => {
      const found = findingsFor(records.values(), [
        deb("Debian:10", "libodbc1", "2.3.6-0.1", "unixodbc"),
        deb("Debian:11", "chromium", "120.0.6099.224-1~deb11u1", "chromium"),
        deb("Debian:12", "chromium", "120.0.6099.224-1~deb12u1", "chromium"),
      ]);
      expect(found).toEqual([
        {
          package: 0,
          id: "CVE-2024-1013",
          fixed: undefined,
          fixState: "will-not-fix",
          records: ["CVE-2024-1013"],
        },
        {
          package: 1,
          id: "CVE-2024-3847",
          fixed: undefined,
          fixState: "not-fixed",
          records: ["CVE-2024-3847"],
        },
      ]);
    },
  );

  it.skipIf(!ubuntuZip)("Ubuntu: ':LTS' or not, the same release; Pro records only when asked", () => {
    // UBUNTU-CVE-2022-24823 lists netty for 22.04 only as Ubuntu:Pro:22.04:LTS (fixed in ESM),
    // and for 25.10 plainly (no fix).
    const netty = (ecosystem: string) => deb(ecosystem, "libnetty-java", "1:4.1.48-4+deb11u1", "netty");
    const packages = [netty("Ubuntu:22.04:LTS"), netty("Ubuntu:22.04"), netty("Ubuntu:25.10")];
    expect(findingsFor(records.values(), packages)).toEqual([
      {
        package: 2,
        id: "UBUNTU-CVE-2022-24823",
        fixed: undefined,
        fixState: "not-fixed",
        records: ["UBUNTU-CVE-2022-24823"],
      },
    ]);
    expect(findingsFor(records.values(), packages, { ubuntuPro: true })).toEqual([
      {
        package: 0,
        id: "UBUNTU-CVE-2022-24823",
        fixed: "1:4.1.48-4+deb11u2ubuntu0.1~esm1",
        fixState: "fixed",
        records: ["UBUNTU-CVE-2022-24823"],
      },
      {
        package: 1,
        id: "UBUNTU-CVE-2022-24823",
        fixed: "1:4.1.48-4+deb11u2ubuntu0.1~esm1",
        fixState: "fixed",
        records: ["UBUNTU-CVE-2022-24823"],
      },
      {
        package: 2,
        id: "UBUNTU-CVE-2022-24823",
        fixed: undefined,
        fixState: "not-fixed",
        records: ["UBUNTU-CVE-2022-24823"],
      },
    ]);
  });

  it.skipIf(!ubuntuZip)(
    "Ubuntu: 'related' records stay apart; 'negligible' without a fix is will-not-fix",
    () => {
      // USN-5614-1 names UBUNTU-CVE-2021-3782 as related, not as an alias: two findings for wayland.
      // UBUNTU-CVE-2016-20013 (glibc, negligible) has no fix for 22.04.
      const found = findingsFor(records.values(), [
        deb("Ubuntu:22.04:LTS", "libwayland-client0", "1.20.0-1", "wayland"),
        deb("Ubuntu:22.04:LTS", "libc6", "2.35-0ubuntu3.1", "glibc"),
      ]);
      expect(found).toEqual([
        {
          package: 0,
          id: "UBUNTU-CVE-2021-3782",
          fixed: "1.20.0-1ubuntu0.1",
          fixState: "fixed",
          records: ["UBUNTU-CVE-2021-3782"],
        },
        {
          package: 0,
          id: "USN-5614-1",
          fixed: "1.20.0-1ubuntu0.1",
          fixState: "fixed",
          records: ["USN-5614-1"],
        },
        {
          package: 1,
          id: "UBUNTU-CVE-2016-20013",
          fixed: undefined,
          fixState: "will-not-fix",
          records: ["UBUNTU-CVE-2016-20013"],
        },
      ]);
    },
  );

  it.skipIf(!ubuntuZip)("Ubuntu: a withdrawn record never matches", () => {
    // UBUNTU-CVE-2013-2208 (tpp, 14.04, fixed 1.3.1-3) is withdrawn.
    expect(records.get("UBUNTU-CVE-2013-2208")?.withdrawn).toBeDefined();
    expect(findingsFor(records.values(), [deb("Ubuntu:14.04:LTS", "tpp", "1.3.1-2", "tpp")])).toEqual([]);
  });

  it.skipIf(!almaZip)(
    "rpm: by binary package name and its epoch:version-release, as AlmaLinux names them",
    () => {
      // ALSA-2022:1065 names openssl's binary packages, openssl-libs among them, fixed in 1:1.1.1k-6.el8_5.
      const libs = (version: string) =>
        pkg("AlmaLinux:8", "openssl-libs", version, {
          type: "rpm",
          epoch: 1,
          sourceName: "openssl",
          sourceVersion: `1:${version}`,
        });
      const found = findingsFor(records.values(), [libs("1.1.1k-5.el8_5"), libs("1.1.1k-6.el8_5")]);
      expect(found).toEqual([
        {
          package: 0,
          id: "ALSA-2022:1065",
          fixed: "1:1.1.1k-6.el8_5",
          fixState: "fixed",
          records: ["ALSA-2022:1065"],
        },
      ]);
    },
  );

  it("Alpine: by origin (the facts of a real secdb entry, in the shape osv.dev publishes)", async () => {
    // alpine-secdb v3.10 main: musl's secfixes list CVE-2019-14697 as fixed in 1.1.22-r3.
    const secdbPath = sharedData("raw/alpine-secdb/v3.10/main.json");
    if (!secdbPath) return;
    const secdb = JSON.parse(await readFile(secdbPath, "utf8")) as {
      packages: Array<{ pkg: { name: string; secfixes: Record<string, string[]> } }>;
    };
    const musl = secdb.packages.find((p) => p.pkg.name === "musl")?.pkg;
    const fixed = Object.entries(musl?.secfixes ?? {}).find(([, ids]) => ids.includes("CVE-2019-14697"))?.[0];
    expect(fixed).toBe("1.1.22-r3");
    const record: OsvRecord = {
      id: "ALPINE-CVE-2019-14697",
      modified: "2024-01-01T00:00:00Z",
      upstream: ["CVE-2019-14697"],
      affected: [
        {
          package: { ecosystem: "Alpine:v3.10", name: "musl" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: fixed as string }] }],
        },
      ],
    };
    const apk = (name: string, version: string, ecosystem = "Alpine:v3.10") =>
      pkg(ecosystem, name, version, { type: "apk", sourceName: "musl", sourceVersion: version });
    expect(
      findingsFor(
        [record],
        [
          apk("musl-utils", "1.1.22-r2"),
          apk("musl-utils", "1.1.22-r3"),
          apk("musl", "1.1.22-r2", "Alpine:v3.11"),
        ],
      ),
    ).toEqual([
      {
        package: 0,
        id: "ALPINE-CVE-2019-14697",
        fixed: "1.1.22-r3",
        fixState: "fixed",
        records: ["ALPINE-CVE-2019-14697"],
      },
    ]);
  });
});

describe("one finding per (package, vulnerability): alias groups", () => {
  const goZip = zip("Go");
  const ghsaZip = zip("Go", "ghsa-fixtures.zip");
  let records: OsvRecord[] = [];
  beforeAll(async () => {
    if (!goZip || !ghsaZip) return;
    records = [
      ...(await readOsvZip(goZip, ["GO-2022-0586", "GO-2023-1574", "GO-2022-1008", "GO-2022-0389"])).values(),
      ...(
        await readOsvZip(ghsaZip, ["GHSA-28r2-q6m8-9hpx", "GHSA-hmfx-3pcx-653p", "GHSA-6rg3-8h8x-5xfv"])
      ).values(),
    ];
  });
  const merged = (...pkgs: Package[]) =>
    matchPackages(pkgs, sourceOf(records)).findings.map((f) => ({
      package: f.packageIndex,
      id: f.id,
      aliases: f.aliases,
      records: f.matchedRecords,
      severity: f.severity,
      fixed: f.fixedVersion,
    }));

  it.skipIf(!goZip || !ghsaZip)(
    "merges GO and GHSA records through the ids they share, named by a CVE",
    () => {
      // GO-2022-0586 (go-getter) aliases four CVEs and four GHSAs; GHSA-28r2-q6m8-9hpx aliases only
      // CVE-2022-30323, one of them: the two meet through it. GitHub's rating is the group's.
      expect(merged(pkg("Go", "github.com/hashicorp/go-getter", "v1.5.0"))).toEqual([
        {
          package: 0,
          id: "CVE-2022-26945",
          aliases: [
            "CVE-2022-30321",
            "CVE-2022-30322",
            "CVE-2022-30323",
            "GHSA-28r2-q6m8-9hpx",
            "GHSA-cjr4-fv6c-f3mv",
            "GHSA-fcgg-rvwg-jv58",
            "GHSA-x24g-9w7v-vprh",
            "GO-2022-0586",
          ],
          records: ["GHSA-28r2-q6m8-9hpx", "GO-2022-0586"],
          severity: { level: "high", source: "ghsa" },
          fixed: "1.6.1",
        },
      ]);
    },
  );

  it.skipIf(!goZip || !ghsaZip)(
    "does not merge through 'related', and names a CVE-less group by its first id",
    () => {
      // GO-2023-1574 and GHSA-hmfx-3pcx-653p alias each other (CVE-2023-25173, containerd); the
      // GO record lists GO-2022-1008's ids only as related. GO-2022-0389 and GHSA-6rg3-8h8x-5xfv
      // (wings) have no CVE.
      const found = merged(
        pkg("Go", "github.com/containerd/containerd", "v1.6.0"),
        pkg("Go", "github.com/pterodactyl/wings", "v1.2.0"),
      );
      expect(found.map((f) => [f.package, f.id, f.records])).toEqual([
        [0, "CVE-2023-25173", ["GHSA-hmfx-3pcx-653p", "GO-2023-1574"]],
        [1, "GHSA-6rg3-8h8x-5xfv", ["GHSA-6rg3-8h8x-5xfv", "GO-2022-0389"]],
      ]);
    },
  );
});
