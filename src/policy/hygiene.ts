import type { HygieneFinding } from "../hygiene/types.js";
import { severityRank } from "../match/severity.js";
import type { SeverityLevel } from "../match/types.js";
import { hygieneIdentity } from "./hygiene-match.js";
import { ignoreSuppression, matchHygieneIgnoreEntry, utcDay } from "./ignore-file.js";
import type { Policy } from "./policy.js";
import type { HygieneDecision, HygieneSuppression, HygieneVerdict, PolicyVerdict } from "./types.js";

/**
 * The policy over build-hygiene findings, in the same steps as over vulnerabilities:
 * 1. hide: `--severity` (levels not listed); `--ignore-unfixed` does not apply (nothing is fixed
 *    by an upgrade);
 * 2. suppress: an inline `# layerwatch:ignore` comment (the linter marks the finding), else the
 *    ignore file's first `rule` entry in force that covers it; VEX is about vulnerabilities only;
 * 3. baseline: known when the baseline report had it (by rule and location, baseline.ts);
 * 4. threshold: `--fail-on` counts the rest at their severity.
 */
export function applyHygienePolicy(
  findings: readonly HygieneFinding[],
  policy: Policy,
  now: Date = new Date(),
): HygieneVerdict {
  const today = utcDay(now);
  const decisions = new Map<HygieneFinding, HygieneDecision>();
  const failing: HygieneFinding[] = [];
  // How many of each identity the baseline still has to match, consumed in order.
  const unmatched = new Map(policy.baseline?.hygiene ?? []);
  for (const finding of findings) {
    if (policy.severities && !policy.severities.includes(finding.severity)) {
      decisions.set(finding, { hidden: "severity" });
      continue;
    }
    let suppressed: HygieneSuppression | undefined;
    if (finding.suppressed) {
      const { location } = finding;
      suppressed = {
        by: "inline",
        reason: finding.suppressed.reason,
        source: location.kind === "config" ? location.field : location.path,
        line: finding.suppressed.line,
      };
    } else if (policy.ignoreFile) {
      const entry = matchHygieneIgnoreEntry(policy.ignoreFile, finding.ruleId, finding.location, today);
      if (entry) suppressed = ignoreSuppression(policy.ignoreFile, entry);
    }
    let baseline: HygieneDecision["baseline"];
    if (policy.baseline) {
      const key = hygieneIdentity(finding);
      const left = unmatched.get(key) ?? 0;
      baseline = left > 0 ? "known" : "new";
      if (left > 0) unmatched.set(key, left - 1);
    }
    if (suppressed || baseline)
      decisions.set(finding, { ...(suppressed ? { suppressed } : {}), ...(baseline ? { baseline } : {}) });
    if (policy.failOn && !suppressed && baseline !== "known" && meetsHygieneThreshold(finding, policy.failOn))
      failing.push(finding);
  }
  return { failing, decisions };
}

export function meetsHygieneThreshold(finding: { severity: SeverityLevel }, failOn: SeverityLevel): boolean {
  return severityRank(finding.severity) >= severityRank(failOn);
}

/** The vulnerability verdict with the hygiene verdict beside it: either failing fails the build. */
export function withHygiene(verdict: PolicyVerdict, hygiene: HygieneVerdict): PolicyVerdict {
  return { ...verdict, hygiene, failed: verdict.failed || hygiene.failing.length > 0 };
}
