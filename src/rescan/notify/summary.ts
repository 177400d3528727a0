/** What every notifier says about a rescan's changes: severities in order, counts, short names. */
import { severityLevels } from "../../match/types.js";
import type { FindingState, ImageChange, RescanChanges } from "../types.js";

export type FindingSeverity = FindingState["severity"];

export function severityRank(level: FindingSeverity): number {
  return severityLevels.indexOf(level);
}

export function atOrAbove(findings: readonly FindingState[], minSeverity: FindingSeverity): FindingState[] {
  const min = severityRank(minSeverity);
  return findings.filter((finding) => severityRank(finding.severity) >= min);
}

/** Most severe first, then by id, so messages list the same findings in the same order. */
export function bySeverity<T extends Pick<FindingState, "id" | "severity">>(findings: readonly T[]): T[] {
  return [...findings].sort(
    (a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id),
  );
}

export type SeverityCounts = Record<FindingSeverity, number>;

export function countBySeverity(findings: readonly FindingState[]): SeverityCounts {
  const counts = Object.fromEntries(severityLevels.map((level) => [level, 0])) as SeverityCounts;
  for (const finding of findings) counts[finding.severity]++;
  return counts;
}

/** "2 critical, 5 high, 1 low" (most severe first, zeros left out); "none" when empty. */
export function describeCounts(counts: SeverityCounts): string {
  const parts = [...severityLevels]
    .reverse()
    .filter((level) => counts[level] > 0)
    .map((level) => `${counts[level]} ${level}`);
  return parts.length > 0 ? parts.join(", ") : "none";
}

/** Whether a rescan has anything to say: a changed image, a moved or gone tag, or a failure. */
export function hasNews(changes: RescanChanges): boolean {
  return (
    changes.images.length > 0 ||
    changes.tagsMoved.length > 0 ||
    changes.tagsGone.length > 0 ||
    changes.errors.length > 0
  );
}

/** "sha256:0123456789ab" (12 hex digits: enough to tell images apart in a message). */
export function shortDigest(digest: string): string {
  const [algorithm, hex] = digest.split(":", 2);
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : digest;
}

/** Images ordered by their most severe new finding, then by how many, then by name. */
export function imagesByUrgency(images: readonly ImageChange[]): ImageChange[] {
  const worst = (image: ImageChange) =>
    Math.max(-1, ...image.newFindings.map((f) => severityRank(f.severity)));
  return [...images].sort(
    (a, b) =>
      worst(b) - worst(a) ||
      b.newFindings.length - a.newFindings.length ||
      a.repository.localeCompare(b.repository) ||
      a.digest.localeCompare(b.digest),
  );
}

/** The fixed version, or a word saying there is none. */
export function fixText(finding: FindingState): string {
  return finding.fixedVersion ? finding.fixedVersion : "no fix";
}

/**
 * Replaces every occurrence of a secret (a token, a signing key, a Slack URL) in a message meant
 * for a log, so that no error text a library or a server wrote can leak one.
 */
export function redactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  const known = secrets.filter((secret): secret is string => secret !== undefined && secret.length >= 4);
  return (text) => known.reduce((result, secret) => result.split(secret).join("[redacted]"), text);
}
