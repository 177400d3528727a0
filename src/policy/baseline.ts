import { readFile } from "node:fs/promises";
import { describeError, InputError } from "../errors.js";
import type { HygieneLocation } from "../hygiene/types.js";
import { hygieneIdentity } from "./hygiene-match.js";
import { findingIds, namesAnyOf } from "./identity.js";

/**
 * `--baseline REPORT.json`: an earlier layerwatch JSON report. A finding is known when the
 * baseline lists a finding of the same package (name and purl type) that shares any id of its
 * alias group; versions are not compared, so an upgrade that leaves a package vulnerable to the
 * same thing, or a move to another layer, is not new. Every finding the baseline lists counts,
 * suppressed or not; findings hidden from it (`--severity`, `--ignore-unfixed`) are not listed
 * there, so they are new when shown now.
 *
 * Build-hygiene findings (schema 1.3's `hygiene` list; an older baseline has none, so all are new)
 * are compared by rule and location without line numbers, layer or list indices
 * (hygiene-match.ts): the n-th finding of a rule at a Dockerfile, file or config field is known
 * when the baseline had at least n of them there.
 */

export interface Baseline {
  path: string;
  /** Per package (`type` NUL `name`): the id sets of its findings. */
  byPackage: Map<string, Array<Set<string>>>;
  findings: number;
  /** Per hygiene identity (hygieneIdentity): how many of its findings the baseline lists. */
  hygiene: Map<string, number>;
}

function packageKey(type: string, name: string): string {
  return `${type}\u0000${name}`;
}

export function parseBaseline(text: string, path: string): Baseline {
  const fail = (problem: string): never => {
    throw new InputError(`--baseline ${path}: ${problem}`);
  };
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch (error) {
    return fail(`not JSON: ${describeError(error)}`);
  }
  const object = report as Record<string, unknown> | null;
  const tool =
    object && typeof object === "object" ? (object.tool as { name?: unknown } | undefined) : undefined;
  if (
    !object ||
    typeof object !== "object" ||
    tool?.name !== "layerwatch" ||
    !Array.isArray(object.findings)
  ) {
    return fail("not a layerwatch JSON report (scan --format json)");
  }
  const version = object.schemaVersion;
  if (typeof version !== "string" || !/^1\.\d+$/.test(version)) {
    fail(`report schema version ${JSON.stringify(version)} is not one this layerwatch reads (1.x)`);
  }
  const byPackage = new Map<string, Array<Set<string>>>();
  (object.findings as unknown[]).forEach((value, i) => {
    const finding = value as {
      id?: unknown;
      aliases?: unknown;
      package?: { name?: unknown; type?: unknown };
    };
    if (
      !finding ||
      typeof finding.id !== "string" ||
      !Array.isArray(finding.aliases) ||
      finding.aliases.some((alias) => typeof alias !== "string") ||
      typeof finding.package?.name !== "string" ||
      typeof finding.package.type !== "string"
    ) {
      fail(`finding ${i + 1}: needs id, aliases and package.name and .type`);
      return;
    }
    const key = packageKey(finding.package.type, finding.package.name);
    const groups = byPackage.get(key) ?? [];
    groups.push(findingIds({ id: finding.id, aliases: finding.aliases as string[] }));
    byPackage.set(key, groups);
  });
  const hygiene = new Map<string, number>();
  const hygieneList = object.hygiene ?? [];
  if (!Array.isArray(hygieneList)) fail("hygiene: not a list");
  (hygieneList as unknown[]).forEach((value, i) => {
    const entry = value as {
      ruleId?: unknown;
      location?: { kind?: unknown; path?: unknown; field?: unknown };
    };
    const location = entry?.location;
    const valid =
      typeof entry?.ruleId === "string" &&
      location !== null &&
      typeof location === "object" &&
      (((location.kind === "dockerfile" || location.kind === "file") && typeof location.path === "string") ||
        (location.kind === "config" && typeof location.field === "string"));
    if (!valid) {
      fail(
        `hygiene finding ${i + 1}: needs ruleId and a location (dockerfile or file with path, config with field)`,
      );
      return;
    }
    const key = hygieneIdentity({ ruleId: entry.ruleId as string, location: location as HygieneLocation });
    hygiene.set(key, (hygiene.get(key) ?? 0) + 1);
  });
  return { path, byPackage, findings: object.findings.length, hygiene };
}

export async function loadBaseline(path: string): Promise<Baseline> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(`--baseline ${path}: ${describeError(error)}`);
  }
  return parseBaseline(text, path);
}

/** Whether the baseline already had this vulnerability in this package. */
export function isKnown(
  baseline: Baseline,
  ids: ReadonlySet<string>,
  pkg: { name: string; type: string },
): boolean {
  const groups = baseline.byPackage.get(packageKey(pkg.type, pkg.name)) ?? [];
  return groups.some((group) => namesAnyOf([...group], ids));
}
