import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { compareRpmVersions, parseRpmVersion, rpmScheme, rpmvercmp } from "../../src/match/versions/rpm.js";
import { parseVersionVectors, sharedData } from "../helpers/shared-data.js";

const sign = { "<": -1, "=": 0, ">": 1 } as const;

describe("rpm version ordering", () => {
  it("compares digit runs as numbers and lets them beat letter runs", () => {
    expect(rpmvercmp("1.10", "1.9")).toBeGreaterThan(0);
    expect(rpmvercmp("1.010", "1.10")).toBe(0);
    expect(rpmvercmp("1.0a", "1.0.1")).toBeLessThan(0);
    expect(rpmvercmp("2.0.1a", "2.0.1")).toBeGreaterThan(0);
    expect(rpmvercmp("1_0", "1.0")).toBe(0);
    expect(rpmvercmp("99999999999999999999", "99999999999999999998")).toBeGreaterThan(0);
  });

  it("sorts ~ before everything and ^ after the end but before anything else", () => {
    expect(rpmvercmp("1.0~rc1", "1.0")).toBeLessThan(0);
    expect(rpmvercmp("1.0~rc1", "1.0~rc1~git1")).toBeGreaterThan(0);
    expect(rpmvercmp("1.0^git1", "1.0")).toBeGreaterThan(0);
    expect(rpmvercmp("1.0^git1", "1.0.1")).toBeLessThan(0);
    expect(rpmvercmp("1.0^git1~pre", "1.0^git1")).toBeLessThan(0);
  });

  it("compares epoch, then version, then release", () => {
    expect(compareRpmVersions("1:3.0.7-24.el9", "1:3.0.7-25.el9_3")).toBeLessThan(0);
    expect(compareRpmVersions("1:3.0.7-24.el9", "3.5.5-4.el9_8")).toBeGreaterThan(0);
    expect(compareRpmVersions("0:1.0-1", "1.0-1")).toBe(0);
    expect(compareRpmVersions("3.10.0-229.el7", "3.10.0-229.1.2.ael7b")).toBeLessThan(0);
    expect(
      compareRpmVersions("18.18.2-2.module_el9.3.0+40+0ce3b2e5", "18.18.2-1.module_el9.3.0+39+aaa"),
    ).toBeGreaterThan(0);
    expect(compareRpmVersions("0", "1:0.1-1")).toBeLessThan(0);
  });

  it("splits the epoch at the first colon and the release at the last hyphen", () => {
    expect(parseRpmVersion("1:3.0.7-24.el9")).toEqual({ epoch: "1", version: "3.0.7", release: "24.el9" });
    expect(parseRpmVersion("2.0-rc1-3")).toEqual({ epoch: "0", version: "2.0-rc1", release: "3" });
    expect(parseRpmVersion("1.2")).toEqual({ epoch: "0", version: "1.2" });
    expect(rpmScheme.isValid("1:3.0.7-24.el9")).toBe(true);
    expect(rpmScheme.isValid("")).toBe(false);
    expect(rpmScheme.isValid("1.0 beta")).toBe(false);
  });

  it("is the scheme of every RPM-based OSV ecosystem", () => {
    for (const ecosystem of [
      "AlmaLinux:9",
      "Rocky Linux:8",
      "Red Hat:enterprise_linux:9::appstream",
      "openSUSE:Leap 15.5",
      "SUSE:Linux Enterprise Server 15 SP5",
      "Mageia:9",
      "Photon OS:5.0",
      "Azure Linux:3",
      "openEuler:22.03-LTS",
    ])
      expect(versionSchemeFor(ecosystem)?.name).toBe("rpm");
  });

  const path = sharedData("versions/redhat-versions.txt");
  it.skipIf(!path)("passes every line of osv-scalibr's redhat-versions.txt, both ways round", () => {
    const vectors = parseVersionVectors(readFileSync(path as string, "utf8"));
    expect(vectors.length).toBeGreaterThan(100);
    const failures = vectors.filter((v) => Math.sign(compareRpmVersions(v.a, v.b)) !== sign[v.op]);
    expect(failures.map((f) => `${f.line}: ${f.a} ${f.op} ${f.b}`)).toEqual([]);
    const reversed = vectors.filter((v) => Math.sign(compareRpmVersions(v.b, v.a)) !== -sign[v.op]);
    expect(reversed.map((f) => `${f.line}: ${f.b} vs ${f.a}`)).toEqual([]);
  });
});
