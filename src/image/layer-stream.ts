import { createHash, type Hash } from "node:crypto";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { createGunzip } from "node:zlib";
import { InputError } from "../errors.js";
import { peekBytes } from "./peek.js";
import type { LayerStreamFacts } from "./types.js";
import { decompressZstd } from "./zstd.js";

/** Hashes and counts what flows through, and stops the stream past a byte limit. */
class MeasuringTap extends Transform {
  readonly hash: Hash = createHash("sha256");
  bytes = 0;
  constructor(
    private readonly limit: number,
    private readonly onLimit: () => Error,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(this.onLimit());
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}

/**
 * Read size for blobs on disk: every chunk costs a round trip through each stream stage, and
 * 64 KiB chunks (the default) made reading an uncompressed layer several times slower.
 */
export const BLOB_READ_CHUNK_BYTES = 1024 * 1024;

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function startsWith(head: Buffer, magic: number[]): boolean {
  return magic.every((byte, i) => head[i] === byte);
}

export interface DecodedLayer {
  /** The uncompressed tar. */
  tar: Readable;
  /** Settles once `tar` has been read to the end, with the digests measured on the way. */
  facts: Promise<LayerStreamFacts>;
}

/**
 * Turns a layer blob as stored into its uncompressed tar, measuring the blob digest and the
 * diff id while it streams so that neither needs a second read.
 */
export async function decodeLayerBlob(
  blob: Readable,
  options: { label: string; maxLayerBytes: number },
): Promise<DecodedLayer> {
  const peeked = await peekBytes(blob, 4);
  const head = peeked.head;
  const pastLimit = () =>
    new InputError(
      `${options.label}: inflates past the limit of ${options.maxLayerBytes} bytes (--max-layer-size)`,
    );
  if (!startsWith(head, GZIP_MAGIC) && !startsWith(head, ZSTD_MAGIC)) {
    // An uncompressed blob is its own tar: the blob digest and the diff id are one hash of the
    // same bytes, measured once. A source's error passes through unchanged, as below.
    const tar = new MeasuringTap(options.maxLayerBytes, pastLimit);
    peeked.stream.on("error", (error) => tar.destroy(error));
    peeked.stream.pipe(tar);
    return { tar, facts: measuredFacts(tar, tar, "none") };
  }

  const raw = new MeasuringTap(Number.POSITIVE_INFINITY, () => new Error("unreachable"));
  peeked.stream.on("error", (error) => raw.destroy(error));
  peeked.stream.pipe(raw);
  const inflated = new MeasuringTap(options.maxLayerBytes, pastLimit);
  // An error from the blob's source (a lost connection) passes through unchanged, so a caller
  // can tell it from a corrupt stream and read the layer again.
  let sourceError: Error | undefined;
  raw.on("error", (error) => {
    sourceError = error;
  });
  const decoderFailed = (format: string) => (error: Error) =>
    inflated.destroy(
      error instanceof InputError || error === sourceError
        ? error
        : new InputError(`${options.label}: corrupt ${format} stream (${error.message})`),
    );
  let compression: LayerStreamFacts["compression"];
  if (startsWith(head, GZIP_MAGIC)) {
    compression = "gzip";
    // Large output chunks: each one is a round trip between zlib's thread and the main thread.
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    raw.on("error", (error) => gunzip.destroy(error));
    gunzip.on("error", decoderFailed("gzip"));
    raw.pipe(gunzip).pipe(inflated);
  } else {
    compression = "zstd";
    const unzstd = decompressZstd(raw);
    unzstd.on("error", decoderFailed("zstd"));
    unzstd.pipe(inflated);
  }
  return { tar: inflated, facts: measuredFacts(inflated, raw, compression) };
}

/** The digests and sizes, once `tar` has been read to the end (`blob` may be `tar` itself). */
function measuredFacts(
  tar: MeasuringTap,
  blob: MeasuringTap,
  compression: LayerStreamFacts["compression"],
): Promise<LayerStreamFacts> {
  const facts = new Promise<LayerStreamFacts>((resolve, reject) => {
    tar.on("error", reject);
    tar.on("end", () => {
      const diffId = tar.digest();
      resolve({
        blobDigest: blob === tar ? diffId : blob.digest(),
        diffId,
        compression,
        compressedBytes: blob.bytes,
        uncompressedBytes: tar.bytes,
      });
    });
  });
  // A consumer that stops early must not leave an unhandled rejection behind.
  facts.catch(() => undefined);
  return facts;
}
