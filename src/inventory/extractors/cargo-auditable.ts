import { PackageURL } from "packageurl-js";
import { DamagedContentError, viewOf } from "../binary/byte-view.js";
import { readCargoAuditData } from "../binary/cargo-audit.js";
import { executableFiles } from "../binary/condense.js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/**
 * Rust executables built with cargo-auditable: every package of the dependency list it embeds
 * (binary/cargo-audit.ts), the root crate included, read from what the layer kept of each
 * executable while it streamed.
 *
 * Only a package whose source is "crates.io" gets the crates.io ecosystem. One from a git
 * repository, a local path or another registry is listed under a cargo purl (it is a cargo
 * package, and the embedded data names no repository to qualify it with) but has no ecosystem:
 * crates.io's advisories are about crates.io's package of that name, not about it. Build-time
 * packages (`"kind": "build"`: build scripts' and proc-macros' dependencies) are listed like the
 * rest; the embedded list does not tell which ones were linked in.
 */

interface AuditPackage {
  name?: unknown;
  version?: unknown;
  source?: unknown;
}

function packageOf(entry: AuditPackage): ExtractedPackage | string {
  const { name, version, source } = entry;
  if (typeof name !== "string" || name === "" || typeof version !== "string" || version === "")
    return "has no name or version";
  const fromCratesIo = source === "crates.io";
  try {
    const purl = new PackageURL("cargo", undefined, name, version, undefined, undefined).toString();
    return { name, version, type: "cargo", purl, ...(fromCratesIo ? { ecosystem: "crates.io" } : {}) };
  } catch {
    return "cannot be written as a purl";
  }
}

export const cargoAuditableExtractor: Extractor = {
  name: "cargo-auditable",
  version: 1,
  pathHint: {},
  wants: () => false,
  condensed: executableFiles,
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    let result: ReturnType<typeof readCargoAuditData>;
    try {
      result = readCargoAuditData(viewOf(content));
    } catch (error) {
      if (!(error instanceof DamagedContentError)) throw error;
      context.warn(error.message);
      return [];
    }
    if (!result) return [];
    if (result.problem || result.json === undefined) {
      context.warn(result.problem ?? "cargo-auditable data unreadable");
      return [];
    }
    let document: unknown;
    try {
      document = JSON.parse(result.json);
    } catch {
      context.warn("cargo-auditable data is not valid JSON; not read");
      return [];
    }
    const packages = (document as { packages?: unknown } | null)?.packages;
    if (!Array.isArray(packages)) {
      context.warn("cargo-auditable data has no packages list; not read");
      return [];
    }
    const found: ExtractedPackage[] = [];
    packages.forEach((entry: unknown, index) => {
      const pkg =
        typeof entry === "object" && entry !== null ? packageOf(entry as AuditPackage) : "is not an object";
      if (typeof pkg === "string") context.warn(`cargo-auditable package ${index} ${pkg}; skipped`);
      else found.push(pkg);
    });
    return found;
  },
};
