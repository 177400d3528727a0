/**
 * Streaming zstd decompression for layer blobs (application/vnd.oci.image.layer.v1.tar+zstd).
 *
 * node:zlib decodes zstd from Node 22.15 / 23.8; older Nodes use the pure-JS decoder of `fzstd`.
 * node:zlib's decoder stops at the end of the first frame and silently drops the frames after it,
 * so frames are found here by reading their headers (RFC 8878) and each one is handed to a fresh
 * node:zlib decoder. Both decoders are async generators: they decode only as fast as the tar
 * reader consumes, whatever the compression ratio.
 */
import { Readable, type Transform } from "node:stream";
import * as zlib from "node:zlib";
import { Decompress } from "fzstd";

export type ZstdBackend = "node" | "js";

const createNodeZstdDecompress = (zlib as unknown as { createZstdDecompress?: () => Transform })
  .createZstdDecompress;

/** The decoder this Node has: node:zlib's where it exists (found by feature, not by version). */
export const defaultZstdBackend: ZstdBackend = createNodeZstdDecompress ? "node" : "js";

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC = 0x184d2a50;
const SKIPPABLE_MASK = 0xfffffff0;
const MAX_BLOCK_SIZE = 128 * 1024;
/** Compressed bytes given to fzstd at a time: bounds what one step can inflate to. */
const JS_FEED_BYTES = 16 * 1024;

/** A run of compressed bytes that belongs to one frame. */
export interface FramePiece {
  bytes: Buffer;
  /** Part of a skippable frame (metadata that decodes to nothing). */
  skippable: boolean;
  /** The last bytes of its frame. */
  end: boolean;
}

type ScanState = "magic" | "descriptor" | "header" | "block-header" | "block-body" | "checksum" | "skip-size";

/**
 * Finds where each frame of a zstd stream ends by reading frame and block headers only, without
 * decoding: zstd frames, skippable frames, and anything else (which is refused).
 */
export class ZstdFrameScanner {
  private state: ScanState = "magic";
  /** Header bytes still wanted in the current state, and those collected so far. */
  private want = 4;
  private readonly field = Buffer.alloc(16);
  private have = 0;
  /** Body bytes to pass over before the next header. */
  private skip = 0;
  private skippable = false;
  private checksum = false;
  private lastBlock = false;
  /** zstd (non-skippable) frames completed. */
  frames = 0;

  /** Splits a chunk into pieces, each inside one frame. Throws on bytes that are not zstd. */
  push(chunk: Buffer): FramePiece[] {
    const pieces: FramePiece[] = [];
    let start = 0;
    let pos = 0;
    const cut = (end: boolean) => {
      if (pos > start || end)
        pieces.push({ bytes: chunk.subarray(start, pos), skippable: this.skippable, end });
      start = pos;
    };
    while (pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        pos += n;
        this.skip -= n;
        if (this.skip === 0 && this.afterBody()) {
          cut(true);
          this.startFrame();
        }
        continue;
      }
      const n = Math.min(this.want - this.have, chunk.length - pos);
      chunk.copy(this.field, this.have, pos, pos + n);
      this.have += n;
      pos += n;
      if (this.have < this.want) continue;
      this.have = 0;
      if (this.onField()) {
        cut(true);
        this.startFrame();
      }
    }
    cut(false);
    return pieces;
  }

  /** Checks that the stream did not stop inside a frame. */
  finish(): void {
    if (this.state !== "magic" || this.have > 0) throw new Error("unexpected end of file");
  }

  private startFrame(): void {
    this.state = "magic";
    this.want = 4;
    this.skippable = false;
  }

  /** Reads a completed header field; true when it completes the frame. */
  private onField(): boolean {
    const field = this.field;
    switch (this.state) {
      case "magic": {
        const magic = field.readUInt32LE(0);
        if (magic === FRAME_MAGIC) {
          this.state = "descriptor";
          this.want = 1;
          return false;
        }
        if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
          this.skippable = true;
          this.state = "skip-size";
          this.want = 4;
          return false;
        }
        throw new Error(
          this.frames === 0 ? "not a zstd frame" : `data after frame ${this.frames} is not a zstd frame`,
        );
      }
      case "descriptor": {
        const descriptor = field[0] ?? 0;
        if (descriptor & 0x08) throw new Error("frame header has its reserved bit set");
        const singleSegment = (descriptor >> 5) & 1;
        const contentSizeFlag = descriptor >> 6;
        const dictionaryBytes = [0, 1, 2, 4][descriptor & 3] ?? 0;
        const contentSizeBytes = contentSizeFlag === 0 ? singleSegment : 1 << contentSizeFlag;
        this.checksum = ((descriptor >> 2) & 1) === 1;
        const rest = (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
        this.state = rest > 0 ? "header" : "block-header";
        this.want = rest > 0 ? rest : 3;
        return false;
      }
      case "header":
        this.state = "block-header";
        this.want = 3;
        return false;
      case "block-header": {
        const header = field.readUIntLE(0, 3);
        const type = (header >> 1) & 3;
        const size = header >>> 3;
        if (type === 3) throw new Error("block of the reserved type");
        if (size > MAX_BLOCK_SIZE) throw new Error(`block of ${size} bytes, over the 128 KiB maximum`);
        this.lastBlock = (header & 1) === 1;
        this.state = "block-body";
        // An RLE block stores one byte, repeated `size` times when decoded.
        this.skip = type === 1 ? 1 : size;
        return this.skip === 0 ? this.afterBody() : false;
      }
      case "skip-size":
        this.state = "checksum"; // reuses the "body, then end of frame" path
        this.skip = field.readUInt32LE(0);
        return this.skip === 0;
      default:
        throw new Error(`zstd scanner in state ${this.state} read a header`);
    }
  }

  /** A body has been passed over; true when that completes the frame. */
  private afterBody(): boolean {
    if (this.state === "checksum") {
      if (!this.skippable) this.frames++;
      return true;
    }
    if (!this.lastBlock) {
      this.state = "block-header";
      this.want = 3;
      return false;
    }
    if (this.checksum) {
      this.state = "checksum";
      this.skip = 4;
      return false;
    }
    this.frames++;
    return true;
  }
}

/**
 * Decodes a zstd stream one frame at a time, each with a new decoder from `createDecoder` (which
 * needs to decode only one frame). Exported for tests, which drive it with any per-frame decoder.
 */
export async function* decodeFramewise(
  input: AsyncIterable<Buffer>,
  createDecoder: () => Transform,
): AsyncGenerator<Buffer> {
  const iterator = input[Symbol.asyncIterator]();
  const scanner = new ZstdFrameScanner();
  let queue: FramePiece[] = [];
  const nextPiece = async (): Promise<FramePiece | undefined> => {
    while (queue.length === 0) {
      const next = await iterator.next();
      if (next.done) {
        scanner.finish();
        return undefined;
      }
      queue = scanner.push(next.value);
    }
    return queue.shift();
  };
  try {
    for (let piece = await nextPiece(); piece !== undefined; piece = await nextPiece()) {
      if (piece.skippable) continue;
      const first: FramePiece = piece;
      let frameRead = false;
      async function* frameBytes(): AsyncGenerator<Buffer> {
        for (let current: FramePiece | undefined = first; current; current = await nextPiece()) {
          if (current.bytes.length > 0) yield current.bytes;
          if (current.end) {
            frameRead = true;
            return;
          }
        }
      }
      const decoder = createDecoder();
      const frame = Readable.from(frameBytes(), { objectMode: false });
      frame.on("error", (error) => decoder.destroy(error));
      frame.pipe(decoder);
      try {
        for await (const chunk of decoder) yield chunk as Buffer;
      } finally {
        frame.destroy();
      }
      if (!frameRead) throw new Error(`frame ${scanner.frames + 1} decoded to its end before its last block`);
    }
  } finally {
    await iterator.return?.();
  }
}

/** Decodes a zstd stream (any number of frames) with fzstd. */
async function* decodeWithFzstd(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let ready: Uint8Array[] = [];
  const decoder = new Decompress((chunk) => {
    if (chunk.length > 0) ready.push(chunk);
  });
  const drain = function* (): Generator<Buffer> {
    const chunks = ready;
    ready = [];
    for (const chunk of chunks) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  };
  try {
    for await (const chunk of input) {
      for (let offset = 0; offset < chunk.length; offset += JS_FEED_BYTES) {
        decoder.push(chunk.subarray(offset, offset + JS_FEED_BYTES));
        yield* drain();
      }
    }
    decoder.push(new Uint8Array(0), true);
  } catch (error) {
    // fzstd's error codes; 5 is its "unexpected EOF".
    if ((error as { code?: unknown }).code === 5) throw new Error("unexpected end of file");
    throw error;
  }
  yield* drain();
}

/** The uncompressed bytes of a zstd stream, as a byte stream. */
export function decompressZstd(input: AsyncIterable<Buffer>, backend = defaultZstdBackend): Readable {
  if (backend === "node") {
    const create = createNodeZstdDecompress;
    if (!create) throw new Error("this Node has no zstd in node:zlib");
    return Readable.from(decodeFramewise(input, create), { objectMode: false });
  }
  return Readable.from(decodeWithFzstd(input), { objectMode: false });
}
