import { inflateRawSync } from "node:zlib";

/**
 * A small synchronous zip reader over a Buffer, for archives found inside image layers (Java
 * jars). It reads the end-of-central-directory record (zip64 too), the central directory and each
 * wanted member's local header, and inflates stored and deflated members with a size bound. It
 * trusts nothing: every offset and length is checked against the buffer, and a damaged archive
 * throws a ZipError that the caller turns into a warning.
 */

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated; others cannot be read. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  encrypted: boolean;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_ENTRY = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
/** The end record is 22 bytes plus a comment of at most 65535. */
const MAX_EOCD_SEARCH = 22 + 0xffff;
/** More central directory entries than this is not a real jar (and would cost memory). */
export const MAX_ZIP_ENTRIES = 200_000;

function u16(buf: Buffer, at: number): number {
  if (at < 0 || at + 2 > buf.length) throw new ZipError("truncated");
  return buf.readUInt16LE(at);
}

function u32(buf: Buffer, at: number): number {
  if (at < 0 || at + 4 > buf.length) throw new ZipError("truncated");
  return buf.readUInt32LE(at);
}

function u64(buf: Buffer, at: number): number {
  if (at < 0 || at + 8 > buf.length) throw new ZipError("truncated");
  const value = buf.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError("zip64 value out of range");
  return Number(value);
}

function findEndRecord(buf: Buffer): number {
  const lowest = Math.max(0, buf.length - MAX_EOCD_SEARCH);
  for (let at = buf.length - 22; at >= lowest; at--) if (buf.readUInt32LE(at) === EOCD) return at;
  throw new ZipError("no end of central directory record (not a zip)");
}

/** Lists the members of a zip held in `buf`. */
export function readZipEntries(buf: Buffer): ZipEntry[] {
  if (buf.length < 22) throw new ZipError("too short to be a zip");
  const end = findEndRecord(buf);
  let count = u16(buf, end + 10);
  let directorySize = u32(buf, end + 12);
  let directoryOffset = u32(buf, end + 16);
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const locator = end - 20;
    if (locator >= 0 && u32(buf, locator) === ZIP64_LOCATOR) {
      const record = u64(buf, locator + 8);
      if (u32(buf, record) !== ZIP64_EOCD) throw new ZipError("bad zip64 end record");
      count = u64(buf, record + 32);
      directorySize = u64(buf, record + 40);
      directoryOffset = u64(buf, record + 48);
    }
  }
  if (count > MAX_ZIP_ENTRIES) throw new ZipError(`${count} entries is too many`);
  if (directoryOffset + directorySize > buf.length)
    throw new ZipError("central directory lies outside the file");
  const entries: ZipEntry[] = [];
  let at = directoryOffset;
  for (let index = 0; index < count; index++) {
    if (u32(buf, at) !== CENTRAL_ENTRY) throw new ZipError(`central directory entry ${index} is damaged`);
    const flags = u16(buf, at + 8);
    const method = u16(buf, at + 10);
    let compressedSize = u32(buf, at + 20);
    let uncompressedSize = u32(buf, at + 24);
    const nameLength = u16(buf, at + 28);
    const extraLength = u16(buf, at + 30);
    const commentLength = u16(buf, at + 32);
    let localHeaderOffset = u32(buf, at + 42);
    const nameStart = at + 46;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > buf.length) throw new ZipError(`central directory entry ${index} is truncated`);
    const name = buf.toString(flags & 0x800 ? "utf8" : "latin1", nameStart, extraStart);
    // Zip64 sizes and offset sit in extra field 0x0001, in this order, for the fields set to ~0.
    for (let field = extraStart; field + 4 <= extraStart + extraLength; ) {
      const id = u16(buf, field);
      const size = u16(buf, field + 2);
      if (id === 0x0001) {
        let value = field + 4;
        if (uncompressedSize === 0xffffffff) {
          uncompressedSize = u64(buf, value);
          value += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = u64(buf, value);
          value += 8;
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(buf, value);
      }
      field += 4 + size;
    }
    entries.push({
      name,
      method,
      compressedSize,
      uncompressedSize,
      encrypted: (flags & 1) !== 0,
      localHeaderOffset,
    });
    at = next;
  }
  return entries;
}

/**
 * The content of one member, inflated to at most `limit` bytes; a member that would be larger,
 * is encrypted, uses another compression method or is damaged throws a ZipError.
 */
export function readZipEntry(buf: Buffer, entry: ZipEntry, limit: number): Buffer {
  if (entry.encrypted) throw new ZipError(`${entry.name} is encrypted`);
  if (entry.uncompressedSize > limit)
    throw new ZipError(`${entry.name} is ${entry.uncompressedSize} bytes, over the ${limit} byte limit`);
  const header = entry.localHeaderOffset;
  if (u32(buf, header) !== LOCAL_HEADER) throw new ZipError(`${entry.name}: damaged local header`);
  const start = header + 30 + u16(buf, header + 26) + u16(buf, header + 28);
  const stop = start + entry.compressedSize;
  if (stop > buf.length) throw new ZipError(`${entry.name} runs past the end of the archive`);
  const data = buf.subarray(start, stop);
  if (entry.method === 0) return data;
  if (entry.method !== 8) throw new ZipError(`${entry.name}: compression method ${entry.method} unsupported`);
  try {
    // The declared size can lie; maxOutputLength bounds what a crafted member can inflate to.
    return inflateRawSync(data, { maxOutputLength: Math.max(1, Math.min(limit, entry.uncompressedSize)) });
  } catch (error) {
    throw new ZipError(`${entry.name}: ${(error as Error).message}`);
  }
}
