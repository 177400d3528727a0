/**
 * A streaming tar reader for the layer reader's hot path: headers are parsed straight from the
 * input buffers, and an entry's body is handed to the caller as subarrays of them (no copy, no
 * stream per entry) or passed over unread. Memory is bounded: a skipped body is never buffered,
 * and only a GNU long name/link or a pax header body is held whole, up to MAX_META_BYTES.
 */

/** Entry types, named as tar-stream names them (null for a type flag it does not know). */
export type TarEntryType =
  | "file"
  | "link"
  | "symlink"
  | "character-device"
  | "block-device"
  | "directory"
  | "fifo"
  | "contiguous-file"
  | null;

export interface TarHeader {
  /** After GNU long names and pax `path` are applied. */
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  /** Body bytes that follow the header (a pax `size` overrides the header's). */
  size: number;
  /** Null when the header has none. */
  linkname: string | null;
  /** The entry's pax records (the global ones under its own), every key kept; null when none. */
  pax: Record<string, string> | null;
  /** Byte offset of the entry's own header in the tar. */
  offset: number;
}

/** Takes one entry's body, in order, as subarrays of the input (valid as long as the caller keeps them). */
export interface TarBodyReader {
  write(chunk: Buffer): void;
  /** Called after the last byte; at once for an entry without a body. */
  end(): void;
}

/** Returns a reader for the entry's body, or undefined to skip it unread. */
export type TarEntryHandler = (header: TarHeader) => TarBodyReader | undefined;

/** Largest GNU long name/link or pax header body held. */
export const MAX_META_BYTES = 1024 * 1024;

const BLOCK = 512;
/** The checksum of a header whose every byte but the checksum field is zero: an end block. */
const EMPTY_CHECKSUM = 8 * 0x20;

const TYPE_GNU_LONG_LINK = 0x4b; // 'K'
const TYPE_GNU_LONG_NAME = 0x4c; // 'L'
const TYPE_GNU_OLD_LONG_NAME = 0x4e; // 'N'
const TYPE_PAX = 0x78; // 'x'
const TYPE_PAX_GLOBAL = 0x67; // 'g'

function entryType(flag: number): TarEntryType {
  switch (flag) {
    case 0:
    case 0x30:
      return "file";
    case 0x31:
      return "link";
    case 0x32:
      return "symlink";
    case 0x33:
      return "character-device";
    case 0x34:
      return "block-device";
    case 0x35:
      return "directory";
    case 0x36:
      return "fifo";
    case 0x37:
      return "contiguous-file";
    default:
      return null;
  }
}

/** Bytes of padding after a body of `size` bytes, up to the next 512-byte block. */
function padding(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/**
 * A numeric header field: octal digits (leading spaces and NULs skipped, ended by the first byte
 * that is not one), or base-256 when the first byte has its high bit set (0x80 positive, 0xff
 * negative). NaN when it is neither.
 */
function readNumber(buf: Buffer, at: number, length: number): number {
  const end = at + length;
  const first = buf[at] as number;
  if (first & 0x80) {
    if (first !== 0x80 && first !== 0xff) return Number.NaN;
    let value = 0;
    for (let i = at + 1; i < end; i++) {
      const byte = buf[i] as number;
      value = value * 256 + (first === 0x80 ? byte : 0xff - byte);
    }
    return first === 0x80 ? value : -value;
  }
  let i = at;
  while (i < end && buf[i] === 0x20) i++;
  while (i < end && buf[i] === 0) i++;
  if (i === end || buf[i] === 0x20) return 0;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const digit = (buf[i] as number) - 0x30;
    if (digit < 0 || digit > 7) break;
    value = value * 8 + digit;
    digits++;
  }
  return digits === 0 ? Number.NaN : value;
}

/** A NUL-terminated (or field-long) UTF-8 string field. */
function readString(buf: Buffer, at: number, length: number): string {
  let end = at;
  const limit = at + length;
  while (end < limit && buf[end] !== 0) end++;
  return buf.toString("utf8", at, end);
}

/** The sum of a header's bytes with its checksum field counted as spaces. */
function checksumOf(buf: Buffer, at: number): number {
  const start = buf.byteOffset + at;
  // Read four bytes at a time where the header is aligned (it is in whole reads of a file),
  // adding the even and the odd bytes in 16-bit lanes: 128 words of at most 255 each fit.
  if ((start & 3) === 0) {
    const words = new Uint32Array(buf.buffer, start, BLOCK / 4);
    let even = 0;
    let odd = 0;
    for (let i = 0; i < BLOCK / 4; i++) {
      const word = words[i] as number;
      even += word & 0x00ff00ff;
      odd += (word >>> 8) & 0x00ff00ff;
    }
    let field = 0;
    for (let i = at + 148; i < at + 156; i++) field += buf[i] as number;
    return EMPTY_CHECKSUM + (even & 0xffff) + (even >>> 16) + (odd & 0xffff) + (odd >>> 16) - field;
  }
  let sum = EMPTY_CHECKSUM;
  for (let i = at; i < at + 148; i++) sum += buf[i] as number;
  for (let i = at + 156; i < at + BLOCK; i++) sum += buf[i] as number;
  return sum;
}

/** The magic field (offset 257): "ustar\0" is POSIX, whose prefix field extends the name. */
const USTAR_MAGIC = [0x75, 0x73, 0x74, 0x61, 0x72, 0];
/** "ustar  \0": GNU and old GNU, with no prefix field. */
const GNU_MAGIC = [0x75, 0x73, 0x74, 0x61, 0x72, 0x20, 0x20, 0];

function hasMagic(buf: Buffer, at: number, magic: readonly number[]): boolean {
  for (let i = 0; i < magic.length; i++) if (buf[at + 257 + i] !== magic[i]) return false;
  return true;
}

function isUstar(buf: Buffer, at: number): boolean {
  return hasMagic(buf, at, USTAR_MAGIC);
}

function isGnu(buf: Buffer, at: number): boolean {
  return hasMagic(buf, at, GNU_MAGIC);
}

/** Pax records ("LENGTH key=value\n"); parsing stops at the first malformed one. */
export function parsePax(body: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < body.length) {
    let space = at;
    while (space < body.length && body[space] !== 0x20) space++;
    const length = Number.parseInt(body.toString("latin1", at, space), 10);
    if (!(length > 0) || at + length > body.length) break;
    const record = body.toString("utf8", space + 1, at + length - 1);
    const equals = record.indexOf("=");
    if (equals === -1) break;
    records[record.slice(0, equals)] = record.slice(equals + 1);
    at += length;
  }
  return records;
}

/**
 * Reads a tar pushed to it chunk by chunk (write, then end), calling the handler once per entry
 * in order. Errors (a bad checksum, an unknown format, a truncated tar) are thrown from write or
 * end, naming the byte offset; the reader is then unusable.
 */
export class TarReader {
  /** Bytes of the tar in the chunks written before the current one. */
  private consumed = 0;
  /** A header split across chunks, being gathered. */
  private readonly split = Buffer.alloc(BLOCK);
  private splitFill = 0;
  private splitOffset = 0;
  /** Body bytes of the current entry still to come, and who takes them (undefined: skipped). */
  private bodyLeft = 0;
  private body: TarBodyReader | undefined;
  private bodyOffset = 0;
  /** Padding after a body (or a long name/pax body) still to pass over. */
  private skipLeft = 0;
  /** A long name/link or pax body being gathered, with its type flag. */
  private meta: Buffer | undefined;
  private metaFill = 0;
  private metaType = 0;
  private longName: string | undefined;
  private longLink: string | undefined;
  private pax: Record<string, string> | undefined;
  private globalPax: Record<string, string> | undefined;

  constructor(private readonly onEntry: TarEntryHandler) {}

  write(chunk: Buffer): void {
    const length = chunk.length;
    let pos = 0;
    while (pos < length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, length - pos);
        this.bodyLeft -= take;
        const body = this.body;
        if (body !== undefined) {
          body.write(take === length ? chunk : chunk.subarray(pos, pos + take));
          if (this.bodyLeft === 0) {
            this.body = undefined;
            body.end();
          }
        }
        pos += take;
        continue;
      }
      if (this.skipLeft > 0) {
        const take = Math.min(this.skipLeft, length - pos);
        this.skipLeft -= take;
        pos += take;
        continue;
      }
      if (this.meta !== undefined) {
        const meta = this.meta;
        const take = Math.min(meta.length - this.metaFill, length - pos);
        chunk.copy(meta, this.metaFill, pos, pos + take);
        this.metaFill += take;
        pos += take;
        if (this.metaFill === meta.length) {
          this.meta = undefined;
          this.takeMeta(this.metaType, meta);
          this.skipLeft = padding(meta.length);
        }
        continue;
      }
      if (this.splitFill === 0 && length - pos >= BLOCK) {
        this.takeHeader(chunk, pos, this.consumed + pos);
        pos += BLOCK;
        continue;
      }
      if (this.splitFill === 0) this.splitOffset = this.consumed + pos;
      const take = Math.min(BLOCK - this.splitFill, length - pos);
      chunk.copy(this.split, this.splitFill, pos, pos + take);
      this.splitFill += take;
      pos += take;
      if (this.splitFill === BLOCK) {
        this.splitFill = 0;
        this.takeHeader(this.split, 0, this.splitOffset);
      }
    }
    this.consumed += length;
  }

  /** The tar has ended: an error when it ended inside an entry (its header, body or padding). */
  end(): void {
    if (this.bodyLeft > 0)
      throw new Error(
        `unexpected end of data at byte ${this.consumed}: ${this.bodyLeft} bytes short of the body of the entry at byte ${this.bodyOffset}`,
      );
    if (this.skipLeft > 0 || this.meta !== undefined || this.splitFill > 0)
      throw new Error(`unexpected end of data at byte ${this.consumed}, inside an entry`);
  }

  private takeHeader(buf: Buffer, at: number, offset: number): void {
    const checksum = checksumOf(buf, at);
    // An end-of-archive block; what follows is read on (as tar-stream does), it is zeros.
    if (checksum === EMPTY_CHECKSUM) return;
    if (checksum !== readNumber(buf, at + 148, 8)) throw new Error(`bad header checksum at byte ${offset}`);
    const ustar = isUstar(buf, at);
    if (!ustar && !isGnu(buf, at)) throw new Error(`unknown tar header format at byte ${offset}`);
    const flag = buf[at + 156] as number;
    let size = readNumber(buf, at + 124, 12);
    if (
      flag === TYPE_GNU_LONG_NAME ||
      flag === TYPE_GNU_OLD_LONG_NAME ||
      flag === TYPE_GNU_LONG_LINK ||
      flag === TYPE_PAX ||
      flag === TYPE_PAX_GLOBAL
    ) {
      if (!(size >= 0)) throw new Error(`invalid size in the header at byte ${offset}`);
      if (size > MAX_META_BYTES)
        throw new Error(
          `the ${String.fromCharCode(flag)} header at byte ${offset} holds ${size} bytes, over the ${MAX_META_BYTES}-byte limit`,
        );
      if (size === 0) this.takeMeta(flag, Buffer.alloc(0));
      else {
        this.meta = Buffer.allocUnsafe(size);
        this.metaFill = 0;
        this.metaType = flag;
      }
      return;
    }

    let name = readString(buf, at, 100);
    if (ustar && buf[at + 345] !== 0) name = `${readString(buf, at + 345, 155)}/${name}`;
    let type = entryType(flag);
    // Old tars mark a directory by its name's trailing slash alone.
    if (type === "file" && flag !== 0x37 && name.endsWith("/")) type = "directory";
    let linkname = buf[at + 157] === 0 ? null : readString(buf, at + 157, 100);
    let uid = readNumber(buf, at + 108, 8);
    let gid = readNumber(buf, at + 116, 8);
    if (this.longName !== undefined) {
      name = this.longName;
      this.longName = undefined;
    }
    if (this.longLink !== undefined) {
      linkname = this.longLink;
      this.longLink = undefined;
    }
    let pax: Record<string, string> | null = null;
    const own = this.pax;
    if (own !== undefined || this.globalPax !== undefined) {
      pax = own === undefined ? { ...this.globalPax } : this.globalPax ? { ...this.globalPax, ...own } : own;
      this.pax = undefined;
      if (pax.path) name = pax.path;
      if (pax.linkpath) linkname = pax.linkpath;
      if (pax.size) size = Number.parseInt(pax.size, 10);
      if (pax.uid) uid = Number.parseInt(pax.uid, 10);
      if (pax.gid) gid = Number.parseInt(pax.gid, 10);
    }
    if (!(size >= 0)) throw new Error(`invalid size in the header at byte ${offset}`);
    const header: TarHeader = {
      name,
      type,
      mode: readNumber(buf, at + 100, 8),
      uid,
      gid,
      size,
      linkname,
      pax,
      offset,
    };
    const reader = this.onEntry(header);
    // A directory's size is not a body (tar-stream reads on from the next block too).
    if (size === 0 || type === "directory") {
      reader?.end();
      return;
    }
    this.bodyLeft = size;
    this.body = reader;
    this.bodyOffset = offset;
    this.skipLeft = padding(size);
  }

  private takeMeta(flag: number, body: Buffer): void {
    switch (flag) {
      case TYPE_GNU_LONG_NAME:
      case TYPE_GNU_OLD_LONG_NAME:
        this.longName = readString(body, 0, body.length);
        break;
      case TYPE_GNU_LONG_LINK:
        this.longLink = readString(body, 0, body.length);
        break;
      case TYPE_PAX:
        this.pax = parsePax(body);
        break;
      default:
        this.globalPax = parsePax(body);
    }
  }
}
