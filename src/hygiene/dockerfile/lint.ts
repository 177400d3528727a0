import type { HygieneFinding } from "../types.js";
import { LintContext } from "./context.js";
import { type ParsedDockerfile, parseDockerfile } from "./parse.js";
import { dockerfileChecks, dockerfileRules } from "./rules/index.js";
import { applyIgnoreComments, ignoreComments } from "./suppress.js";

export interface DockerfileLint {
  findings: HygieneFinding[];
  warnings: Array<{ subject: string; problem: string }>;
}

const KNOWN_IDS = new Set(dockerfileRules.map((rule) => rule.id));

/**
 * Runs every Dockerfile rule over a Dockerfile's text. Findings come in line order; suppressed
 * ones stay, marked. Nothing here throws on bad input: a file that is not a Dockerfile, an
 * instruction the builder would refuse, a malformed ignore comment, each gives a warning.
 */
export function lintDockerfile(text: string, path: string): DockerfileLint {
  const warnings: DockerfileLint["warnings"] = [];
  let parsed: ParsedDockerfile;
  try {
    parsed = parseDockerfile(text);
  } catch (error) {
    return { findings: [], warnings: [{ subject: path, problem: `cannot be parsed: ${errorText(error)}` }] };
  }
  if (parsed.stages.length === 0) {
    const problem =
      text.trim() === ""
        ? "is empty: there is nothing to check"
        : "has no FROM instruction: not a Dockerfile";
    return { findings: [], warnings: [{ subject: path, problem }] };
  }
  for (const { line, problem } of parsed.problems)
    warnings.push({ subject: `${path}:${line}`, problem: `${problem}; skipped` });

  const context = new LintContext(parsed);
  const findings: HygieneFinding[] = [];
  for (const { rule, check } of dockerfileChecks) {
    try {
      for (const hit of check(context)) {
        const { line, endLine } = hit.instruction;
        findings.push({
          ruleId: rule.id,
          severity: hit.severity ?? rule.severity,
          message: hit.message,
          location: { kind: "dockerfile", path, line, ...(endLine > line ? { endLine } : {}) },
        });
      }
    } catch (error) {
      // A rule that trips over an odd Dockerfile costs its own findings, not the others'.
      warnings.push({ subject: path, problem: `rule ${rule.id} could not run: ${errorText(error)}` });
    }
  }
  const { comments, problems } = ignoreComments(parsed.lines, KNOWN_IDS);
  for (const { line, problem } of problems) warnings.push({ subject: `${path}:${line}`, problem });
  applyIgnoreComments(findings, comments, parsed.lines);
  findings.sort((a, b) => lineOf(a) - lineOf(b) || a.ruleId.localeCompare(b.ruleId));
  return { findings, warnings };
}

function lineOf(finding: HygieneFinding): number {
  return finding.location.kind === "dockerfile" ? finding.location.line : 0;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
