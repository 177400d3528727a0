import { InputError } from "../errors.js";
import { severityRank } from "../match/severity.js";
import { type Finding, type SeverityLevel, severityLevels } from "../match/types.js";

export function parseSeverityLevel(text: string, flag: string): SeverityLevel {
  const level = text.trim().toLowerCase();
  if ((severityLevels as readonly string[]).includes(level)) return level as SeverityLevel;
  throw new InputError(`${flag} ${text}: not a severity; use one of ${severityLevels.join(", ")}`);
}

export interface PolicyVerdict {
  failOn?: SeverityLevel;
  /** Findings at or above the threshold. */
  failing: Finding[];
  failed: boolean;
}

/** Which findings trip `--fail-on`: every finding at or above the level. */
export function evaluateThreshold(findings: Finding[], failOn: SeverityLevel | undefined): PolicyVerdict {
  if (failOn === undefined) return { failing: [], failed: false };
  const floor = severityRank(failOn);
  const failing = findings.filter((finding) => severityRank(finding.severity.level) >= floor);
  return { failOn, failing, failed: failing.length > 0 };
}
