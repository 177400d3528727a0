import { posix } from "node:path";
import { Readable } from "node:stream";
import { extract, type Header } from "tar-stream";
import { describeError, InputError } from "../errors.js";
import { SIZE_ONLY_PAX_KEY } from "../image/types.js";
import type {
  EntryType,
  LayerContents,
  LayerEntry,
  LayerWarning,
  ReadLayerOptions,
  StreamCondenser,
} from "./types.js";

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE_MARKER = ".wh..wh..opq";
/** A part that is empty (leading, doubled or trailing "/"), "." or "..". */
const NEEDS_NORMALIZING = /(?:^|\/)\.{0,2}(?:\/|$)/;

/**
 * Normalises a tar entry name to a root-relative path. Leading slashes are dropped (absolute
 * names are relative to the image root); a name whose `..` climbs above the root is refused.
 */
export function normalizeEntryPath(name: string): string | undefined {
  // Most names are already normal (no empty, "." or ".." part): returned as they are, which
  // spares splitting and joining every name of a layer.
  if (!NEEDS_NORMALIZING.test(name)) return name;
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return undefined;
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join("/");
}

function entryType(type: Header["type"]): EntryType {
  switch (type) {
    case "file":
    case "contiguous-file":
      return "file";
    case "directory":
      return "directory";
    case "symlink":
      return "symlink";
    case "link":
      return "hardlink";
    default:
      return "other";
  }
}

/** The entry's size; a size-only entry from the rootfs source carries it in a pax record. */
function sizeOf(header: Header): number {
  // tar-stream types pax records as {}; they are string to string.
  const recorded = (header.pax as Record<string, string> | undefined)?.[SIZE_ONLY_PAX_KEY];
  return recorded !== undefined && /^\d+$/.test(recorded) ? Number(recorded) : (header.size ?? 0);
}

/** Whether the entry was sent without its body (the rootfs source's size-only entries). */
function isSizeOnly(header: Header): boolean {
  return (header.pax as Record<string, string> | undefined)?.[SIZE_ONLY_PAX_KEY] !== undefined;
}

/**
 * Streams an entry through a condenser and returns what it keeps. The rest of the entry is still
 * read (the tar goes on after it), but no longer handed to the condenser once it wants no more.
 */
async function condense(
  stream: AsyncIterable<unknown>,
  condenser: StreamCondenser,
  path: string,
  warnings: LayerWarning[],
): Promise<Buffer | undefined> {
  let open = true;
  // A condenser that throws is a bug, not bad input: the file is left out and said so.
  let failure: unknown;
  for await (const chunk of stream) {
    if (!open) continue;
    try {
      open = condenser.write(chunk as Buffer);
    } catch (error) {
      failure = error;
      open = false;
    }
  }
  try {
    if (failure === undefined) return condenser.end();
  } catch (error) {
    failure = error;
  }
  warnings.push({ path, problem: `cannot be condensed (${describeError(failure)}); not read` });
  return undefined;
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Reads one layer's tar stream: every entry's metadata, whiteouts, and the contents of the
 * paths the extractors want. Nothing is written to disk.
 */
export async function readLayer(
  tar: NodeJS.ReadableStream,
  label: string,
  options: ReadLayerOptions,
): Promise<LayerContents> {
  const contents: LayerContents = {
    entries: [],
    whiteouts: [],
    opaqueDirectories: [],
    warnings: [],
    entryCount: 0,
  };
  const archive = extract();
  const input = tar instanceof Readable ? tar : Readable.from(tar);
  // An error of the stream itself (a lost connection) passes through unchanged, so the image
  // stage can tell it from a corrupt tar and read the layer again.
  let inputError: Error | undefined;
  input.on("error", (error) => {
    inputError = error;
    archive.destroy(error);
  });
  input.pipe(archive);
  try {
    for await (const entry of archive) {
      contents.entryCount++;
      const header = entry.header;
      const path = normalizeEntryPath(header.name);
      if (path === undefined || path === "") {
        if (path === undefined)
          contents.warnings.push({ path: header.name, problem: "escapes the image root; ignored" });
        entry.resume();
        continue;
      }
      const base = posix.basename(path);
      if (base.startsWith(WHITEOUT_PREFIX)) {
        const dir = posix.dirname(path) === "." ? "" : posix.dirname(path);
        if (base === OPAQUE_MARKER) contents.opaqueDirectories.push(dir);
        else
          contents.whiteouts.push(
            dir ? `${dir}/${base.slice(WHITEOUT_PREFIX.length)}` : base.slice(WHITEOUT_PREFIX.length),
          );
        entry.resume();
        continue;
      }
      const type = entryType(header.type);
      const record: LayerEntry = {
        path,
        type,
        mode: header.mode ?? 0,
        uid: header.uid ?? 0,
        gid: header.gid ?? 0,
        size: sizeOf(header),
      };
      if (type === "symlink" && header.linkname) record.linkTarget = header.linkname;
      if (type === "hardlink" && header.linkname) {
        const target = normalizeEntryPath(header.linkname);
        if (target === undefined) {
          contents.warnings.push({
            path,
            problem: `hard link to ${header.linkname} escapes the image root; ignored`,
          });
          entry.resume();
          continue;
        }
        record.linkTarget = target;
      }
      if (type === "file" && options.wants(path)) {
        if (record.size > options.maxFileBytes) {
          contents.warnings.push({
            path,
            problem: `${record.size} bytes is over the ${options.maxFileBytes}-byte limit for package files; not read`,
          });
          entry.resume();
        } else {
          record.content = await readAll(entry);
        }
      } else if (type === "file" && options.condense && !isSizeOnly(header)) {
        const condensing = options.condense(path, record.mode, record.size);
        const kept = condensing
          ? await condense(entry, condensing.condenser, path, contents.warnings)
          : undefined;
        if (!condensing) entry.resume();
        else if (kept) {
          record.content = kept;
          record.condensedBy = condensing.by;
        }
      } else {
        entry.resume();
      }
      contents.entries.push(record);
    }
  } catch (error) {
    if (error instanceof InputError || (inputError !== undefined && error === inputError)) throw error;
    throw new InputError(`${label}: corrupt layer tar (${describeError(error)})`);
  }
  return contents;
}
