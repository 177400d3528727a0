import { createHash } from "node:crypto";
import { PackageURL } from "packageurl-js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";
import { readZipEntries, readZipEntry, type ZipEntry, ZipError } from "./zip-sync.js";

/**
 * Java archives (jar, war, ear and Jenkins' jpi/hpi), anywhere in the image, with the archives
 * nested in them (Spring Boot's BOOT-INF/lib/*.jar, a war's WEB-INF/lib/*.jar).
 *
 * What an archive is, best evidence first:
 * 1. each `META-INF/maven/<group>/<artifact>/pom.properties` (written by Maven when it built the
 *    jar; a shaded jar holds several): package `group:artifact`, ecosystem Maven;
 * 2. else META-INF/MANIFEST.MF: the version from Implementation-Version, Bundle-Version or
 *    Plugin-Version, the group from Implementation-Vendor-Id or Group-Id, the artifact from a
 *    Jenkins plugin's Short-Name, a versioned file name, Bundle-SymbolicName (less the group) or
 *    Implementation-Title; this is a guess, less sure than a pom.properties;
 * 3. else the file name (`name-1.2.3.jar`).
 * Only a package whose group is known gets the Maven ecosystem and a maven purl, since Maven
 * advisories name `group:artifact`; one without a group is listed with a generic purl and is
 * never matched.
 */

const ARCHIVE = /\.(?:jar|war|ear|jpi|hpi)$/i;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const MANIFEST = "META-INF/MANIFEST.MF";
/** Archives inside archives are read this many levels down. */
export const MAX_NESTING_DEPTH = 3;
/** What one file's archives may inflate to in all, nested archives and metadata together. */
export const MAX_INFLATED_BYTES = 512 * 1024 * 1024;
/** A pom.properties or manifest larger than this is not metadata. */
const MAX_METADATA_BYTES = 1024 * 1024;

interface Budget {
  remaining: number;
  exhausted: boolean;
}

/** Java properties: `key=value`, `key: value` or `key value`, `#` and `!` comments. */
export function parseProperties(text: string): Map<string, string> {
  const properties = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("!")) continue;
    const match = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (match) properties.set(match[1] as string, (match[2] as string).trim());
  }
  return properties;
}

/**
 * A manifest's attributes: the main section's, then those only a later (per-entry) section has.
 * Lines starting with one space continue the previous line.
 */
export function parseManifest(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  let section = new Map<string, string>();
  let last: string | undefined;
  const flush = () => {
    for (const [key, value] of section) if (!attributes.has(key)) attributes.set(key, value);
    section = new Map();
    last = undefined;
  };
  for (const line of text.split(/\r?\n/)) {
    if (line === "") {
      flush();
      continue;
    }
    if (line.startsWith(" ") && last !== undefined) {
      section.set(last, `${section.get(last) ?? ""}${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim();
    section.set(last, line.slice(colon + 1).trim());
  }
  flush();
  return attributes;
}

/** `commons-lang3-3.12.0.jar` → commons-lang3, 3.12.0: the version starts at the first `-<digit>`. */
export function nameFromFileName(path: string): { artifact: string; version?: string } {
  const base = (path.split(/[/!]/).pop() ?? path).replace(ARCHIVE, "");
  const match = /^(.+?)-(\d.*)$/.exec(base);
  return match ? { artifact: match[1] as string, version: match[2] as string } : { artifact: base };
}

function usable(value: string | undefined): value is string {
  return value !== undefined && value !== "" && !/\s/.test(value) && !value.includes("${");
}

function mavenPackage(
  group: string,
  artifact: string,
  version: string,
  sha1: string,
): ExtractedPackage | undefined {
  try {
    const purl = new PackageURL("maven", group, artifact, version, undefined, undefined).toString();
    return { name: `${group}:${artifact}`, version, type: "maven", purl, ecosystem: "Maven", sha1 };
  } catch {
    return undefined;
  }
}

function genericPackage(artifact: string, version: string, sha1: string): ExtractedPackage | undefined {
  try {
    const purl = new PackageURL("generic", undefined, artifact, version, undefined, undefined).toString();
    return { name: artifact, version, type: "generic", purl, sha1 };
  } catch {
    return undefined;
  }
}

function fromManifest(
  manifest: Map<string, string>,
  location: string,
  sha1: string,
): ExtractedPackage | undefined {
  const file = nameFromFileName(location);
  const version =
    [
      manifest.get("Implementation-Version"),
      manifest.get("Bundle-Version"),
      manifest.get("Plugin-Version"),
    ].find(usable) ?? file.version;
  if (!usable(version)) return undefined;
  const group = [manifest.get("Implementation-Vendor-Id"), manifest.get("Group-Id")].find(usable);
  const symbolic = manifest.get("Bundle-SymbolicName")?.split(";")[0]?.trim();
  const fromSymbolic =
    group && symbolic?.startsWith(`${group}.`) ? symbolic.slice(group.length + 1) : undefined;
  // A versioned file name (`commons-lang3-3.12.0.jar`) names the artifact better than an OSGi
  // symbolic name does (`org.apache.commons.lang3`).
  const artifact = [
    manifest.get("Short-Name"),
    file.version !== undefined ? file.artifact : undefined,
    fromSymbolic,
    file.artifact,
    manifest.get("Implementation-Title"),
    symbolic,
  ].find(usable);
  if (!artifact) return undefined;
  return group ? mavenPackage(group, artifact, version, sha1) : genericPackage(artifact, version, sha1);
}

/**
 * A member's content, or undefined where it would take the file past its inflation budget (said
 * once per file). A member larger than `limit` throws a ZipError.
 */
function readMember(
  archive: Buffer,
  entry: ZipEntry,
  limit: number,
  budget: Budget,
  location: string,
  context: ExtractContext,
): Buffer | undefined {
  if (entry.uncompressedSize > budget.remaining) {
    if (!budget.exhausted)
      context.warn(
        `${location}!${entry.name}: the ${MAX_INFLATED_BYTES} byte inflation limit for one file is spent; the rest is not read`,
      );
    budget.exhausted = true;
    return undefined;
  }
  const content = readZipEntry(archive, entry, Math.min(limit, budget.remaining));
  budget.remaining -= content.length;
  return content;
}

function readArchive(
  location: string,
  archive: Buffer,
  depth: number,
  budget: Budget,
  context: ExtractContext,
  out: ExtractedPackage[],
): void {
  const sha1 = createHash("sha1").update(archive).digest("hex");
  const found: ExtractedPackage[] = [];
  let entries: ZipEntry[];
  try {
    entries = readZipEntries(archive);
    const seen = new Set<string>();
    for (const entry of entries) {
      if (!POM_PROPERTIES.test(entry.name)) continue;
      const content = readMember(archive, entry, MAX_METADATA_BYTES, budget, location, context);
      if (!content) continue;
      const properties = parseProperties(content.toString("utf8"));
      const group = properties.get("groupId");
      const artifact = properties.get("artifactId");
      const version = properties.get("version");
      if (!usable(group) || !usable(artifact) || !usable(version)) {
        context.warn(`${location}: ${entry.name} lacks a groupId, artifactId or version; skipped`);
        continue;
      }
      const key = `${group}:${artifact}@${version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const pkg = mavenPackage(group, artifact, version, sha1);
      if (pkg) found.push(pkg);
    }
    if (found.length === 0) {
      const manifestEntry = entries.find((entry) => entry.name === MANIFEST);
      const manifest = manifestEntry
        ? readMember(archive, manifestEntry, MAX_METADATA_BYTES, budget, location, context)
        : undefined;
      const pkg = fromManifest(parseManifest(manifest?.toString("utf8") ?? ""), location, sha1);
      if (pkg) found.push(pkg);
      else context.warn(`${location}: no pom.properties, manifest version or versioned file name; skipped`);
    }
  } catch (error) {
    if (!(error instanceof ZipError)) throw error;
    context.warn(`${location}: not a readable Java archive (${error.message}); skipped`);
    return;
  }
  // The file itself is the location the inventory records; a nested archive names its own.
  for (const pkg of found) out.push(depth === 0 ? pkg : { ...pkg, location });

  for (const entry of entries) {
    if (!ARCHIVE.test(entry.name) || entry.name.endsWith("/")) continue;
    const inner = `${location}!${entry.name}`;
    if (depth >= MAX_NESTING_DEPTH) {
      context.warn(`${inner}: nested more than ${MAX_NESTING_DEPTH} archives deep; not read`);
      continue;
    }
    let content: Buffer | undefined;
    try {
      content = readMember(archive, entry, MAX_INFLATED_BYTES, budget, location, context);
    } catch (error) {
      if (!(error instanceof ZipError)) throw error;
      context.warn(`${inner}: not readable (${error.message}); skipped`);
      continue;
    }
    if (!content) continue;
    readArchive(inner, content, depth + 1, budget, context, out);
  }
}

export const javaArchiveExtractor: Extractor = {
  name: "java-archive",
  version: 1,
  pathHint: { suffixes: [".jar", ".war", ".ear", ".jpi", ".hpi"] },
  wants: (path) => ARCHIVE.test(path),
  extract(path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const out: ExtractedPackage[] = [];
    readArchive(path, content, 0, { remaining: MAX_INFLATED_BYTES, exhausted: false }, context, out);
    return out;
  },
};
