import { Readable } from "node:stream";

export interface Peeked {
  /** Up to the requested number of bytes from the front (fewer if the stream is shorter). */
  head: Buffer;
  /** The whole stream again, head included. */
  stream: Readable;
}

/**
 * Reads the first bytes of a stream so the caller can tell what it holds (gzip, zstd, tar,
 * JSON) before anything consumes it, and hands back a stream that still starts at byte zero.
 */
export async function peekBytes(source: AsyncIterable<unknown>, count: number): Promise<Peeked> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let finished = false;
  while (length < count) {
    const next = await iterator.next();
    if (next.done) {
      finished = true;
      break;
    }
    const chunk = next.value as Buffer;
    chunks.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (finished) return;
    while (true) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value as Buffer;
    }
  }
  return { head, stream: Readable.from(replay(), { objectMode: false }) };
}
