/** The policy stage: which findings are shown, which are set aside, and which fail the build. */

import type { HygieneFinding } from "../hygiene/types.js";
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

/** Why a listed hygiene finding does not count: an inline Dockerfile comment, or an ignore entry. */
export interface HygieneSuppression {
  by: "inline" | "ignore";
  reason: string;
  /** The Dockerfile (inline) or the ignore file, as named. */
  source: string;
  /** The ignore entry, counting from 1. */
  entry?: number;
  /** The line of the inline `# layerwatch:ignore` comment. */
  line?: number;
  /** The ignore entry's last day (YYYY-MM-DD). */
  expires?: string;
}

/** What the policy decided about one hygiene finding; an empty decision leaves it shown and counting. */
export interface HygieneDecision {
  /** Left out of the report: not among `--severity`'s levels. */
  hidden?: "severity";
  suppressed?: HygieneSuppression;
  /** With `--baseline`: whether the baseline report already had this finding. */
  baseline?: "new" | "known";
}

export interface HygieneVerdict {
  /** Hygiene findings that trip `--fail-on`: at or above it, shown, not suppressed, not known. */
  failing: HygieneFinding[];
  /** Per hygiene finding (by identity); one without an entry is shown and counts. */
  decisions: ReadonlyMap<HygieneFinding, HygieneDecision>;
}

export interface PolicyVerdict {
  failOn?: SeverityLevel;
  /** Findings that trip `--fail-on`: at or above the threshold, shown, not suppressed, not known. */
  failing: Finding[];
  /** Whether anything trips `--fail-on`: a finding, or a hygiene finding. */
  failed: boolean;
  /** The build-hygiene findings' decisions, when the scan or lint had any to decide. */
  hygiene?: HygieneVerdict;
  /** Per finding (by identity); a finding without an entry is shown and counts. */
  decisions?: ReadonlyMap<Finding, FindingDecision>;
  settings?: PolicySettings;
  /** Things the report should warn about: expired ignore entries. */
  warnings?: Array<{ subject: string; problem: string }>;
}
