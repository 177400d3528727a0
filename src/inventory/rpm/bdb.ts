/**
 * Reads the records of rpm's BerkeleyDB `Packages` file (RHEL/CentOS 7 and 8, Amazon Linux 2,
 * older SUSE): a hash database whose keys are 4-byte header numbers and whose values are headers.
 *
 * Instead of following the hash buckets, every page is visited once and the key/data pairs of
 * each hash page are taken; a header is usually larger than a page, so its data item points to a
 * chain of overflow pages. BerkeleyDB writes integers in the byte order of the machine that
 * created the file, which the metadata page's magic number reveals.
 */
import { isPowerOfTwo, MAX_RECORDS, RpmdbError, type RpmdbRecord } from "./records.js";

const HASH_MAGIC = 0x061561;
const BTREE_MAGIC = 0x053162;

/** Page types (db_page.h). */
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;

/** Item types on hash pages. */
const H_KEYDATA = 1;
const H_DUPLICATE = 2;
const H_OFFPAGE = 3;
const H_OFFDUP = 4;

/** The generic page header: lsn, pgno, prev, next, entries, hf_offset, level, type. */
const PAGE_HEADER_SIZE = 26;
const OFFSET_NEXT_PGNO = 16;
const OFFSET_ENTRIES = 20;
const OFFSET_HF_OFFSET = 22;
const OFFSET_TYPE = 25;

/** Metadata page fields. */
const META_MAGIC = 12;
const META_PAGE_SIZE = 20;
const META_ENCRYPT_ALG = 24;
const META_FLAGS = 26;
const DBMETA_CHKSUM = 0x01;

export function isBerkeleyDb(db: Buffer): boolean {
  if (db.length < 16) return false;
  const le = db.readUInt32LE(META_MAGIC);
  const be = db.readUInt32BE(META_MAGIC);
  return le === HASH_MAGIC || be === HASH_MAGIC || le === BTREE_MAGIC || be === BTREE_MAGIC;
}

export function readBerkeleyDb(db: Buffer, warn: (problem: string) => void): RpmdbRecord[] {
  if (db.length < 512) throw new RpmdbError(`${db.length} bytes is too short for a metadata page`);
  const littleEndian = db.readUInt32LE(META_MAGIC) === HASH_MAGIC;
  if (!littleEndian && db.readUInt32BE(META_MAGIC) !== HASH_MAGIC) {
    throw new RpmdbError("a BerkeleyDB btree, not the hash database rpm writes");
  }
  const u32 = (at: number) => (littleEndian ? db.readUInt32LE(at) : db.readUInt32BE(at));
  const u16 = (at: number) => (littleEndian ? db.readUInt16LE(at) : db.readUInt16BE(at));

  const pageSize = u32(META_PAGE_SIZE);
  if (!isPowerOfTwo(pageSize) || pageSize < 512 || pageSize > 65536) {
    throw new RpmdbError(`page size ${pageSize} in the metadata page`);
  }
  if (db[OFFSET_TYPE] !== P_HASHMETA)
    throw new RpmdbError(`first page has type ${db[OFFSET_TYPE]}, not hash metadata`);
  if (db[META_ENCRYPT_ALG] !== 0) throw new RpmdbError("the database is encrypted");
  // Checksummed pages carry the checksum after the page header and move every item; rpm never
  // turns checksums on for Packages, so such a file is not one this reader knows.
  if (((db[META_FLAGS] ?? 0) & DBMETA_CHKSUM) !== 0) throw new RpmdbError("pages are checksummed");

  const pageCount = Math.floor(db.length / pageSize);
  if (db.length % pageSize !== 0) {
    warn(`file ends inside page ${pageCount} (truncated?); the ${pageCount} whole pages were read`);
  }

  /** The value stored on a chain of overflow pages, `length` bytes long. */
  const overflow = (first: number, length: number): Buffer => {
    if (length > db.length)
      throw new RpmdbError(`an overflow item claims ${length} bytes, more than the whole file`);
    const parts: Buffer[] = [];
    const seen = new Set<number>();
    let remaining = length;
    let pgno = first;
    while (remaining > 0) {
      if (pgno <= 0 || pgno >= pageCount) throw new RpmdbError(`overflow page ${pgno} is outside the file`);
      if (seen.has(pgno)) throw new RpmdbError(`overflow chain loops back to page ${pgno}`);
      seen.add(pgno);
      const page = pgno * pageSize;
      if (db[page + OFFSET_TYPE] !== P_OVERFLOW) {
        throw new RpmdbError(`page ${pgno} in an overflow chain has type ${db[page + OFFSET_TYPE]}`);
      }
      const used = u16(page + OFFSET_HF_OFFSET);
      if (used === 0 || used > pageSize - PAGE_HEADER_SIZE) {
        throw new RpmdbError(`overflow page ${pgno} claims ${used} bytes`);
      }
      const take = Math.min(used, remaining);
      parts.push(db.subarray(page + PAGE_HEADER_SIZE, page + PAGE_HEADER_SIZE + take));
      remaining -= take;
      pgno = u32(page + OFFSET_NEXT_PGNO);
    }
    return Buffer.concat(parts, length);
  };

  const records: RpmdbRecord[] = [];
  const ids = new Set<number>();
  for (let pgno = 1; pgno < pageCount; pgno++) {
    const page = pgno * pageSize;
    const type = db[page + OFFSET_TYPE];
    if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
    const entries = u16(page + OFFSET_ENTRIES);
    const itemsStart = PAGE_HEADER_SIZE + entries * 2;
    if (itemsStart > pageSize) {
      warn(`hash page ${pgno} claims ${entries} items; page skipped`);
      continue;
    }
    if (entries % 2 !== 0)
      warn(`hash page ${pgno} has an odd number of items (${entries}); the last was ignored`);
    // Items are stored from the end of the page down, in index order: item i ends where item
    // i-1 begins (item 0 ends at the end of the page).
    const item = (index: number): { at: number; length: number } | undefined => {
      const at = u16(page + PAGE_HEADER_SIZE + index * 2);
      const end = index === 0 ? pageSize : u16(page + PAGE_HEADER_SIZE + (index - 1) * 2);
      if (at < itemsStart || end > pageSize || at >= end) return undefined;
      return { at: page + at, length: end - at };
    };
    for (let index = 0; index + 1 < entries; index += 2) {
      const key = item(index);
      const data = item(index + 1);
      if (!key || !data) {
        warn(`hash page ${pgno}: item ${index} or ${index + 1} lies outside the page; pair skipped`);
        continue;
      }
      // rpm's key is the header number, 4 bytes in the database's byte order.
      if (db[key.at] !== H_KEYDATA || key.length !== 5) {
        warn(`hash page ${pgno}: item ${index} is not a 4-byte key; pair skipped`);
        continue;
      }
      const id = u32(key.at + 1);
      // Record 0 holds rpm's next-header-number counter, not a package.
      if (id === 0) continue;
      let blob: Buffer;
      try {
        switch (db[data.at]) {
          case H_KEYDATA:
            blob = db.subarray(data.at + 1, data.at + data.length);
            break;
          case H_OFFPAGE:
            if (data.length < 12) throw new RpmdbError("off-page item shorter than 12 bytes");
            blob = overflow(u32(data.at + 4), u32(data.at + 8));
            break;
          case H_DUPLICATE:
          case H_OFFDUP:
            throw new RpmdbError("duplicate-key items, which rpm never writes");
          default:
            throw new RpmdbError(`unknown item type ${db[data.at]}`);
        }
      } catch (error) {
        if (!(error instanceof RpmdbError)) throw error;
        warn(`header ${id} (hash page ${pgno}): ${error.message}; skipped`);
        continue;
      }
      if (ids.has(id)) {
        warn(`header ${id} appears twice (hash page ${pgno}); the second copy was skipped`);
        continue;
      }
      ids.add(id);
      records.push({ id, blob });
      if (records.length >= MAX_RECORDS) {
        warn(`more than ${MAX_RECORDS} records; the rest were not read`);
        return records;
      }
    }
  }
  return records;
}
