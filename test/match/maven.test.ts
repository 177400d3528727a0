import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { compareMavenVersions, mavenScheme } from "../../src/match/versions/maven.js";
import { parseVersionVectors, sharedData } from "../helpers/shared-data.js";

const sign = { "<": -1, "=": 0, ">": 1 } as const;

describe("maven version ordering", () => {
  it("orders qualifiers alpha < beta < milestone < rc = cr < snapshot < release < sp", () => {
    const ordered = ["1.0-alpha-1", "1.0-beta-1", "1.0-m1", "1.0-rc1", "1.0-SNAPSHOT", "1.0", "1.0-sp1"];
    for (let i = 1; i < ordered.length; i++)
      expect(compareMavenVersions(ordered[i - 1] as string, ordered[i] as string)).toBe(-1);
    expect(compareMavenVersions("1.0-cr1", "1.0-RC1")).toBe(0);
    expect(compareMavenVersions("1.0.GA", "1.0-final")).toBe(0);
    expect(compareMavenVersions("1a1", "1-alpha-1")).toBe(0);
  });

  it("orders the releases of Log4Shell's advisory as Maven does", () => {
    expect(compareMavenVersions("2.0-beta9", "2.14.1")).toBe(-1);
    expect(compareMavenVersions("2.14.1", "2.15.0")).toBe(-1);
    expect(compareMavenVersions("2.0-beta9", "2.0")).toBe(-1);
    expect(compareMavenVersions("2.0-rc1", "2.0-beta9")).toBe(1);
    expect(compareMavenVersions("12345678901234567890", "12345678901234567891")).toBe(-1);
  });

  it("is the scheme of the Maven ecosystem", () => {
    expect(versionSchemeFor("Maven")).toBe(mavenScheme);
    expect(mavenScheme.isValid("2.14.1")).toBe(true);
    expect(mavenScheme.isValid("")).toBe(false);
  });

  for (const file of ["maven-versions.txt", "maven-versions-generated.txt"]) {
    const path = sharedData(`versions/${file}`);
    it.skipIf(!path)(`passes every line of osv-scalibr's ${file}`, () => {
      const vectors = parseVersionVectors(readFileSync(path as string, "utf8"));
      expect(vectors.length).toBeGreaterThan(100);
      const failures = vectors.filter((v) => Math.sign(compareMavenVersions(v.a, v.b)) !== sign[v.op]);
      expect(failures.map((f) => `${f.line}: ${f.a} ${f.op} ${f.b}`)).toEqual([]);
      const reversed = vectors.filter((v) => Math.sign(compareMavenVersions(v.b, v.a)) !== -sign[v.op]);
      expect(reversed.map((f) => `${f.line}: ${f.b} vs ${f.a}`)).toEqual([]);
    });
  }
});
