import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { describeError, InputError } from "../errors.js";
import { ruleById } from "../hygiene/rules.js";
import type { HygieneLocation } from "../hygiene/types.js";
import { compileLocationGlob, type LocationGlob, normaliseRuleId } from "./hygiene-match.js";
import { namesAnyOf } from "./identity.js";
import { compilePurlPattern, type PurlParts, type PurlPattern, PurlSyntaxError } from "./purl-pattern.js";

/**
 * The ignore file, `.layerwatchignore.yaml`: findings a team has looked at and accepted, each
 * with a reason and, optionally, a last day.
 *
 *   ignore:
 *     - id: CVE-2021-23337            # any id of the finding's alias group (CVE, GHSA, DSA, ...)
 *       reason: template() is never given user input
 *       expires: 2025-06-30           # applies through that day (UTC), then warns
 *     - package: pkg:npm/lodash@4.17.20   # a purl pattern (purl-pattern.ts); * is a wildcard
 *       reason: ...
 *     - rule: LW-IMG-003                  # a hygiene rule: all of its findings ...
 *       path: "certs/*.pem"               # ... or only those at these paths (a glob), or
 *       reason: ...                       #     with `field: config.Env*`, these config fields
 *
 * An entry with both `id` and `package` matches only findings with both; a `rule` entry matches
 * only hygiene findings, never vulnerabilities. The file is checked
 * strictly: an unknown key, a missing reason or a bad date is an error naming the entry, since a
 * mistyped key would otherwise silently ignore nothing (or everything).
 */

export const DEFAULT_IGNORE_FILE = ".layerwatchignore.yaml";

export interface IgnoreEntry {
  /** Counting from 1, in file order. */
  index: number;
  id?: string;
  package?: PurlPattern;
  /** A hygiene rule id (upper case): the entry is about build hygiene, not vulnerabilities. */
  rule?: string;
  /** With `rule`: only findings in a Dockerfile or image file at a path this glob matches. */
  path?: LocationGlob;
  /** With `rule`: only findings at an image config field this glob matches. */
  field?: LocationGlob;
  reason: string;
  /** The last day the entry applies (YYYY-MM-DD, UTC). */
  expires?: string;
}

export interface IgnoreFile {
  /** As named on the command line, or the default name. */
  path: string;
  entries: IgnoreEntry[];
}

const entryKeys = ["id", "package", "rule", "path", "field", "reason", "expires"] as const;

function isCalendarDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

/** How warnings and errors name an entry: its number, and its id, package or rule when it has them. */
function describeRawEntry(index: number, ...named: unknown[]): string {
  const names = named.filter((name): name is string => typeof name === "string" && name !== "").join(", ");
  return names ? `entry ${index} (${names})` : `entry ${index}`;
}

export function describeEntry(entry: IgnoreEntry): string {
  return describeRawEntry(
    entry.index,
    entry.id,
    entry.package?.text,
    entry.rule,
    entry.path?.text,
    entry.field?.text,
  );
}

function parseEntry(value: unknown, index: number, path: string): IgnoreEntry {
  const fail = (problem: string, raw: Record<string, unknown> = {}): never => {
    throw new InputError(
      `${path}: ${describeRawEntry(index, raw.id, raw.package, raw.rule, raw.path, raw.field)}: ${problem}`,
    );
  };
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return fail("not a mapping; give id and/or package (or a hygiene rule), and reason");
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(entryKeys as readonly string[]).includes(key)) {
      fail(`unknown key ${JSON.stringify(key)}; use ${entryKeys.join(", ")}`, raw);
    }
  }
  let rule: string | undefined;
  let locationGlobs: { path?: LocationGlob; field?: LocationGlob } = {};
  if (raw.rule !== undefined) {
    if (raw.id !== undefined || raw.package !== undefined)
      fail("rule names a hygiene rule; it cannot be combined with id or package", raw);
    if (typeof raw.rule !== "string" || !/^LW-(DF|IMG)-\d{3}$/i.test(raw.rule.trim()))
      fail("rule must be a hygiene rule id such as LW-DF-001 (docs/rules.md)", raw);
    rule = normaliseRuleId(raw.rule as string);
    // A mistyped id would otherwise silently set nothing aside.
    if (!ruleById(rule)) fail(`rule ${rule}: no such rule (docs/rules.md lists them)`, raw);
    if (raw.path !== undefined && raw.field !== undefined)
      fail("give path or field, not both: a finding is at a file or at a config field", raw);
    for (const key of ["path", "field"] as const) {
      const glob = raw[key];
      if (glob === undefined) continue;
      if (typeof glob !== "string" || glob.trim() === "")
        fail(`${key} must be a glob such as ${key === "path" ? "app/**/*.pem" : "config.Env*"}`, raw);
      locationGlobs = { [key]: compileLocationGlob(glob as string) };
    }
  } else {
    if (raw.path !== undefined || raw.field !== undefined)
      fail("path and field narrow a hygiene rule; give rule too", raw);
    if (raw.id === undefined && raw.package === undefined) fail("give id, package or both, or rule", raw);
  }
  if (raw.id !== undefined && (typeof raw.id !== "string" || raw.id.trim() === "")) {
    fail("id must be a vulnerability id such as CVE-2021-23337", raw);
  }
  let pattern: PurlPattern | undefined;
  if (raw.package !== undefined) {
    if (typeof raw.package !== "string") return fail("package must be a purl such as pkg:npm/lodash", raw);
    try {
      pattern = compilePurlPattern(raw.package, { globs: true });
    } catch (error) {
      if (error instanceof PurlSyntaxError) fail(`package ${raw.package}: ${error.message}`, raw);
      throw error;
    }
  }
  if (typeof raw.reason !== "string" || raw.reason.trim() === "") {
    fail("reason is required: say why this finding is accepted", raw);
  }
  let expires: string | undefined;
  if (raw.expires !== undefined) {
    // A YAML 1.1 document (`%YAML 1.1`) reads an unquoted date as a timestamp.
    const text = raw.expires instanceof Date ? raw.expires.toISOString().slice(0, 10) : raw.expires;
    if (typeof text !== "string" || !isCalendarDate(text)) {
      fail(`expires ${JSON.stringify(raw.expires)}: not a date (YYYY-MM-DD)`, raw);
    }
    expires = text as string;
  }
  return {
    index,
    ...(typeof raw.id === "string" ? { id: raw.id.trim() } : {}),
    ...(pattern ? { package: pattern } : {}),
    ...(rule ? { rule, ...locationGlobs } : {}),
    reason: (raw.reason as string).trim(),
    ...(expires ? { expires } : {}),
  };
}

/** Reads an ignore file's text; every problem is an InputError naming the file (and the entry). */
export function parseIgnoreFile(text: string, path: string): IgnoreFile {
  const document = parseDocument(text, { uniqueKeys: true });
  const syntax = document.errors[0];
  // The message's first line says what and where; the rest is a picture of the line.
  if (syntax) throw new InputError(`${path}: ${syntax.message.split("\n")[0]?.replace(/:$/, "")}`);
  const top: unknown = document.toJS();
  // An empty file ignores nothing.
  if (top === null || top === undefined) return { path, entries: [] };
  if (typeof top !== "object" || Array.isArray(top)) {
    throw new InputError(`${path}: expected a mapping with an ignore list (ignore: [...])`);
  }
  for (const key of Object.keys(top)) {
    if (key !== "ignore") throw new InputError(`${path}: unknown key ${JSON.stringify(key)}; use ignore`);
  }
  const list = (top as { ignore?: unknown }).ignore;
  if (list === null || list === undefined) return { path, entries: [] };
  if (!Array.isArray(list)) throw new InputError(`${path}: ignore must be a list of entries`);
  return { path, entries: list.map((value, i) => parseEntry(value, i + 1, path)) };
}

/**
 * Reads the ignore file at `path`. A file named with --ignore-file must exist; the default one
 * (`named` false) is used only when present.
 */
export async function loadIgnoreFile(path: string, named: boolean): Promise<IgnoreFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (!named && (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InputError(`${named ? "--ignore-file " : ""}${path}: ${describeError(error)}`);
  }
  return parseIgnoreFile(text, path);
}

/** Today's date in UTC (YYYY-MM-DD), the day expiry dates are compared with. */
export function utcDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** An entry stops applying the day after its `expires` date. */
export function isExpired(entry: IgnoreEntry, today: string): boolean {
  return entry.expires !== undefined && today > entry.expires;
}

/** The first entry still in force that names the finding (by any of its ids) and its package. */
export function matchIgnoreEntry(
  file: IgnoreFile,
  ids: ReadonlySet<string>,
  purl: PurlParts | undefined,
  today: string,
): IgnoreEntry | undefined {
  return file.entries.find(
    (entry) =>
      entry.rule === undefined &&
      !isExpired(entry, today) &&
      (entry.id === undefined || namesAnyOf([entry.id], ids)) &&
      (entry.package === undefined || (purl !== undefined && entry.package.matches(purl))),
  );
}

/**
 * The first entry still in force that names the hygiene finding's rule and, when it narrows the
 * rule by path or field, its location.
 */
export function matchHygieneIgnoreEntry(
  file: IgnoreFile,
  ruleId: string,
  location: HygieneLocation,
  today: string,
): IgnoreEntry | undefined {
  const rule = normaliseRuleId(ruleId);
  return file.entries.find((entry) => {
    if (entry.rule !== rule || isExpired(entry, today)) return false;
    if (entry.path) return location.kind !== "config" && entry.path.matches(location.path);
    if (entry.field) return location.kind === "config" && entry.field.matches(location.field);
    return true;
  });
}

/** How an ignore entry that matched is recorded on what it set aside (a finding or a hygiene finding). */
export function ignoreSuppression(
  file: IgnoreFile,
  entry: IgnoreEntry,
): { by: "ignore"; reason: string; source: string; entry: number; expires?: string } {
  return {
    by: "ignore",
    reason: entry.reason,
    source: file.path,
    entry: entry.index,
    ...(entry.expires ? { expires: entry.expires } : {}),
  };
}

/** One warning per expired entry, naming it, so a stale file gets looked at. */
export function expiredEntryWarnings(
  file: IgnoreFile,
  today: string,
): Array<{ subject: string; problem: string }> {
  return file.entries
    .filter((entry) => isExpired(entry, today))
    .map((entry) => ({
      subject: `${file.path}: ${describeEntry(entry)}`,
      problem: `expired on ${entry.expires}; it no longer applies`,
    }));
}
