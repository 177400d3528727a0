import { PackageURL } from "packageurl-js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

const STATUS_FILE = "var/lib/dpkg/status";
const STATUS_DIRECTORY = /^var\/lib\/dpkg\/status\.d\/[^/]+$/;
const INFO_DIRECTORY = "var/lib/dpkg/info";
/** The file lists dpkg keeps beside the status file, one per installed package. */
const FILE_LIST = /^var\/lib\/dpkg\/info\/[^/]+\.list$/;

/**
 * Splits a Debian control file into stanzas of fields. Continuation lines (starting with a space
 * or tab) belong to the field above; field names are case-insensitive, so they are lower-cased.
 */
export function parseControlStanzas(
  text: string,
  warn: (problem: string) => void,
): Array<Map<string, string>> {
  const stanzas: Array<Map<string, string>> = [];
  let current = new Map<string, string>();
  let lastField: string | undefined;
  let lineNumber = 0;
  const flush = () => {
    if (current.size > 0) stanzas.push(current);
    current = new Map();
    lastField = undefined;
  };
  for (const line of text.split("\n")) {
    lineNumber++;
    if (line.trim() === "") {
      flush();
      continue;
    }
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (lastField !== undefined) current.set(lastField, `${current.get(lastField)}\n${line.slice(1)}`);
      else warn(`line ${lineNumber}: continuation line without a field`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      warn(`line ${lineNumber}: not a 'Field: value' line`);
      continue;
    }
    lastField = line.slice(0, colon).toLowerCase();
    current.set(lastField, line.slice(colon + 1).trim());
  }
  flush();
  return stanzas;
}

/** "openssl (3.0.11-1~deb12u1)" or "openssl" → name and optional version. */
export function parseSourceField(value: string): { name: string; version?: string } {
  const match = /^(\S+)(?:\s+\(([^)]+)\))?\s*$/.exec(value.trim());
  if (!match) return { name: value.trim() };
  const [, name = "", version] = match;
  return version ? { name, version: version.trim() } : { name };
}

/**
 * Whether a stanza's files are on disk. The Status field is "want flag state"; only the state says
 * what is installed, the want is what the administrator asked for next: "hold ok installed"
 * (apt-mark hold) and "deinstall ok installed" (removal requested, not yet done) still have every
 * file in place, so they count. "config-files", "half-installed", "unpacked" and the rest do not.
 * Distroless images keep one file per package in status.d with no Status field at all, and every
 * package there is installed; dpkg itself always writes Status into the status file, so a stanza
 * there without one is not counted.
 */
function isInstalled(status: string | undefined, inStatusDirectory: boolean): boolean {
  if (status === undefined) return inStatusDirectory;
  const words = status.trim().split(/\s+/);
  return words.length === 3 && words[2] === "installed";
}

/**
 * The paths a package's info/<name>.list names, root-relative. The list names the directories a
 * package put files in as well as the files; an entry that is the parent directory of another
 * entry is dropped. A directory the package owns but leaves empty (var/cache/apt/archives/partial)
 * cannot be told from a file by the list alone and is kept.
 */
export function parseFileList(text: string): string[] {
  const entries: string[] = [];
  for (const line of text.split("\n")) {
    const path = line.replace(/^\/+/, "");
    if (path === "" || path === ".") continue;
    entries.push(path);
  }
  const directories = new Set<string>();
  for (const path of entries) {
    for (let slash = path.lastIndexOf("/"); slash > 0; slash = path.lastIndexOf("/", slash - 1)) {
      const parent = path.slice(0, slash);
      if (directories.has(parent)) break;
      directories.add(parent);
    }
  }
  return entries.filter((path) => !directories.has(path));
}

/**
 * Parsed lists by file content: a status file is extracted once per layer that rewrote it (for
 * layer attribution), and each time every package's list would be parsed again. The key is the
 * content Buffer the filesystem hands out, so an entry lives as long as the scan's filesystem.
 */
const parsedLists = new WeakMap<Buffer, string[]>();

/**
 * A package's files from var/lib/dpkg/info. dpkg names the list <name>:<arch>.list for
 * Multi-Arch: same packages (several architectures of them can be installed side by side) and
 * <name>.list for the rest; both are tried, the qualified one first when the stanza has an arch.
 */
function packageFiles(name: string, arch: string | undefined, context: ExtractContext): string[] | undefined {
  // A name that is not a file name (a damaged stanza) must not steer the lookup elsewhere.
  if (name.includes("/") || arch?.includes("/")) return undefined;
  const candidates = arch ? [`${name}:${arch}`, name] : [name];
  for (const candidate of candidates) {
    const content = context.readFile(`${INFO_DIRECTORY}/${candidate}.list`);
    if (!content) continue;
    let files = parsedLists.get(content);
    if (!files) {
      files = parseFileList(content.toString("utf8"));
      parsedLists.set(content, files);
    }
    return files;
  }
  return undefined;
}

/** A value from the file as a warning shows it: a damaged file can hold a megabyte on one line. */
function shown(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

export const dpkgExtractor: Extractor = {
  name: "dpkg",
  // 2: files from info/*.list, and the installed-state rules of isInstalled().
  version: 2,
  pathHint: { fileNames: ["status"], directories: ["var/lib/dpkg/status.d", INFO_DIRECTORY] },
  wants: (path) => path === STATUS_FILE || (STATUS_DIRECTORY.test(path) && !path.endsWith(".md5sums")),
  needs: (path) => FILE_LIST.test(path),
  extract(path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const packages: ExtractedPackage[] = [];
    const inStatusDirectory = path !== STATUS_FILE;
    const distroId = context.distro?.id ?? "debian";
    const distroQualifier = context.distro?.versionId ? `${distroId}-${context.distro.versionId}` : undefined;
    for (const stanza of parseControlStanzas(content.toString("utf8"), context.warn)) {
      const name = stanza.get("package");
      const version = stanza.get("version");
      if (!name || !version) {
        context.warn(`a stanza without Package or Version (${shown(name || "unnamed")}) was skipped`);
        continue;
      }
      // Both are one word; whitespace means a damaged file (a continuation line under Version).
      if (/\s/.test(name) || /\s/.test(version)) {
        context.warn(`a stanza with a malformed Package or Version (${shown(name)}) was skipped`);
        continue;
      }
      const status = stanza.get("status");
      if (status === undefined && !inStatusDirectory)
        context.warn(`${shown(name)}: no Status field; not counted as installed`);
      else if (status !== undefined && status.trim().split(/\s+/).length !== 3)
        context.warn(
          `${shown(name)}: Status "${shown(status)}" is not "want flag state"; not counted as installed`,
        );
      if (!isInstalled(status, inStatusDirectory)) continue;
      const arch = stanza.get("architecture");
      let source = parseSourceField(stanza.get("source") || name);
      if (/[\s()]/.test(source.name) || (source.version !== undefined && /\s/.test(source.version))) {
        context.warn(
          `${shown(name)}: Source "${shown(stanza.get("source") ?? "")}" is malformed; its own name is used`,
        );
        source = { name };
      }
      const qualifiers: Record<string, string> = {};
      if (arch) qualifiers.arch = arch;
      if (distroQualifier) qualifiers.distro = distroQualifier;
      if (source.name !== name) qualifiers.upstream = source.name;
      // Distroless status.d has no info directory; the lists exist only beside the status file.
      const files = inStatusDirectory ? undefined : packageFiles(name, arch, context);
      let purl: string;
      try {
        purl = new PackageURL("deb", distroId, name, version, qualifiers).toString();
      } catch (error) {
        // packageurl-js refuses some values; one odd stanza must not stop the scan.
        context.warn(`${shown(name)}: no package URL can be made (${(error as Error).message}); skipped`);
        continue;
      }
      packages.push({
        name,
        version,
        type: "deb",
        purl,
        sourceName: source.name,
        sourceVersion: source.version ?? version,
        ...(arch ? { arch } : {}),
        ...(context.distro?.osvEcosystem ? { ecosystem: context.distro.osvEcosystem } : {}),
        ...(files ? { files } : {}),
      });
    }
    return packages;
  },
};
