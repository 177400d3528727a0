import { Decompress } from "fzstd";
import { PackageURL } from "packageurl-js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/**
 * Where the base-files_chisel slice has Chisel write its manifest. Chisel can write one wherever a
 * slice asks for it, but every chiselled Ubuntu image built from the chisel-releases slices has
 * this one, and it lists everything the image was cut from.
 */
const MANIFEST_PATH = "var/lib/chisel/manifest.wall";

/** Largest decompressed manifest accepted: a real one is a few MB; this stops a zstd bomb. */
const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;
/** Compressed bytes handed to the decoder at a time, so the size limit is checked as it grows. */
const FEED_BYTES = 64 * 1024;

/**
 * Largest window a frame may ask for. fzstd allocates the window a frame header names (up to
 * 2 GiB) before it decodes a byte, so a damaged or hostile header is refused first. Chisel's
 * encoder uses 8 MiB windows, or the manifest's size for a single-segment frame; 128 MiB is the
 * window of `zstd --long`, the largest the zstd CLI uses by default.
 */
const MAX_WINDOW_BYTES = 128 * 1024 * 1024;
const FRAME_MAGIC = 0xfd2fb528;
/** Skippable frames use the magics 0x184D2A50 to 0x184D2A5F. */
const SKIPPABLE_MAGIC = 0x184d2a50;

/**
 * Walks the frames of a zstd stream by their headers (RFC 8878 section 3.1) and throws when one
 * asks for a window over MAX_WINDOW_BYTES. Anything else malformed is left to the decoder, which
 * reports it; the walk just stops.
 */
function checkWindows(content: Buffer): void {
  let at = 0;
  while (at + 4 <= content.length) {
    const magic = content.readUInt32LE(at);
    if ((magic & 0xfffffff0) === SKIPPABLE_MAGIC) {
      if (at + 8 > content.length) return;
      at += 8 + content.readUInt32LE(at + 4);
      continue;
    }
    if (magic !== FRAME_MAGIC || at + 5 > content.length) return;
    const descriptor = content[at + 4] as number;
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const hasChecksum = (descriptor >> 2) & 1;
    const dictionaryBytes = [0, 1, 2, 4][descriptor & 3] as number;
    const contentSizeBytes = [singleSegment, 2, 4, 8][contentSizeFlag] as number;
    let cursor = at + 5;
    let window: number;
    if (singleSegment) {
      // The window is the whole content; its size follows the dictionary id.
      const sizeAt = cursor + dictionaryBytes;
      if (sizeAt + contentSizeBytes > content.length) return;
      window =
        contentSizeBytes === 1
          ? (content[sizeAt] as number)
          : contentSizeBytes === 2
            ? content.readUInt16LE(sizeAt) + 256
            : contentSizeBytes === 4
              ? content.readUInt32LE(sizeAt)
              : Number(content.readBigUInt64LE(sizeAt));
    } else {
      if (cursor >= content.length) return;
      const windowDescriptor = content[cursor] as number;
      const base = 2 ** (10 + (windowDescriptor >> 3));
      window = base + (base / 8) * (windowDescriptor & 7);
      cursor += 1;
    }
    if (window > MAX_WINDOW_BYTES) throw new Error(`a zstd frame asks for a ${window}-byte window`);
    cursor += dictionaryBytes + contentSizeBytes;
    // Blocks: a 3-byte header (last flag, type, size); an RLE block's body is one byte.
    for (;;) {
      if (cursor + 3 > content.length) return;
      const header = content.readUIntLE(cursor, 3);
      const type = (header >> 1) & 3;
      cursor += 3 + (type === 1 ? 1 : header >> 3);
      if (header & 1) break;
    }
    at = cursor + (hasChecksum ? 4 : 0);
  }
}

/** Decompresses a whole zstd stream (every frame), refusing output past MAX_MANIFEST_BYTES. */
function inflate(content: Buffer): Buffer {
  checkWindows(content);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const decoder = new Decompress((chunk) => {
    size += chunk.length;
    if (size > MAX_MANIFEST_BYTES) throw new Error(`inflates past ${MAX_MANIFEST_BYTES} bytes`);
    chunks.push(chunk);
  });
  for (let offset = 0; offset < content.length; offset += FEED_BYTES) {
    const end = Math.min(offset + FEED_BYTES, content.length);
    decoder.push(content.subarray(offset, end), end === content.length);
  }
  if (content.length === 0) decoder.push(new Uint8Array(0), true);
  return Buffer.concat(chunks);
}

/** A one-word field: package names, versions and architectures never hold whitespace. */
function wordField(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === "string" && value !== "" && !/\s/.test(value) ? value : undefined;
}

/**
 * Ubuntu "chiselled" images: Chisel cuts slices of .debs into the image and leaves no dpkg
 * database, only a zstd-compressed "jsonwall" manifest, one JSON object a line after a header
 * line. `package` lines name each package the image was cut from (name, version, arch); `path`
 * lines name each path written and the slices ("<package>_<slice>") it came from, which gives
 * the package's files.
 *
 * The manifest does not name source packages, so these packages carry none: they are matched by
 * their binary name, which finds the advisories of packages whose source has the same name.
 */
export const chiselExtractor: Extractor = {
  name: "chisel",
  version: 1,
  pathHint: { fileNames: ["manifest.wall"] },
  wants: (path) => path === MANIFEST_PATH,
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    let text: string;
    try {
      text = inflate(content).toString("utf8");
    } catch (error) {
      context.warn(`not a readable zstd manifest (${(error as Error).message}); skipped`);
      return [];
    }
    const lines = text.split("\n");
    const header = lines[0]?.trim() ?? "";
    if (!header.startsWith("{") || !header.includes('"jsonwall"')) {
      context.warn("no jsonwall header on the first line; skipped");
      return [];
    }
    const found: Array<{ name: string; version: string; arch?: string }> = [];
    const filesOf = new Map<string, string[]>();
    lines.slice(1).forEach((line, index) => {
      if (line.trim() === "") return;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        context.warn(`line ${index + 2}: not JSON; skipped`);
        return;
      }
      if (typeof record !== "object" || record === null || Array.isArray(record)) {
        context.warn(`line ${index + 2}: not a JSON object; skipped`);
        return;
      }
      const fields = record as Record<string, unknown>;
      const kind = fields.kind;
      if (kind === "package") {
        const name = wordField(fields, "name");
        const version = wordField(fields, "version");
        if (!name || !version) {
          context.warn(`line ${index + 2}: a package without name or version; skipped`);
          return;
        }
        const arch = wordField(fields, "arch");
        found.push({ name, version, ...(arch ? { arch } : {}) });
      } else if (kind === "path") {
        const path = typeof fields.path === "string" ? fields.path : undefined;
        // Directories end in "/"; like dpkg's lists, only what is not a directory is a file.
        if (!path || path.endsWith("/") || !Array.isArray(fields.slices)) return;
        const relative = path.replace(/^\/+/, "");
        for (const slice of fields.slices) {
          if (typeof slice !== "string") continue;
          // Debian package names cannot contain "_", so the first one ends the package name.
          const underscore = slice.indexOf("_");
          if (underscore <= 0) continue;
          const owner = slice.slice(0, underscore);
          const files = filesOf.get(owner) ?? [];
          if (files.at(-1) !== relative) files.push(relative);
          filesOf.set(owner, files);
        }
      }
      // "slice" and "content" lines, and kinds added by later schemas, say nothing more here.
    });
    const distroId = context.distro?.id ?? "ubuntu";
    const distroQualifier = context.distro?.versionId ? `${distroId}-${context.distro.versionId}` : undefined;
    const packages: ExtractedPackage[] = [];
    for (const { name, version, arch } of found) {
      const qualifiers: Record<string, string> = {};
      if (arch) qualifiers.arch = arch;
      if (distroQualifier) qualifiers.distro = distroQualifier;
      let purl: string;
      try {
        purl = new PackageURL("deb", distroId, name, version, qualifiers).toString();
      } catch (error) {
        // packageurl-js refuses some values; one odd record must not stop the scan.
        context.warn(
          `${name.slice(0, 80)}: no package URL can be made (${(error as Error).message}); skipped`,
        );
        continue;
      }
      const files = filesOf.get(name);
      packages.push({
        name,
        version,
        type: "deb",
        purl,
        ...(arch ? { arch } : {}),
        ...(context.distro?.osvEcosystem ? { ecosystem: context.distro.osvEcosystem } : {}),
        ...(files ? { files } : {}),
      });
    }
    return packages;
  },
};
