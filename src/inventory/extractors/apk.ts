import { PackageURL } from "packageurl-js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/** The database, and where it really sits when lib is a symlink to usr/lib (a merged /usr). */
const INSTALLED_DBS = new Set(["lib/apk/db/installed", "usr/lib/apk/db/installed"]);
/** The purl namespace when the image names no distribution (apk is Alpine's). */
const DEFAULT_NAMESPACE = "alpine";

interface ApkEntry {
  /** The line the entry starts on, to name it in warnings. */
  line: number;
  fields: Map<string, string>;
  files: string[];
}

/**
 * Splits apk's installed database into entries: `K:value` lines, one blank line between
 * entries. Files are listed as an `F:` directory line followed by the `R:` lines of the files
 * in it. A line of another shape is reported and skipped; the entry around it is still read.
 */
export function parseApkDatabase(text: string, warn: (problem: string) => void): ApkEntry[] {
  const entries: ApkEntry[] = [];
  let current: ApkEntry | undefined;
  let directory = "";
  let lineNumber = 0;
  for (const rawLine of text.split("\n")) {
    lineNumber++;
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === "") {
      if (current) entries.push(current);
      current = undefined;
      directory = "";
      continue;
    }
    const match = /^([A-Za-z]):(.*)$/.exec(line);
    if (!match) {
      warn(`line ${lineNumber}: not a 'K:value' line; skipped`);
      continue;
    }
    const [, key = "", value = ""] = match;
    current ??= { line: lineNumber, fields: new Map(), files: [] };
    if (key === "F") {
      directory = value.replace(/^\/+|\/+$/g, "");
    } else if (key === "R") {
      // Paths are root-relative; a file before any F: line sits in the root directory.
      const file = value.replace(/^\/+/, "");
      if (file !== "") current.files.push(directory === "" ? file : `${directory}/${file}`);
    } else if (!current.fields.has(key)) {
      // Package fields appear once; later file-attribute lines (a:, M:, Z:) reuse their letters.
      current.fields.set(key, value);
    }
  }
  // Several real databases end without a blank line or even a newline.
  if (current) entries.push(current);
  return entries;
}

export const apkExtractor: Extractor = {
  name: "apk",
  version: 1,
  pathHint: { fileNames: ["installed"] },
  wants: (path) => INSTALLED_DBS.has(path),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const packages: ExtractedPackage[] = [];
    const distroId = context.distro?.id ?? DEFAULT_NAMESPACE;
    const distroQualifier = context.distro?.versionId ? `${distroId}-${context.distro.versionId}` : undefined;
    for (const entry of parseApkDatabase(content.toString("utf8"), context.warn)) {
      const name = entry.fields.get("P")?.trim();
      const version = entry.fields.get("V")?.trim();
      if (!name || !version) {
        const missing = !name ? "P:" : "V:";
        context.warn(`the entry at line ${entry.line} (${name ?? "unnamed"}) has no ${missing}; skipped`);
        continue;
      }
      const arch = entry.fields.get("A")?.trim() || undefined;
      const license = entry.fields.get("L")?.trim() || undefined;
      // Advisories name the origin (source) package; a subpackage such as libcrypto3 has o:openssl.
      const origin = entry.fields.get("o")?.trim() || name;
      const qualifiers: Record<string, string> = {};
      if (arch) qualifiers.arch = arch;
      if (distroQualifier) qualifiers.distro = distroQualifier;
      let purl: string;
      try {
        purl = new PackageURL("apk", distroId, name, version, qualifiers).toString();
      } catch (error) {
        context.warn(
          `the entry at line ${entry.line} (${name}) has no valid package URL (${String(error)}); skipped`,
        );
        continue;
      }
      packages.push({
        name,
        version,
        type: "apk",
        purl,
        sourceName: origin,
        sourceVersion: version,
        ...(arch ? { arch } : {}),
        ...(license ? { license } : {}),
        ...(entry.files.length > 0 ? { files: entry.files } : {}),
        ...(context.distro?.osvEcosystem ? { ecosystem: context.distro.osvEcosystem } : {}),
      });
    }
    return packages;
  },
};
