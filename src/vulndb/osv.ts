/** The OSV schema (https://ossf.github.io/osv-schema/), the parts layerwatch reads. */

export type OsvEvent =
  | { introduced: string }
  | { fixed: string }
  | { last_affected: string }
  | { limit: string };

export interface OsvRange {
  type: "ECOSYSTEM" | "SEMVER" | "GIT" | string;
  repo?: string;
  events: OsvEvent[];
}

export interface OsvSeverity {
  type: string;
  score: string;
}

export interface OsvAffected {
  package?: { ecosystem: string; name: string; purl?: string };
  severity?: OsvSeverity[];
  ranges?: OsvRange[];
  versions?: string[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

export interface OsvRecord {
  schema_version?: string;
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  related?: string[];
  upstream?: string[];
  summary?: string;
  details?: string;
  severity?: OsvSeverity[];
  affected?: OsvAffected[];
  references?: Array<{ type: string; url: string }>;
  database_specific?: Record<string, unknown>;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/**
 * Checks that a parsed JSON value is an OSV record layerwatch can match with, and says what is
 * wrong when it is not. Unknown fields are kept; the checks cover what matching relies on.
 */
export function validateOsvRecord(value: unknown): OsvRecord {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new Error("not a JSON object");
  const record = value as Partial<OsvRecord>;
  if (typeof record.id !== "string" || record.id === "") throw new Error("no 'id'");
  if (typeof record.modified !== "string") throw new Error(`${record.id}: no 'modified' timestamp`);
  for (const field of ["aliases", "related", "upstream"] as const) {
    if (record[field] !== undefined && !isStringArray(record[field]))
      throw new Error(`${record.id}: '${field}' is not a list of ids`);
  }
  if (record.affected !== undefined) {
    if (!Array.isArray(record.affected)) throw new Error(`${record.id}: 'affected' is not a list`);
    record.affected.forEach((affected, i) => {
      const where = `${record.id}: affected[${i}]`;
      if (affected === null || typeof affected !== "object") throw new Error(`${where} is not an object`);
      const pkg = affected.package;
      if (pkg !== undefined && (typeof pkg.ecosystem !== "string" || typeof pkg.name !== "string")) {
        throw new Error(`${where}.package has no ecosystem and name`);
      }
      if (affected.versions !== undefined && !isStringArray(affected.versions)) {
        throw new Error(`${where}.versions is not a list of strings`);
      }
      if (affected.ranges !== undefined) {
        if (!Array.isArray(affected.ranges)) throw new Error(`${where}.ranges is not a list`);
        affected.ranges.forEach((range, j) => {
          if (typeof range?.type !== "string" || !Array.isArray(range.events)) {
            throw new Error(`${where}.ranges[${j}] has no type or events`);
          }
          for (const event of range.events) {
            const values = Object.values(event ?? {});
            if (values.length !== 1 || typeof values[0] !== "string") {
              throw new Error(`${where}.ranges[${j}] has an event that is not one version string`);
            }
          }
        });
      }
    });
  }
  return record as OsvRecord;
}

/** An RFC 3339 time as (whole seconds since the epoch, nanoseconds), or undefined when it is not one. */
function timestampParts(value: string): [number, number] | undefined {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$/i.exec(value.trim());
  if (!match) return undefined;
  const seconds = Date.parse(`${match[1]}${match[3] ?? "Z"}`);
  if (!Number.isFinite(seconds)) return undefined;
  return [seconds / 1000, Number((match[2] ?? "").padEnd(9, "0").slice(0, 9))];
}

/**
 * Orders two `modified` timestamps (negative, zero, positive). OSV's writers differ in fraction
 * digits ("…25Z", "…52.686694Z"), so the strings cannot be compared as text; times that do not
 * parse sort before any that do.
 */
export function compareOsvTimestamps(a: string, b: string): number {
  const left = timestampParts(a);
  const right = timestampParts(b);
  if (!left || !right) return (left ? 1 : 0) - (right ? 1 : 0) || a.localeCompare(b);
  return left[0] - right[0] || left[1] - right[1];
}
