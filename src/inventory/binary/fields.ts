import type { MappedRange } from "./layout.js";

/** Reads unsigned integers of one byte order from a buffer, 64-bit ones only while exact. */
export class FieldReader {
  constructor(
    readonly bytes: Buffer,
    readonly littleEndian: boolean,
  ) {}

  u16(at: number): number {
    return this.littleEndian ? this.bytes.readUInt16LE(at) : this.bytes.readUInt16BE(at);
  }

  u32(at: number): number {
    return this.littleEndian ? this.bytes.readUInt32LE(at) : this.bytes.readUInt32BE(at);
  }

  /** A 64-bit value, or NaN when it is past what a double holds exactly (no real offset is). */
  u64(at: number): number {
    const value = this.littleEndian ? this.bytes.readBigUInt64LE(at) : this.bytes.readBigUInt64BE(at);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : Number.NaN;
  }

  /** A pointer-sized value. */
  word(at: number, bytes: 4 | 8): number {
    return bytes === 8 ? this.u64(at) : this.u32(at);
  }
}

/** A NUL-padded fixed-width name (segment and section names). */
export function fixedName(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString("latin1");
}

/**
 * A segment as a mapped range, or undefined when one of its numbers was past what a double holds
 * exactly (a 64-bit field no real file has). Memory is never smaller than the file bytes it maps.
 */
export function mappedRange(segment: MappedRange): MappedRange | undefined {
  const { address, offset, size, memorySize, writable, name } = segment;
  if (![address, offset, size, memorySize].every(Number.isSafeInteger)) return undefined;
  return {
    address,
    offset,
    size,
    memorySize: Math.max(size, memorySize),
    writable,
    ...(name !== undefined ? { name } : {}),
  };
}
