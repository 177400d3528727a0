import { advisoryUrl, findingPackages, isFailing, passReason } from "./findings.js";
import { hygienePassReason, hygieneWhere, isHygieneFailing, ruleDocUrl } from "./hygiene.js";
import type { JsonReport, ReportFinding, ReportHygieneFinding, ReportPackage } from "./model.js";

/**
 * JUnit XML, as Jenkins, GitLab, Azure Pipelines and CircleCI read it: one <testsuite> for the
 * image, one <testcase> per finding (a CI test list then names each vulnerability and package on
 * its own line; one per package would bury them among hundreds of passing packages).
 *
 * - A finding at or above `--fail-on` is a <failure>; one below it, one suppressed (ignore file,
 *   VEX) or one the baseline knows is <skipped> with the reason, so it is listed without failing
 *   the test run. Without `--fail-on` every finding that is not set aside fails (the report has
 *   no threshold to pass it by).
 * - An image without findings gets one passing testcase, so a CI step that refuses an empty
 *   report (Jenkins' junit step does by default) still sees the scan.
 * - classname is the package (type/name, no dots, which Jenkins would read as packages), name is
 *   "ID in package version"; the failure message is one line, its body the details.
 * - Build-hygiene findings, when there are any, are a second <testsuite> ("build hygiene"), one
 *   <testcase> per finding (classname the rule id, name "RULE at WHERE"), failing and skipped by
 *   the same rules.
 */

/**
 * A character XML 1.0 cannot hold, even as a reference: C0 controls but tab, LF and CR; U+FFFE and
 * U+FFFF; a surrogate half without its pair (Array.from splits strings by code point, so a pair
 * arrives whole and a lone half alone).
 */
function isXmlChar(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x20) return code === 0x09 || code === 0x0a || code === 0x0d;
  if (code >= 0xd800 && code <= 0xdfff) return false;
  return code !== 0xfffe && code !== 0xffff;
}

function clean(text: string): string {
  return Array.from(text, (char) => (isXmlChar(char) ? char : "\uFFFD")).join("");
}

/** Text content: &, < and > (so "]]>" cannot appear) escaped; characters XML cannot hold replaced. */
export function xmlText(text: string): string {
  return clean(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** An attribute value in double quotes; whitespace kept as references so parsers do not fold it. */
export function xmlAttribute(text: string): string {
  return xmlText(text)
    .replace(/"/g, "&quot;")
    .replace(/\t/g, "&#9;")
    .replace(/\n/g, "&#10;")
    .replace(/\r/g, "&#13;");
}

function attributes(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([key, value]) => ` ${key}="${xmlAttribute(String(value))}"`)
    .join("");
}

function className(finding: ReportFinding): string {
  return `${finding.package.type}/${finding.package.name}`.replace(/\./g, "_");
}

function details(finding: ReportFinding, pkg: ReportPackage | undefined): string {
  return [
    `${finding.id}${finding.aliases.length > 0 ? ` (${finding.aliases.join(", ")})` : ""}`,
    ...(finding.summary ? [finding.summary] : []),
    `severity: ${finding.severity.level}${finding.severity.score !== undefined ? ` (${finding.severity.score})` : ""}`,
    `package: ${finding.package.purl}`,
    ...(pkg ? [`path: /${pkg.location}`] : []),
    `installed: ${finding.installedVersion}`,
    `fixed: ${finding.fixedVersion ?? (finding.fixState === "will-not-fix" ? "no fix planned" : "no fix yet")}`,
    ...(finding.layer.index >= 0
      ? [`layer: ${finding.layer.index}${finding.layer.createdBy ? ` ${finding.layer.createdBy}` : ""}`]
      : []),
    `advisory: ${advisoryUrl(finding.id)}`,
  ].join("\n");
}

function hygieneDetails(finding: ReportHygieneFinding): string {
  return [
    `${finding.ruleId}: ${finding.title}`,
    finding.message,
    `severity: ${finding.severity}`,
    `where: ${hygieneWhere(finding)}`,
    ...(finding.layer && finding.layer.index >= 0
      ? [`layer: ${finding.layer.index}${finding.layer.createdBy ? ` ${finding.layer.createdBy}` : ""}`]
      : []),
    `rule: ${ruleDocUrl(finding.ruleId)}`,
  ].join("\n");
}

/** The hygiene testsuite's testcases, and how many fail and are skipped. */
function hygieneCases(report: JsonReport): { cases: string[]; failures: number; skipped: number } {
  const failOn = report.policy.failOn;
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  for (const finding of report.hygiene) {
    const head = `    <testcase${attributes({
      classname: finding.ruleId.replace(/\./g, "_"),
      name: `${finding.ruleId} at ${hygieneWhere(finding)}`,
      time: 0,
    })}>`;
    const body = hygieneDetails(finding);
    if (isHygieneFailing(finding, failOn)) {
      failures++;
      cases.push(
        `${head}\n      <failure${attributes({
          message: `${finding.severity} ${finding.ruleId}: ${finding.message}`,
          type: finding.severity,
        })}>${xmlText(body)}</failure>\n    </testcase>`,
      );
    } else {
      skipped++;
      cases.push(
        `${head}\n      <skipped${attributes({ message: hygienePassReason(finding, failOn) })}/>\n      <system-out>${xmlText(body)}</system-out>\n    </testcase>`,
      );
    }
  }
  return { cases, failures, skipped };
}

export function renderJunit(report: JsonReport): string {
  const failOn = report.policy.failOn;
  const packages = findingPackages(report);
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  report.findings.forEach((finding, index) => {
    const head = `    <testcase${attributes({
      classname: className(finding),
      name: `${finding.id} in ${finding.package.name} ${finding.installedVersion}`,
      time: 0,
    })}>`;
    const body = details(finding, packages[index]);
    if (isFailing(finding, failOn)) {
      failures++;
      const fix = finding.fixedVersion ? `, fixed in ${finding.fixedVersion}` : "";
      cases.push(
        `${head}\n      <failure${attributes({
          message: `${finding.severity.level} ${finding.id} in ${finding.package.name} ${finding.installedVersion}${fix}`,
          type: finding.severity.level,
        })}>${xmlText(body)}</failure>\n    </testcase>`,
      );
    } else {
      skipped++;
      cases.push(
        `${head}\n      <skipped${attributes({ message: passReason(finding, failOn) })}/>\n      <system-out>${xmlText(body)}</system-out>\n    </testcase>`,
      );
    }
  });
  if (report.findings.length === 0)
    cases.push(
      `    <testcase${attributes({ classname: "layerwatch", name: `no known vulnerabilities in ${report.summary.packages} packages`, time: 0 })}/>`,
    );
  const tests = cases.length;
  const timestamp = report.createdAt.replace(/\.\d+Z$|Z$/, "");
  const properties = [
    ["layerwatch.version", report.tool.version],
    ["image.source", report.image.source],
    ...(report.image.configDigest ? [["image.configDigest", report.image.configDigest]] : []),
    ...(report.image.manifestDigest ? [["image.manifestDigest", report.image.manifestDigest]] : []),
    ...(report.os?.prettyName ? [["os", report.os.prettyName]] : []),
    ...(failOn ? [["failOn", failOn]] : []),
  ]
    .map(
      ([name, value]) => `      <property${attributes({ name: name as string, value: value as string })}/>`,
    )
    .join("\n");
  const counts = { tests, failures, errors: 0, skipped, time: 0 };
  const hygiene = hygieneCases(report);
  const hygieneCounts = {
    tests: hygiene.cases.length,
    failures: hygiene.failures,
    errors: 0,
    skipped: hygiene.skipped,
    time: 0,
  };
  const hygieneSuite =
    hygiene.cases.length > 0
      ? [
          `  <testsuite${attributes({ name: `build hygiene: ${report.dockerfile ?? report.image.source}`, ...hygieneCounts, timestamp })}>`,
          ...hygiene.cases,
          "  </testsuite>",
        ]
      : [];
  const all = {
    tests: tests + hygieneCounts.tests,
    failures: failures + hygieneCounts.failures,
    errors: 0,
    skipped: skipped + hygieneCounts.skipped,
    time: 0,
  };
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites${attributes({ name: "layerwatch", ...all })}>`,
    `  <testsuite${attributes({ name: report.image.source, ...counts, timestamp })}>`,
    `    <properties>\n${properties}\n    </properties>`,
    ...cases,
    "  </testsuite>",
    ...hygieneSuite,
    "</testsuites>",
    "",
  ].join("\n");
}
