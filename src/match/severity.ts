import type { OsvAffected, OsvRecord } from "../vulndb/osv.js";
import { cvss3BaseScore } from "./cvss.js";
import { type Severity, type SeverityLevel, severityLevels } from "./types.js";

export function severityRank(level: SeverityLevel): number {
  return severityLevels.indexOf(level);
}

export function levelFromScore(score: number): SeverityLevel {
  if (score >= 9) return "critical";
  if (score >= 7) return "high";
  if (score >= 4) return "medium";
  if (score > 0) return "low";
  return "unknown";
}

/** Vendor words for severity, lower-cased, as Debian, Ubuntu and GitHub write them. */
const vendorWords: Record<string, SeverityLevel> = {
  unimportant: "low",
  negligible: "low",
  low: "low",
  medium: "medium",
  moderate: "medium",
  high: "high",
  important: "high",
  critical: "critical",
};

function vendorLevel(value: unknown): SeverityLevel | undefined {
  return typeof value === "string" ? vendorWords[value.trim().toLowerCase()] : undefined;
}

/**
 * The severity of an advisory for one affected package: the vendor's own rating where the record
 * has one (Debian urgency, GHSA severity, Ubuntu priority), else the CVSS v3 base score.
 */
export function severityOf(record: OsvRecord, affected: OsvAffected): Severity {
  const urgency = vendorLevel(affected.ecosystem_specific?.urgency ?? affected.database_specific?.urgency);
  if (urgency) return { level: urgency, source: "debian" };
  const ghsa = vendorLevel(record.database_specific?.severity);
  if (ghsa) return { level: ghsa, source: "ghsa" };
  for (const entry of [...(affected.severity ?? []), ...(record.severity ?? [])]) {
    if (entry.type === "Ubuntu") {
      const level = vendorLevel(entry.score);
      if (level) return { level, source: "ubuntu" };
    }
    if (entry.type === "CVSS_V3") {
      const score = cvss3BaseScore(entry.score);
      if (score !== undefined)
        return { level: levelFromScore(score), source: "cvss_v3", score, vector: entry.score };
    }
  }
  return { level: "unknown", source: "none" };
}
