import { Readable } from "node:stream";
import { describeError, InputError } from "../errors.js";
import { SIZE_ONLY_PAX_KEY } from "../image/types.js";
import { type TarBodyReader, type TarEntryType, type TarHeader, TarReader } from "./tar-reader.js";
import type {
  Condensing,
  EntryType,
  FileScanner,
  LayerContents,
  LayerEntry,
  LayerWarning,
  ReadLayerOptions,
  StreamScanner,
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

function entryType(type: TarEntryType): EntryType {
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
function sizeOf(header: TarHeader): number {
  const recorded = header.pax?.[SIZE_ONLY_PAX_KEY];
  return recorded !== undefined && /^\d+$/.test(recorded) ? Number(recorded) : header.size;
}

/** Whether the entry was sent without its body (the rootfs source's size-only entries). */
function isSizeOnly(header: TarHeader): boolean {
  return header.pax?.[SIZE_ONLY_PAX_KEY] !== undefined;
}

/** One consumer of an entry's body: keeps it whole, condenses it, or scans it. */
interface BodyReader {
  /** Returns false once it wants no more bytes. */
  write(chunk: Buffer): boolean;
  open: boolean;
  /** What it threw, if it did: a reader that throws is a bug, not bad input. */
  failure?: unknown;
}

function bodyReader(write: (chunk: Buffer) => boolean): BodyReader {
  return { write, open: true };
}

/**
 * Reads an entry's body once, handing each chunk to every reader still open, then calls done.
 * The rest of the entry is still read when all are done (the tar goes on after it), but handed
 * to none.
 */
function readBody(readers: BodyReader[], done: () => void): TarBodyReader {
  return {
    write(chunk) {
      for (const reader of readers) {
        if (!reader.open) continue;
        try {
          reader.open = reader.write(chunk);
        } catch (error) {
          reader.failure = error;
          reader.open = false;
        }
      }
    },
    end: done,
  };
}

/** Runs a reader's end(), turning a failure (its own or its write's) into a warning and undefined. */
function finish<T>(
  reader: BodyReader,
  end: () => T,
  path: string,
  what: string,
  warnings: LayerWarning[],
): T | undefined {
  let failure = reader.failure;
  if (failure === undefined) {
    try {
      return end();
    } catch (error) {
      failure = error;
    }
  }
  warnings.push({ path, problem: `${what} (${describeError(failure)}); not read` });
  return undefined;
}

/** The scanners offered this file, each opened for it. */
function openScanners(
  scanners: readonly FileScanner[] | undefined,
  record: LayerEntry,
): Array<{ name: string; scanner: StreamScanner; reader: BodyReader }> {
  if (!scanners || scanners.length === 0) return [];
  const opened: Array<{ name: string; scanner: StreamScanner; reader: BodyReader }> = [];
  for (const scanner of scanners) {
    if (!scanner.offered(record.path, record.mode, record.size)) continue;
    const stream = scanner.open(record.path, record.size);
    opened.push({ name: scanner.name, scanner: stream, reader: bodyReader((chunk) => stream.write(chunk)) });
  }
  return opened;
}

/**
 * Records one entry of a layer. Returns a body reader only when it reads the entry's body (a
 * wanted file, one streamed through a condenser, or one a scanner was offered), which records
 * the entry at the body's end; every other entry is done when this returns, its body skipped.
 */
function takeEntry(
  header: TarHeader,
  contents: LayerContents,
  options: ReadLayerOptions,
): TarBodyReader | undefined {
  contents.entryCount++;
  const path = normalizeEntryPath(header.name);
  if (path === undefined || path === "") {
    if (path === undefined)
      contents.warnings.push({ path: header.name, problem: "escapes the image root; ignored" });
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
    return undefined;
  }
  const type = entryType(header.type);
  const record: LayerEntry = {
    path,
    type,
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
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
      return undefined;
    }
    record.linkTarget = target;
  }
  if (type !== "file") {
    contents.entries.push(record);
    return undefined;
  }
  // A size-only entry (the rootfs source's) has no body to read.
  const sizeOnly = isSizeOnly(header);
  const readers: BodyReader[] = [];
  let whole: Buffer[] | undefined;
  let condensing: Condensing | undefined;
  let condenseReader: BodyReader | undefined;
  if (options.wants(path)) {
    if (record.size > options.maxFileBytes) {
      contents.warnings.push({
        path,
        problem: `${record.size} bytes is over the ${options.maxFileBytes}-byte limit for package files; not read`,
      });
    } else {
      const chunks: Buffer[] = [];
      whole = chunks;
      readers.push(
        bodyReader((chunk) => {
          chunks.push(chunk);
          return true;
        }),
      );
    }
  } else if (options.condense && !sizeOnly) {
    condensing = options.condense(path, record.mode, record.size);
    if (condensing) {
      const condenser = condensing.condenser;
      condenseReader = bodyReader((chunk) => condenser.write(chunk));
      readers.push(condenseReader);
    }
  }
  const scanning = sizeOnly ? [] : openScanners(options.scanners, record);
  for (const scan of scanning) readers.push(scan.reader);
  if (readers.length === 0) {
    contents.entries.push(record);
    return undefined;
  }
  return readBody(readers, () => {
    if (whole) record.content = Buffer.concat(whole);
    if (condensing && condenseReader) {
      const { condenser, by } = condensing;
      const kept = finish(
        condenseReader,
        () => condenser.end(),
        path,
        "cannot be condensed",
        contents.warnings,
      );
      if (kept) {
        record.content = kept;
        record.condensedBy = by;
      }
    }
    for (const scan of scanning) {
      const notes = finish(
        scan.reader,
        () => scan.scanner.end(),
        path,
        `cannot be scanned by ${scan.name}`,
        contents.warnings,
      );
      if (notes && notes.length > 0) {
        record.notes ??= {};
        record.notes[scan.name] = notes;
      }
    }
    contents.entries.push(record);
  });
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
  // Entries are parsed as the chunks come, each body handed on or skipped at once: no stream,
  // promise or turn of the event loop per entry (they were most of the time of reading a layer).
  const archive = new TarReader((header) => takeEntry(header, contents, options));
  const input = tar instanceof Readable ? tar : Readable.from(tar);
  const corrupt = (error: unknown) =>
    error instanceof InputError
      ? error
      : new InputError(`${label}: corrupt layer tar (${describeError(error)})`);
  // An error of the stream itself (a lost connection) passes through unchanged, so the image
  // stage can tell it from a corrupt tar and read the layer again.
  for await (const chunk of input as AsyncIterable<Buffer | Uint8Array>) {
    try {
      archive.write(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      );
    } catch (error) {
      // Leaving the loop destroys the input: the rest of the layer is not read.
      throw corrupt(error);
    }
  }
  try {
    archive.end();
  } catch (error) {
    throw corrupt(error);
  }
  return contents;
}
