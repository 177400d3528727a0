/** The matching stage: packages crossed with advisories. */

export const severityLevels = ["unknown", "low", "medium", "high", "critical"] as const;
export type SeverityLevel = (typeof severityLevels)[number];

export interface Severity {
  level: SeverityLevel;
  /** Where the rating came from: "debian", "ghsa", "cvss_v3", ... */
  source: string;
  score?: number;
  vector?: string;
}

export interface Finding {
  /** The primary id of the alias group: its CVE when it has one. */
  id: string;
  /** Every other id that names the same vulnerability. */
  aliases: string[];
  /** Index into the inventory's package list. */
  packageIndex: number;
  installedVersion: string;
  /** The lowest version that fixes every advisory in the group, when one is published. */
  fixedVersion?: string;
  fixState: "fixed" | "not-fixed";
  severity: Severity;
  summary?: string;
  /** Ecosystem of the advisory that matched ("Debian:12"). */
  ecosystem: string;
  /** Ids of the advisory records that matched (before alias merging). */
  matchedRecords: string[];
}

export interface MatchWarning {
  package: string;
  problem: string;
}
