import { InputError } from "../errors.js";
import type { Finding, SeverityLevel } from "../match/types.js";
import { parseSeverityLevel } from "./threshold.js";

/**
 * `--severity high,critical`: the levels to show. A finding at another level is hidden: left out
 * of the report (counted) and never failing the build.
 */
export function parseSeverityList(text: string): SeverityLevel[] {
  const words = text.split(",").map((word) => word.trim());
  if (words.some((word) => word === "")) {
    throw new InputError(
      `--severity ${text}: an empty level; give a comma-separated list such as high,critical`,
    );
  }
  return [...new Set(words.map((word) => parseSeverityLevel(word, "--severity")))];
}

export function hiddenBySeverity(finding: Finding, shown: readonly SeverityLevel[] | undefined): boolean {
  return shown !== undefined && !shown.includes(finding.severity.level);
}
