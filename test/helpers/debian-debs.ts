/**
 * Real Debian packages for tests, without root: `apt-get download` fetches the .deb files of the
 * running Debian release (from a private copy of the apt lists, so the host's possibly stale or
 * missing lists do not matter), `dpkg-deb` unpacks them, and dpkgLayerFiles() lays out an image
 * layer as `apt-get install` leaves it: the packages' files, var/lib/dpkg/status with a stanza
 * per installed package (its control fields plus the Status line dpkg adds) and one
 * var/lib/dpkg/info/<package>.list per package of the layer.
 *
 * The downloads are cached (.cache/test-debs/<key>, keyed by the package names), so a second run
 * reads the same .deb files without the network.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { filesFromDirectory, type LayerFile } from "./image-builder.js";
import { findTool, run } from "./tools.js";

export interface DebianPackage {
  /** The binary package name (the Package field). */
  name: string;
  /** The .deb file. */
  deb: string;
  /** The control fields as `dpkg-deb -f` prints them. */
  control: string;
  /** Where the package's files were unpacked (`dpkg-deb -x`). */
  root: string;
}

/** Bump when the cache layout changes. */
const CACHE_FORMAT = 1;

export function debCacheDir(): string {
  return resolve(join(import.meta.dirname, "../../.cache/test-debs"));
}

/** Why real Debian packages cannot be had here, or undefined when they can. */
export function debianPackagesUnavailable(): string | undefined {
  const missing = ["apt-get", "dpkg-deb"].filter((tool) => findTool(tool) === undefined);
  if (missing.length > 0) return `${missing.join(" and ")} not found (a Debian host is needed)`;
  return undefined;
}

/**
 * apt options for a private state: the lists and the package cache live under `dir`, so neither
 * root nor the host's lists are needed, and the sources are the host's own.
 */
function privateApt(dir: string): string[] {
  return ["-q", "-o", `Dir::State::Lists=${join(dir, "lists")}`, "-o", `Dir::Cache=${join(dir, "cache")}`];
}

/**
 * Downloads the named packages (the candidate versions of the host's Debian release), or takes
 * them from the cache. Returns the .deb paths in the order of `names`.
 */
export async function downloadDebs(names: string[], cacheRoot = debCacheDir()): Promise<string[]> {
  const sorted = [...new Set(names)].sort();
  const key = createHash("sha256")
    .update(JSON.stringify({ format: CACHE_FORMAT, arch: process.arch, names: sorted }))
    .digest("hex")
    .slice(0, 16);
  const entryDir = join(cacheRoot, key);
  if (!existsSync(join(entryDir, "names.json"))) {
    const tmp = `${entryDir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    try {
      const apt = join(tmp, "apt");
      await mkdir(join(apt, "lists/partial"), { recursive: true });
      await mkdir(join(apt, "cache/archives/partial"), { recursive: true });
      await run("apt-get", [...privateApt(apt), "update"], { timeoutMs: 5 * 60_000 });
      await mkdir(join(tmp, "debs"));
      await run("apt-get", [...privateApt(apt), "download", ...sorted], {
        cwd: join(tmp, "debs"),
        timeoutMs: 5 * 60_000,
      });
      await rm(apt, { recursive: true, force: true });
      await writeFile(join(tmp, "names.json"), `${JSON.stringify(sorted)}\n`);
      await rm(entryDir, { recursive: true, force: true });
      await rename(tmp, entryDir);
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      // Another process may have finished the same entry first.
      if (!existsSync(join(entryDir, "names.json"))) throw error;
    }
  }
  const files = await readdir(join(entryDir, "debs"));
  return names.map((name) => {
    // apt names a download NAME_VERSION_ARCH.deb, with the version's ":" escaped as "%3a".
    const file = files.find((f) => f.startsWith(`${name}_`) && f.endsWith(".deb"));
    if (!file) throw new Error(`${name}: no .deb in ${entryDir}/debs`);
    return join(entryDir, "debs", file);
  });
}

/** Downloads (or takes from the cache) and unpacks the packages, each into its own folder of `dir`. */
export async function unpackDebs(names: string[], dir: string): Promise<DebianPackage[]> {
  const debs = await downloadDebs(names);
  return Promise.all(
    names.map(async (name, i) => {
      const deb = debs[i] as string;
      const root = join(dir, name);
      await mkdir(root, { recursive: true });
      await run("dpkg-deb", ["-x", deb, root]);
      const { stdout: control } = await run("dpkg-deb", ["-f", deb]);
      return { name, deb, control, root };
    }),
  );
}

/** One control field's value (the first line of it). */
export function controlField(control: string, field: string): string | undefined {
  const match = new RegExp(`^${field}:[ \\t]*(.*)$`, "im").exec(control);
  return match?.[1]?.trim();
}

/** The status stanza dpkg writes for an installed package: Package, then Status, then the rest. */
function statusStanza(pkg: DebianPackage): string {
  const lines = pkg.control.replace(/\n+$/, "").split("\n");
  const rest = lines.filter((line) => !/^Package:/i.test(line));
  return [`Package: ${pkg.name}`, "Status: install ok installed", ...rest, ""].join("\n");
}

/** dpkg names the .list of a Multi-Arch: same package with its architecture. */
function listName(pkg: DebianPackage): string {
  const arch = controlField(pkg.control, "Architecture");
  return controlField(pkg.control, "Multi-Arch") === "same" ? `${pkg.name}:${arch}` : pkg.name;
}

/**
 * The files of a layer in which dpkg installed `added` on top of `earlier` (installed in lower
 * layers): the added packages' files, the status file listing all of them, and the added
 * packages' .list files ("/." first, then every path the package holds, as dpkg writes them).
 */
export async function dpkgLayerFiles(
  added: DebianPackage[],
  earlier: DebianPackage[] = [],
): Promise<LayerFile[]> {
  const byPath = new Map<string, LayerFile>();
  const lists: LayerFile[] = [];
  for (const pkg of added) {
    const files = await filesFromDirectory(pkg.root);
    // Folders such as usr/ come with every package; the layer holds each once.
    for (const file of files) if (!byPath.has(file.path)) byPath.set(file.path, file);
    const list = ["/.", ...files.map((file) => `/${file.path}`), ""].join("\n");
    lists.push({ path: `var/lib/dpkg/info/${listName(pkg)}.list`, type: "file", content: Buffer.from(list) });
  }
  const installed = [...earlier, ...added].sort((a, b) => a.name.localeCompare(b.name));
  const status = installed.map(statusStanza).join("\n");
  for (const path of ["var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/info"])
    if (!byPath.has(path)) byPath.set(path, { path, type: "directory" });
  return [
    ...byPath.values(),
    { path: "var/lib/dpkg/status", type: "file", content: Buffer.from(status) },
    ...lists,
  ];
}
