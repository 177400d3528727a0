/** The policy stage: which findings are shown, which are set aside, and which fail the build. */

import type { Finding, SeverityLevel } from "../match/types.js";

/** Why a finding that stays in the report does not count against the build. */
export interface Suppression {
  by: "ignore" | "vex";
  /** The ignore entry's reason; for VEX, the impact statement, status notes, or status and justification. */
  reason: string;
  /** The ignore file or VEX document, as named on the command line (or the default ignore file). */
  source: string;
  /** Which ignore entry or VEX statement (in its document), counting from 1. */
  entry: number;
  /** The ignore entry's last day (YYYY-MM-DD). */
  expires?: string;
  /** The VEX statement's status. */
  status?: "not_affected" | "fixed";
  /** The VEX statement's justification label. */
  justification?: string;
}

/** What the policy decided about one finding; an empty decision leaves it shown and counting. */
export interface FindingDecision {
  /** Left out of the report: not among `--severity`'s levels, or unfixed under `--ignore-unfixed`. */
  hidden?: "severity" | "unfixed";
  suppressed?: Suppression;
  /** With `--baseline`: whether the baseline report already had this finding. */
  baseline?: "new" | "known";
}

/** The policy's inputs as the user named them, echoed into the report. */
export interface PolicySettings {
  severities?: SeverityLevel[];
  ignoreUnfixed?: boolean;
  ignoreFile?: string;
  vex?: string[];
  baseline?: string;
}

export interface PolicyVerdict {
  failOn?: SeverityLevel;
  /** Findings that trip `--fail-on`: at or above the threshold, shown, not suppressed, not known. */
  failing: Finding[];
  failed: boolean;
  /** Per finding (by identity); a finding without an entry is shown and counts. */
  decisions?: ReadonlyMap<Finding, FindingDecision>;
  settings?: PolicySettings;
  /** Things the report should warn about: expired ignore entries. */
  warnings?: Array<{ subject: string; problem: string }>;
}
