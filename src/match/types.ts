/** The matching stage: packages crossed with advisories. */

export const severityLevels = ["unknown", "low", "medium", "high", "critical"] as const;
export type SeverityLevel = (typeof severityLevels)[number];

export interface Severity {
  level: SeverityLevel;
  /**
   * Where the rating came from (severity.ts): a vendor's own rating ("debian" urgency, "ubuntu"
   * priority, "almalinux", "ghsa", "bitnami"), else a score computed from the record's CVSS
   * vector ("cvss_v4", "cvss_v3", "cvss_v2"), else NVD's rating of its CVE ("nvd", from
   * `db update`), else "none".
   */
  source: string;
  score?: number;
  vector?: string;
}

export type FixState = "fixed" | "not-fixed" | "will-not-fix";

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
  /**
   * "fixed": a fix is published; "will-not-fix": none is, and the distribution says none is
   * planned (Debian urgency "unimportant", Ubuntu priority "negligible"); "not-fixed" otherwise.
   */
  fixState: FixState;
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
