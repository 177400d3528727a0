import type { OsvRecord } from "../../src/vulndb/osv.js";
import { zipMembers } from "../../src/vulndb/zip.js";

/**
 * Reads OSV records from a zip in OSV's export layout (`<ID>.json` members), through yauzl:
 * every record, or only those whose ids are given.
 */
export async function readOsvZip(path: string, ids?: Iterable<string>): Promise<Map<string, OsvRecord>> {
  const wanted = ids ? new Set(ids) : undefined;
  const records = new Map<string, OsvRecord>();
  for await (const member of zipMembers(path)) {
    if (!member.name.endsWith(".json")) continue;
    const id = member.name.slice(0, -".json".length);
    if (wanted && !wanted.has(id)) continue;
    records.set(id, JSON.parse((await member.read()).toString("utf8")) as OsvRecord);
  }
  if (wanted) {
    const missing = [...wanted].filter((id) => !records.has(id));
    if (missing.length > 0) throw new Error(`${path}: no record ${missing.join(", ")}`);
  }
  return records;
}
