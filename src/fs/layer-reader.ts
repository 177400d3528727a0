import { Readable } from "node:stream";
import { extract, type Header } from "tar-stream";
import { describeError, InputError } from "../errors.js";
import { SIZE_ONLY_PAX_KEY } from "../image/types.js";
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
 * Reads an entry's body once, handing each chunk to every reader still open. The rest of the
 * entry is still read when all are done (the tar goes on after it), but handed to none.
 */
async function readBody(stream: AsyncIterable<unknown>, readers: BodyReader[]): Promise<void> {
  for await (const chunk of stream) {
    for (const reader of readers) {
      if (!reader.open) continue;
      try {
        reader.open = reader.write(chunk as Buffer);
      } catch (error) {
        reader.failure = error;
        reader.open = false;
      }
    }
  }
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

/** Lets an entry's body pass unread; an entry without one (a directory, a link) needs nothing. */
function skip(entry: { header: Header; resume(): unknown }): void {
  if ((entry.header.size ?? 0) > 0 && entry.header.type !== "directory") entry.resume();
}

/** A tar entry: its header, and its body as a stream (tar-stream's). */
type TarEntry = AsyncIterable<unknown> & { header: Header; resume(): unknown };

/**
 * Records one entry of a layer. Returns a promise only when it reads the entry's body (a wanted
 * file, one streamed through a condenser, or one a scanner was offered); every other entry is
 * done when this returns.
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
  if (type !== "file") {
    skip(entry);
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
    skip(entry);
    contents.entries.push(record);
    return undefined;
  }
  return readBody(entry, readers).then(() => {
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
