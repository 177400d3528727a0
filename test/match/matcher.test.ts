import { describe, expect, it } from "vitest";
import type { Package } from "../../src/inventory/types.js";
import { matchPackages } from "../../src/match/matcher.js";
import { evaluateRange } from "../../src/match/ranges.js";
import { dpkgScheme } from "../../src/match/versions/dpkg.js";
import { npmScheme } from "../../src/match/versions/semver.js";
import type { OsvAffected, OsvEvent, OsvRange, OsvRecord } from "../../src/vulndb/osv.js";

// Records here are built for the rule under test; their shapes follow the OSV schema.
function record(id: string, affected: OsvAffected[], extra: Partial<OsvRecord> = {}): OsvRecord {
  return { id, modified: "2024-01-01T00:00:00Z", affected, ...extra };
}

function npmPackage(name: string, version: string): Package {
  return {
    name,
    version,
    type: "npm",
    purl: `pkg:npm/${name}@${version}`,
    ecosystem: "npm",
    location: "x",
    layer: 0,
    foundBy: "t",
  };
}

function debPackage(
  name: string,
  version: string,
  source?: { name: string; version: string },
  ecosystem = "Debian:12",
): Package {
  return {
    name,
    version,
    type: "deb",
    purl: `pkg:deb/debian/${name}@${version}`,
    ecosystem,
    sourceName: source?.name ?? name,
    sourceVersion: source?.version ?? version,
    location: "var/lib/dpkg/status",
    layer: 0,
    foundBy: "dpkg",
  };
}

function source(records: OsvRecord[]) {
  return {
    recordsFor: (ecosystem: string, name: string) =>
      records.filter((r) =>
        (r.affected ?? []).some(
          (a) =>
            a.package?.ecosystem.split(":")[0] === ecosystem.split(":")[0] &&
            a.package?.name.toLowerCase() === name.toLowerCase(),
        ),
      ),
  };
}

const semverRange = (...events: OsvEvent[]): OsvRange => ({ type: "SEMVER", events });

describe("OSV range evaluation", () => {
  it("is affected from introduced up to, not including, fixed", () => {
    const range = semverRange({ introduced: "1.0.0" }, { fixed: "1.2.6" });
    expect(evaluateRange("0.9.0", range, npmScheme).affected).toBe(false);
    expect(evaluateRange("1.0.0", range, npmScheme)).toEqual({ affected: true, fixed: "1.2.6" });
    expect(evaluateRange("1.2.5", range, npmScheme)).toEqual({ affected: true, fixed: "1.2.6" });
    expect(evaluateRange("1.2.6", range, npmScheme).affected).toBe(false);
  });

  it("includes last_affected itself and nothing above it", () => {
    const range = semverRange({ introduced: "0" }, { last_affected: "2.3.4" });
    expect(evaluateRange("2.3.4", range, npmScheme)).toEqual({ affected: true });
    expect(evaluateRange("2.3.5", range, npmScheme).affected).toBe(false);
  });

  it("handles several introduced/fixed pairs in one range, in any order", () => {
    const range = semverRange(
      { fixed: "2.0.5" },
      { introduced: "3.0.0" },
      { introduced: "0" },
      { fixed: "3.1.0" },
    );
    expect(evaluateRange("1.0.0", range, npmScheme)).toEqual({ affected: true, fixed: "2.0.5" });
    expect(evaluateRange("2.5.0", range, npmScheme).affected).toBe(false);
    expect(evaluateRange("3.0.1", range, npmScheme)).toEqual({ affected: true, fixed: "3.1.0" });
    expect(evaluateRange("3.1.0", range, npmScheme).affected).toBe(false);
  });

  it("treats an open range as affecting every later version", () => {
    const range = { type: "ECOSYSTEM", events: [{ introduced: "0" }] };
    expect(evaluateRange("1:99.0-1", range, dpkgScheme)).toEqual({ affected: true });
  });

  it("never applies GIT ranges to packages", () => {
    const range = { type: "GIT", repo: "https://example.test/r.git", events: [{ introduced: "0" }] };
    expect(evaluateRange("1.0.0", range, npmScheme).affected).toBe(false);
  });
});

describe("matching packages to advisories", () => {
  it("uses the explicit versions list", () => {
    const advisories = source([
      record("GHSA-list", [
        { package: { ecosystem: "npm", name: "left-pad" }, versions: ["1.1.0", "1.1.1"] },
      ]),
    ]);
    expect(matchPackages([npmPackage("left-pad", "1.1.1")], advisories).findings.map((f) => f.id)).toEqual([
      "GHSA-list",
    ]);
    expect(matchPackages([npmPackage("left-pad", "1.1.2")], advisories).findings).toEqual([]);
  });

  it("never matches a withdrawn record", () => {
    const advisories = source([
      record(
        "GHSA-gone",
        [{ package: { ecosystem: "npm", name: "a" }, ranges: [semverRange({ introduced: "0" })] }],
        {
          withdrawn: "2024-02-01T00:00:00Z",
        },
      ),
    ]);
    expect(matchPackages([npmPackage("a", "1.0.0")], advisories).findings).toEqual([]);
  });

  it("compares npm names exactly: a mixed-case legacy name is another package", () => {
    // npm refuses upper case in new names, but `Orchestrator` and `orchestrator` both exist, with
    // different owners; osv.dev compares npm names exactly too (ecosystem.ts).
    const advisories = source([
      record("GHSA-axios", [
        {
          package: { ecosystem: "npm", name: "Axios" },
          ranges: [semverRange({ introduced: "0" }, { fixed: "0.21.1" })],
        },
      ]),
    ]);
    expect(matchPackages([npmPackage("axios", "0.21.0")], advisories).findings).toEqual([]);
    expect(matchPackages([npmPackage("Axios", "0.21.0")], advisories).findings).toHaveLength(1);
  });

  it("keeps one finding when an advisory lists the package once per branch", () => {
    const advisories = source([
      record("GHSA-branches", [
        {
          package: { ecosystem: "npm", name: "qs" },
          ranges: [semverRange({ introduced: "0" }, { fixed: "6.2.4" })],
        },
        {
          package: { ecosystem: "npm", name: "qs" },
          ranges: [semverRange({ introduced: "6.7.0" }, { fixed: "6.7.3" })],
        },
      ]),
    ]);
    const { findings } = matchPackages([npmPackage("qs", "6.7.0")], advisories);
    expect(findings).toHaveLength(1);
    expect(findings[0]?.fixedVersion).toBe("6.7.3");
  });

  it("merges records that alias each other into one finding named by its CVE", () => {
    const range = [semverRange({ introduced: "0" }, { fixed: "4.17.21" })];
    const advisories = source([
      record("GHSA-35jh-r3h4-6jhm", [{ package: { ecosystem: "npm", name: "lodash" }, ranges: range }], {
        aliases: ["CVE-2021-23337"],
        database_specific: { severity: "HIGH" },
      }),
      record("CVE-2021-23337", [
        {
          package: { ecosystem: "npm", name: "lodash" },
          ranges: [semverRange({ introduced: "0" }, { fixed: "4.17.22" })],
        },
      ]),
      record("GHSA-related", [{ package: { ecosystem: "npm", name: "lodash" }, ranges: range }], {
        related: ["CVE-2021-23337"],
      }),
    ]);
    const { findings } = matchPackages([npmPackage("lodash", "4.17.20")], advisories);
    expect(findings.map((f) => [f.id, f.aliases, f.fixedVersion, f.severity.level])).toEqual([
      // The group takes the strongest rating and the fix that closes every record in it.
      ["CVE-2021-23337", ["GHSA-35jh-r3h4-6jhm"], "4.17.22", "high"],
      ["GHSA-related", [], "4.17.21", "unknown"],
    ]);
    expect(findings[0]?.matchedRecords).toEqual(["CVE-2021-23337", "GHSA-35jh-r3h4-6jhm"]);
  });

  it("leaves a group unfixed when one of its records has no fix", () => {
    const advisories = source([
      record(
        "DSA-1",
        [
          {
            package: { ecosystem: "Debian:12", name: "tar" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.35-1" }] }],
          },
        ],
        { aliases: ["CVE-1"] },
      ),
      record("CVE-1", [
        {
          package: { ecosystem: "Debian:12", name: "tar" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }],
        },
      ]),
    ]);
    const [finding] = matchPackages([debPackage("tar", "1.34+dfsg-1.2")], advisories).findings;
    expect(finding).toMatchObject({ id: "CVE-1", fixState: "not-fixed" });
    expect(finding?.fixedVersion).toBeUndefined();
  });

  it("matches OS packages by source package and source version, within the same release", () => {
    const advisories = source([
      record("DSA-5532-1", [
        {
          package: { ecosystem: "Debian:11", name: "openssl" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }],
        },
        {
          package: { ecosystem: "Debian:12", name: "openssl" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "3.0.11-1~deb12u2" }] }],
        },
      ]),
      record("BZIP", [
        {
          package: { ecosystem: "Debian:12", name: "bzip2" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.0.8-5+b1" }] }],
        },
      ]),
    ]);
    const packages = [
      debPackage("libssl3", "3.0.11-1~deb12u1", { name: "openssl", version: "3.0.11-1~deb12u1" }),
      debPackage("libssl3", "3.0.11-1~deb12u2", { name: "openssl", version: "3.0.11-1~deb12u2" }),
      debPackage(
        "libssl3",
        "3.0.11-1~deb12u2",
        { name: "openssl", version: "3.0.11-1~deb12u2" },
        "Debian:13",
      ),
      // A binNMU: the binary is 1.0.8-5+b1, the source it was built from 1.0.8-5.
      debPackage("libbz2-1.0", "1.0.8-5+b1", { name: "bzip2", version: "1.0.8-5" }),
    ];
    const { findings } = matchPackages(packages, advisories);
    expect(findings.map((f) => [f.id, f.packageIndex, f.installedVersion, f.fixedVersion])).toEqual([
      ["BZIP", 3, "1.0.8-5+b1", "1.0.8-5+b1"],
      ["DSA-5532-1", 0, "3.0.11-1~deb12u1", "3.0.11-1~deb12u2"],
    ]);
  });

  it("warns about a version its ecosystem cannot order instead of guessing", () => {
    const advisories = source([
      record("GHSA-x", [
        { package: { ecosystem: "npm", name: "a" }, ranges: [semverRange({ introduced: "0" })] },
      ]),
    ]);
    const result = matchPackages([npmPackage("a", "not-a-version")], advisories);
    expect(result.findings).toEqual([]);
    expect(result.warnings).toEqual([
      {
        package: "pkg:npm/a@not-a-version",
        problem: "version not-a-version is not a valid semver version; not matched",
      },
    ]);
  });
});
