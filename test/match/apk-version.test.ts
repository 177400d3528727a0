import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { apkScheme, compareApkVersions } from "../../src/match/versions/apk.js";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { parseVersionVectors, sharedData } from "../helpers/shared-data.js";

const sign = { "<": -1, "=": 0, ">": 1 } as const;

function listed(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

describe("apk version ordering", () => {
  it("orders numbers, the letter, suffixes and the revision as apk-tools does", () => {
    expect(compareApkVersions("3.1.4-r1", "3.1.4-r5")).toBeLessThan(0);
    expect(compareApkVersions("1.36.1-r15", "1.36.1-r2")).toBeGreaterThan(0);
    expect(compareApkVersions("1.2.10", "1.2.9")).toBeGreaterThan(0);
    expect(compareApkVersions("1.1.1q-r0", "1.1.1k-r0")).toBeGreaterThan(0);
    expect(compareApkVersions("1.0", "1.0a")).toBeLessThan(0);
    expect(compareApkVersions("1.2_rc1", "1.2")).toBeLessThan(0);
    expect(compareApkVersions("1.2_alpha", "1.2_beta")).toBeLessThan(0);
    expect(compareApkVersions("1.2_p1", "1.2")).toBeGreaterThan(0);
    expect(compareApkVersions("1.2_git20230717", "1.2_p1")).toBeLessThan(0);
    expect(compareApkVersions("1.2.4_git20230717-r4", "1.2.4-r10")).toBeGreaterThan(0);
    // Leading zeros in a later component compare as text; the first compares as a number.
    expect(compareApkVersions("1.01", "1.1")).toBeLessThan(0);
    expect(compareApkVersions("006", "6")).toBe(0);
    // More numbers is later, before any suffix is looked at.
    expect(compareApkVersions("1.0", "1")).toBeGreaterThan(0);
    expect(compareApkVersions("1.2.0", "1.2_p1")).toBeGreaterThan(0);
    // A commit hash cannot be ordered and is ignored.
    expect(compareApkVersions("1.0_git20240101~abc123-r0", "1.0_git20240101~fff-r0")).toBe(0);
    // Numbers longer than any machine integer.
    expect(
      compareApkVersions("1.123456789012345678901234567890", "1.123456789012345678901234567891"),
    ).toBeLessThan(0);
  });

  it("is what Alpine, Wolfi and Chainguard advisories are ordered by", () => {
    expect(versionSchemeFor("Alpine:v3.19")).toBe(apkScheme);
    expect(versionSchemeFor("Wolfi")).toBe(apkScheme);
    expect(versionSchemeFor("Chainguard")).toBe(apkScheme);
  });

  it("tells versions from text that is not one", () => {
    expect(apkScheme.isValid("1.2.4_git20230717-r4")).toBe(true);
    expect(apkScheme.isValid("6.6.2p1-r0")).toBe(true);
    expect(apkScheme.isValid("1.0_git20240101~abc123-r0")).toBe(true);
    expect(apkScheme.isValid("1.2-r")).toBe(false);
    expect(apkScheme.isValid("v1.2")).toBe(false);
    expect(apkScheme.isValid("")).toBe(false);
  });

  for (const file of ["alpine-versions.txt", "alpine-versions-generated.txt"]) {
    const path = sharedData(`versions/${file}`);
    it.skipIf(!path)(`passes every line of osv-scalibr's ${file}`, () => {
      const vectors = parseVersionVectors(readFileSync(path as string, "utf8"));
      expect(vectors.length).toBeGreaterThan(700);
      const failures = vectors.filter((v) => Math.sign(compareApkVersions(v.a, v.b)) !== sign[v.op]);
      expect(failures.map((f) => `${f.line}: ${f.a} ${f.op} ${f.b}`)).toEqual([]);
      // Each comparison must also hold the other way round.
      const reversed = vectors.filter((v) => Math.sign(compareApkVersions(v.b, v.a)) !== -sign[v.op]);
      expect(reversed.map((f) => `${f.line}: ${f.b} vs ${f.a}`)).toEqual([]);
    });
  }

  const valid = sharedData("versions/alpine-valid_versions.osv-dev.txt");
  it.skipIf(!valid)("accepts every version osv.dev lists as valid", () => {
    const versions = listed(readFileSync(valid as string, "utf8"));
    expect(versions.length).toBeGreaterThan(150);
    expect(versions.filter((v) => !apkScheme.isValid(v))).toEqual([]);
  });

  const invalid = sharedData("versions/alpine-invalid_versions.osv-dev.txt");
  it.skipIf(!invalid)("rejects every version osv.dev lists as invalid", () => {
    const versions = listed(readFileSync(invalid as string, "utf8"));
    expect(versions.length).toBeGreaterThan(5);
    expect(versions.filter((v) => apkScheme.isValid(v))).toEqual([]);
  });
});
