import type { Condensing, ImageFile } from "../fs/types.js";
import { extractors } from "./extractors/index.js";
import { toSpdxExpression } from "./license.js";
import { detectRelease, distroPaths } from "./os-release.js";
import type {
  Distro,
  ExtractedPackage,
  Extractor,
  FileCondenser,
  Inventory,
  InventoryWarning,
  Package,
  PathHint,
} from "./types.js";

/** The view of the image filesystem the inventory needs. */
export interface FilesystemView {
  files(): Iterable<ImageFile>;
  file(path: string): ImageFile | undefined;
  versions(path: string): ImageFile[];
  /**
   * Whether some file that files() yields lies under a symlink, so that its path resolves to
   * another file. A view without this is taken to have such files.
   */
  hasPathsThroughSymlinks?(): boolean;
}

const osPaths = new Set(distroPaths);

/**
 * The extractors whose path hints let a path through, found with a lookup or two by its file
 * name, its last extension and its parent directory: an image's paths are mostly turned away
 * here, without asking each extractor's wants().
 */
class PathDispatch {
  private readonly byFileName = new Map<string, Extractor[]>();
  /** Keyed by a suffix's last extension, lower case (".json" for ".deps.json"). */
  private readonly bySuffix = new Map<string, Array<{ suffix: string; extractor: Extractor }>>();
  private readonly byDirectory = new Map<string, Extractor[]>();
  /** The lengths of the suffixes' last extensions and of the directories: most paths' differ,
   * which spares cutting their extension or directory out to look it up. */
  private readonly extensionLengths = new Set<number>();
  private readonly directoryLengths = new Set<number>();
  /** Extractors without a hint: asked about every path. */
  private readonly unhinted: Extractor[] = [];
  private readonly order: Map<Extractor, number>;

  constructor(all: readonly Extractor[]) {
    this.order = new Map(all.map((extractor, index) => [extractor, index]));
    const add = (map: Map<string, Extractor[]>, key: string, extractor: Extractor) => {
      const list = map.get(key) ?? [];
      if (!list.includes(extractor)) list.push(extractor);
      map.set(key, list);
    };
    for (const extractor of all) {
      const hint: PathHint | undefined = extractor.pathHint;
      if (!hint) {
        this.unhinted.push(extractor);
        continue;
      }
      for (const name of hint.fileNames ?? []) add(this.byFileName, name, extractor);
      for (const directory of hint.directories ?? []) {
        add(this.byDirectory, directory, extractor);
        this.directoryLengths.add(directory.length);
      }
      for (const suffix of hint.suffixes ?? []) {
        // A suffix ends within the file name, so it is found by the name's last extension.
        if (!suffix.startsWith(".") || suffix.includes("/"))
          throw new Error(
            `${extractor.name}: path hint suffix ${suffix} must start with "." and hold no "/"`,
          );
        const lower = suffix.toLowerCase();
        const key = lower.slice(lower.lastIndexOf("."));
        this.bySuffix.set(key, [...(this.bySuffix.get(key) ?? []), { suffix: lower, extractor }]);
        this.extensionLengths.add(key.length);
      }
    }
  }

  /** The extractors, in registry order, whose wants() or needs() may accept `path`. */
  candidates(path: string): readonly Extractor[] {
    const slash = path.lastIndexOf("/");
    const name = slash < 0 ? path : path.slice(slash + 1);
    let found: readonly Extractor[] = this.byFileName.get(name) ?? none;
    const dot = name.lastIndexOf(".");
    if (dot >= 0 && this.extensionLengths.has(name.length - dot)) {
      const suffixed = this.bySuffix.get(name.slice(dot).toLowerCase());
      if (suffixed) {
        const lower = name.toLowerCase();
        for (const { suffix, extractor } of suffixed)
          if (lower.endsWith(suffix)) found = this.merge(found, [extractor]);
      }
    }
    if (slash > 0 && this.directoryLengths.has(slash)) {
      const inDirectory = this.byDirectory.get(path.slice(0, slash));
      if (inDirectory) found = this.merge(found, inDirectory);
    }
    return this.unhinted.length > 0 ? this.merge(found, this.unhinted) : found;
  }

  private merge(a: readonly Extractor[], b: readonly Extractor[]): readonly Extractor[] {
    if (a.length === 0) return b;
    const order = (extractor: Extractor) => this.order.get(extractor) ?? 0;
    return [...new Set([...a, ...b])].sort((x, y) => order(x) - order(y));
  }
}

const none: readonly Extractor[] = [];
const dispatch = new PathDispatch(extractors);

/**
 * The extractors, in registry order, that may want or need `path`: a superset of those whose
 * wants() or needs() accepts it, told from their path hints.
 */
export function candidateExtractors(path: string): readonly Extractor[] {
  return dispatch.candidates(path);
}

/** Whether any part of the inventory needs this path's contents: layers keep only these. */
export function inventoryWants(path: string): boolean {
  if (osPaths.has(path)) return true;
  for (const extractor of dispatch.candidates(path))
    if (extractor.wants(path) || extractor.needs?.(path) === true) return true;
  return false;
}

/** The condensers the extractors read through, each once (several extractors may share one). */
const condensers: FileCondenser[] = [
  ...new Set(extractors.flatMap((extractor) => (extractor.condensed ? [extractor.condensed] : []))),
];

/**
 * For a file no extractor wants whole: the condenser to stream it through (an executable's), or
 * undefined. The first condenser offered the file takes it.
 */
export function inventoryCondense(path: string, mode: number, size: number): Condensing | undefined {
  const condenser = condensers.find((c) => c.offered(path, mode));
  return condenser ? { by: condenser.name, condenser: condenser.open(size) } : undefined;
}

/** Whether the inventory reads this file at all: wanted whole, or condensed while it streams. */
export function inventoryReads(path: string, mode: number): boolean {
  return inventoryWants(path) || condensers.some((c) => c.offered(path, mode));
}

/** Version of the inventory's output for the same input, for caches keyed by layer. */
// The release files the OS detection reads are part of it too: a new one must invalidate cached
// layers, which kept only the files wanted when they were read. So are the condensers, whose
// output the layers keep.
export const inventoryVersion = [
  ...extractors.map((e) => `${e.name}@${e.version}`),
  `os:${[...osPaths].sort().join(":")}`,
  ...condensers.map((c) => `condense:${c.name}@${c.version}`),
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
  return current.map((pkg) => {
    const licenseExpression = pkg.license ? toSpdxExpression(pkg.license).expression : undefined;
    return {
      ...pkg,
      location: pkg.location ?? location,
      layer: introducedIn.get(packageKey(pkg)) ?? versions[last]?.layer ?? 0,
      foundBy: extractor.name,
      ...(licenseExpression ? { licenseExpression } : {}),
    };
  });
}

/**
 * Where an app's lockfile and the packages installed from it are both in the image, each package
 * would be listed twice. The installed copy is the truth, so the locked one is dropped: npm and
 * Composer install into the app's own folder, so only a lockfile in that folder counts; gems and
 * Python distributions go to a shared site (a gem home, site-packages), so any installed copy of
 * the same name and version does.
 */
interface InstalledOverLocked {
  installed: string;
  locked: readonly string[];
  /** The app folder an installed package belongs to; undefined when it is not in one. */
  appFolderOf?: (location: string) => string;
}

const installedOverLocked: readonly InstalledOverLocked[] = [
  {
    installed: "npm-installed",
    locked: ["npm-lockfile"],
    appFolderOf: (location) => location.slice(0, Math.max(location.indexOf("node_modules/") - 1, 0)),
  },
  {
    installed: "php-composer-installed",
    locked: ["php-composer-lock"],
    appFolderOf: (location) => location.replace(/\/?vendor\/composer\/installed\.json$/, ""),
  },
  { installed: "ruby-gemspec", locked: ["ruby-gemfile-lock"] },
  {
    installed: "python-installed",
    locked: ["python-poetry-lock", "python-uv-lock", "python-pipfile-lock", "python-requirements"],
  },
];

/** The purl without qualifiers: the same package whichever file listed it (names normalised). */
function packageIdentity(pkg: Package): string {
  const question = pkg.purl.indexOf("?");
  return question < 0 ? pkg.purl : pkg.purl.slice(0, question);
}

function preferInstalled(packages: Package[]): Package[] {
  const dropped = new Set<Package>();
  for (const rule of installedOverLocked) {
    const installed = new Map<string, Package[]>();
    const keyOf = (folder: string | undefined, pkg: Package) =>
      `${folder ?? ""}\u0000${packageIdentity(pkg)}`;
    for (const pkg of packages) {
      if (pkg.foundBy !== rule.installed) continue;
      const key = keyOf(rule.appFolderOf?.(pkg.location), pkg);
      installed.set(key, [...(installed.get(key) ?? []), pkg]);
    }
    if (installed.size === 0) continue;
    for (const pkg of packages) {
      if (!rule.locked.includes(pkg.foundBy)) continue;
      const slash = pkg.location.lastIndexOf("/");
      const folder = rule.appFolderOf ? (slash < 0 ? "" : pkg.location.slice(0, slash)) : undefined;
      const same = installed.get(keyOf(folder, pkg));
      if (!same) continue;
      // In its own app folder the lockfile speaks for the installed copy: a dev dependency stays one.
      if (pkg.dev && rule.appFolderOf) for (const copy of same) copy.dev = true;
      dropped.add(pkg);
    }
  }
  return dropped.size === 0 ? packages : packages.filter((pkg) => !dropped.has(pkg));
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

/**
 * The versions of a file that a condenser kept, oldest first: the unbroken run up to the current
 * one (none when the current one is not such a file: an executable replaced by a script).
 */
function condensedVersions(fs: FilesystemView, entry: ImageFile, condenser: string): ImageFile[] {
  const versions =
    entry.type === "hardlink"
      ? [fs.file(entry.path)].filter((f) => f !== undefined)
      : fs.versions(entry.path);
  let first = versions.length;
  while (first > 0 && versions[first - 1]?.condensedBy === condenser) first--;
  return versions.slice(first);
}

export function buildInventory(fs: FilesystemView): Inventory {
  const warnings: InventoryWarning[] = [];
  const distro = detectDistro(fs);
  // A condensed file's content is not the file: no extractor reads it as one.
  const readFile = (path: string) => {
    const file = fs.file(path);
    return file?.condensedBy === undefined ? file?.content : undefined;
  };
  const packages: Package[] = [];
  const throughSymlinks = fs.hasPathsThroughSymlinks?.() ?? true;
  for (const entry of fs.files()) {
    if (entry.type !== "file" && entry.type !== "hardlink") continue;
    // Only these extractors can want the path (their path hints say so)...
    const candidates = dispatch.candidates(entry.path);
    // ...and a condensing one finds versions only where the current one was condensed: this
    // file, when its path leads to itself (no symlink on the way); a hard link's target.
    const condensable = entry.type === "hardlink" || entry.condensedBy !== undefined || throughSymlinks;
    if (candidates.length === 0 && !condensable) continue;
    for (const extractor of extractors) {
      if (!(condensable && extractor.condensed) && !candidates.includes(extractor)) continue;
      if (extractor.condensed && !extractor.wants(entry.path)) {
        const versions = condensedVersions(fs, entry, extractor.condensed.name);
        if (versions.length > 0)
          packages.push(...extractWithAttribution(extractor, versions, distro, warnings, readFile));
        continue;
      }
      if (!extractor.wants(entry.path)) continue;
      const versions =
        entry.type === "hardlink"
          ? [fs.file(entry.path)].filter((f) => f !== undefined)
          : fs.versions(entry.path);
      if (!versions.some((version) => version.content)) continue;
      packages.push(...extractWithAttribution(extractor, versions, distro, warnings, readFile));
    }
  }
  const kept = preferInstalled(packages);
  markOsOwned(kept);
  kept.sort(
    (a, b) =>
      a.type.localeCompare(b.type) || a.name.localeCompare(b.name) || a.location.localeCompare(b.location),
  );
  return { ...(distro ? { distro } : {}), packages: kept, warnings };
}
