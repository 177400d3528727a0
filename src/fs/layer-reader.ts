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
  // Most names are already normal (no empty, "." or ".." part) but for a directory's trailing
  // slash: returned as they are, which spares splitting and joining every name of a layer.
  const trimmed = name.endsWith("/") ? name.slice(0, -1) : name;
  if (trimmed !== "" && !NEEDS_NORMALIZING.test(trimmed)) return trimmed;
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

/** Lets an entry's body pass unread; an entry without one (a directory, a link) needs nothing. */
function skip(entry: { header: Header; resume(): unknown }): void {
  if ((entry.header.size ?? 0) > 0 && entry.header.type !== "directory") entry.resume();
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A tar entry: its header, and its body as a stream (tar-stream's). */
type TarEntry = AsyncIterable<unknown> & { header: Header; resume(): unknown };

/**
 * Records one entry of a layer. Returns a promise only when it reads the entry's body (a wanted
 * file, or one streamed through a condenser); every other entry is done when this returns.
 */
function takeEntry(
  entry: TarEntry,
  contents: LayerContents,
  options: ReadLayerOptions,
): Promise<void> | undefined {
  contents.entryCount++;
  const header = entry.header;
  const path = normalizeEntryPath(header.name);
  if (path === undefined || path === "") {
    if (path === undefined)
      contents.warnings.push({ path: header.name, problem: "escapes the image root; ignored" });
    skip(entry);
    return undefined;
  }
  // The file name starts after the last slash; only a whiteout's is taken apart.
  const slash = path.lastIndexOf("/");
  if (path.startsWith(WHITEOUT_PREFIX, slash + 1)) {
    const dir = slash < 0 ? "" : path.slice(0, slash);
    const base = path.slice(slash + 1);
    if (base === OPAQUE_MARKER) contents.opaqueDirectories.push(dir);
    else
      contents.whiteouts.push(
        dir ? `${dir}/${base.slice(WHITEOUT_PREFIX.length)}` : base.slice(WHITEOUT_PREFIX.length),
      );
    skip(entry);
    return undefined;
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
      skip(entry);
      return undefined;
    }
    record.linkTarget = target;
  }
  if (type === "file" && options.wants(path)) {
    if (record.size > options.maxFileBytes) {
      contents.warnings.push({
        path,
        problem: `${record.size} bytes is over the ${options.maxFileBytes}-byte limit for package files; not read`,
      });
      skip(entry);
    } else {
      return readAll(entry).then((content) => {
        record.content = content;
        contents.entries.push(record);
      });
    }
  } else if (type === "file" && options.condense && !isSizeOnly(header)) {
    const condensing = options.condense(path, record.mode, record.size);
    if (condensing) {
      return condense(entry, condensing.condenser, path, contents.warnings).then((kept) => {
        if (kept) {
          record.content = kept;
          record.condensedBy = condensing.by;
        }
        contents.entries.push(record);
      });
    }
    skip(entry);
  } else {
    skip(entry);
  }
  contents.entries.push(record);
  return undefined;
}

/**
 * Reads one layer's tar stream: every entry's metadata, whiteouts, and the contents of the
 * paths the extractors want. Nothing is written to disk.
 */
export function readLayer(
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
  return new Promise<LayerContents>((resolve, reject) => {
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      archive.destroy();
      if (error instanceof InputError || (inputError !== undefined && error === inputError)) reject(error);
      else reject(new InputError(`${label}: corrupt layer tar (${describeError(error)})`));
    };
    // tar-stream's entry events, not its async iterator: a promise and a turn of the event loop
    // per entry were a tenth of the time of reading a layer of small files.
    archive.on("entry", (_header, body, next) => {
      // The body stream carries its header, as the entries of tar-stream's iterator do.
      const entry = body as unknown as TarEntry;
      // A body left unread when the tar fails is destroyed with the tar's error: reported once,
      // from the tar, not again from each body.
      body.on("error", () => undefined);
      let reading: Promise<void> | undefined;
      try {
        reading = takeEntry(entry, contents, options);
      } catch (error) {
        fail(error);
        return;
      }
      if (reading) reading.then(() => next(), fail);
      else next();
    });
    archive.on("error", fail);
    archive.on("finish", () => {
      if (!failed) resolve(contents);
    });
    input.pipe(archive);
  });
}
