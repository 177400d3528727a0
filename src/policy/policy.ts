import type { Finding, SeverityLevel } from "../match/types.js";
import { type Baseline, isKnown, loadBaseline } from "./baseline.js";
import { findingIds } from "./identity.js";
import {
  DEFAULT_IGNORE_FILE,
  expiredEntryWarnings,
  type IgnoreFile,
  ignoreSuppression,
  loadIgnoreFile,
  matchIgnoreEntry,
  utcDay,
} from "./ignore-file.js";
import { type PurlParts, PurlSyntaxError, parsePurl } from "./purl-pattern.js";
import { hiddenBySeverity, parseSeverityList } from "./severity-filter.js";
import { meetsThreshold, parseSeverityLevel } from "./threshold.js";
import type { FindingDecision, PolicySettings, PolicyVerdict, Suppression } from "./types.js";
import { hiddenAsUnfixed } from "./unfixed.js";
import { decidingStatement, loadVexDocuments, type VexDocument, vexSuppression } from "./vex.js";

/**
 * The policy `layerwatch scan` applies, rule by rule, each finding stopping at the first that
 * sets it aside:
 * 1. hide: `--severity` (levels not listed), then `--ignore-unfixed` (no fixed version); a hidden
 *    finding leaves the report and is only counted;
 * 2. suppress: the ignore file's first entry in force that names it, else the deciding VEX
 *    statement when it says `not_affected` or `fixed`; the finding stays, marked `suppressed`;
 * 3. baseline: every finding still listed is marked `known` or `new`;
 * 4. threshold: `--fail-on` counts the listed findings that are neither suppressed nor known.
 */

/** The scan command's policy options, as given. */
export interface PolicyOptions {
  failOn?: string;
  severity?: string;
  ignoreUnfixed?: boolean;
  ignoreFile?: string;
  vex?: string[];
  baseline?: string;
}

export interface Policy {
  failOn?: SeverityLevel;
  severities?: SeverityLevel[];
  ignoreUnfixed: boolean;
  ignoreFile?: IgnoreFile;
  vex: VexDocument[];
  baseline?: Baseline;
}

/**
 * Checks the options and reads the files they name, before anything is scanned: a bad file is
 * one InputError (exit 2). Without --ignore-file, `.layerwatchignore.yaml` in the current
 * directory is read when it exists.
 */
export async function loadPolicy(options: PolicyOptions): Promise<Policy> {
  const failOn = options.failOn === undefined ? undefined : parseSeverityLevel(options.failOn, "--fail-on");
  const severities = options.severity === undefined ? undefined : parseSeverityList(options.severity);
  const ignoreFile = await loadIgnoreFile(
    options.ignoreFile ?? DEFAULT_IGNORE_FILE,
    options.ignoreFile !== undefined,
  );
  const vex = await loadVexDocuments(options.vex ?? []);
  const baseline = options.baseline === undefined ? undefined : await loadBaseline(options.baseline);
  return {
    ...(failOn ? { failOn } : {}),
    ...(severities ? { severities } : {}),
    ignoreUnfixed: options.ignoreUnfixed === true,
    ...(ignoreFile ? { ignoreFile } : {}),
    vex,
    ...(baseline ? { baseline } : {}),
  };
}

/** What the policy needs of each package a finding names. */
export interface PolicyPackage {
  name: string;
  type: string;
  purl: string;
}

/** The scanned image, for VEX statements about it: its manifest and config digests. */
export interface PolicyImage {
  digests: string[];
}

/** A package's purl taken apart; an unparsable one (from an SBOM) matches no purl pattern. */
function purlParts(purl: string): PurlParts | undefined {
  try {
    return parsePurl(purl);
  } catch (error) {
    if (error instanceof PurlSyntaxError) return undefined;
    throw error;
  }
}

function settingsOf(policy: Policy): PolicySettings {
  return {
    ...(policy.severities ? { severities: policy.severities } : {}),
    ...(policy.ignoreUnfixed ? { ignoreUnfixed: true } : {}),
    ...(policy.ignoreFile ? { ignoreFile: policy.ignoreFile.path } : {}),
    ...(policy.vex.length > 0 ? { vex: policy.vex.map((document) => document.path) } : {}),
    ...(policy.baseline ? { baseline: policy.baseline.path } : {}),
  };
}

export function applyPolicy(
  findings: readonly Finding[],
  packages: readonly PolicyPackage[],
  image: PolicyImage,
  policy: Policy,
  now: Date = new Date(),
): PolicyVerdict {
  const today = utcDay(now);
  const parsedPurls = packages.map((pkg) => purlParts(pkg.purl));
  const vexImage = {
    digests: image.digests,
    packagePurls: parsedPurls.filter((purl): purl is PurlParts => purl !== undefined),
  };
  const decisions = new Map<Finding, FindingDecision>();
  const failing: Finding[] = [];
  for (const finding of findings) {
    const pkg = packages[finding.packageIndex];
    if (!pkg)
      throw new Error(
        `finding ${finding.id} names package ${finding.packageIndex}, which the inventory lacks`,
      );
    if (hiddenBySeverity(finding, policy.severities)) {
      decisions.set(finding, { hidden: "severity" });
      continue;
    }
    if (hiddenAsUnfixed(finding, policy.ignoreUnfixed)) {
      decisions.set(finding, { hidden: "unfixed" });
      continue;
    }
    const ids = findingIds(finding);
    const purl = parsedPurls[finding.packageIndex];
    let suppressed: Suppression | undefined;
    const entry = policy.ignoreFile ? matchIgnoreEntry(policy.ignoreFile, ids, purl, today) : undefined;
    if (entry && policy.ignoreFile) {
      suppressed = ignoreSuppression(policy.ignoreFile, entry);
    } else if (policy.vex.length > 0) {
      suppressed = vexSuppression(decidingStatement(policy.vex, ids, purl, vexImage));
    }
    const baseline = policy.baseline ? (isKnown(policy.baseline, ids, pkg) ? "known" : "new") : undefined;
    const decision: FindingDecision = {
      ...(suppressed ? { suppressed } : {}),
      ...(baseline ? { baseline } : {}),
    };
    if (suppressed || baseline) decisions.set(finding, decision);
    if (policy.failOn && !suppressed && baseline !== "known" && meetsThreshold(finding, policy.failOn)) {
      failing.push(finding);
    }
  }
  return {
    ...(policy.failOn ? { failOn: policy.failOn } : {}),
    failing,
    failed: failing.length > 0,
    decisions,
    settings: settingsOf(policy),
    warnings: policy.ignoreFile ? expiredEntryWarnings(policy.ignoreFile, today) : [],
  };
}
