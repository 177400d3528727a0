import type { ImageFile } from "../fs/types.js";
import { extractors } from "./extractors/index.js";
import { npmInstalledExtractor } from "./extractors/npm.js";
import { npmLockfileExtractor } from "./extractors/npm-lockfile.js";
import { detectRelease, distroPaths } from "./os-release.js";
import type { Distro, ExtractedPackage, Extractor, Inventory, InventoryWarning, Package } from "./types.js";

/** The view of the image filesystem the inventory needs. */
export interface FilesystemView {
  files(): Iterable<ImageFile>;
  file(path: string): ImageFile | undefined;
  versions(path: string): ImageFile[];
}

const osPaths = new Set(distroPaths);

/** Whether any part of the inventory needs this path's contents: layers keep only these. */
export function inventoryWants(path: string): boolean {
  return (
    osPaths.has(path) ||
    extractors.some((extractor) => extractor.wants(path) || extractor.needs?.(path) === true)
  );
}

/** Version of the inventory's output for the same input, for caches keyed by layer. */
// The release files the OS detection reads are part of it too: a new one must invalidate cached
// layers, which kept only the files wanted when they were read.
export const inventoryVersion = [
  ...extractors.map((e) => `${e.name}@${e.version}`),
  `os:${[...osPaths].sort().join(":")}`,
].join(",");

export function detectDistro(fs: FilesystemView): Distro | undefined {
  const distro = detectRelease((path) => fs.file(path)?.content?.toString("utf8"));
  return distro && isDistroless(fs) ? { ...distro, distroless: true } : distro;
}

/**
 * Distroless images keep one dpkg stanza per package in status.d and ship no shell. The
 * directory often has no tar entry of its own, so its files are looked for too.
 */
function isDistroless(fs: FilesystemView): boolean {
  if (fs.file("bin/sh")) return false;
  if (fs.file("var/lib/dpkg/status.d")?.type === "directory") return true;
  for (const file of fs.files()) if (file.path.startsWith("var/lib/dpkg/status.d/")) return true;
  return false;
}

function packageKey(pkg: ExtractedPackage): string {
  return `${pkg.type}\u0000${pkg.name}\u0000${pkg.version}\u0000${pkg.arch ?? ""}`;
}

/**
 * Extracts packages from every version of one file, oldest first, to find the layer that
 * introduced each package: the first layer of the unbroken run of versions that list it.
 * A package database is rewritten by every layer that installs something, so the layer that
 * last wrote the file is not the answer.
 */
function extractWithAttribution(
  extractor: Extractor,
  versions: ImageFile[],
  distro: Distro | undefined,
  warnings: InventoryWarning[],
  readFile: (path: string) => Buffer | undefined,
): Package[] {
  let introducedIn = new Map<string, number>();
  let current: ExtractedPackage[] = [];
  const last = versions.length - 1;
  versions.forEach((version, position) => {
    if (!version.content) return;
    const warn =
      position === last
        ? (problem: string) => warnings.push({ path: version.path, layer: version.layer, problem })
        : () => undefined;
    current = extractor.extract(version.path, version.content, {
      ...(distro ? { distro } : {}),
      warn,
      readFile,
    });
    const next = new Map<string, number>();
    for (const pkg of current) {
      const key = packageKey(pkg);
      next.set(key, introducedIn.get(key) ?? version.layer);
    }
    introducedIn = next;
  });
  const location = versions[last]?.path ?? "";
  return current.map((pkg) => ({
    ...pkg,
    location: pkg.location ?? location,
    layer: introducedIn.get(packageKey(pkg)) ?? versions[last]?.layer ?? 0,
    foundBy: extractor.name,
  }));
}

/**
 * An app with both node_modules and a lockfile would list each package twice. A lockfile package
 * whose name and version are installed under the same app folder (the lockfile's folder) is
 * dropped in favour of the installed manifest, which keeps the lockfile's development flag.
 */
function preferInstalledNpm(packages: Package[]): Package[] {
  const installed = new Map<string, Package[]>();
  for (const pkg of packages) {
    if (pkg.foundBy !== npmInstalledExtractor.name) continue;
    const cut = pkg.location.indexOf("node_modules/");
    const key = `${pkg.location.slice(0, Math.max(cut - 1, 0))}\u0000${pkg.name}\u0000${pkg.version}`;
    installed.set(key, [...(installed.get(key) ?? []), pkg]);
  }
  if (installed.size === 0) return packages;
  return packages.filter((pkg) => {
    if (pkg.foundBy !== npmLockfileExtractor.name) return true;
    const slash = pkg.location.lastIndexOf("/");
    const same = installed.get(
      `${slash < 0 ? "" : pkg.location.slice(0, slash)}\u0000${pkg.name}\u0000${pkg.version}`,
    );
    if (!same) return true;
    if (pkg.dev) for (const copy of same) copy.dev = true;
    return false;
  });
}

/** The purl types of OS package databases, whose packages list the files they installed. */
const osPackageTypes = new Set(["deb", "apk", "rpm"]);

/**
 * A language package whose metadata file an OS package installed (Debian's python3-urllib3 owns
 * usr/lib/python3/dist-packages/urllib3-1.26.12.dist-info/METADATA) is the distro's build: its
 * fixes are the distro's, so it is matched through the OS package only. It gets `osOwned` (the
 * owning package's purl) and loses its ecosystem, which keeps the matcher off it.
 */
function markOsOwned(packages: Package[]): void {
  const owners = new Map<string, string>();
  for (const pkg of packages)
    if (osPackageTypes.has(pkg.type)) for (const file of pkg.files ?? []) owners.set(file, pkg.purl);
  if (owners.size === 0) return;
  for (const pkg of packages) {
    const owner = osPackageTypes.has(pkg.type) ? undefined : owners.get(pkg.location);
    if (!owner) continue;
    pkg.osOwned = owner;
    delete pkg.ecosystem;
  }
}

export function buildInventory(fs: FilesystemView): Inventory {
  const warnings: InventoryWarning[] = [];
  const distro = detectDistro(fs);
  const readFile = (path: string) => fs.file(path)?.content;
  const packages: Package[] = [];
  for (const entry of fs.files()) {
    if (entry.type !== "file" && entry.type !== "hardlink") continue;
    for (const extractor of extractors) {
      if (!extractor.wants(entry.path)) continue;
      const versions =
        entry.type === "hardlink"
          ? [fs.file(entry.path)].filter((f) => f !== undefined)
          : fs.versions(entry.path);
      if (!versions.some((version) => version.content)) continue;
      packages.push(...extractWithAttribution(extractor, versions, distro, warnings, readFile));
    }
  }
  const kept = preferInstalledNpm(packages);
  markOsOwned(kept);
  kept.sort(
    (a, b) =>
      a.type.localeCompare(b.type) || a.name.localeCompare(b.name) || a.location.localeCompare(b.location),
  );
  return { ...(distro ? { distro } : {}), packages: kept, warnings };
}
