import type { Package } from "../inventory/types.js";
import { ecosystemBase, ecosystemRelease, normalizePackageName } from "../vulndb/ecosystem.js";
import type { OsvAffected, OsvRecord } from "../vulndb/osv.js";
import type { NvdEntry } from "../vulndb/store.js";
import { evaluateAffected, lowestUnaffectedFix } from "./ranges.js";
import { nvdSeverity, preferredSeverity, severityOf, severityRank } from "./severity.js";
import type { Finding, FixState, MatchWarning, Severity } from "./types.js";
import { versionSchemeFor } from "./versions/index.js";
import type { VersionScheme } from "./versions/types.js";

/** Where the matcher gets advisories: the store, or anything else that answers the same question. */
export interface AdvisorySource {
  recordsFor(ecosystem: string, name: string): OsvRecord[];
  /** NVD's data for a CVE, where the source has it: the last fallback for severity. */
  nvdEntry?(cveId: string): NvdEntry | undefined;
}

export interface MatchOptions {
  /**
   * Also apply Ubuntu Pro (ESM) advisories, ecosystem `Ubuntu:Pro:22.04:LTS`: their fixes come
   * only from the Pro archives, so they apply only to images with Ubuntu Pro enabled. Off by default.
   */
  ubuntuPro?: boolean;
}

export interface MatchResult {
  findings: Finding[];
  warnings: MatchWarning[];
}

/**
 * An Ubuntu ecosystem's release: "22.04:LTS" and "22.04" are the same release (osv-scanner asks
 * for "Ubuntu:22.04", records say "Ubuntu:22.04:LTS"); "Pro:22.04:LTS" is its Pro archive. Other
 * qualifiers ("Pro:FIPS:22.04:LTS") name archives that layerwatch cannot tell an image uses.
 */
function ubuntuRelease(release: string): { version: string; pro: boolean } | undefined {
  const parts = release.split(":").filter((part) => part !== "LTS");
  const pro = parts[0] === "Pro";
  const rest = pro ? parts.slice(1) : parts;
  return rest.length === 1 && rest[0] ? { version: rest[0], pro } : undefined;
}

/**
 * Whether an advisory written for `recordEcosystem` applies to a package of `packageEcosystem`.
 * A record without a release applies to every release; otherwise the releases must agree:
 * Debian by major release ("Debian:12" covers 12.x point releases), Ubuntu as ubuntuRelease()
 * reads it, every other distribution exactly.
 */
function ecosystemApplies(recordEcosystem: string, packageEcosystem: string, options: MatchOptions): boolean {
  const base = ecosystemBase(recordEcosystem);
  if (base !== ecosystemBase(packageEcosystem)) return false;
  const recordRelease = ecosystemRelease(recordEcosystem);
  if (recordRelease === undefined) return true;
  const packageRelease = ecosystemRelease(packageEcosystem);
  if (packageRelease === undefined) return false;
  if (base === "Debian") return recordRelease.split(".")[0] === packageRelease.split(".")[0];
  if (base === "Ubuntu") {
    const record = ubuntuRelease(recordRelease);
    const pkg = ubuntuRelease(packageRelease);
    return (
      record !== undefined &&
      pkg !== undefined &&
      record.version === pkg.version &&
      // A package that says it came from the Pro archive is on a Pro-enabled image.
      (!record.pro || pkg.pro || options.ubuntuPro === true)
    );
  }
  return recordRelease === packageRelease;
}

interface Identity {
  name: string;
  version: string;
}

/** One name and version of a package in its OSV ecosystem: a question put to advisories. */
export interface AdvisoryQuery extends Identity {
  ecosystem: string;
}

/**
 * The names and versions advisories may know a package by. Debian, Ubuntu and Alpine advisories
 * name the source package (dpkg's Source:, apk's origin) and its version. rpm distributions
 * differ: AlmaLinux and SUSE name binary packages (openssl-libs), Mageia and openEuler source
 * rpms, so an rpm package is looked up by both, each with its own version.
 */
function identities(pkg: Package): Identity[] {
  const binary = {
    name: pkg.name,
    version: pkg.epoch !== undefined ? `${pkg.epoch}:${pkg.version}` : pkg.version,
  };
  if (!pkg.sourceName) return [binary];
  const source = { name: pkg.sourceName, version: pkg.sourceVersion ?? pkg.version };
  if (pkg.type !== "rpm") return [source];
  return source.name === binary.name && source.version === binary.version ? [binary] : [binary, source];
}

/**
 * What advisories are asked about one package: its ecosystem with each of its identities. Empty
 * for a package without an ecosystem. The matcher looks records up by these, and `--online` asks
 * osv.dev the same questions (advisoryQuestions), so both see the same records.
 */
export function advisoryQueries(pkg: Package): AdvisoryQuery[] {
  const ecosystem = pkg.ecosystem;
  if (!ecosystem) return [];
  return identities(pkg).map((identity) => ({ ecosystem, ...identity }));
}

/**
 * The distinct questions matchPackages() would look records up by for these packages: those of
 * packages whose ecosystem has a version scheme, at versions valid in it.
 */
export function advisoryQuestions(packages: readonly Package[]): AdvisoryQuery[] {
  const questions = new Map<string, AdvisoryQuery>();
  for (const query of packages.flatMap(advisoryQueries)) {
    if (!versionSchemeFor(query.ecosystem)?.isValid(query.version)) continue;
    questions.set(`${query.ecosystem}\u0000${query.name}\u0000${query.version}`, query);
  }
  return [...questions.values()];
}

/** Whether the distribution says no fix is planned for an affected entry that has none. */
function willNotFix(affected: OsvAffected, record: OsvRecord): boolean {
  const word = (value: unknown) => (typeof value === "string" ? value.trim().toLowerCase() : undefined);
  switch (ecosystemBase(affected.package?.ecosystem ?? "")) {
    // Debian's tracker rates "unimportant" what does not matter in practice on Debian; such
    // issues get no security update.
    case "Debian":
      return word(affected.ecosystem_specific?.urgency) === "unimportant";
    // Ubuntu's "negligible" priority: not expected to be fixed in a security update.
    case "Ubuntu":
      return [...(affected.severity ?? []), ...(record.severity ?? [])].some(
        (entry) => entry.type === "Ubuntu" && word(entry.score) === "negligible",
      );
    default:
      return false;
  }
}

/** One record that affects one package, before alias merging. */
interface RecordMatch {
  record: OsvRecord;
  /** The lowest named fix that no entry of the record for this package affects (ranges.ts). */
  fixed?: string;
  fixState: FixState;
  severity: Severity;
  /** Ecosystem of the first entry that matched. */
  ecosystem: string;
}

/** Whether and how one record affects one identity of a package; undefined when it does not. */
function matchRecord(
  record: OsvRecord,
  identity: Identity,
  pkgEcosystem: string,
  scheme: VersionScheme,
  options: MatchOptions,
): RecordMatch | undefined {
  const wantedName = normalizePackageName(pkgEcosystem, identity.name);
  const entries = (record.affected ?? []).filter(
    (entry) =>
      entry.package !== undefined &&
      ecosystemApplies(entry.package.ecosystem, pkgEcosystem, options) &&
      normalizePackageName(entry.package.ecosystem, entry.package.name) === wantedName,
  );
  const covering: OsvAffected[] = [];
  const candidates: string[] = [];
  for (const entry of entries) {
    const verdict = evaluateAffected(identity.version, entry, scheme);
    if (!verdict.affected) continue;
    covering.push(entry);
    if (verdict.fixed !== undefined) candidates.push(verdict.fixed);
  }
  const first = covering[0];
  if (!first?.package) return undefined;
  // With one entry, evaluateAffected has already found its lowest fix that it does not cover.
  const fixed =
    entries.length === 1 ? candidates[0] : lowestUnaffectedFix(identity.version, candidates, entries, scheme);
  const fixState: FixState = fixed
    ? "fixed"
    : covering.every((entry) => willNotFix(entry, record))
      ? "will-not-fix"
      : "not-fixed";
  const severity = covering
    .map((entry) => severityOf(record, entry))
    .reduce((a, b) => preferredSeverity(a, b));
  return {
    record,
    ...(fixed ? { fixed } : {}),
    fixState,
    severity,
    ecosystem: first.package.ecosystem,
  };
}

function isCve(id: string): boolean {
  return id.startsWith("CVE-");
}

/**
 * Joins the matches of one package whose ids alias each other, transitively, into one finding.
 * `related` and `upstream` link different vulnerabilities and do not merge.
 */
function mergeAliasGroups(
  matches: RecordMatch[],
  pkg: Package,
  packageIndex: number,
  scheme: VersionScheme,
): Finding[] {
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let root = id;
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root) as string;
    parent.set(id, root);
    return root;
  };
  const union = (a: string, b: string) => {
    const rootA = find(a);
    const rootB = find(b);
    if (rootA !== rootB) parent.set(rootA, rootB);
  };
  for (const match of matches) {
    find(match.record.id);
    for (const alias of match.record.aliases ?? []) union(match.record.id, alias);
  }
  const groups = new Map<string, RecordMatch[]>();
  for (const match of matches) {
    const root = find(match.record.id);
    const group = groups.get(root);
    if (group) group.push(match);
    else groups.set(root, [match]);
  }
  const findings: Finding[] = [];
  for (const group of groups.values()) {
    const ids = new Set<string>();
    for (const match of group) {
      ids.add(match.record.id);
      for (const alias of match.record.aliases ?? []) ids.add(alias);
    }
    const sortedIds = [...ids].sort();
    const recordIds = group.map((m) => m.record.id).sort();
    const id = sortedIds.find(isCve) ?? recordIds[0] ?? "";
    // The fix must cover every advisory in the group; one advisory without a fix leaves it open.
    const fixes = group.map((m) => m.fixed);
    const fixedVersion = fixes.every((f) => f !== undefined)
      ? (fixes as string[]).reduce((a, b) => (scheme.compare(a, b) >= 0 ? a : b))
      : undefined;
    const unfixed = group.filter((m) => m.fixed === undefined);
    const fixState: FixState = fixedVersion
      ? "fixed"
      : unfixed.every((m) => m.fixState === "will-not-fix")
        ? "will-not-fix"
        : "not-fixed";
    const chosen = group.reduce((a, b) => (preferredSeverity(a.severity, b.severity) === b.severity ? b : a));
    const summary = group.map((m) => m.record.summary).find((s) => s !== undefined && s !== "");
    findings.push({
      id,
      aliases: sortedIds.filter((other) => other !== id),
      packageIndex,
      installedVersion: pkg.version,
      ...(fixedVersion ? { fixedVersion } : {}),
      fixState,
      severity: chosen.severity,
      ...(summary ? { summary } : {}),
      ecosystem: chosen.ecosystem,
      matchedRecords: recordIds,
    });
  }
  return findings;
}

/**
 * Crosses every package with the advisories for its ecosystem and name: one finding per
 * (package, vulnerability), records that alias each other merged. Withdrawn records never match.
 */
export function matchPackages(
  packages: Package[],
  advisories: AdvisorySource,
  options: MatchOptions = {},
): MatchResult {
  const findings: Finding[] = [];
  const warnings: MatchWarning[] = [];
  const recordCache = new Map<string, OsvRecord[]>();
  // NVD's entry for a CVE, asked once per call: the records of one package name (Go's stdlib)
  // are matched again for each version of it that the image holds.
  const nvdCache = new Map<string, NvdEntry | undefined>();
  const nvdEntry = (cveId: string): NvdEntry | undefined => {
    if (nvdCache.has(cveId)) return nvdCache.get(cveId);
    const entry = advisories.nvdEntry?.(cveId);
    nvdCache.set(cveId, entry);
    return entry;
  };
  const recordsFor = (ecosystem: string, name: string): OsvRecord[] => {
    const key = `${ecosystem}\u0000${name}`;
    let records = recordCache.get(key);
    if (!records) {
      records = advisories.recordsFor(ecosystem, name);
      recordCache.set(key, records);
    }
    return records;
  };
  packages.forEach((pkg, packageIndex) => {
    if (!pkg.ecosystem) return;
    const scheme = versionSchemeFor(pkg.ecosystem);
    if (!scheme) return;
    const matches = new Map<string, RecordMatch>();
    for (const query of advisoryQueries(pkg)) {
      if (!scheme.isValid(query.version)) {
        warnings.push({
          package: pkg.purl,
          problem: `version ${query.version} is not a valid ${scheme.name} version; not matched`,
        });
        continue;
      }
      for (const record of recordsFor(query.ecosystem, query.name)) {
        if (record.withdrawn || matches.has(record.id)) continue;
        const match = matchRecord(record, query, query.ecosystem, scheme, options);
        if (match?.severity.source === "none")
          match.severity = nvdSeverity(record, nvdEntry) ?? match.severity;
        if (match) matches.set(record.id, match);
      }
    }
    findings.push(...mergeAliasGroups([...matches.values()], pkg, packageIndex, scheme));
  });
  findings.sort(
    (a, b) =>
      severityRank(b.severity.level) - severityRank(a.severity.level) ||
      a.id.localeCompare(b.id) ||
      a.packageIndex - b.packageIndex,
  );
  return { findings, warnings };
}

/**
 * The ids of the records (not alias groups) that affect one name and version of an ecosystem,
 * as osv.dev's query API answers: for comparing with it, and for callers that want records.
 */
export function affectingRecordIds(
  advisories: AdvisorySource,
  ecosystem: string,
  name: string,
  version: string,
  options: MatchOptions = {},
): string[] | undefined {
  const scheme = versionSchemeFor(ecosystem);
  if (!scheme?.isValid(version)) return undefined;
  return advisories
    .recordsFor(ecosystem, name)
    .filter(
      (record) => !record.withdrawn && matchRecord(record, { name, version }, ecosystem, scheme, options),
    )
    .map((record) => record.id)
    .sort();
}
