/**
 * `layerwatch scan --format junit` on the fixture image (seven findings against fixtures/osv):
 * well-formed XML by libxml2's xmllint (strict) and fast-xml-parser, the counts CI systems
 * show, and text that XML cannot hold as it is (`]]>`, `<`, control characters) kept well-formed.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderJunit } from "../../src/report/junit.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { findTool, run } from "../helpers/tools.js";
import { buildFixtureImage, type FixtureScan, fixtureStore } from "./fixture-scan.js";

interface TestCase {
  "@_classname": string;
  "@_name": string;
  failure?: { "@_message": string; "@_type": string; "#text": string };
  skipped?: { "@_message": string };
  "system-out"?: string;
}
interface Suite {
  "@_name": string;
  "@_tests": string;
  "@_failures": string;
  "@_skipped": string;
  "@_errors": string;
  testcase: TestCase[];
}

const xmllint = findTool("xmllint");
if (!xmllint)
  console.warn("junit: xmllint not found (apt-get install libxml2-utils); strict XML checks skipped");

let store: FixtureScan;
let source: string;
let report: JsonReport;

/**
 * The XML's suites: the image's, then the build hygiene one (the image check's root user,
 * LW-IMG-001), which a report without hygiene findings (`sbom`: no image checks) does not have.
 */
function parseSuites(xml: string, hygieneSuite = true): Suite[] {
  expect(XMLValidator.validate(xml)).toBe(true);
  const parsed = new XMLParser({
    ignoreAttributes: false,
    isArray: (name) => name === "testcase" || name === "testsuite",
  }).parse(xml) as { testsuites: { testsuite: Suite[] } };
  const suites = parsed.testsuites.testsuite;
  expect(suites.slice(1).map((suite) => suite["@_name"])).toEqual(
    hygieneSuite ? [`build hygiene: ${source}`] : [],
  );
  return suites;
}

/** The image's testsuite. */
function parse(xml: string): Suite {
  return parseSuites(xml)[0] as Suite;
}

/** xmllint --noout: libxml2 refuses anything not well-formed; undefined when xmllint is absent. */
async function strictlyWellFormed(xml: string, name: string): Promise<string | undefined> {
  if (!xmllint) return undefined;
  const file = join(store.work, `${name}.xml`);
  await writeFile(file, xml);
  await run(xmllint, ["--noout", file]);
  return file;
}

beforeAll(async () => {
  store = await fixtureStore("junit");
  source = await store.archive(await buildFixtureImage(), "image");
  report = await store.report(source);
});

afterAll(async () => {
  await rm(store.work, { recursive: true, force: true });
});

describe("layerwatch scan --format junit", () => {
  it("without --fail-on, fails one testcase per finding", async () => {
    const scan = await store.scan(source, ["--format", "junit"]);
    expect(scan.code).toBe(0);
    await strictlyWellFormed(scan.stdout, "all");
    const suite = parse(scan.stdout);
    expect(suite["@_name"]).toBe(source);
    expect([suite["@_tests"], suite["@_failures"], suite["@_skipped"], suite["@_errors"]]).toEqual([
      "7",
      "7",
      "0",
      "0",
    ]);
    expect(suite.testcase.map((t) => t["@_name"])).toEqual(
      report.findings.map((f) => `${f.id} in ${f.package.name} ${f.installedVersion}`),
    );
    const minimist = suite.testcase[0] as TestCase;
    expect(minimist["@_classname"]).toBe("npm/minimist");
    expect(minimist.failure?.["@_message"]).toBe("critical CVE-2021-44906 in minimist 1.2.5, fixed in 1.2.6");
    expect(minimist.failure?.["#text"]).toContain("path: /app/node_modules/minimist/package.json");
    expect(minimist.failure?.["#text"]).toContain("advisory: https://osv.dev/vulnerability/CVE-2021-44906");
    // The image's config sets no User: one hygiene testcase, failing like the findings.
    const hygiene = parseSuites(scan.stdout)[1];
    expect(hygiene?.testcase.map((t) => [t["@_name"], t.failure?.["@_type"]])).toEqual([
      ["LW-IMG-001 at config.User", "high"],
    ]);
  });

  it("with --fail-on high, fails the three findings at or above it and skips the other four", async () => {
    const scan = await store.scan(source, ["--format", "junit", "--fail-on", "high"]);
    expect(scan.code).toBe(1);
    const suite = parse(scan.stdout);
    expect([suite["@_tests"], suite["@_failures"], suite["@_skipped"]]).toEqual(["7", "3", "4"]);
    const failed = suite.testcase.filter((t) => t.failure).map((t) => t["@_name"]);
    expect(failed).toEqual([
      "CVE-2021-44906 in minimist 1.2.5",
      "CVE-2021-23337 in lodash 4.17.20",
      "CVE-2022-24999 in qs 6.7.0",
    ]);
    const tar = suite.testcase.find((t) => t["@_classname"] === "deb/tar");
    expect(tar?.skipped?.["@_message"]).toBe("low: below --fail-on high");
    expect(tar?.["system-out"]).toContain("fixed: no fix planned");
    // The root user (LW-IMG-001) is high: it fails too.
    const hygiene = parseSuites(scan.stdout)[1];
    expect([hygiene?.["@_tests"], hygiene?.["@_failures"], hygiene?.["@_skipped"]]).toEqual(["1", "1", "0"]);
  });

  it("reports an image without findings as one passing testcase", async () => {
    // `sbom --format json` is the same report without matching: no findings.
    const listed = JSON.parse((await cli(["sbom", source, "--format", "json"])).stdout) as JsonReport;
    const xml = renderJunit(listed);
    await strictlyWellFormed(xml, "clean");
    const [suite] = parseSuites(xml, false) as [Suite];
    expect([suite["@_tests"], suite["@_failures"], suite["@_skipped"]]).toEqual(["1", "0", "0"]);
    expect(suite.testcase[0]?.["@_name"]).toBe(
      `no known vulnerabilities in ${listed.summary.packages} packages`,
    );
    expect(suite.testcase[0]?.failure).toBeUndefined();
  });

  it("keeps hostile names and summaries well-formed and readable", async () => {
    const hostile = 'evil]]><b a="x">&amp;\'"\u0000\u0001\u001b\uFFFE\uD800 tail 😀\t|\n\r';
    // What XML can carry of it: the characters it cannot hold become U+FFFD.
    const carried = 'evil]]><b a="x">&amp;\'"\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD tail 😀\t|\n\r';
    const edited = structuredClone(report);
    const first = edited.findings[0];
    if (!first) throw new Error("the fixture has findings");
    first.package.name = hostile;
    first.summary = `]]> ${hostile}`;
    const xml = renderJunit(edited);
    expect(xml).not.toContain("]]>");
    // No character XML 1.0 forbids (C0 controls but tab, LF, CR; U+FFFE/F), no lone surrogate half.
    const forbidden = Array.from(xml).filter((char) => {
      const code = char.codePointAt(0) ?? 0;
      if (code < 0x20) return ![0x09, 0x0a, 0x0d].includes(code);
      return (code >= 0xd800 && code <= 0xdfff) || code === 0xfffe || code === 0xffff;
    });
    expect(forbidden).toEqual([]);
    const suite = parse(xml);
    expect(suite["@_tests"]).toBe("7");
    const file = await strictlyWellFormed(xml, "hostile");
    if (!file || !xmllint) return;
    // libxml2 reads the attribute back exactly (tab, LF and CR kept as character references).
    const name = await run(xmllint, ["--xpath", "string(//testcase[1]/@name)", file]);
    // (xmllint ends what it prints with a newline of its own.)
    expect(name.stdout).toBe(`${first.id} in ${carried} ${first.installedVersion}\n`);
    const body = await run(xmllint, ["--xpath", "string(//testcase[1]/failure)", file]);
    // Text content: CR is normalised to LF by any XML parser; the rest comes back as it was.
    expect(body.stdout).toContain(`]]> ${carried.replace("\r", "\n")}`);
  });
});
