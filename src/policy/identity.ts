/**
 * Vulnerability ids, as the ignore file, VEX documents and baselines name them. A finding is one
 * alias group (its CVE, GHSA, DSA, GO-... ids), so naming any one of them names the finding. Ids
 * are compared without case: `GHSA-xvch-5gv4-984h` is written both ways in the wild.
 */

export function normaliseId(id: string): string {
  return id.trim().toUpperCase();
}

/** Every id of a finding's alias group, normalised. */
export function findingIds(finding: { id: string; aliases: readonly string[] }): Set<string> {
  return new Set([finding.id, ...finding.aliases].map(normaliseId));
}

/** Whether any of `names` is one of `ids` (already normalised). */
export function namesAnyOf(names: readonly string[], ids: ReadonlySet<string>): boolean {
  return names.some((name) => ids.has(normaliseId(name)));
}
