import { parseSyml } from "@yarnpkg/parsers";
import semver from "semver";
import { parse as parseYaml } from "yaml";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";
import { npmPurl } from "./npm-purl.js";

/**
 * npm, yarn and pnpm lockfiles: what an app declares it installs. A lockfile inside node_modules
 * belongs to a dependency and says nothing about what is installed, so those are left alone.
 */
const LOCKFILE = /(?:^|\/)(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml)$/;
const IN_NODE_MODULES = /(?:^|\/)node_modules\//;

interface Found {
  name: string;
  version: string;
  dev: boolean;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : typeof value === "number" ? String(value) : undefined;

/** "@scope/name@1.2.3" or "name@1.2.3" into its name and what follows the "@". */
function splitAt(spec: string): [string, string] | undefined {
  const at = spec.indexOf("@", 1);
  if (at <= 0) return undefined;
  return [spec.slice(0, at), spec.slice(at + 1)];
}

// --- package-lock.json and npm-shrinkwrap.json -------------------------------------------------

/** lockfileVersion 1 (and the compatibility section of 2): nested `dependencies` maps. */
function walkV1Dependencies(dependencies: unknown, out: Found[]): void {
  if (!isObject(dependencies)) return;
  for (const [key, value] of Object.entries(dependencies)) {
    if (!isObject(value)) continue;
    // Some writers key v1 entries by install path ("node_modules/name"); the name is its tail.
    const cut = key.lastIndexOf("node_modules/");
    let name = cut < 0 ? key : key.slice(cut + "node_modules/".length);
    let version = text(value.version);
    if (version?.startsWith("npm:")) {
      // An alias: "npm:real-name@1.0.0" installs real-name under the key's name.
      const real = splitAt(version.slice("npm:".length));
      if (real) [name, version] = real;
    }
    // git, file and tarball URLs are not registry versions.
    if (version && !/[:/]/.test(version))
      out.push({ name, version, dev: value.dev === true || value.devOptional === true });
    walkV1Dependencies(value.dependencies, out);
  }
}

/** lockfileVersion 2 and 3: the flat `packages` map keyed by install path. */
function readPackagesMap(packages: Json, out: Found[]): void {
  for (const [path, value] of Object.entries(packages)) {
    // "" is the project itself; a key without node_modules/ is a workspace's own folder; a link
    // points at one of those.
    if (path === "" || !isObject(value) || value.link === true) continue;
    const cut = path.lastIndexOf("node_modules/");
    if (cut < 0) continue;
    // An aliased package records its real name in `name`; the path holds the alias.
    const name = text(value.name) ?? path.slice(cut + "node_modules/".length);
    const version = text(value.version);
    if (!version) continue;
    out.push({ name, version, dev: value.dev === true || value.devOptional === true });
  }
}

function readPackageLock(content: string, context: ExtractContext): Found[] {
  let lock: unknown;
  try {
    lock = JSON.parse(content);
  } catch (error) {
    context.warn(`not valid JSON (${(error as Error).message}); skipped`);
    return [];
  }
  if (!isObject(lock)) {
    context.warn("not a package-lock object; skipped");
    return [];
  }
  const out: Found[] = [];
  if (isObject(lock.packages)) readPackagesMap(lock.packages, out);
  else walkV1Dependencies(lock.dependencies, out);
  return out;
}

// --- yarn.lock ---------------------------------------------------------------------------------

function readYarnLock(content: string, context: ExtractContext): Found[] {
  const berry = /^__metadata:/m.test(content);
  let lock: unknown;
  try {
    // parseSyml reads a classic (v1) file only when it carries yarn's header comment; without it
    // the v1 syntax is read as YAML and comes out wrong. The comment is harmless when present.
    lock = parseSyml(berry ? content : `# yarn lockfile v1\n${content}`);
  } catch (error) {
    context.warn(`not a valid yarn.lock (${(error as Error).message.split("\n")[0]}); skipped`);
    return [];
  }
  if (!isObject(lock)) {
    context.warn("not a valid yarn.lock; skipped");
    return [];
  }
  const out: Found[] = [];
  for (const [key, value] of Object.entries(lock)) {
    if (key === "__metadata" || !isObject(value)) continue;
    const version = text(value.version);
    if (!version) continue;
    if (berry) {
      // "name@npm:1.2.3": the resolution names the real package, also for an alias.
      const resolution = text(value.resolution);
      const parts = resolution ? splitAt(resolution) : undefined;
      if (!parts) continue;
      const [name, locator] = parts;
      // The project's own workspaces and local folders are not packages from a registry.
      if (/^(workspace|link|portal):/.test(locator)) continue;
      out.push({ name, version, dev: false });
    } else {
      // v1 keys are "name@range"; an alias is "alias@npm:real@range".
      const parts = splitAt(key);
      if (!parts) continue;
      let [name, range] = parts;
      if (range.startsWith("npm:")) name = splitAt(range.slice("npm:".length))?.[0] ?? name;
      out.push({ name, version, dev: false });
    }
  }
  return out;
}

// --- pnpm-lock.yaml ----------------------------------------------------------------------------

/**
 * A pnpm package key: "/name/1.2.3_peer@1.0.0" (v5), "/name@1.2.3(peer@1.0.0)" (v6),
 * "name@1.2.3(peer@1.0.0)" (v9), each with scoped names. The peer suffix is dropped.
 */
function parsePnpmKey(key: string): [string, string] | undefined {
  const spec = key.startsWith("/") ? key.slice(1) : key;
  const scopeEnd = spec.startsWith("@") ? spec.indexOf("/") : -1;
  if (spec.startsWith("@") && scopeEnd < 0) return undefined;
  const rest = spec.slice(scopeEnd + 1);
  const cut = rest.search(/[@/]/);
  if (cut <= 0) return undefined;
  const name = spec.slice(0, scopeEnd + 1 + cut);
  let version = rest.slice(cut + 1);
  const paren = version.indexOf("(");
  if (paren >= 0) version = version.slice(0, paren);
  // v5's peer suffix: no semver version holds "_".
  if (rest[cut] === "/") version = version.split("_")[0] ?? version;
  return [name, version];
}

function readPnpmLock(content: string, context: ExtractContext): Found[] {
  let lock: unknown;
  try {
    lock = parseYaml(content);
  } catch (error) {
    context.warn(`not valid YAML (${(error as Error).message.split("\n")[0]}); skipped`);
    return [];
  }
  if (!isObject(lock)) {
    context.warn("not a pnpm-lock object; skipped");
    return [];
  }
  const out: Found[] = [];
  // v9 lists each package under `packages` and each peer-resolved instance under `snapshots`.
  for (const section of [lock.packages, lock.snapshots]) {
    if (!isObject(section)) continue;
    for (const [key, value] of Object.entries(section)) {
      const entry = isObject(value) ? value : {};
      const fromKey = parsePnpmKey(key);
      // Packages from git, tarballs or folders record their name and version in the entry.
      const name = text(entry.name) ?? fromKey?.[0];
      let version = fromKey?.[1];
      if (!version || !semver.valid(version)) version = text(entry.version);
      if (!name || !version || !semver.valid(version)) continue;
      out.push({ name, version, dev: entry.dev === true });
    }
  }
  return out;
}

// --- the extractor -----------------------------------------------------------------------------

export const npmLockfileExtractor: Extractor = {
  name: "npm-lockfile",
  version: 1,
  pathHint: { fileNames: ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"] },
  wants: (path) => LOCKFILE.test(path) && !IN_NODE_MODULES.test(path),
  extract(path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const file = LOCKFILE.exec(path)?.[1];
    const body = content.toString("utf8");
    const found =
      file === "yarn.lock"
        ? readYarnLock(body, context)
        : file === "pnpm-lock.yaml"
          ? readPnpmLock(body, context)
          : readPackageLock(body, context);
    // One package per name and version: a development dependency only if every copy is one.
    const byKey = new Map<string, Found>();
    for (const pkg of found) {
      const key = `${pkg.name}@${pkg.version}`;
      const seen = byKey.get(key);
      if (seen) seen.dev &&= pkg.dev;
      else byKey.set(key, { ...pkg });
    }
    const packages: ExtractedPackage[] = [];
    for (const { name, version, dev } of byKey.values()) {
      const purl = npmPurl(name, version);
      if (!purl) {
        context.warn(`${JSON.stringify(`${name}@${version}`.slice(0, 120))} is not a package; skipped`);
        continue;
      }
      packages.push({ name, version, type: "npm", purl, ecosystem: "npm", ...(dev ? { dev } : {}) });
    }
    return packages;
  },
};
