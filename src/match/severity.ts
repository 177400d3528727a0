import { ecosystemBase } from "../vulndb/ecosystem.js";
import type { OsvAffected, OsvRecord, OsvSeverity } from "../vulndb/osv.js";
import type { NvdEntry } from "../vulndb/store.js";
import { cvss2BaseScore, cvss3BaseScore } from "./cvss.js";
import { cvss4BaseScore } from "./cvss4.js";
import { type Severity, type SeverityLevel, severityLevels } from "./types.js";

export function severityRank(level: SeverityLevel): number {
  return severityLevels.indexOf(level);
}

/** CVSS v3 and v4 qualitative ratings (0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0+ critical). */
export function levelFromScore(score: number): SeverityLevel {
  if (score >= 9) return "critical";
  if (score >= 7) return "high";
  if (score >= 4) return "medium";
  if (score > 0) return "low";
  return "unknown";
}

/** CVSS v2 has no critical: NVD rates 7.0-10.0 high. */
function levelFromCvss2(score: number): SeverityLevel {
  return score >= 7 ? "high" : levelFromScore(score);
}

/**
 * Vendor words for severity, lower-cased: Debian urgencies (`unimportant`, `low`, `medium`,
 * `high`), Ubuntu priorities (`negligible` ... `critical`), GitHub's and Bitnami's ratings, and
 * Red Hat's scale that AlmaLinux uses (`Low`, `Moderate`, `Important`, `Critical`). Words that
 * rate nothing (Debian's "not yet assigned", Ubuntu's "untriaged", Bitnami's "Unknown") are absent.
 */
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
  // The Debian tracker marks some urgencies with asterisks ("low**"); they do not change the word.
  return typeof value === "string" ? vendorWords[value.trim().replace(/\*+$/, "").toLowerCase()] : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function strongest(levels: Array<SeverityLevel | undefined>): SeverityLevel | undefined {
  let best: SeverityLevel | undefined;
  for (const level of levels) if (level && (!best || severityRank(level) > severityRank(best))) best = level;
  return best;
}

/** Ubuntu priorities: `{type: "Ubuntu", score: "medium"}` beside the CVSS entries. */
function ubuntuPriority(entries: OsvSeverity[]): SeverityLevel | undefined {
  return strongest(
    entries.filter((entry) => entry.type === "Ubuntu").map((entry) => vendorLevel(entry.score)),
  );
}

/** A USN rates nothing itself; each affected entry's `database_specific.cves_map` rates its CVEs. */
function usnPriority(databaseSpecific: Record<string, unknown> | undefined): SeverityLevel | undefined {
  const map = databaseSpecific?.cves_map;
  const cves = isObject(map) && Array.isArray(map.cves) ? map.cves : [];
  return strongest(
    cves.map((cve) =>
      isObject(cve) && Array.isArray(cve.severity)
        ? ubuntuPriority(cve.severity as OsvSeverity[])
        : undefined,
    ),
  );
}

/**
 * The vendor's own rating of the advisory for this package, where the record has one. Where each
 * vendor keeps it, as its real OSV records show:
 * - Debian: `affected[].ecosystem_specific.urgency`;
 * - Ubuntu: a `severity[]` entry of type "Ubuntu" (USN records: their CVEs' entries in
 *   `affected[].database_specific.cves_map`);
 * - AlmaLinux: the summary's first word, Red Hat's rating ("Important: openssl security update");
 * - Bitnami: `database_specific.severity`;
 * - GitHub (GHSA ids, in any ecosystem): `database_specific.severity`.
 */
export function vendorSeverity(record: OsvRecord, affected: OsvAffected): Severity | undefined {
  const rated = (level: SeverityLevel | undefined, source: string): Severity | undefined =>
    level ? { level, source } : undefined;
  switch (ecosystemBase(affected.package?.ecosystem ?? "")) {
    case "Debian":
      return rated(vendorLevel(affected.ecosystem_specific?.urgency), "debian");
    case "Ubuntu":
      return rated(
        ubuntuPriority([...(affected.severity ?? []), ...(record.severity ?? [])]) ??
          usnPriority(affected.database_specific) ??
          usnPriority(record.database_specific),
        "ubuntu",
      );
    case "AlmaLinux":
      return rated(vendorLevel(/^(\w+):/.exec(record.summary ?? "")?.[1]), "almalinux");
    case "Bitnami":
      return rated(vendorLevel(record.database_specific?.severity), "bitnami");
  }
  if (record.id.startsWith("GHSA-")) return rated(vendorLevel(record.database_specific?.severity), "ghsa");
  return undefined;
}

/**
 * A rating computed from the record's CVSS vectors (the affected entry's, then the record's):
 * the newest CVSS version the record gives and this build can score, v4.0 before v3.x before v2.
 */
export function cvssSeverity(record: OsvRecord, affected: OsvAffected): Severity | undefined {
  const entries = [...(affected.severity ?? []), ...(record.severity ?? [])];
  const scorers: Array<[string, (vector: string) => number | undefined, (score: number) => SeverityLevel]> = [
    ["CVSS_V4", cvss4BaseScore, levelFromScore],
    ["CVSS_V3", cvss3BaseScore, levelFromScore],
    ["CVSS_V2", cvss2BaseScore, levelFromCvss2],
  ];
  for (const [type, score, level] of scorers) {
    for (const entry of entries) {
      if (entry.type !== type || typeof entry.score !== "string") continue;
      const value = score(entry.score);
      if (value !== undefined)
        return { level: level(value), source: type.toLowerCase(), score: value, vector: entry.score };
    }
  }
  return undefined;
}

/**
 * The severity of an advisory for one affected package: the vendor's own rating where the record
 * has one, else one computed from its CVSS vectors, else unknown.
 */
export function severityOf(record: OsvRecord, affected: OsvAffected): Severity {
  return (
    vendorSeverity(record, affected) ?? cvssSeverity(record, affected) ?? { level: "unknown", source: "none" }
  );
}

/**
 * The last fallback, for a record that rates nothing itself: NVD's rating (`db update`) of the
 * CVE the record is, aliases, or is a distribution's copy of (`upstream`), in that order.
 */
export function nvdSeverity(
  record: OsvRecord,
  nvdEntry: (cveId: string) => NvdEntry | undefined,
): Severity | undefined {
  for (const id of [record.id, ...(record.aliases ?? []), ...(record.upstream ?? [])]) {
    if (!id.startsWith("CVE-")) continue;
    const entry = nvdEntry(id);
    if (entry?.score === undefined) continue;
    const level =
      vendorLevel(entry.severity) ??
      (entry.cvssVersion === "2.0" ? levelFromCvss2(entry.score) : levelFromScore(entry.score));
    return { level, source: "nvd", score: entry.score, ...(entry.vector ? { vector: entry.vector } : {}) };
  }
  return undefined;
}

/** How much a rating's source is trusted: a vendor's own rating, then computed CVSS, then none. */
function sourceTier(source: string): number {
  if (source === "none") return 0;
  if (source === "nvd") return 1;
  if (source.startsWith("cvss_")) return 2;
  return 3;
}

/**
 * Which of two ratings of one vulnerability a finding shows: the better-sourced one (a vendor's
 * over a computed score), and of two equally sourced, the more severe.
 */
export function preferredSeverity(a: Severity, b: Severity): Severity {
  const byTier = sourceTier(b.source) - sourceTier(a.source);
  if (byTier !== 0) return byTier > 0 ? b : a;
  return severityRank(b.level) > severityRank(a.level) ? b : a;
}
