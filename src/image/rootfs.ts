/**
 * `rootfs:DIR`: an unpacked filesystem (a chroot, a mounted image, a build output) presented as
 * a single-layer image. The directory is walked and streamed to the layer processor as a tar made
 * on the fly; file bodies are read as the tar is consumed, so neither the tar nor the files are
 * ever held in memory. Symlinks are recorded as symlinks, never followed: the image stage below
 * resolves them inside the image root, so nothing outside DIR is read.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, lstatSync, readdirSync, readlinkSync } from "node:fs";
import { lstat } from "node:fs/promises";
import { endianness } from "node:os";
import { join } from "node:path";
import { PassThrough, type Writable } from "node:stream";
import { type Header, type Pack, pack as tarPack } from "tar-stream";
import { describeError, InputError } from "../errors.js";
import { decodeLayerBlob } from "./layer-stream.js";
import { assertSourcePath } from "./source-path.js";
import type { ImageConfig, ImageReadOptions, ImageSourceRef, LayerProcessor, LoadedImage } from "./types.js";

/** Node's `process.arch` names and the OCI (GOARCH) names image configs use. */
const ociArchitectures: Record<string, string> = {
  x64: "amd64",
  ia32: "386",
  arm: "arm",
  arm64: "arm64",
  ppc64: endianness() === "LE" ? "ppc64le" : "ppc64",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
  mips: "mips",
  mipsel: "mipsle",
};

export function ociArchitecture(arch: string = process.arch): string {
  return ociArchitectures[arch] ?? arch;
}

type EntryHeader = Partial<Header> & Pick<Header, "name">;

import { SIZE_ONLY_PAX_KEY } from "./types.js";

interface WalkContext {
  root: string;
  sourceText: string;
  pack: Pack;
  /** The tar as it leaves the pack: waited on so headers do not pile up ahead of the reader. */
  out: Writable;
  signal: AbortSignal;
  /** Which files' contents the reader reads (by path and mode); the rest are sent as their size alone. */
  contentWanted?: (path: string, mode: number, size?: number) => boolean;
}

function cannotRead(context: WalkContext, path: string, error: unknown): InputError {
  return new InputError(`${context.sourceText}: cannot read ${path || "."} (${describeError(error)})`, {
    cause: error,
  });
}

/** `promise`, or a rejection with the abort reason once `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Adds one entry and, for a file, its body read from `file`; settles when the pack has taken it. */
async function addEntry(context: WalkContext, header: EntryHeader, file?: string): Promise<void> {
  const { pack, signal } = context;
  if (signal.aborted) throw signal.reason;
  let settle: (error?: Error | null) => void = () => undefined;
  const added = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  added.catch(() => undefined);
  const sink = pack.entry(header, (error) => settle(error));
  // A failed entry fails the pack, whose error is the one reported.
  sink.on("error", () => undefined);
  if (header.type === "file") {
    const size = header.size ?? 0;
    let written = 0;
    if (size > 0 && file !== undefined) {
      // Bounded by the size in the header: a file that grows while it is read is cut there.
      const body = createReadStream(file, { start: 0, end: size - 1 });
      try {
        for await (const chunk of body) {
          written += (chunk as Buffer).length;
          if (!sink.write(chunk)) await once(sink, "drain", { signal });
        }
      } catch (error) {
        if (signal.aborted) throw error;
        throw cannotRead(context, header.name, error);
      }
    }
    if (written !== size) {
      throw new InputError(`${context.sourceText}: ${header.name} shrank while it was read`);
    }
    sink.end(null);
  }
  await abortable(added, signal);
  if (context.out.writableNeedDrain) await once(context.out, "drain", { signal });
}

/** Walks `dir` (relative path `relative`) depth first, in name order, adding its entries. */
async function walk(context: WalkContext, dir: string, relative: string): Promise<void> {
  let names: string[];
  try {
    // Synchronous metadata calls: a tree walk makes thousands, and each promise call is a round
    // trip to the thread pool that costs far more than the call itself.
    names = readdirSync(dir);
  } catch (error) {
    throw cannotRead(context, relative, error);
  }
  names.sort();
  for (const name of names) {
    if (context.signal.aborted) throw context.signal.reason;
    const path = join(dir, name);
    const entryName = relative ? `${relative}/${name}` : name;
    let info: ReturnType<typeof lstatSync>;
    try {
      info = lstatSync(path);
    } catch (error) {
      // Removed since the directory was listed: it is no longer part of the filesystem.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw cannotRead(context, entryName, error);
    }
    const header: EntryHeader = {
      name: entryName,
      mode: info.mode & 0o7777,
      uid: info.uid,
      gid: info.gid,
      mtime: info.mtime,
    };
    if (info.isSymbolicLink()) {
      let target: string;
      try {
        target = readlinkSync(path);
      } catch (error) {
        throw cannotRead(context, entryName, error);
      }
      await addEntry(context, { ...header, type: "symlink", linkname: target });
    } else if (info.isDirectory()) {
      await addEntry(context, { ...header, name: `${entryName}/`, type: "directory" });
      await walk(context, path, entryName);
    } else if (info.isFile()) {
      if (context.contentWanted && !context.contentWanted(entryName, header.mode ?? 0, info.size)) {
        // A file nobody reads is sent as its size alone: a rootfs scan then reads only the package
        // databases, not every byte of the tree.
        await addEntry(context, {
          ...header,
          type: "file",
          size: 0,
          pax: { [SIZE_ONLY_PAX_KEY]: String(info.size) },
        });
        continue;
      }
      // Hard links are stored as the files they are.
      await addEntry(context, { ...header, type: "file", size: info.size }, path);
    }
    // Sockets, FIFOs and devices hold no packages: left out.
  }
}

/** Streams the tree under `root` into the pack, then ends it. */
async function packTree(context: WalkContext): Promise<void> {
  const info = await lstat(context.root);
  // The root first, as "./": also keeps the tar's first bytes from looking like a compressed stream.
  await addEntry(context, {
    name: "./",
    type: "directory",
    mode: info.mode & 0o7777,
    uid: info.uid,
    gid: info.gid,
    mtime: info.mtime,
  });
  await walk(context, context.root, "");
  context.pack.finalize();
}

/** Loads an unpacked root filesystem (`rootfs:DIR`) as an image of one layer. */
export async function loadRootfs<T>(
  source: ImageSourceRef,
  processLayer: LayerProcessor<T>,
  options: ImageReadOptions,
): Promise<LoadedImage<T>> {
  await assertSourcePath(source, "directory");
  if (source.reference !== undefined) {
    throw new InputError(`${source.text}: a rootfs has no tags; use rootfs:DIR`);
  }
  const label = source.text;
  const pack = tarPack();
  const out = new PassThrough();
  pack.on("error", (error: Error) => out.destroy(error));
  pack.pipe(out);
  const abort = new AbortController();
  const context: WalkContext = {
    root: source.path,
    sourceText: source.text,
    pack,
    out,
    signal: abort.signal,
    ...(options.contentWanted ? { contentWanted: options.contentWanted } : {}),
  };
  const packing = packTree(context).catch((error: unknown) => {
    const failure = error instanceof Error ? error : new Error(String(error));
    // The reader sees the failure as the end of its tar stream.
    pack.destroy(failure);
    throw failure;
  });
  packing.catch(() => undefined);
  try {
    const decoded = await decodeLayerBlob(out, { label, maxLayerBytes: options.maxLayerBytes });
    const result = await processLayer(decoded.tar, { label });
    const facts = await decoded.facts;
    await packing;
    const config: ImageConfig = {
      architecture: ociArchitecture(),
      os: "linux",
      rootfs: { type: "layers", diff_ids: [facts.diffId] },
      history: [{ created_by: `rootfs ${source.path}` }],
    };
    return {
      source,
      configDigest: `sha256:${createHash("sha256").update(JSON.stringify(config)).digest("hex")}`,
      config,
      repoTags: [],
      layers: [{ index: 0, diffId: facts.diffId, createdBy: `rootfs ${source.path}`, result }],
    };
  } catch (error) {
    abort.abort(error);
    pack.destroy();
    out.destroy();
    throw error;
  }
}
