import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compareDpkgVersions, parseDpkgVersion } from "../../src/match/versions/dpkg.js";
import { pypiScheme } from "../../src/match/versions/pypi.js";
import { npmScheme } from "../../src/match/versions/semver.js";
import { parseVersionVectors, sharedData } from "../helpers/shared-data.js";

const sign = { "<": -1, "=": 0, ">": 1 } as const;

describe("dpkg version ordering", () => {
  it("sorts ~ before everything, even the end of the string", () => {
    expect(compareDpkgVersions("1.0~rc1", "1.0")).toBeLessThan(0);
    expect(compareDpkgVersions("1.0~~", "1.0~")).toBeLessThan(0);
    expect(compareDpkgVersions("3.0.11-1~deb12u1", "3.0.11-1")).toBeLessThan(0);
    expect(compareDpkgVersions("3.0.11-1~deb12u1", "3.0.11-1~deb12u2")).toBeLessThan(0);
  });

  it("compares epochs first, then upstream, then revision", () => {
    expect(compareDpkgVersions("1:1.0", "2.0")).toBeGreaterThan(0);
    expect(compareDpkgVersions("1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1")).toBe(0);
    expect(compareDpkgVersions("0:1.0", "1.0")).toBe(0);
    expect(compareDpkgVersions("1.0-1", "1.0-1+b1")).toBeLessThan(0);
    expect(compareDpkgVersions("1.0a", "1.0+")).toBeLessThan(0);
    expect(compareDpkgVersions("1.010", "1.9")).toBeGreaterThan(0);
    expect(compareDpkgVersions("1.0-1", "1.0-01")).toBe(0);
  });

  it("splits epoch, upstream and revision at the first colon and last hyphen", () => {
    expect(parseDpkgVersion("2:1.2-3-4")).toEqual({ epoch: 2, upstream: "1.2-3", revision: "4" });
    expect(parseDpkgVersion("1.34+dfsg")).toEqual({ epoch: 0, upstream: "1.34+dfsg", revision: "" });
    expect(parseDpkgVersion("a:1.0")).toBeUndefined();
    expect(parseDpkgVersion("1.0-")).toBeUndefined();
    expect(parseDpkgVersion("")).toBeUndefined();
  });

  for (const file of ["debian-versions.txt", "debian-versions-generated.txt"]) {
    const path = sharedData(`versions/${file}`);
    it.skipIf(!path)(`passes every line of osv-scalibr's ${file}`, () => {
      const vectors = parseVersionVectors(readFileSync(path as string, "utf8"));
      expect(vectors.length).toBeGreaterThan(5);
      const failures = vectors.filter((v) => Math.sign(compareDpkgVersions(v.a, v.b)) !== sign[v.op]);
      expect(failures).toEqual([]);
      // Each comparison must also hold the other way round.
      const reversed = vectors.filter((v) => Math.sign(compareDpkgVersions(v.b, v.a)) !== -sign[v.op]);
      expect(reversed).toEqual([]);
    });
  }
});

describe("npm version ordering", () => {
  it("orders prereleases before their release and build metadata equally", () => {
    expect(npmScheme.compare("1.0.0-alpha", "1.0.0")).toBeLessThan(0);
    expect(npmScheme.compare("8.0.0-alpha.0", "8.0.0-alpha.4")).toBeLessThan(0);
    expect(npmScheme.compare("1.0.0+build.1", "1.0.0")).toBe(0);
    expect(npmScheme.compare("4.17.20", "4.17.21")).toBeLessThan(0);
    expect(npmScheme.compare("10.0.0", "9.99.99")).toBeGreaterThan(0);
  });

  it("knows which versions it can order", () => {
    expect(npmScheme.isValid("4.17.21")).toBe(true);
    expect(npmScheme.isValid("v1.2.3")).toBe(true);
    expect(npmScheme.isValid("latest")).toBe(false);
  });

  const path = sharedData("versions/semver-versions.txt");
  it.skipIf(!path)("passes osv-scalibr's semver vectors that npm's rules cover", () => {
    const vectors = parseVersionVectors(readFileSync(path as string, "utf8"));
    const valid = vectors.filter((v) => npmScheme.isValid(v.a) && npmScheme.isValid(v.b));
    expect(valid.length).toBeGreaterThan(10);
    const failures = valid.filter((v) => Math.sign(npmScheme.compare(v.a, v.b)) !== sign[v.op]);
    expect(failures.map((f) => `${f.line}: ${f.a} ${f.op} ${f.b}`)).toEqual([]);
  });
});

describe("PyPI version ordering", () => {
  it("orders PEP 440 versions: dev < pre < release < post, epochs first, local after", () => {
    expect(pypiScheme.compare("1.0.dev0", "1.0a0")).toBeLessThan(0);
    expect(pypiScheme.compare("1.0rc1", "1.0")).toBeLessThan(0);
    expect(pypiScheme.compare("1.0", "1.0.post1")).toBeLessThan(0);
    expect(pypiScheme.compare("1!0.1", "2.0")).toBeGreaterThan(0);
    expect(pypiScheme.compare("1.26.12", "1.26.17")).toBeLessThan(0);
    expect(pypiScheme.compare("1.10", "1.9")).toBeGreaterThan(0);
    expect(pypiScheme.compare("1.0", "1.0.0")).toBe(0);
    // Unparsable versions sort before valid ones instead of throwing.
    expect(pypiScheme.compare("not a version", "0.1")).toBeLessThan(0);
    expect(pypiScheme.isValid("4.6.2.post1")).toBe(true);
    expect(pypiScheme.isValid("not a version")).toBe(false);
  });

  for (const file of ["pypi-versions.txt", "pypi-versions-generated.txt"]) {
    const path = sharedData(`versions/${file}`);
    it.skipIf(!path)(`passes every line of osv-scalibr's ${file}`, () => {
      const vectors = parseVersionVectors(readFileSync(path as string, "utf8"));
      expect(vectors.length).toBeGreaterThan(30);
      const failures = vectors.filter(
        (v) =>
          Math.sign(pypiScheme.compare(v.a, v.b)) !== sign[v.op] ||
          Math.sign(pypiScheme.compare(v.b, v.a)) !== -sign[v.op],
      );
      expect(failures.map((f) => `${f.line}: ${f.a} ${f.op} ${f.b}`)).toEqual([]);
    });
  }
});
