/** What the three rpmdb container formats have in common: numbered header blobs. */

export interface RpmdbRecord {
  /** rpm's header number for the package (the key in BerkeleyDB, the slot's index in NDB, hnum in SQLite). */
  id: number;
  /** The header, starting with its index count and data length. */
  blob: Buffer;
}

/** A database that cannot be read at all (wrong magic, unusable metadata); nothing is returned. */
export class RpmdbError extends Error {}

/** Highest number of records read from one database: far above any real image, it bounds work on junk. */
export const MAX_RECORDS = 200_000;

export function isPowerOfTwo(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}
