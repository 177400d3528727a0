import { readFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { cvss2BaseScore, cvss3BaseScore } from "../../src/match/cvss.js";
import { cvss4BaseScore, cvss4BaseVector } from "../../src/match/cvss4.js";
import { cvssSeverity, severityOf } from "../../src/match/severity.js";
import type { OsvRecord } from "../../src/vulndb/osv.js";
import { readOsvZip } from "../helpers/osv-records.js";
import { sharedData } from "../helpers/shared-data.js";

describe("CVSS v3 base scores", () => {
  it.each([
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
    ["CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10],
    ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8],
    ["CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", 7.4],
    ["CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0],
  ])("%s scores %d", (vector, score) => {
    expect(cvss3BaseScore(vector)).toBe(score);
  });

  it("refuses vectors it cannot score", () => {
    expect(cvss3BaseScore("CVSS:3.1/AV:N/AC:L")).toBeUndefined();
    expect(cvss3BaseScore("AV:N/AC:L/Au:N/C:P/I:P/A:P")).toBeUndefined();
    expect(cvss3BaseScore("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")).toBeUndefined();
  });
});

describe("severity of an advisory", () => {
  const base = { id: "X", modified: "2024-01-01T00:00:00Z" };
  it("prefers the distribution's urgency for OS packages", () => {
    const tar = { ecosystem: "Debian:12", name: "tar" };
    expect(severityOf(base, { package: tar, ecosystem_specific: { urgency: "unimportant" } })).toEqual({
      level: "low",
      source: "debian",
    });
  });
  it("uses GitHub's rating, then the CVSS vector", () => {
    const ghsa = { ...base, id: "GHSA-xxxx-xxxx-xxxx" };
    expect(severityOf({ ...ghsa, database_specific: { severity: "MODERATE" } }, {})).toEqual({
      level: "medium",
      source: "ghsa",
    });
    expect(
      severityOf(
        { ...base, severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }] },
        {},
      ),
    ).toEqual({
      level: "critical",
      source: "cvss_v3",
      score: 9.8,
      vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    });
  });
  it("says unknown when nothing rates it", () => {
    expect(severityOf(base, {})).toEqual({ level: "unknown", source: "none" });
  });
});

describe("CVSS v2 base scores", () => {
  // NVD's scores for these vectors (CVE-2014-6271's 10.0, the classic 7.5 and 4.3).
  it.each([
    ["AV:N/AC:L/Au:N/C:C/I:C/A:C", 10],
    ["AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5],
    ["(AV:N/AC:L/Au:N/C:P/I:P/A:P)", 7.5],
    ["AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3],
    ["AV:L/AC:L/Au:N/C:C/I:C/A:C", 7.2],
    ["AV:N/AC:L/Au:N/C:N/I:N/A:N", 0],
  ])("%s scores %d", (vector, score) => {
    expect(cvss2BaseScore(vector)).toBe(score);
  });

  it("refuses vectors it cannot score", () => {
    expect(cvss2BaseScore("AV:N/AC:L/Au:N/C:P/I:P")).toBeUndefined();
    expect(cvss2BaseScore("AV:N/AC:L/Au:N/C:P/I:P/A:X")).toBeUndefined();
    expect(cvss2BaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")).toBeUndefined();
  });
});

describe("CVSS v4.0 base scores", () => {
  it("reduces a vector to its base metrics, and refuses one without all of them", () => {
    expect(
      cvss4BaseVector(
        "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N/E:X/CR:X/IR:X/AR:X/MAV:X/S:X/AU:X/U:X",
      ),
    ).toBe("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N");
    expect(cvss4BaseVector("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N")).toBeUndefined();
    expect(
      cvss4BaseVector("CVSS:4.0/AV:X/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
    ).toBeUndefined();
    expect(
      cvss4BaseVector("CVSS:4.0/AV:N/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
    ).toBeUndefined();
    expect(cvss4BaseVector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")).toBeUndefined();
  });

  // Scores from FIRST's v4.0 calculator (first.org/cvss/calculator/4-0), as published beside
  // each vector in other projects' test suites; threat metrics do not change the base score.
  it.each([
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3],
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P", 9.3],
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10],
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N", 6.9],
    ["CVSS:4.0/AV:A/AC:H/AT:N/PR:L/UI:P/VC:L/VI:H/VA:L/SC:N/SI:N/SA:N", 4.4],
    ["CVSS:4.0/AV:A/AC:H/AT:P/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:H/SA:H", 5.8],
    ["CVSS:4.0/AV:L/AC:H/AT:P/PR:H/UI:A/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N", 1],
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:N/VI:L/VA:L/SC:H/SI:L/SA:L", 6.4],
  ])("%s scores %d", (vector, score) => {
    expect(cvss4BaseScore(vector)).toBe(score);
  });

  const nvdSlice = sharedData("nvd/cves-2.0-fixture-slice.json");
  it.skipIf(!nvdSlice)("agrees with NVD's score of a real v4.0 vector", async () => {
    const page = JSON.parse(await readFile(nvdSlice as string, "utf8")) as {
      vulnerabilities: Array<{
        cve: {
          id: string;
          metrics?: { cvssMetricV40?: Array<{ cvssData: { vectorString: string; baseScore: number } }> };
        };
      }>;
    };
    const scored = page.vulnerabilities.flatMap((v) =>
      (v.cve.metrics?.cvssMetricV40 ?? []).map((m) => [v.cve.id, m.cvssData] as const),
    );
    expect(scored.map(([id]) => id)).toEqual(["CVE-2025-4565"]);
    for (const [, data] of scored) expect(cvss4BaseScore(data.vectorString)).toBe(data.baseScore);
  });
});

/** The severity of real records, each read from the shared OSV zips, for its first matching entry. */
describe("severity of real advisories, by where each vendor keeps it", () => {
  const zips = {
    Debian: sharedData("osv/Debian/all.zip"),
    Ubuntu: sharedData("osv/Ubuntu/all.zip"),
    AlmaLinux: sharedData("osv/AlmaLinux/all.zip"),
    Bitnami: sharedData("osv/Bitnami/all.zip"),
    npm: sharedData("osv/npm/all.zip"),
    Maven: sharedData("osv/Maven/all.zip"),
    PyPI: sharedData("osv/PyPI/all.zip"),
    Hackage: sharedData("osv/Hackage/all.zip"),
    Go: sharedData("osv/Go/all.zip"),
  };
  const wanted: Record<keyof typeof zips, string[]> = {
    Debian: ["CVE-2024-1013", "CVE-2024-3847"],
    Ubuntu: ["UBUNTU-CVE-2016-20013", "UBUNTU-CVE-2021-3782", "USN-5614-1"],
    AlmaLinux: ["ALSA-2022:1065"],
    Bitnami: ["BIT-activemq-2021-21341"],
    npm: ["GHSA-pxg6-pf52-xh8x"],
    Maven: ["GHSA-86jx-wr74-xr74"],
    PyPI: ["PYSEC-2020-342"],
    Hackage: ["HSEC-2023-0003"],
    Go: ["GO-2022-0586"],
  };
  const records = new Map<string, OsvRecord>();
  const absent = Object.values(zips).some((path) => path === undefined);
  beforeAll(async () => {
    if (absent) return;
    for (const [ecosystem, ids] of Object.entries(wanted)) {
      const path = zips[ecosystem as keyof typeof zips] as string;
      for (const [id, record] of await readOsvZip(path, ids)) records.set(id, record);
    }
  });
  const rate = (id: string, entry = 0) => {
    const record = records.get(id) as OsvRecord;
    return severityOf(record, record.affected?.[entry] ?? {});
  };

  it.skipIf(absent)("Debian: the urgency of the affected entry", () => {
    // unixodbc's CVE-2024-1013 is "unimportant", chromium's CVE-2024-3847 "low".
    expect(rate("CVE-2024-1013")).toEqual({ level: "low", source: "debian" });
    expect(rate("CVE-2024-3847")).toEqual({ level: "low", source: "debian" });
  });

  it.skipIf(absent)("Ubuntu: the priority, over the CVSS vector beside it", () => {
    // CVE-2016-20013 carries CVSS 3.1 AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H (7.5, high), but
    // Ubuntu rates it negligible.
    expect(cvssSeverity(records.get("UBUNTU-CVE-2016-20013") as OsvRecord, {})?.score).toBe(7.5);
    expect(rate("UBUNTU-CVE-2016-20013")).toEqual({ level: "low", source: "ubuntu" });
    expect(rate("UBUNTU-CVE-2021-3782", 3)).toEqual({ level: "medium", source: "ubuntu" });
    // A USN rates nothing itself; its CVE's priority is in the entry's cves_map.
    expect(records.get("USN-5614-1")?.severity).toBeUndefined();
    expect(rate("USN-5614-1")).toEqual({ level: "medium", source: "ubuntu" });
  });

  it.skipIf(absent)("AlmaLinux: Red Hat's rating, the summary's first word", () => {
    expect(records.get("ALSA-2022:1065")?.summary).toBe("Important: openssl security update");
    expect(rate("ALSA-2022:1065")).toEqual({ level: "high", source: "almalinux" });
  });

  it.skipIf(absent)("Bitnami and GitHub: database_specific.severity", () => {
    expect(rate("BIT-activemq-2021-21341")).toEqual({ level: "high", source: "bitnami" });
    // cookie's GHSA-pxg6-pf52-xh8x is rated LOW by GitHub.
    expect(rate("GHSA-pxg6-pf52-xh8x")).toEqual({ level: "low", source: "ghsa" });
    // GHSA-86jx-wr74-xr74 has v3 and v4 vectors; GitHub's CRITICAL wins over both.
    expect(rate("GHSA-86jx-wr74-xr74")).toEqual({ level: "critical", source: "ghsa" });
  });

  it.skipIf(absent)("a computed score prefers the record's CVSS v4.0 vector", () => {
    expect(cvssSeverity(records.get("GHSA-86jx-wr74-xr74") as OsvRecord, {})).toEqual({
      level: "critical",
      source: "cvss_v4",
      score: 9.3,
      vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    });
  });

  it.skipIf(absent)("no vendor rating: the CVSS vector, whatever its version", () => {
    expect(rate("PYSEC-2020-342")).toEqual({
      level: "critical",
      source: "cvss_v3",
      score: 9.8,
      vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    });
    // Hackage keeps its vectors on the affected entry; v2 has no "critical", 7.5 is high.
    expect(rate("HSEC-2023-0003")).toEqual({
      level: "high",
      source: "cvss_v2",
      score: 7.5,
      vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P",
    });
    // Go's records rate nothing.
    expect(rate("GO-2022-0586")).toEqual({ level: "unknown", source: "none" });
  });
});
