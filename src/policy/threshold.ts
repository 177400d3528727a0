import { InputError } from "../errors.js";
import { severityRank } from "../match/severity.js";
import { type Finding, type SeverityLevel, severityLevels } from "../match/types.js";
import type { PolicyVerdict } from "./types.js";

export type { PolicyVerdict } from "./types.js";

export function parseSeverityLevel(text: string, flag: string): SeverityLevel {
  const level = text.trim().toLowerCase();
  if ((severityLevels as readonly string[]).includes(level)) return level as SeverityLevel;
  throw new InputError(`${flag} ${text}: not a severity; use one of ${severityLevels.join(", ")}`);
}

/** Whether a finding is at or above `--fail-on`'s level. */
export function meetsThreshold(finding: Finding, failOn: SeverityLevel): boolean {
  return severityRank(finding.severity.level) >= severityRank(failOn);
}

/** Which findings trip `--fail-on`: every finding at or above the level. */
export function evaluateThreshold(findings: Finding[], failOn: SeverityLevel | undefined): PolicyVerdict {
  if (failOn === undefined) return { failing: [], failed: false };
  const failing = findings.filter((finding) => meetsThreshold(finding, failOn));
  return { failOn, failing, failed: failing.length > 0 };
}
