import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import type { Finding, SeverityLevel } from "../../src/match/types.js";
import { isKnown, parseBaseline } from "../../src/policy/baseline.js";
import { findingIds } from "../../src/policy/identity.js";
import { expiredEntryWarnings, matchIgnoreEntry, parseIgnoreFile } from "../../src/policy/ignore-file.js";
import { applyPolicy, type Policy } from "../../src/policy/policy.js";
import { parsePurl } from "../../src/policy/purl-pattern.js";
import { parseSeverityList } from "../../src/policy/severity-filter.js";
import { decidingStatement, parseVex, vexSuppression } from "../../src/policy/vex.js";

/**
 * The matching logic of each rule, on findings shaped like the fixture image's (ids and aliases
 * from fixtures/osv, purls as the report writes them).
 */

const packages = [
  { name: "minimist", type: "npm", purl: "pkg:npm/minimist@1.2.5" },
  { name: "curl", type: "deb", purl: "pkg:deb/debian/curl@7.88.1-10+deb12u4?arch=amd64&distro=debian-12" },
  {
    name: "libcurl4",
    type: "deb",
    purl: "pkg:deb/debian/libcurl4@7.88.1-10+deb12u4?arch=amd64&distro=debian-12&upstream=curl",
  },
  { name: "tar", type: "deb", purl: "pkg:deb/debian/tar@1.34+dfsg-1.2+deb12u1?arch=amd64&distro=debian-12" },
];

function finding(
  id: string,
  aliases: string[],
  packageIndex: number,
  level: SeverityLevel,
  fixState: Finding["fixState"] = "fixed",
): Finding {
  return {
    id,
    aliases,
    packageIndex,
    installedVersion: "",
    fixState,
    severity: { level, source: "test" },
    ecosystem: "test",
    matchedRecords: [id],
  };
}

const minimist = finding("CVE-2021-44906", ["GHSA-xvch-5gv4-984h"], 0, "critical");
const curl = finding("CVE-2023-46218", ["CVE-2023-46219", "DSA-5587-1"], 1, "unknown");
const libcurl = finding("CVE-2023-46218", ["CVE-2023-46219", "DSA-5587-1"], 2, "unknown");
const tar = finding("CVE-2005-2541", [], 3, "low", "will-not-fix");
const purlOf = (f: Finding) => parsePurl(packages[f.packageIndex]?.purl ?? "");

function problem(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  return "accepted";
}

describe("ids", () => {
  it("a finding is named by any id of its alias group, without regard to case", () => {
    expect(findingIds(curl)).toEqual(new Set(["CVE-2023-46218", "CVE-2023-46219", "DSA-5587-1"]));
    expect(findingIds({ id: "GHSA-xvch-5gv4-984h", aliases: ["cve-2021-44906"] })).toEqual(
      new Set(["GHSA-XVCH-5GV4-984H", "CVE-2021-44906"]),
    );
  });
});

describe("--severity", () => {
  it("takes a comma-separated list of levels", () => {
    expect(parseSeverityList("high,critical")).toEqual(["high", "critical"]);
    expect(parseSeverityList(" High , high,unknown")).toEqual(["high", "unknown"]);
    expect(problem(() => parseSeverityList("high,,critical"))).toMatch(
      /^--severity high,,critical: an empty level/,
    );
  });
});

describe("the ignore file", () => {
  const file = parseIgnoreFile(
    [
      "ignore:",
      "  - id: cve-2021-44906",
      "    reason: argv is ours",
      "    expires: 2024-06-30",
      "  - id: GHSA-xvch-5gv4-984h",
      "    package: pkg:npm/minimist@1.2.6",
      "    reason: only the next version",
      "  - id: DSA-5587-1",
      "    package: pkg:deb/debian/libcurl4",
      "    reason: libcurl is not loaded",
      "",
    ].join("\n"),
    "ignore.yaml",
  );

  it("reads every entry, its id, package pattern, reason and last day", () => {
    expect(file.entries.map((e) => [e.index, e.id, e.package?.text, e.reason, e.expires])).toEqual([
      [1, "cve-2021-44906", undefined, "argv is ours", "2024-06-30"],
      [2, "GHSA-xvch-5gv4-984h", "pkg:npm/minimist@1.2.6", "only the next version", undefined],
      [3, "DSA-5587-1", "pkg:deb/debian/libcurl4", "libcurl is not loaded", undefined],
    ]);
  });

  it("applies an entry through its expires day (UTC), and not the day after", () => {
    const match = (f: Finding, today: string) =>
      matchIgnoreEntry(file, findingIds(f), purlOf(f), today)?.index;
    expect(match(minimist, "2024-06-30")).toBe(1);
    // Entry 2 names minimist too, but another version: nothing applies after entry 1 expires.
    expect(match(minimist, "2024-07-01")).toBeUndefined();
    expect(expiredEntryWarnings(file, "2024-06-30")).toEqual([]);
    expect(expiredEntryWarnings(file, "2024-07-01")).toEqual([
      {
        subject: "ignore.yaml: entry 1 (cve-2021-44906)",
        problem: "expired on 2024-06-30; it no longer applies",
      },
    ]);
  });

  it("needs both the id and the package when an entry gives both", () => {
    const match = (f: Finding) => matchIgnoreEntry(file, findingIds(f), purlOf(f), "2024-01-01")?.index;
    expect(match(libcurl)).toBe(3);
    expect(match(curl)).toBeUndefined();
    // A package whose purl could not be read matches no package pattern.
    expect(matchIgnoreEntry(file, findingIds(libcurl), undefined, "2024-01-01")).toBeUndefined();
  });

  it("accepts an empty file and an empty list; reads a YAML 1.1 timestamp as its date", () => {
    expect(parseIgnoreFile("", "empty.yaml").entries).toEqual([]);
    expect(parseIgnoreFile("ignore:\n", "empty.yaml").entries).toEqual([]);
    expect(parseIgnoreFile("# nothing yet\nignore: []\n", "empty.yaml").entries).toEqual([]);
    const old = parseIgnoreFile(
      "%YAML 1.1\n---\nignore:\n  - id: X-1\n    reason: r\n    expires: 2025-01-31\n",
      "o.yaml",
    );
    expect(old.entries[0]?.expires).toBe("2025-01-31");
  });

  it("refuses anything it does not understand, naming the file and the entry", () => {
    const parse = (text: string) => problem(() => parseIgnoreFile(text, "f.yaml"));
    expect(parse("- id: X\n")).toBe("f.yaml: expected a mapping with an ignore list (ignore: [...])");
    expect(parse("ignore: CVE-1\n")).toBe("f.yaml: ignore must be a list of entries");
    expect(parse("ignore:\n  - CVE-2021-44906\n")).toBe(
      "f.yaml: entry 1: not a mapping; give id and/or package (or a hygiene rule), and reason",
    );
    expect(parse("ignore:\n  - id: 2021\n    reason: r\n")).toBe(
      "f.yaml: entry 1: id must be a vulnerability id such as CVE-2021-23337",
    );
    expect(parse("ignore:\n  - id: X-1\n    reason: '  '\n")).toBe(
      "f.yaml: entry 1 (X-1): reason is required: say why this finding is accepted",
    );
    expect(parse("ignore:\n  - id: X-1\n    reason: r\n    expires: 30/06/2024\n")).toBe(
      'f.yaml: entry 1 (X-1): expires "30/06/2024": not a date (YYYY-MM-DD)',
    );
    expect(parse("ignore:\n  - id: X-1\n    reason: r\n    expires: 2023-02-29\n")).toBe(
      'f.yaml: entry 1 (X-1): expires "2023-02-29": not a date (YYYY-MM-DD)',
    );
    expect(parse("ignore:\n  - id: X-1\n    id: X-2\n    reason: r\n")).toMatch(
      /^f\.yaml: Map keys must be unique/,
    );
    expect(parse("ignore:\n  - package: pkg:npm/a#b\n    reason: r\n")).toBe(
      "f.yaml: entry 1 (pkg:npm/a#b): package pkg:npm/a#b: a subpath (#...) does not name a package",
    );
  });
});

const vexHeader = {
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  author: "test",
  timestamp: "2024-05-01T00:00:00Z",
  version: 1,
};
const image = {
  digests: ["sha256:5e0c74a6dc116ab36a8d843cba3f1cbf81ba49a0e58502409ce580c653668457"],
  packagePurls: packages.map((p) => parsePurl(p.purl)),
};

describe("OpenVEX statements", () => {
  it("reads v0.0.1's string forms of vulnerability and products", () => {
    const document = parseVex(
      JSON.stringify({
        ...vexHeader,
        "@context": "https://openvex.dev/ns",
        statements: [
          { vulnerability: "CVE-2021-44906", products: ["pkg:npm/minimist@1.2.5"], status: "fixed" },
        ],
      }),
      "v1.json",
    );
    const statement = decidingStatement([document], findingIds(minimist), purlOf(minimist), image);
    expect(vexSuppression(statement)).toEqual({
      by: "vex",
      reason: "fixed",
      source: "v1.json",
      entry: 1,
      status: "fixed",
    });
  });

  it("a package product with subcomponents covers them when the image holds the product", () => {
    const statement = (product: string) => ({
      vulnerability: { name: "DSA-5587-1" },
      products: [{ "@id": product, subcomponents: [{ identifiers: { purl: "pkg:deb/debian/libcurl4" } }] }],
      status: "not_affected",
      justification: "vulnerable_code_not_present",
      impact_statement: "built without the affected protocol",
    });
    const present = parseVex(
      JSON.stringify({ ...vexHeader, statements: [statement("pkg:deb/debian/curl")] }),
      "a.json",
    );
    const decided = decidingStatement([present], findingIds(libcurl), purlOf(libcurl), image);
    expect(vexSuppression(decided)?.reason).toBe("built without the affected protocol");
    // curl itself is the product, not a subcomponent: not covered.
    expect(decidingStatement([present], findingIds(curl), purlOf(curl), image)).toBeUndefined();
    const absent = parseVex(
      JSON.stringify({ ...vexHeader, statements: [statement("pkg:deb/debian/wget")] }),
      "b.json",
    );
    expect(decidingStatement([absent], findingIds(libcurl), purlOf(libcurl), image)).toBeUndefined();
  });

  it("names the image by a sha-256 hash as well as by a pkg:oci purl", () => {
    const document = parseVex(
      JSON.stringify({
        ...vexHeader,
        statements: [
          {
            vulnerability: { name: "CVE-2005-2541" },
            products: [{ hashes: { "sha-256": image.digests[0]?.slice(7).toUpperCase() } }],
            status: "not_affected",
            justification: "vulnerable_code_cannot_be_controlled_by_adversary",
          },
        ],
      }),
      "h.json",
    );
    expect(decidingStatement([document], findingIds(tar), purlOf(tar), image)?.index).toBe(1);
    expect(
      decidingStatement([document], findingIds(tar), purlOf(tar), { ...image, digests: [] }),
    ).toBeUndefined();
  });

  it("a tie in time goes to the statement given later", () => {
    const statements = ["not_affected", "affected"].map((status) => ({
      vulnerability: { name: "CVE-2021-44906" },
      products: ["pkg:npm/minimist"],
      status,
      justification: status === "not_affected" ? "component_not_present" : undefined,
    }));
    const first = parseVex(JSON.stringify({ ...vexHeader, statements }), "t.json");
    expect(decidingStatement([first], findingIds(minimist), purlOf(minimist), image)?.status).toBe(
      "affected",
    );
    const reversed = parseVex(JSON.stringify({ ...vexHeader, statements: statements.reverse() }), "t.json");
    expect(decidingStatement([reversed], findingIds(minimist), purlOf(minimist), image)?.status).toBe(
      "not_affected",
    );
  });

  it("refuses statements it cannot act on", () => {
    const parse = (statement: object, header: object = vexHeader) =>
      problem(() => parseVex(JSON.stringify({ ...header, statements: [statement] }), "v.json"));
    const base = { vulnerability: { name: "CVE-1" }, products: ["pkg:npm/a"], status: "fixed" };
    expect(parse(base)).toBe("accepted");
    expect(parse({ ...base, vulnerability: {} })).toBe(
      "--vex v.json: statement 1: vulnerability.name is required",
    );
    expect(parse({ ...base, status: "not_affected", justification: "it_is_fine" })).toMatch(
      /^--vex v\.json: statement 1 \(CVE-1\): justification "it_is_fine": use one of component_not_present, /,
    );
    expect(parse({ ...base, products: ["pkg:npm/a@"] })).toBe(
      "--vex v.json: statement 1 (CVE-1): product 1: pkg:npm/a@: an empty version after @",
    );
    const { timestamp: _, ...undated } = vexHeader;
    expect(parse(base, undated)).toBe(
      "--vex v.json: statement 1 (CVE-1): no timestamp, and the document has none",
    );
    expect(parse({ ...base, timestamp: "2024-05-01T00:00:00Z" }, undated)).toBe("accepted");
  });
});

describe("baselines", () => {
  const report = (findings: object[]) =>
    JSON.stringify({ schemaVersion: "1.1", tool: { name: "layerwatch", version: "0.1.0" }, findings });
  const lodash = (id: string, aliases: string[], version: string, type = "npm") => ({
    id,
    aliases,
    package: { name: "lodash", version, type, purl: `pkg:${type}/lodash@${version}` },
  });

  it("knows a finding by a shared id and the same package name and type, whatever the version", () => {
    const baseline = parseBaseline(report([lodash("GHSA-35jh-r3h4-6jhm", [], "4.17.15")]), "b.json");
    const ids = findingIds({ id: "CVE-2021-23337", aliases: ["GHSA-35jh-r3h4-6jhm"] });
    expect(isKnown(baseline, ids, { name: "lodash", type: "npm" })).toBe(true);
    expect(isKnown(baseline, ids, { name: "lodash-es", type: "npm" })).toBe(false);
    expect(isKnown(baseline, ids, { name: "lodash", type: "deb" })).toBe(false);
    expect(
      isKnown(baseline, findingIds({ id: "CVE-2020-28500", aliases: [] }), { name: "lodash", type: "npm" }),
    ).toBe(false);
  });
});

describe("applyPolicy", () => {
  const policy = (rules: Partial<Policy>): Policy => ({ ignoreUnfixed: false, vex: [], ...rules });
  const all = [minimist, curl, libcurl, tar];

  it("hides before it suppresses, and counts only what is listed, unsuppressed and new", () => {
    const ignoreFile = parseIgnoreFile("ignore:\n  - id: CVE-2005-2541\n    reason: r\n", "i.yaml");
    const baseline = parseBaseline(
      JSON.stringify({
        schemaVersion: "1.2",
        tool: { name: "layerwatch" },
        findings: [{ id: "DSA-5587-1", aliases: [], package: { name: "curl", type: "deb" } }],
      }),
      "b.json",
    );
    const verdict = applyPolicy(
      all,
      packages,
      { digests: [] },
      policy({ failOn: "unknown", ignoreUnfixed: true, ignoreFile, baseline }),
      new Date("2024-01-01T12:00:00Z"),
    );
    // tar is hidden by --ignore-unfixed, so the ignore entry naming it never comes into play.
    expect(verdict.decisions?.get(tar)).toEqual({ hidden: "unfixed" });
    expect(verdict.decisions?.get(curl)).toEqual({ baseline: "known" });
    expect(verdict.decisions?.get(libcurl)).toEqual({ baseline: "new" });
    expect(verdict.failing).toEqual([minimist, libcurl]);
    expect(verdict.settings).toEqual({ ignoreUnfixed: true, ignoreFile: "i.yaml", baseline: "b.json" });
  });

  it("an ignore entry is looked at before VEX, and a suppressed finding never fails", () => {
    const ignoreFile = parseIgnoreFile(
      "ignore:\n  - package: pkg:npm/minimist\n    reason: argv\n",
      "i.yaml",
    );
    const vex = parseVex(
      JSON.stringify({
        ...vexHeader,
        statements: [
          {
            vulnerability: { name: "CVE-2021-44906" },
            products: ["pkg:npm/minimist"],
            status: "not_affected",
            justification: "component_not_present",
          },
        ],
      }),
      "v.json",
    );
    const both = applyPolicy(
      all,
      packages,
      { digests: [] },
      policy({ failOn: "critical", ignoreFile, vex: [vex] }),
    );
    expect(both.decisions?.get(minimist)?.suppressed?.by).toBe("ignore");
    expect(both.failed).toBe(false);
    const vexOnly = applyPolicy(all, packages, { digests: [] }, policy({ failOn: "critical", vex: [vex] }));
    expect(vexOnly.decisions?.get(minimist)?.suppressed?.by).toBe("vex");
    expect(vexOnly.failed).toBe(false);
    expect(applyPolicy(all, packages, { digests: [] }, policy({ failOn: "critical" })).failing).toEqual([
      minimist,
    ]);
  });
});
