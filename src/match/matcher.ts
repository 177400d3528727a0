import type { Package } from "../inventory/types.js";
import { ecosystemBase, ecosystemRelease, normalizePackageName } from "../vulndb/ecosystem.js";
import type { OsvRecord } from "../vulndb/osv.js";
import { evaluateAffected } from "./ranges.js";
import { severityOf, severityRank } from "./severity.js";
import type { Finding, MatchWarning } from "./types.js";
import { versionSchemeFor } from "./versions/index.js";
import type { VersionScheme } from "./versions/types.js";

/** Where the matcher gets advisories: the store, or anything else that answers the same question. */
export interface AdvisorySource {
  recordsFor(ecosystem: string, name: string): OsvRecord[];
}

export interface MatchResult {
  findings: Finding[];
  warnings: MatchWarning[];
}

/**
 * Whether an advisory written for `recordEcosystem` applies to a package of `packageEcosystem`.
 * A record without a release applies to every release; otherwise the releases must agree.
 */
function ecosystemApplies(recordEcosystem: string, packageEcosystem: string): boolean {
  if (ecosystemBase(recordEcosystem) !== ecosystemBase(packageEcosystem)) return false;
  const recordRelease = ecosystemRelease(recordEcosystem);
  return recordRelease === undefined || recordRelease === ecosystemRelease(packageEcosystem);
}

/** Advisories name OS packages by their source package, and version them by it too. */
function matchIdentity(pkg: Package): { name: string; version: string } {
  return { name: pkg.sourceName ?? pkg.name, version: pkg.sourceVersion ?? pkg.version };
}

interface RecordMatch {
  record: OsvRecord;
  fixed?: string;
  finding: Omit<Finding, "id" | "aliases" | "matchedRecords" | "fixedVersion" | "fixState">;
}

function isCve(id: string): boolean {
  return id.startsWith("CVE-");
}

/** Joins the matches of one package whose ids alias each other into one finding. */
function mergeAliasGroups(matches: RecordMatch[], scheme: VersionScheme): Finding[] {
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let root = id;
    while (parent.get(root) !== root) root = parent.get(root) ?? root;
    parent.set(id, root);
    return root;
  };
  const union = (a: string, b: string) => {
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    parent.set(find(a), find(b));
  };
  for (const match of matches) {
    union(match.record.id, match.record.id);
    for (const alias of match.record.aliases ?? []) union(match.record.id, alias);
  }
  const groups = new Map<string, RecordMatch[]>();
  for (const match of matches) {
    const root = find(match.record.id);
    groups.set(root, [...(groups.get(root) ?? []), match]);
  }
  const findings: Finding[] = [];
  for (const group of groups.values()) {
    const ids = new Set<string>();
    for (const match of group) {
      ids.add(match.record.id);
      for (const alias of match.record.aliases ?? []) ids.add(alias);
    }
    const sortedIds = [...ids].sort();
    const id = sortedIds.find(isCve) ?? group.map((m) => m.record.id).sort()[0] ?? sortedIds[0] ?? "";
    // The fix must cover every advisory in the group; one advisory without a fix leaves it open.
    const fixes = group.map((m) => m.fixed);
    const fixedVersion = fixes.every((f) => f !== undefined)
      ? (fixes as string[]).reduce((a, b) => (scheme.compare(a, b) >= 0 ? a : b))
      : undefined;
    const strongest = group.reduce((a, b) =>
      severityRank(b.finding.severity.level) > severityRank(a.finding.severity.level) ? b : a,
    );
    const summary = group.map((m) => m.record.summary).find((s) => s !== undefined && s !== "");
    findings.push({
      ...strongest.finding,
      id,
      aliases: sortedIds.filter((other) => other !== id),
      ...(fixedVersion ? { fixedVersion } : {}),
      fixState: fixedVersion ? "fixed" : "not-fixed",
      ...(summary ? { summary } : {}),
      matchedRecords: group.map((m) => m.record.id).sort(),
    });
  }
  return findings;
}

/** Crosses every package with the advisories for its ecosystem and name. */
export function matchPackages(packages: Package[], advisories: AdvisorySource): MatchResult {
  const findings: Finding[] = [];
  const warnings: MatchWarning[] = [];
  const recordCache = new Map<string, OsvRecord[]>();
  packages.forEach((pkg, packageIndex) => {
    if (!pkg.ecosystem) return;
    const scheme = versionSchemeFor(pkg.ecosystem);
    if (!scheme) return;
    const identity = matchIdentity(pkg);
    if (!scheme.isValid(identity.version)) {
      warnings.push({
        package: pkg.purl,
        problem: `version ${identity.version} is not a valid ${scheme.name} version; not matched`,
      });
      return;
    }
    const cacheKey = `${pkg.ecosystem}\u0000${identity.name}`;
    let records = recordCache.get(cacheKey);
    if (!records) {
      records = advisories.recordsFor(pkg.ecosystem, identity.name);
      recordCache.set(cacheKey, records);
    }
    const wantedName = normalizePackageName(pkg.ecosystem, identity.name);
    const matches: RecordMatch[] = [];
    for (const record of records) {
      if (record.withdrawn) continue;
      let best: RecordMatch | undefined;
      for (const affected of record.affected ?? []) {
        const target = affected.package;
        if (!target || !ecosystemApplies(target.ecosystem, pkg.ecosystem)) continue;
        if (normalizePackageName(target.ecosystem, target.name) !== wantedName) continue;
        const verdict = evaluateAffected(identity.version, affected, scheme);
        if (!verdict.affected) continue;
        // One advisory may list the package several times (one entry per branch): keep one match,
        // the one with a fix when any has one.
        if (best && best.fixed !== undefined) continue;
        best = {
          record,
          ...(verdict.fixed ? { fixed: verdict.fixed } : {}),
          finding: {
            packageIndex,
            installedVersion: pkg.version,
            severity: severityOf(record, affected),
            ecosystem: target.ecosystem,
          },
        };
      }
      if (best) matches.push(best);
    }
    findings.push(...mergeAliasGroups(matches, scheme));
  });
  findings.sort(
    (a, b) => severityRank(b.severity.level) - severityRank(a.severity.level) || a.id.localeCompare(b.id),
  );
  return { findings, warnings };
}
