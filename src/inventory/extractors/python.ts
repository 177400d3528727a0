import { PackageURL } from "packageurl-js";
import { parse as parseToml } from "smol-toml";
import { normalizePackageName } from "../../vulndb/ecosystem.js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/**
 * Python packages: installed distributions (the core metadata file of a `*.dist-info` or
 * `*.egg-info` in any site-packages or dist-packages folder) and the lockfiles and pinned
 * requirement files of an application. Names stay as written; the purl carries the PEP 503 form.
 */

/** NAME.dist-info/METADATA, NAME.egg-info/PKG-INFO, and NAME.egg-info written as one file. */
const INSTALLED_METADATA =
  /(?:^|\/)(?:site|dist)-packages\/[^/]+(?:\.dist-info\/METADATA|\.egg-info\/PKG-INFO|\.egg-info)$/;

function pypiPackage(name: string, version: string, dev = false): ExtractedPackage | undefined {
  if (/\s/.test(name) || /\s/.test(version) || name === "" || version === "") return undefined;
  let purl: string;
  try {
    purl = new PackageURL(
      "pypi",
      undefined,
      normalizePackageName("PyPI", name),
      version,
      undefined,
    ).toString();
  } catch {
    return undefined;
  }
  return { name, version, type: "pypi", purl, ecosystem: "PyPI", ...(dev ? { dev: true } : {}) };
}

/**
 * The header part of a core metadata file (RFC 822 style, as PEP 566 and PEP 643 keep it): `Key:
 * value` lines, continuation lines starting with whitespace, up to the first blank line (the
 * body after it is the long description). Keys are matched case-insensitively; a repeated key
 * keeps its first value.
 */
export function parseMetadataHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  let key: string | undefined;
  for (const line of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    // Only an empty line ends the headers: a line of spaces continues the one before (long
    // License texts are written so).
    if (line === "") break;
    if (/^[ \t]/.test(line)) {
      if (key !== undefined) headers.set(key, `${headers.get(key) ?? ""}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      key = undefined;
      continue;
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    if (headers.has(name)) {
      key = undefined;
      continue;
    }
    key = name;
    headers.set(key, line.slice(colon + 1).trim());
  }
  return headers;
}

export const pythonInstalledExtractor: Extractor = {
  name: "python-installed",
  version: 1,
  pathHint: { fileNames: ["METADATA", "PKG-INFO"], suffixes: [".egg-info"] },
  wants: (path) => INSTALLED_METADATA.test(path),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const headers = parseMetadataHeaders(content.toString("utf8"));
    const name = headers.get("name")?.trim() ?? "";
    const version = headers.get("version")?.trim() ?? "";
    if (name === "" || version === "") {
      context.warn("Python metadata without a Name and Version; skipped");
      return [];
    }
    const pkg = pypiPackage(name, version);
    if (!pkg) {
      context.warn(
        `Python metadata name ${JSON.stringify(name.slice(0, 80))} with version ${JSON.stringify(version.slice(0, 80))} is not a package; skipped`,
      );
      return [];
    }
    // License-Expression (PEP 639) is the SPDX form; License is free text, "UNKNOWN" when unset,
    // and sometimes the whole license text over many lines, which names no license: left out.
    const license = [headers.get("license-expression"), headers.get("license")]
      .map((value) => value?.trim())
      .find((value) => value !== undefined && value !== "" && value !== "UNKNOWN" && !value.includes("\n"));
    return [license ? { ...pkg, license } : pkg];
  },
};

function tomlOf(content: Buffer, context: ExtractContext): Record<string, unknown> | undefined {
  try {
    return parseToml(content.toString("utf8")) as Record<string, unknown>;
  } catch (error) {
    context.warn(`not valid TOML (${(error as Error).message.split("\n")[0]}); skipped`);
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `[[package]]` tables of poetry.lock and uv.lock, each with a name and version. */
function lockedPackages(
  document: Record<string, unknown>,
  context: ExtractContext,
  isDev: (table: Record<string, unknown>) => boolean,
  isProject: (table: Record<string, unknown>) => boolean = () => false,
): ExtractedPackage[] {
  const tables = Array.isArray(document.package) ? document.package : [];
  const packages: ExtractedPackage[] = [];
  tables.forEach((table: unknown, index) => {
    if (!isRecord(table) || isProject(table)) return;
    const { name, version } = table;
    const pkg =
      typeof name === "string" && typeof version === "string"
        ? pypiPackage(name, version, isDev(table))
        : undefined;
    if (pkg) packages.push(pkg);
    else context.warn(`[[package]] ${index + 1} has no usable name and version; skipped`);
  });
  return packages;
}

/**
 * Poetry before 1.5 wrote `category = "dev"`; 1.5 to 1.8 say nothing of groups; Poetry 2 writes
 * `groups = ["main", "dev"]`, where a package outside "main" is needed only for development.
 */
function isPoetryDev(table: Record<string, unknown>): boolean {
  if (Array.isArray(table.groups) && table.groups.length > 0) return !table.groups.includes("main");
  return table.category === "dev";
}

export const poetryLockExtractor: Extractor = {
  name: "python-poetry-lock",
  // 2: Poetry 2's `groups`.
  version: 2,
  pathHint: { fileNames: ["poetry.lock"] },
  wants: (path) => /(?:^|\/)poetry\.lock$/.test(path),
  extract(_path, content, context) {
    const document = tomlOf(content, context);
    return document ? lockedPackages(document, context, isPoetryDev) : [];
  },
};

/** The names a uv.lock dependency list points at (`[{ name = "x", ... }]`). */
function dependencyNames(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((entry) => (isRecord(entry) && typeof entry.name === "string" ? [entry.name] : []));
}

/** Every list in a table of lists (`[package.optional-dependencies]`, `[package.dev-dependencies]`). */
function groupedDependencyNames(groups: unknown): string[] {
  return isRecord(groups) ? Object.values(groups).flatMap(dependencyNames) : [];
}

/**
 * uv.lock's development-only packages: those the projects reach only through their
 * `dev-dependencies` groups. Runtime reach follows `dependencies` and `optional-dependencies`
 * (an extra someone chose is installed for real); a package no project reaches is not called dev.
 */
function uvDevOnly(
  document: Record<string, unknown>,
  isProject: (table: Record<string, unknown>) => boolean,
) {
  const tables = (Array.isArray(document.package) ? document.package : []).filter(isRecord);
  const byName = new Map<string, Record<string, unknown>>();
  for (const table of tables)
    if (typeof table.name === "string") byName.set(normalizePackageName("PyPI", table.name), table);
  const reach = (start: string[]): Set<string> => {
    const seen = new Set<string>();
    const queue = start.map((name) => normalizePackageName("PyPI", name));
    while (queue.length > 0) {
      const name = queue.pop() as string;
      if (seen.has(name)) continue;
      seen.add(name);
      const table = byName.get(name);
      if (!table) continue;
      for (const next of [
        ...dependencyNames(table.dependencies),
        ...groupedDependencyNames(table["optional-dependencies"]),
      ])
        queue.push(normalizePackageName("PyPI", next));
    }
    return seen;
  };
  const projects = tables.filter(isProject);
  const runtime = reach(
    projects.flatMap((table) => [
      ...dependencyNames(table.dependencies),
      ...groupedDependencyNames(table["optional-dependencies"]),
    ]),
  );
  const development = reach(projects.flatMap((table) => groupedDependencyNames(table["dev-dependencies"])));
  return (table: Record<string, unknown>) =>
    typeof table.name === "string" &&
    development.has(normalizePackageName("PyPI", table.name)) &&
    !runtime.has(normalizePackageName("PyPI", table.name));
}

export const uvLockExtractor: Extractor = {
  name: "python-uv-lock",
  // 2: development-only packages (reached only through the projects' dev-dependencies).
  version: 2,
  pathHint: { fileNames: ["uv.lock"] },
  wants: (path) => /(?:^|\/)uv\.lock$/.test(path),
  extract(_path, content, context) {
    const document = tomlOf(content, context);
    // The project itself (and workspace members) come from the source tree, not from an index.
    const isProject = (table: Record<string, unknown>) =>
      isRecord(table.source) && ("editable" in table.source || "virtual" in table.source);
    return document ? lockedPackages(document, context, uvDevOnly(document, isProject), isProject) : [];
  },
};

export const pipfileLockExtractor: Extractor = {
  name: "python-pipfile-lock",
  version: 1,
  pathHint: { fileNames: ["Pipfile.lock"] },
  wants: (path) => /(?:^|\/)Pipfile\.lock$/.test(path),
  extract(_path, content, context) {
    let document: unknown;
    try {
      document = JSON.parse(content.toString("utf8"));
    } catch (error) {
      context.warn(`not valid JSON (${(error as Error).message}); skipped`);
      return [];
    }
    if (!isRecord(document)) return [];
    const packages: ExtractedPackage[] = [];
    for (const section of ["default", "develop"] as const) {
      const entries = document[section];
      if (!isRecord(entries)) continue;
      for (const [name, entry] of Object.entries(entries)) {
        const pinned = isRecord(entry) && typeof entry.version === "string" ? entry.version : undefined;
        // A git, path or editable entry has no version; it is not a PyPI release.
        if (!pinned?.startsWith("==")) continue;
        const pkg = pypiPackage(name, pinned.slice(2).trim(), section === "develop");
        if (pkg) packages.push(pkg);
        else context.warn(`${section}: ${JSON.stringify(name.slice(0, 80))} is not a package; skipped`);
      }
    }
    return packages;
  },
};

/** `name==1.2.3` or `name[extra,...] == 1.2.3`: a version pinned exactly, without wildcards. */
const PINNED_REQUIREMENT =
  /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s*,;]+)$/;

export const requirementsExtractor: Extractor = {
  name: "python-requirements",
  version: 1,
  pathHint: { fileNames: ["requirements.txt"] },
  wants: (path) => /(?:^|\/)requirements\.txt$/.test(path),
  extract(_path, content) {
    const packages: ExtractedPackage[] = [];
    // A backslash at the end of a line continues it on the next (pip-compile's --hash lines).
    const lines = content
      .toString("utf8")
      .replace(/\\\r?\n/g, " ")
      .split(/\r?\n/);
    for (const raw of lines) {
      const line = raw
        .replace(/(?:^|\s)#.*$/, "") // comments
        .replace(/;.*$/, "") // environment markers
        .replace(/\s--?[a-z].*$/, "") // per-requirement options (--hash=...)
        .trim();
      // Options (-r, -e, --index-url) and lines without an exact pin name no release.
      if (line === "" || line.startsWith("-")) continue;
      const match = PINNED_REQUIREMENT.exec(line);
      if (!match) continue;
      const pkg = pypiPackage(match[1] as string, match[2] as string);
      if (pkg) packages.push(pkg);
    }
    return packages;
  },
};
