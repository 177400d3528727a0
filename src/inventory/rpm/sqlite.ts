/**
 * A minimal, read-only reader for rpm's SQLite database (rpm 4.16+: Fedora 33+, RHEL 9, Amazon
 * Linux 2023): it walks the table b-tree of `Packages` and returns each row's header blob.
 *
 * Why not a SQLite binding: the extractor gets the file as a Buffer and is synchronous.
 * better-sqlite3 (Node 20) can open a Buffer, but node:sqlite (Node 22.13+, and the Node 24 the
 * Action runs on) can load one only through DatabaseSync.deserialize(), which only the newest
 * Node releases have; and rpm leaves its database marked for WAL mode, which SQLite does not
 * support for an in-memory copy. Reading the documented file format directly needs neither a
 * temporary file nor a native module, and gives the same result on every Node.
 *
 * Only what the Packages table needs is implemented: page 1's schema table, table b-tree
 * interior and leaf pages, overflow chains and the record format. Uncommitted changes in a
 * `-wal` file are not applied (the extractor warns when one is present).
 */
import { isPowerOfTwo, MAX_RECORDS, RpmdbError, type RpmdbRecord } from "./records.js";

const MAGIC = Buffer.from("SQLite format 3\0", "latin1");
const FILE_HEADER_SIZE = 100;
const PAGE_TABLE_INTERIOR = 0x05;
const PAGE_TABLE_LEAF = 0x0d;
/** Deeper than any b-tree a file within Node's Buffer limit can hold. */
const MAX_DEPTH = 64;

export function isSqlite(db: Buffer): boolean {
  return db.length >= MAGIC.length && db.subarray(0, MAGIC.length).equals(MAGIC);
}

type SqlValue = null | number | string | Buffer;

/** SQLite's variable-length integer: up to 8 bytes of 7 bits, the 9th byte with all 8. */
function readVarint(bytes: Buffer, at: number, end: number): { value: number; next: number } {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    if (at + i >= end) throw new RpmdbError(`a varint at byte ${at} runs past its cell`);
    const byte = bytes[at + i] as number;
    if (i === 8) return { value: value * 256 + byte, next: at + 9 };
    // Multiplication rather than shifts: the value can exceed 32 bits.
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 };
  }
  throw new RpmdbError("unreachable varint state");
}

class SqliteFile {
  readonly pageSize: number;
  readonly usable: number;
  readonly pageCount: number;
  private readonly textEncoding: BufferEncoding;

  constructor(
    private readonly db: Buffer,
    private readonly warn: (problem: string) => void,
  ) {
    if (db.length < FILE_HEADER_SIZE || !isSqlite(db)) throw new RpmdbError("no SQLite file header");
    const rawPageSize = db.readUInt16BE(16);
    this.pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
    if (!isPowerOfTwo(this.pageSize) || this.pageSize < 512) {
      throw new RpmdbError(`page size ${rawPageSize} in the file header`);
    }
    this.usable = this.pageSize - (db[20] as number);
    if (this.usable < 480) throw new RpmdbError(`only ${this.usable} usable bytes per page`);
    const encoding = db.readUInt32BE(56);
    this.textEncoding = encoding === 2 ? "utf16le" : "utf8";
    if (encoding === 3) throw new RpmdbError("UTF-16BE text, which rpm never writes");
    this.pageCount = Math.floor(db.length / this.pageSize);
    const declared = db.readUInt32BE(28);
    // The declared size is only valid when the change counter matches "version valid for".
    const declaredValid = db.readUInt32BE(24) === db.readUInt32BE(92) && declared > 0;
    if (db.length % this.pageSize !== 0 || (declaredValid && declared > this.pageCount)) {
      warn(
        `the file holds ${this.pageCount} whole pages${declaredValid ? ` of the ${declared} its header declares` : ""} (truncated?); what is there was read`,
      );
    }
  }

  private page(pgno: number): { start: number; end: number } {
    if (!Number.isInteger(pgno) || pgno < 1 || pgno > this.pageCount) {
      throw new RpmdbError(`page ${pgno} is outside the ${this.pageCount}-page file`);
    }
    const start = (pgno - 1) * this.pageSize;
    return { start, end: start + this.usable };
  }

  /** Payload of `total` bytes: `local` bytes in the cell, the rest on a chain of overflow pages. */
  private payload(localStart: number, local: number, total: number, firstOverflow: number): Buffer {
    if (local === total) return this.db.subarray(localStart, localStart + local);
    const parts = [this.db.subarray(localStart, localStart + local)];
    const seen = new Set<number>();
    let remaining = total - local;
    let pgno = firstOverflow;
    while (remaining > 0) {
      if (seen.has(pgno)) throw new RpmdbError(`overflow chain loops back to page ${pgno}`);
      seen.add(pgno);
      const { start } = this.page(pgno);
      const take = Math.min(this.usable - 4, remaining);
      parts.push(this.db.subarray(start + 4, start + 4 + take));
      remaining -= take;
      pgno = this.db.readUInt32BE(start);
    }
    return Buffer.concat(parts, total);
  }

  /** One table-leaf cell: its rowid and full payload. */
  private leafCell(pgno: number, cell: number, pageEnd: number): { rowid: number; payload: Buffer } {
    const size = readVarint(this.db, cell, pageEnd);
    const rowid = readVarint(this.db, size.next, pageEnd);
    const total = size.value;
    if (total > this.db.length) throw new RpmdbError(`a cell on page ${pgno} claims ${total} bytes`);
    // How much of the payload stays on the page (the file format's rule for table leaves).
    const maxLocal = this.usable - 35;
    const minLocal = Math.floor(((this.usable - 12) * 32) / 255) - 23;
    let local = total;
    if (total > maxLocal) {
      const candidate = minLocal + ((total - minLocal) % (this.usable - 4));
      local = candidate <= maxLocal ? candidate : minLocal;
    }
    const localEnd = rowid.next + local;
    const overflowPointer = local < total ? 4 : 0;
    if (localEnd + overflowPointer > pageEnd) {
      throw new RpmdbError(`a cell on page ${pgno} runs past the page`);
    }
    const firstOverflow = overflowPointer ? this.db.readUInt32BE(localEnd) : 0;
    return { rowid: rowid.value, payload: this.payload(rowid.next, local, total, firstOverflow) };
  }

  /**
   * Every row of the table b-tree rooted at `root`, in rowid order. A page reached twice (a loop)
   * or one that is not a table page is reported and not read; the rest of the tree still is.
   */
  *tableRows(root: number): Generator<{ rowid: number; payload: Buffer }> {
    const seen = new Set<number>();
    const stack: Array<{ pgno: number; depth: number }> = [{ pgno: root, depth: 0 }];
    while (stack.length > 0) {
      const { pgno, depth } = stack.pop() as { pgno: number; depth: number };
      if (seen.has(pgno)) {
        this.warn(`b-tree page ${pgno} is reached twice (a loop); not read again`);
        continue;
      }
      seen.add(pgno);
      if (depth > MAX_DEPTH) {
        this.warn(`b-tree deeper than ${MAX_DEPTH} levels at page ${pgno}; not read`);
        continue;
      }
      let start: number;
      let end: number;
      try {
        ({ start, end } = this.page(pgno));
      } catch (error) {
        if (!(error instanceof RpmdbError)) throw error;
        this.warn(`${error.message}; that part of the table was not read`);
        continue;
      }
      // Page 1 begins with the file header; its b-tree header follows it.
      const header = start + (pgno === 1 ? FILE_HEADER_SIZE : 0);
      const type = this.db[header];
      if (type !== PAGE_TABLE_INTERIOR && type !== PAGE_TABLE_LEAF) {
        this.warn(`page ${pgno} has type ${type}, not a table b-tree page; not read`);
        continue;
      }
      const cells = this.db.readUInt16BE(header + 3);
      const pointers = header + (type === PAGE_TABLE_INTERIOR ? 12 : 8);
      if (pointers + cells * 2 > end) {
        this.warn(`page ${pgno} claims ${cells} cells; not read`);
        continue;
      }
      const cellAt = (index: number) => start + this.db.readUInt16BE(pointers + index * 2);
      if (type === PAGE_TABLE_INTERIOR) {
        // Children are pushed right to left so that they are visited left to right.
        stack.push({ pgno: this.db.readUInt32BE(header + 8), depth: depth + 1 });
        for (let index = cells - 1; index >= 0; index--) {
          const cell = cellAt(index);
          if (cell < pointers || cell + 4 > end) {
            this.warn(`page ${pgno}: cell ${index} points outside the page; its subtree was not read`);
            continue;
          }
          stack.push({ pgno: this.db.readUInt32BE(cell), depth: depth + 1 });
        }
        continue;
      }
      for (let index = 0; index < cells; index++) {
        const cell = cellAt(index);
        if (cell < pointers || cell >= end) {
          this.warn(`page ${pgno}: cell ${index} points outside the page; skipped`);
          continue;
        }
        try {
          yield this.leafCell(pgno, cell, end);
        } catch (error) {
          if (!(error instanceof RpmdbError)) throw error;
          this.warn(`page ${pgno}, cell ${index}: ${error.message}; skipped`);
        }
      }
    }
  }

  /** The columns of one record (the file format's serial types). */
  record(payload: Buffer): SqlValue[] {
    const headerSize = readVarint(payload, 0, payload.length);
    if (headerSize.value > payload.length) throw new RpmdbError("a record header longer than its record");
    const types: number[] = [];
    for (let at = headerSize.next; at < headerSize.value; ) {
      const type = readVarint(payload, at, headerSize.value);
      types.push(type.value);
      at = type.next;
    }
    const values: SqlValue[] = [];
    let at = headerSize.value;
    const take = (length: number) => {
      if (at + length > payload.length) throw new RpmdbError("a record value runs past its record");
      const slice = payload.subarray(at, at + length);
      at += length;
      return slice;
    };
    const integerSizes = [0, 1, 2, 3, 4, 6, 8];
    for (const type of types) {
      if (type === 0) values.push(null);
      else if (type >= 1 && type <= 6) {
        const size = integerSizes[type] as number;
        const bytes = take(size);
        values.push(size === 8 ? Number(bytes.readBigInt64BE(0)) : bytes.readIntBE(0, size));
      } else if (type === 7) values.push(take(8).readDoubleBE(0));
      else if (type === 8 || type === 9) values.push(type - 8);
      else if (type >= 12 && type % 2 === 0) values.push(take((type - 12) / 2));
      else if (type >= 13) values.push(take((type - 13) / 2).toString(this.textEncoding));
      else throw new RpmdbError(`reserved serial type ${type}`);
    }
    return values;
  }
}

export function readSqlite(db: Buffer, warn: (problem: string) => void): RpmdbRecord[] {
  const file = new SqliteFile(db, warn);
  // The schema table lives on page 1: (type, name, tbl_name, rootpage, sql).
  let root: number | undefined;
  for (const row of file.tableRows(1)) {
    let values: SqlValue[];
    try {
      values = file.record(row.payload);
    } catch (error) {
      if (!(error instanceof RpmdbError)) throw error;
      warn(`schema row ${row.rowid}: ${error.message}; skipped`);
      continue;
    }
    const [type, name, , rootpage] = values;
    if (type === "table" && typeof name === "string" && name.toLowerCase() === "packages") {
      if (typeof rootpage === "number") root = rootpage;
      break;
    }
  }
  if (root === undefined) throw new RpmdbError("no Packages table");

  const records: RpmdbRecord[] = [];
  for (const row of file.tableRows(root)) {
    let values: SqlValue[];
    try {
      values = file.record(row.payload);
    } catch (error) {
      if (!(error instanceof RpmdbError)) throw error;
      warn(`Packages row ${row.rowid}: ${error.message}; skipped`);
      continue;
    }
    // The table is (hnum INTEGER PRIMARY KEY, blob BLOB): hnum is the rowid, stored as NULL.
    const blob = values.find((value): value is Buffer => Buffer.isBuffer(value));
    if (!blob) {
      warn(`Packages row ${row.rowid} has no blob; skipped`);
      continue;
    }
    records.push({ id: row.rowid, blob });
    if (records.length >= MAX_RECORDS) {
      warn(`more than ${MAX_RECORDS} records; the rest were not read`);
      break;
    }
  }
  return records;
}
