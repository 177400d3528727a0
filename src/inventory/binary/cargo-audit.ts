import { constants, inflateSync, type Zlib } from "node:zlib";
import { describeError } from "../../errors.js";
import type { ByteView } from "./byte-view.js";

/**
 * The dependency list cargo-auditable links into Rust executables: zlib-compressed JSON
 * (`{"packages":[{"name","version","source","kind","dependencies","root"}]}`, newer ones with a
 * `format` field) in a section named `.dep-v0` (ELF; `__DATA,.dep-v0` in Mach-O; `.dep-v0` in
 * PE). On ELF the section is not loaded (no SHF_ALLOC), so it lies among the unloaded sections
 * near the end of the file, and section headers come after it, or not at all once stripped.
 *
 * It is therefore found by what it is, not by its section: a zlib header whose deflate stream
 * passes a cheap check of its first block and inflates to text that starts like that JSON. The
 * same test picks it out of a stream and out of a whole file.
 */

/** The zlib headers of deflate at levels 2-5, 6 (the default) and 7-9 (cargo-auditable: 7). */
export const ZLIB_HEADERS = [Buffer.from([0x78, 0x5e]), Buffer.from([0x78, 0x9c]), Buffer.from([0x78, 0xda])];
/** Compressed bytes inflated to decide whether a candidate is audit data. */
export const PROBE_BYTES = 512;
/** Candidates tried per file, so a file full of lookalikes costs a bounded time. */
export const MAX_PROBES = 2048;
/** Largest compressed audit data read (a thousand crates compress to ~30 KiB). */
export const MAX_AUDIT_COMPRESSED_BYTES = 1024 * 1024;
/** Largest audit JSON inflated. */
const MAX_AUDIT_JSON_BYTES = 32 * 1024 * 1024;
const AUDIT_JSON_START = /^\s*\{\s*"(?:packages|format)"\s*:/;

/** Reads bits least significant first, as deflate packs them. */
class BitReader {
  private bit = 0;

  constructor(
    private readonly bytes: Buffer,
    private at: number,
  ) {}

  read(count: number): number | undefined {
    let value = 0;
    for (let index = 0; index < count; index++) {
      const byte = this.bytes[this.at];
      if (byte === undefined) return undefined;
      value |= ((byte >> this.bit) & 1) << index;
      if (++this.bit === 8) {
        this.bit = 0;
        this.at++;
      }
    }
    return value;
  }

  /** The offset of the next whole byte. */
  alignedOffset(): number {
    return this.bit === 0 ? this.at : this.at + 1;
  }
}

/** The order in which a dynamic block lists the code lengths of its code-length code. */
const CODE_LENGTH_ORDER_SIZE = 19;

/**
 * Whether `bytes` start with a zlib header and a first deflate block that inflate would accept:
 * a stored block's length and its complement agree; a dynamic block's counts are in range and its
 * code-length code is complete. Random bytes rarely pass, so few candidates reach inflate.
 */
export function plausibleZlibStart(bytes: Buffer): boolean {
  if (bytes.length < 3) return false;
  const cmf = bytes[0] as number;
  const flg = bytes[1] as number;
  if (cmf !== 0x78 || (cmf * 256 + flg) % 31 !== 0 || (flg & 0x20) !== 0) return false;
  const bits = new BitReader(bytes, 2);
  bits.read(1);
  const type = bits.read(2);
  if (type === 0) {
    const at = bits.alignedOffset();
    if (at + 4 > bytes.length) return true;
    return bytes.readUInt16LE(at) === (~bytes.readUInt16LE(at + 2) & 0xffff);
  }
  if (type === 1) return true;
  if (type !== 2) return false;
  const literals = bits.read(5);
  const distances = bits.read(5);
  const lengthCodes = bits.read(4);
  if (literals === undefined || distances === undefined || lengthCodes === undefined) return true;
  if (literals + 257 > 286 || distances + 1 > 30 || lengthCodes + 4 > CODE_LENGTH_ORDER_SIZE) return false;
  // Kraft's sum over the 3-bit lengths (0 = unused) must fill the code exactly: 2^7 with lengths ≤ 7.
  let sum = 0;
  for (let index = 0; index < lengthCodes + 4; index++) {
    const length = bits.read(3);
    if (length === undefined) return true;
    if (length > 0) sum += 2 ** (7 - length);
  }
  return sum === 128;
}

/**
 * Whether compressed bytes start audit data: a plausible stream inflating to its JSON's start.
 * A damaged stream fails to inflate somewhere: a shorter prefix still shows what it starts, so
 * the damage is reported rather than the data missed.
 */
export function looksLikeAuditData(bytes: Buffer): boolean {
  if (!plausibleZlibStart(bytes)) return false;
  for (const length of [PROBE_BYTES, PROBE_BYTES / 4]) {
    try {
      const start = inflateSync(bytes.subarray(0, length), { finishFlush: constants.Z_SYNC_FLUSH });
      return AUDIT_JSON_START.test(start.subarray(0, 64).toString("latin1"));
    } catch {
      // Try the shorter prefix, then give up.
    }
  }
  return false;
}

export interface CargoAuditResult {
  json?: string;
  problem?: string;
}

/** The places, in file order, where a zlib header this reader looks at starts. */
export function zlibCandidates(view: ByteView, limit: number): number[] {
  return ZLIB_HEADERS.flatMap((header) => view.find(header, limit))
    .sort((a, b) => a - b)
    .slice(0, limit);
}

/** The audit JSON of an executable; undefined when it has none (not built with cargo-auditable). */
export function readCargoAuditData(view: ByteView): CargoAuditResult | undefined {
  for (const offset of zlibCandidates(view, MAX_PROBES)) {
    const run = view.readRun(offset, MAX_AUDIT_COMPRESSED_BYTES);
    if (!looksLikeAuditData(run)) continue;
    try {
      // `info` gives the engine, whose count of bytes taken is where the stream ended.
      const inflated = inflateSync(run, { info: true, maxOutputLength: MAX_AUDIT_JSON_BYTES }) as unknown as {
        buffer: Buffer;
        engine: Zlib;
      };
      view.read(offset, inflated.engine.bytesWritten);
      return { json: inflated.buffer.toString("utf8") };
    } catch (error) {
      view.read(offset, run.length);
      return {
        problem: `cargo-auditable data at 0x${offset.toString(16)} cannot be inflated (${describeError(error)})`,
      };
    }
  }
  return undefined;
}
