/**
 * Reads the records of rpm's NDB `Packages.db` (SUSE and openSUSE since 2021), all little-endian:
 *
 * - a file header (magic "RpmP", version, generation, number of slot pages, next package index)
 *   in the first 32 bytes, then 16-byte slots filling the slot pages: magic "Slot", package
 *   index (0 for a free slot), and where the package's blob is, in 16-byte blocks;
 * - each blob: a 16-byte head (magic "BlbS", package index, generation, length), the header,
 *   padding to the block size, and a 12-byte tail (Adler-32 of everything before the tail, the
 *   length again, magic "BlbE") at the end of its blocks.
 */
import { MAX_RECORDS, RpmdbError, type RpmdbRecord } from "./records.js";

const FILE_MAGIC = 0x506d7052; // "RpmP"
const SLOT_MAGIC = 0x746f6c53; // "Slot"
const BLOB_HEAD_MAGIC = 0x53626c42; // "BlbS"
const BLOB_TAIL_MAGIC = 0x45626c42; // "BlbE"

const FILE_HEADER_SIZE = 32;
const SLOT_SIZE = 16;
const BLOCK_SIZE = 16;
const SLOT_PAGE_SIZE = 4096;
const BLOB_HEAD_SIZE = 16;
const BLOB_TAIL_SIZE = 12;

export function isNdb(db: Buffer): boolean {
  return db.length >= 4 && db.readUInt32LE(0) === FILE_MAGIC;
}

function adler32(bytes: Buffer): number {
  let a = 1;
  let b = 0;
  // 5552 is the longest run after which b cannot overflow a 32-bit sum before the modulo.
  for (let start = 0; start < bytes.length; start += 5552) {
    const end = Math.min(start + 5552, bytes.length);
    for (let i = start; i < end; i++) {
      a += bytes[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

export function readNdb(db: Buffer, warn: (problem: string) => void): RpmdbRecord[] {
  if (db.length < FILE_HEADER_SIZE || db.readUInt32LE(0) !== FILE_MAGIC) {
    throw new RpmdbError("no NDB file header");
  }
  const version = db.readUInt32LE(4);
  if (version !== 0) throw new RpmdbError(`NDB version ${version}, not 0`);
  const slotPages = db.readUInt32LE(12);
  if (slotPages === 0) throw new RpmdbError("the header claims no slot pages");
  let slotAreaEnd = slotPages * SLOT_PAGE_SIZE;
  if (slotAreaEnd > db.length) {
    warn(`the header claims ${slotPages} slot pages but the file has ${db.length} bytes (truncated?)`);
    slotAreaEnd = db.length - (db.length % SLOT_SIZE);
  }

  const records: RpmdbRecord[] = [];
  const ids = new Set<number>();
  for (let slot = FILE_HEADER_SIZE; slot + SLOT_SIZE <= slotAreaEnd; slot += SLOT_SIZE) {
    const slotNumber = slot / SLOT_SIZE;
    if (db.readUInt32LE(slot) !== SLOT_MAGIC) {
      warn(`slot ${slotNumber} has no slot magic; skipped`);
      continue;
    }
    const id = db.readUInt32LE(slot + 4);
    if (id === 0) continue;
    const start = db.readUInt32LE(slot + 8) * BLOCK_SIZE;
    const length = db.readUInt32LE(slot + 12) * BLOCK_SIZE;
    const end = start + length;
    const skip = (problem: string) => warn(`package ${id} (slot ${slotNumber}): ${problem}; skipped`);
    if (start < slotAreaEnd || length < BLOB_HEAD_SIZE + BLOB_TAIL_SIZE || end > db.length) {
      skip(`its blob at bytes ${start}-${end} is outside the blob area of the ${db.length}-byte file`);
      continue;
    }
    if (db.readUInt32LE(start) !== BLOB_HEAD_MAGIC || db.readUInt32LE(start + 4) !== id) {
      skip("the blob head does not match the slot");
      continue;
    }
    const blobLength = db.readUInt32LE(start + 12);
    if (BLOB_HEAD_SIZE + blobLength + BLOB_TAIL_SIZE > length) {
      skip(`the blob claims ${blobLength} bytes in ${length} bytes of blocks`);
      continue;
    }
    const tail = end - BLOB_TAIL_SIZE;
    if (db.readUInt32LE(tail + 8) !== BLOB_TAIL_MAGIC || db.readUInt32LE(tail + 4) !== blobLength) {
      skip("the blob tail is missing or disagrees with its head (a torn write?)");
      continue;
    }
    if (adler32(db.subarray(start, tail)) !== db.readUInt32LE(tail)) {
      skip("the blob checksum does not match");
      continue;
    }
    if (ids.has(id)) {
      skip("a second slot for the same package");
      continue;
    }
    ids.add(id);
    records.push({ id, blob: db.subarray(start + BLOB_HEAD_SIZE, start + BLOB_HEAD_SIZE + blobLength) });
    if (records.length >= MAX_RECORDS) {
      warn(`more than ${MAX_RECORDS} records; the rest were not read`);
      break;
    }
  }
  return records;
}
