import { RULES_DOC_URL, ruleById } from "../hygiene/rules.js";
import { severityRank } from "../match/severity.js";
import type { SeverityLevel } from "../match/types.js";
import type { ReportHygieneFinding } from "./model.js";

/**
 * What the report formats share about build-hygiene findings: where one is, in a few words;
 * whether it trips `--fail-on`; the rule's section of docs/rules.md.
 */

/** "docker/Dockerfile:12", "config.User", "/app/.env (layer 2)", "/root/.npmrc (layer 1, deleted later)". */
export function hygieneWhere(finding: ReportHygieneFinding): string {
  const { location } = finding;
  switch (location.kind) {
    case "dockerfile":
      return `${location.path}:${location.line}${location.endLine && location.endLine !== location.line ? `-${location.endLine}` : ""}`;
    case "config":
      return location.field;
    case "file":
      return `/${location.path} (layer ${location.layer}${location.deleted ? ", deleted later" : ""})`;
  }
}

/**
 * Whether a hygiene finding trips the policy: at or above `--fail-on`, not suppressed, not known to
 * `--baseline`. Without a threshold every other one counts, as for vulnerabilities (findings.ts).
 */
export function isHygieneFailing(finding: ReportHygieneFinding, failOn: SeverityLevel | undefined): boolean {
  if (finding.suppressed || finding.baseline === "known") return false;
  return failOn === undefined || severityRank(finding.severity) >= severityRank(failOn);
}

/** Why a hygiene finding does not fail the build, in a few words. */
export function hygienePassReason(finding: ReportHygieneFinding, failOn: SeverityLevel | undefined): string {
  const suppressed = finding.suppressed;
  if (suppressed?.by === "inline")
    return `suppressed by a layerwatch:ignore comment (line ${suppressed.line}): ${suppressed.reason}`;
  if (suppressed) return `suppressed by ${suppressed.source}: ${suppressed.reason}`;
  if (finding.baseline === "known") return "already in the baseline";
  return `${finding.severity}: below --fail-on ${failOn}`;
}

/**
 * The rule's section of docs/rules.md, whose heading is "### ID Title" (e.g. "### LW-DF-001 The
 * final stage runs as root"); GitHub's anchor for a heading is its text lower-cased, with what is
 * not a letter, digit, space, "-" or "_" dropped and each space made a "-".
 */
export function ruleDocUrl(ruleId: string): string {
  const rule = ruleById(ruleId);
  return `${RULES_DOC_URL}#${ruleAnchor(rule ? `${rule.id} ${rule.title}` : ruleId)}`;
}

export function ruleAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}
