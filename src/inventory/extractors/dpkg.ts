import { PackageURL } from "packageurl-js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

const STATUS_FILE = "var/lib/dpkg/status";
const STATUS_DIRECTORY = /^var\/lib\/dpkg\/status\.d\/[^/]+$/;

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

function isInstalled(status: string | undefined): boolean {
  // Distroless images keep one file per package in status.d with no Status field at all.
  if (status === undefined) return true;
  const [want, , state] = status.split(/\s+/);
  return want === "install" && state === "installed";
}

export const dpkgExtractor: Extractor = {
  name: "dpkg",
  version: 1,
  wants: (path) => path === STATUS_FILE || (STATUS_DIRECTORY.test(path) && !path.endsWith(".md5sums")),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const packages: ExtractedPackage[] = [];
    const distroId = context.distro?.id ?? "debian";
    const distroQualifier = context.distro?.versionId ? `${distroId}-${context.distro.versionId}` : undefined;
    for (const stanza of parseControlStanzas(content.toString("utf8"), context.warn)) {
      const name = stanza.get("package");
      const version = stanza.get("version");
      if (!name || !version) {
        context.warn(`a stanza without Package or Version (${name ?? "unnamed"}) was skipped`);
        continue;
      }
      if (!isInstalled(stanza.get("status"))) continue;
      const arch = stanza.get("architecture");
      const source = parseSourceField(stanza.get("source") ?? name);
      const qualifiers: Record<string, string> = {};
      if (arch) qualifiers.arch = arch;
      if (distroQualifier) qualifiers.distro = distroQualifier;
      if (source.name !== name) qualifiers.upstream = source.name;
      packages.push({
        name,
        version,
        type: "deb",
        purl: new PackageURL("deb", distroId, name, version, qualifiers).toString(),
        sourceName: source.name,
        sourceVersion: source.version ?? version,
        ...(arch ? { arch } : {}),
        ...(context.distro?.osvEcosystem ? { ecosystem: context.distro.osvEcosystem } : {}),
      });
    }
    return packages;
  },
};
