import type { Readable } from "node:stream";
import { InputError } from "../errors.js";

/** Reads a small JSON document from a stream, refusing one larger than `limit` bytes. */
export async function readJsonStream(stream: Readable, limit: number, where: string): Promise<unknown> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      stream.destroy();
      throw new InputError(`${where}: JSON document larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return parseJson(Buffer.concat(chunks), where);
}

export function parseJson(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new InputError(`${where}: not valid JSON (${(error as Error).message})`);
  }
}
