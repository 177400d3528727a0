/**
 * Real npm installs for tests and benchmarks: a project whose package.json pins its dependencies
 * exactly, installed from the npm registry with `npm install --ignore-scripts` (npm writes the
 * package-lock.json), and optionally packages installed globally under a prefix of their own
 * (`npm install -g --prefix`), as `npm install -g` lays them out in usr/local.
 *
 * The result is cached under a key made of the recipe, so a second run reuses the very same tree
 * and lockfile instead of whatever the registry would resolve today. An entry appears under its
 * final name only once both installs succeeded.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { run } from "./tools.js";

export interface NpmProjectRecipe {
  /** name → exact version, written to package.json's dependencies. */
  dependencies: Record<string, string>;
  /** name → exact version, installed with `npm install -g --prefix <globalPrefix>`. */
  global?: Record<string, string>;
}

export interface NpmProject {
  /** package.json, package-lock.json and node_modules. */
  projectDir: string;
  /** lib/node_modules/* and bin/*, when the recipe has global packages. */
  globalPrefix?: string;
  key: string;
  /** Whether the entry came from the cache. */
  cached: boolean;
}

/** Bump when the way this file installs changes, so stale entries are not reused. */
const INSTALL_FORMAT = 1;

const NPM_FLAGS = ["--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier"];

export function npmCacheDir(kind = "test-npm"): string {
  return resolve(join(import.meta.dirname, "../../.cache", kind));
}

/** The npm error that means the registry could not be reached (rather than a failed install). */
export class RegistryUnreachable extends Error {}

const NETWORK_FAILURE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH/;

async function npm(args: string[], cwd: string): Promise<void> {
  try {
    // A private cache would re-download every run; npm's own cache is keyed by content hash.
    await run("npm", [...args, ...NPM_FLAGS], { cwd, timeoutMs: 8 * 60_000 });
  } catch (error) {
    const message = (error as Error).message;
    const network = NETWORK_FAILURE.exec(message);
    if (network) throw new RegistryUnreachable(`npm ${args[0]} could not reach the registry (${network[0]})`);
    throw error;
  }
}

/** Installs (or takes from the cache) the recipe's project and global packages. */
export async function installNpmProject(
  recipe: NpmProjectRecipe,
  cacheRoot = npmCacheDir(),
): Promise<NpmProject> {
  const sorted = (record: Record<string, string> = {}) =>
    Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
  const inputs = {
    format: INSTALL_FORMAT,
    dependencies: sorted(recipe.dependencies),
    global: sorted(recipe.global),
  };
  const key = createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 16);
  const entryDir = join(cacheRoot, key);
  const hasGlobal = Object.keys(inputs.global).length > 0;
  const result = (cached: boolean): NpmProject => ({
    projectDir: join(entryDir, "project"),
    ...(hasGlobal ? { globalPrefix: join(entryDir, "global") } : {}),
    key,
    cached,
  });
  if (existsSync(join(entryDir, "recipe.json"))) return result(true);

  const tmp = `${entryDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const projectDir = join(tmp, "project");
  await mkdir(projectDir, { recursive: true });
  try {
    const manifest = {
      name: "layerwatch-npm-fixture",
      version: "1.0.0",
      private: true,
      dependencies: inputs.dependencies,
    };
    await writeFile(join(projectDir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    // No package names on the command line: npm installs what package.json pins and writes the lockfile.
    await npm(["install"], projectDir);
    if (hasGlobal) {
      const prefix = join(tmp, "global");
      await mkdir(prefix, { recursive: true });
      const specs = Object.entries(inputs.global).map(([name, version]) => `${name}@${version}`);
      await npm(["install", "-g", "--prefix", prefix, ...specs], tmp);
    }
    await writeFile(join(tmp, "recipe.json"), `${JSON.stringify(inputs, null, 2)}\n`);
    await rm(entryDir, { recursive: true, force: true });
    await rename(tmp, entryDir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    // Another process may have finished the same entry first; theirs is as good as ours.
    if (existsSync(join(entryDir, "recipe.json"))) return result(true);
    throw error;
  }
  return result(false);
}

export interface InstalledNpmPackage {
  name: string;
  version: string;
  /** The package's package.json, relative to the folder the walk started from. */
  manifest: string;
}

/**
 * The packages of a node_modules tree as npm lays it out: every folder directly in a
 * node_modules (or in an @scope folder there) is a package, and its own node_modules holds the
 * copies it needs at other versions. Dot entries (.bin, .package-lock.json) are not packages.
 */
export async function walkNodeModules(root: string, from = "node_modules"): Promise<InstalledNpmPackage[]> {
  const found: InstalledNpmPackage[] = [];
  const visit = async (nodeModules: string): Promise<void> => {
    const full = join(root, nodeModules);
    if (!existsSync(full)) return;
    for (const name of (await readdir(full)).sort()) {
      if (name.startsWith(".")) continue;
      const folders = name.startsWith("@")
        ? (await readdir(join(full, name))).sort().map((inner) => `${nodeModules}/${name}/${inner}`)
        : [`${nodeModules}/${name}`];
      for (const folder of folders) {
        const manifest = JSON.parse(await readFile(join(root, folder, "package.json"), "utf8")) as {
          name: string;
          version: string;
        };
        found.push({ name: manifest.name, version: manifest.version, manifest: `${folder}/package.json` });
        await visit(`${folder}/node_modules`);
      }
    }
  };
  await visit(from);
  return found;
}
