import { PackageURL } from "packageurl-js";
import { parse as parseToml } from "smol-toml";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/**
 * Rust: the `Cargo.lock` of an application, every format version (v1 keeps checksums in a
 * `[metadata]` table, v2 to v4 inline; none of that is needed here). Each `[[package]]` has a
 * name, a version and, unless it is part of the project, a `source`:
 *
 * - `registry+https://github.com/rust-lang/crates.io-index` or `sparse+https://index.crates.io/`:
 *   a crates.io release, reported with the crates.io ecosystem.
 * - another registry, or `git+URL#commit`: the same name may not be the crates.io crate, so it is
 *   reported without an ecosystem (never matched), with the registry or the commit in the purl.
 * - no source: the workspace's own crates and path dependencies, the project itself; skipped, as
 *   a local crate named like a crates.io one ("app", "telemetry") would otherwise be matched.
 *
 * A Cargo.lock inside a dependency's unpacked source (cargo's registry/src or git/checkouts,
 * Debian's usr/share/cargo/registry) describes that crate's own build, not what is installed.
 */

const CRATES_IO_SOURCES = new Set([
  "registry+https://github.com/rust-lang/crates.io-index",
  "sparse+https://index.crates.io/",
]);

const DEPENDENCY_SOURCE =
  /(?:^|\/)\.?cargo\/(?:registry\/src|git\/checkouts)\/|(?:^|\/)usr\/share\/cargo\/registry\//;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The purl qualifiers that tell a crate from elsewhere apart from the crates.io one. */
function qualifiersOf(source: string): Record<string, string> | undefined {
  if (CRATES_IO_SOURCES.has(source)) return undefined;
  const git = /^git\+([^?#]+)(?:\?[^#]*)?(?:#(.+))?$/.exec(source);
  if (git) return { vcs_url: `git+${git[1]}${git[2] ? `@${git[2]}` : ""}` };
  const registry = /^(?:registry|sparse)\+(.+)$/.exec(source);
  return { repository_url: registry ? (registry[1] as string) : source };
}

function cratePackage(name: string, version: string, source: string): ExtractedPackage | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(name) || /\s/.test(version) || version === "") return undefined;
  let purl: string;
  try {
    purl = new PackageURL("cargo", undefined, name, version, qualifiersOf(source)).toString();
  } catch {
    return undefined;
  }
  const pkg: ExtractedPackage = { name, version, type: "cargo", purl };
  return CRATES_IO_SOURCES.has(source) ? { ...pkg, ecosystem: "crates.io" } : pkg;
}

export const cargoLockExtractor: Extractor = {
  name: "cargo-lock",
  version: 1,
  pathHint: { fileNames: ["Cargo.lock"] },
  wants: (path) => /(?:^|\/)Cargo\.lock$/.test(path) && !DEPENDENCY_SOURCE.test(path),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    let document: Record<string, unknown>;
    try {
      document = parseToml(content.toString("utf8")) as Record<string, unknown>;
    } catch (error) {
      context.warn(`not valid TOML (${(error as Error).message.split("\n")[0]}); skipped`);
      return [];
    }
    const tables = Array.isArray(document.package) ? document.package : [];
    const packages: ExtractedPackage[] = [];
    tables.forEach((table: unknown, index) => {
      if (!isRecord(table)) return;
      const { name, version, source } = table;
      if (source === undefined) return; // the project's own crates
      const pkg =
        typeof name === "string" && typeof version === "string" && typeof source === "string"
          ? cratePackage(name, version, source)
          : undefined;
      if (pkg) packages.push(pkg);
      else context.warn(`[[package]] ${index + 1} has no usable name, version and source; skipped`);
    });
    return packages;
  },
};
