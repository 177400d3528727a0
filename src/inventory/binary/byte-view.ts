/**
 * Random access to an executable's bytes, whether the whole file is at hand (a test, a file some
 * extractor wanted whole) or only the parts a condenser kept of it while it streamed. The format
 * readers read through this and nothing else, so they behave the same on both.
 */
export interface ByteView {
  /** The file's size in bytes. */
  readonly size: number;
  /** `length` bytes at `offset`, or undefined when they are past the end of the file or were not kept. */
  read(offset: number, length: number): Buffer | undefined;
  /** Up to `max` bytes from `offset`: as many as are held in one piece there (none: empty). */
  readRun(offset: number, max: number): Buffer;
  /** Where `pattern` starts among the held bytes, in file order, at most `limit` places. */
  find(pattern: Buffer, limit: number): number[];
}

/** Reads wholly inside [0, size), with integral offsets and lengths. */
function inBounds(offset: number, length: number, size: number): boolean {
  return (
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= size
  );
}

/** The whole file in memory. */
export class DenseView implements ByteView {
  constructor(private readonly bytes: Buffer) {}

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, length: number): Buffer | undefined {
    return inBounds(offset, length, this.bytes.length)
      ? this.bytes.subarray(offset, offset + length)
      : undefined;
  }

  readRun(offset: number, max: number): Buffer {
    if (!inBounds(offset, 0, this.bytes.length) || max <= 0) return Buffer.alloc(0);
    return this.bytes.subarray(offset, Math.min(this.bytes.length, offset + max));
  }

  find(pattern: Buffer, limit: number): number[] {
    const found: number[] = [];
    for (let at = this.bytes.indexOf(pattern); at >= 0 && found.length < limit; ) {
      found.push(at);
      at = this.bytes.indexOf(pattern, at + 1);
    }
    return found;
  }
}

/** Bytes of a file at one offset. */
export interface Region {
  offset: number;
  bytes: Buffer;
}

/** Sorts regions and joins those that overlap or touch (they hold the same file's bytes). */
function mergeRegions(regions: Region[]): Region[] {
  const sorted = regions.filter((r) => r.bytes.length > 0).sort((a, b) => a.offset - b.offset);
  const merged: Region[] = [];
  for (const region of sorted) {
    const last = merged[merged.length - 1];
    const lastEnd = last ? last.offset + last.bytes.length : -1;
    if (last && region.offset <= lastEnd) {
      const end = region.offset + region.bytes.length;
      if (end > lastEnd)
        last.bytes = Buffer.concat([last.bytes, region.bytes.subarray(lastEnd - region.offset)]);
    } else {
      merged.push({ offset: region.offset, bytes: region.bytes });
    }
  }
  return merged;
}

/** Some parts of a file of a known size; reads elsewhere find nothing. */
export class SparseView implements ByteView {
  readonly regions: Region[];

  constructor(
    readonly size: number,
    regions: Region[],
  ) {
    this.regions = mergeRegions(regions.filter((r) => r.offset >= 0 && r.offset + r.bytes.length <= size));
  }

  /** The region holding `offset`, if any. */
  private regionAt(offset: number): Region | undefined {
    let low = 0;
    let high = this.regions.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const region = this.regions[middle] as Region;
      if (offset < region.offset) high = middle - 1;
      else if (offset >= region.offset + region.bytes.length) low = middle + 1;
      else return region;
    }
    return undefined;
  }

  read(offset: number, length: number): Buffer | undefined {
    if (!inBounds(offset, length, this.size)) return undefined;
    if (length === 0) return Buffer.alloc(0);
    const region = this.regionAt(offset);
    if (!region || offset + length > region.offset + region.bytes.length) return undefined;
    return region.bytes.subarray(offset - region.offset, offset - region.offset + length);
  }

  readRun(offset: number, max: number): Buffer {
    const region = inBounds(offset, 0, this.size) ? this.regionAt(offset) : undefined;
    if (!region || max <= 0) return Buffer.alloc(0);
    const start = offset - region.offset;
    return region.bytes.subarray(start, Math.min(region.bytes.length, start + max));
  }

  find(pattern: Buffer, limit: number): number[] {
    const found: number[] = [];
    for (const region of this.regions) {
      for (let at = region.bytes.indexOf(pattern); at >= 0 && found.length < limit; ) {
        found.push(region.offset + at);
        at = region.bytes.indexOf(pattern, at + 1);
      }
      if (found.length >= limit) break;
    }
    return found;
  }
}

/**
 * A view that remembers every range read from it successfully. Run a reader over what a condenser
 * captured through this, keep only the ranges it read, and the same reader finds the same answer
 * in them later: each of its reads sees the same bytes, or the same absence, as the first time.
 */
export class RecordingView implements ByteView {
  private readonly touched: Region[] = [];

  constructor(private readonly inner: ByteView) {}

  get size(): number {
    return this.inner.size;
  }

  read(offset: number, length: number): Buffer | undefined {
    const bytes = this.inner.read(offset, length);
    if (bytes && bytes.length > 0) this.touched.push({ offset, bytes });
    return bytes;
  }

  /** Not recorded: a reader confirms what it used of a run with read(). */
  readRun(offset: number, max: number): Buffer {
    return this.inner.readRun(offset, max);
  }

  find(pattern: Buffer, limit: number): number[] {
    return this.inner.find(pattern, limit);
  }

  /** The ranges read, merged. */
  regions(): Region[] {
    return mergeRegions(this.touched.map((r) => ({ offset: r.offset, bytes: Buffer.from(r.bytes) })));
  }
}

/**
 * What a condenser keeps of a file: the file's size and some of its ranges. A real executable
 * never starts with these bytes (its own format's magic comes first), so a reader given a whole
 * file can tell it from this.
 */
const SPARSE_MAGIC = Buffer.from("LWPARTS\u0001", "latin1");
const SPARSE_HEADER_BYTES = SPARSE_MAGIC.length + 8 + 4;
const REGION_HEADER_BYTES = 8 + 4;

export function encodeSparse(size: number, regions: Region[]): Buffer {
  const merged = mergeRegions(regions);
  const header = Buffer.alloc(SPARSE_HEADER_BYTES);
  SPARSE_MAGIC.copy(header, 0);
  header.writeDoubleLE(size, SPARSE_MAGIC.length);
  header.writeUInt32LE(merged.length, SPARSE_MAGIC.length + 8);
  const parts: Buffer[] = [header];
  for (const region of merged) {
    const head = Buffer.alloc(REGION_HEADER_BYTES);
    head.writeDoubleLE(region.offset, 0);
    head.writeUInt32LE(region.bytes.length, 8);
    parts.push(head, region.bytes);
  }
  return Buffer.concat(parts);
}

export class DamagedContentError extends Error {}

function decodeSparse(content: Buffer): SparseView {
  const damaged = () => new DamagedContentError("the kept parts of the executable are damaged");
  if (content.length < SPARSE_HEADER_BYTES) throw damaged();
  const size = content.readDoubleLE(SPARSE_MAGIC.length);
  const count = content.readUInt32LE(SPARSE_MAGIC.length + 8);
  if (!Number.isSafeInteger(size) || size < 0) throw damaged();
  const regions: Region[] = [];
  let at = SPARSE_HEADER_BYTES;
  for (let index = 0; index < count; index++) {
    if (at + REGION_HEADER_BYTES > content.length) throw damaged();
    const offset = content.readDoubleLE(at);
    const length = content.readUInt32LE(at + 8);
    at += REGION_HEADER_BYTES;
    if (!inBounds(offset, length, size) || at + length > content.length) throw damaged();
    regions.push({ offset, bytes: content.subarray(at, at + length) });
    at += length;
  }
  if (at !== content.length) throw damaged();
  return new SparseView(size, regions);
}

/** The view of an extractor's content: the parts a condenser kept, or a whole file. */
export function viewOf(content: Buffer): ByteView {
  return content.subarray(0, SPARSE_MAGIC.length).equals(SPARSE_MAGIC)
    ? decodeSparse(content)
    : new DenseView(content);
}
