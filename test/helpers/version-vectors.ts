import { readFileSync } from "node:fs";
import { evaluateRange } from "../../src/match/ranges.js";
import type { VersionScheme } from "../../src/match/versions/types.js";
import type { OsvAffected, OsvRecord } from "../../src/vulndb/osv.js";
import { zipMembers } from "../../src/vulndb/zip.js";
import { parseVersionVectors } from "./shared-data.js";

const expectedSign = { "<": -1, "=": 0, ">": 1 } as const;

/**
 * Checks every comparison of a vector file both ways round (`a < b` also as `b > a`, `a = b`
 * also as `b = a`) and returns how many lines were checked and the ones that failed.
 */
export function vectorFailures(
  path: string,
  compare: (a: string, b: string) => number,
): { checked: number; failures: string[] } {
  const vectors = parseVersionVectors(readFileSync(path, "utf8"));
  const failures: string[] = [];
  for (const { a, op, b, line } of vectors) {
    const forward = Math.sign(compare(a, b));
    const backward = Math.sign(compare(b, a));
    if (forward !== expectedSign[op] || backward !== -expectedSign[op])
      failures.push(`${line}: ${a} ${op} ${b} (compare gave ${forward}, reversed ${backward})`);
  }
  return { checked: vectors.length, failures };
}

/** Every `affected` entry of an OSV export zip whose package is in the given ecosystem (base name). */
export async function osvAffectedIn(
  zipPath: string,
  ecosystem: string,
): Promise<Array<{ id: string; affected: OsvAffected }>> {
  const entries: Array<{ id: string; affected: OsvAffected }> = [];
  for await (const member of zipMembers(zipPath)) {
    if (!member.name.endsWith(".json")) continue;
    const record = JSON.parse((await member.read()).toString("utf8")) as OsvRecord;
    for (const affected of record.affected ?? []) {
      if (affected.package?.ecosystem.split(":")[0] === ecosystem) entries.push({ id: record.id, affected });
    }
  }
  return entries;
}

/**
 * Orders real advisories with a scheme: every event version must be one it accepts, each range's
 * events as written must never descend (advisories list introduced before fixed), and every version an
 * entry enumerates (osv.dev lists them from the registry, in its own order) must fall inside
 * one of the entry's ranges. Returns the counts and whatever broke.
 */
export function checkAdvisories(
  entries: Array<{ id: string; affected: OsvAffected }>,
  scheme: VersionScheme,
): { events: number; listed: number; problems: string[] } {
  let events = 0;
  let listed = 0;
  const problems: string[] = [];
  const isOrigin = (version: string) => version === "0" || version === "0.0.0-0";
  for (const { id, affected } of entries) {
    const name = affected.package?.name;
    const ranges = (affected.ranges ?? []).filter((r) => r.type === "ECOSYSTEM" || r.type === "SEMVER");
    for (const range of ranges) {
      const versions = range.events.map((event) => Object.values(event)[0] as string);
      events += versions.length;
      for (const version of versions)
        if (!isOrigin(version) && !scheme.isValid(version))
          problems.push(`${id} ${name}: invalid ${version}`);
      for (let i = 1; i < versions.length; i++) {
        const previous = versions[i - 1] as string;
        // Equal neighbours occur (RustSec writes a range's end and the next one's start alike).
        if (!isOrigin(previous) && scheme.compare(previous, versions[i] as string) > 0)
          problems.push(`${id} ${name}: events out of order: ${versions.join(" ")}`);
      }
    }
    if (ranges.length === 0) continue;
    for (const version of affected.versions ?? []) {
      listed++;
      if (!ranges.some((range) => evaluateRange(version, range, scheme).affected))
        problems.push(`${id} ${name}: listed version ${version} is outside every range`);
    }
  }
  return { events, listed, problems };
}
