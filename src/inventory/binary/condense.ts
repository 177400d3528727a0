import type { StreamCondenser } from "../../fs/types.js";
import type { FileCondenser } from "../types.js";
import { encodeSparse, RecordingView, type Region, SparseView } from "./byte-view.js";
import {
  looksLikeAuditData,
  MAX_AUDIT_COMPRESSED_BYTES,
  MAX_PROBES,
  PROBE_BYTES,
  plausibleZlibStart,
  readCargoAuditData,
  ZLIB_HEADERS,
} from "./cargo-audit.js";
import { FieldReader } from "./fields.js";
import {
  GO_BUILDINFO_ALIGN,
  GO_BUILDINFO_MAGIC,
  MAX_GO_VERSION_BYTES,
  MODINFO_END,
  MODINFO_START,
  plausibleHeader,
  readGoBuildInfo,
  readUvarint,
} from "./go-buildinfo.js";
import {
  type ExecutableFormat,
  type ExecutableLayout,
  offsetOfAddress,
  readLayout,
  sniffFormat,
} from "./layout.js";

/**
 * Condenses an executable while it streams into the few KiB the Go and cargo-auditable readers
 * need, holding a bounded amount of it at any time (16 MiB at worst, a few KiB usually).
 *
 * The stream cannot be read twice, and what the readers need may lie anywhere: the Go build info
 * in the data, the strings a pre-1.18 build info points to in the read-only data before it, the
 * audit data near the end, and ELF section headers after everything. So the condenser keeps, as
 * the bytes pass, windows of what may be needed:
 *
 * - the first 64 KiB (the headers that map addresses to file offsets);
 * - at each 16-byte-aligned Go build-info magic with a plausible header, the build info: for the
 *   inline format (Go 1.18+) the header and its two strings, sized from their varint lengths; for
 *   the pointer format the header, then the string headers it points to when they come later in
 *   the file (they do: the linker puts them in the data after it) and their strings if later too;
 * - because those strings are usually earlier (read-only data precedes data), every place that
 *   starts like one: module information (its 16-byte start sentinel, up to its end sentinel) and
 *   a Go version ("go1." or "devel "), a bounded number of each;
 * - at each zlib header whose first deflate block is plausible, 512 bytes, inflated to see if
 *   they start audit JSON; if they do, up to 1 MiB from there.
 *
 * At the end the readers run over these windows through a RecordingView, and only the ranges
 * they read are kept: a file with neither build info nor audit data keeps nothing at all, and
 * the same readers later find the same answer in what was kept.
 */

const HEAD_BYTES = 64 * 1024;
/** Bytes of the previous chunk kept to find patterns that straddle two chunks. */
const CARRY_BYTES = 64;
const MAX_GO_WINDOWS = 4;
/** Largest inline build info kept (header and both strings). */
const MAX_GO_BLOB_BYTES = 1024 * 1024;
const MAX_MODINFO_WINDOWS = 8;
/** Largest module information kept from a pre-1.18 binary's read-only data. */
const MAX_MODINFO_WINDOW_BYTES = 512 * 1024;
const MAX_VERSION_WINDOWS = 128;
const VERSION_WINDOW_BYTES = 128;
const MAX_AUDIT_WINDOWS = 4;

const VERSION_STARTS = [Buffer.from("go1."), Buffer.from("devel ")];
/** Bytes a probe window holds before its zlib start is checked. */
const PROBE_CHECK_BYTES = 16;

/**
 * Every byte of an executable is searched for each pattern, so the search is most of what
 * condensing costs. Buffer.indexOf finds a needle shorter than 7 bytes with memchr on its first
 * byte, several times faster than its search for longer needles: a long pattern is found by a
 * 6-byte part of it that starts with a byte rare in executables, then compared whole.
 */
const NEEDLE_BYTES = 6;

/** The part of `bytes` searched for: from `at` (chosen for its rare first byte), or all of it. */
function needleOf(bytes: Buffer, at: number): { needle: Buffer; needleAt: number } {
  return bytes.length <= NEEDLE_BYTES
    ? { needle: bytes, needleAt: 0 }
    : { needle: bytes.subarray(at, at + NEEDLE_BYTES), needleAt: at };
}

/** Whether `bytes` lie in `chunk` at `at`. */
function matchesAt(chunk: Buffer, at: number, bytes: Buffer): boolean {
  return chunk.compare(bytes, 0, bytes.length, at, at + bytes.length) === 0;
}

/** The bytes audit JSON can start with, read as latin1: `\s` (AUDIT_JSON_START) and "{". */
const AUDIT_FIRST_BYTES = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x7b]);

/**
 * Whether a zlib stream's first block uses deflate's fixed Huffman code and starts with a
 * literal that audit JSON cannot start with, so that inflating it (looksLikeAuditData) could
 * only say no. Most plausible zlib starts in executables are such blocks. Any other first block
 * or first symbol (an end of block, a length) is left to inflate. Exported for its test.
 */
export function startsWithForeignLiteral(bytes: Buffer): boolean {
  if (bytes.length < 4) return false;
  // After the 2-byte zlib header, bits are read least significant first: BFINAL, BTYPE (2 bits).
  const bit = (index: number) => ((bytes[2 + (index >> 3)] as number) >> (index & 7)) & 1;
  if ((bit(1) | (bit(2) << 1)) !== 1) return false;
  // A Huffman code is packed from its most significant bit (RFC 1951, 3.2.6).
  let code = 0;
  for (let index = 3; index < 10; index++) code = (code << 1) | bit(index);
  // 7-bit codes 0-0x17: symbols 256-279 (end of block, lengths).
  if (code <= 0x17) return false;
  code = (code << 1) | bit(10);
  // 8-bit codes 0x30-0xbf: literals 0-143; 0xc0-0xc7: symbols 280-287.
  if (code <= 0xbf) return !AUDIT_FIRST_BYTES.has(code - 0x30);
  if (code <= 0xc7) return false;
  // 9-bit codes 0x190-0x1ff: literals 144-255.
  code = (code << 1) | bit(11);
  return !AUDIT_FIRST_BYTES.has(code - 0x190 + 144);
}

/** Failed inflates are most probes' answer: their errors need no stack trace. */
function withoutStackTraces<T>(work: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return work();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

type WindowKind = "head" | "go" | "pointer" | "string" | "modinfo" | "version" | "probe" | "audit";

interface Window {
  kind: WindowKind;
  start: number;
  /** Exclusive; may move while the window fills. */
  end: number;
  pieces: Buffer[];
  /** The next file offset the window takes (start + bytes held). */
  next: number;
  /** go: its header was checked; probe: its zlib start was. */
  checked?: boolean;
  /** go: the inline strings' lengths were read and `end` set from them. */
  sized?: boolean;
  /** go (pointer format): the string headers were asked for. */
  followed?: boolean;
  /** pointer: the string header's layout. */
  pointerSize?: 4 | 8;
  littleEndian?: boolean;
  /** modinfo: the last bytes held, to find the end sentinel across pieces. */
  tail?: Buffer;
}

interface Pattern {
  bytes: Buffer;
  /** What is searched for: `bytes`, or a part of it that starts `needleAt` bytes in. */
  needle: Buffer;
  needleAt: number;
  hit: (offset: number) => void;
  /** Whether hits can still open a window (each kind has a cap). */
  open: () => boolean;
}

function held(window: Window): number {
  return window.next - window.start;
}

function bytesOf(window: Window): Buffer {
  if (window.pieces.length > 1) window.pieces = [Buffer.concat(window.pieces)];
  return window.pieces[0] ?? Buffer.alloc(0);
}

class ExecutableCondenser implements StreamCondenser {
  private position = 0;
  /** The last CARRY_BYTES bytes before the current chunk. */
  private carry: Buffer = Buffer.alloc(0);
  private chunk: Buffer = Buffer.alloc(0);
  private format: ExecutableFormat | undefined;
  private sniffed: Buffer = Buffer.alloc(0);
  private declined = false;
  private active: Window[] = [];
  private done: Window[] = [];
  private counts: Record<WindowKind, number> = {
    head: 0,
    go: 0,
    pointer: 0,
    string: 0,
    modinfo: 0,
    version: 0,
    probe: 0,
    audit: 0,
  };
  private probes = 0;
  /** Counts windows opened, closed or resized, so settle() knows when nothing more happens. */
  private changes = 0;
  private layout: ExecutableLayout | undefined | null = null;
  private readonly patterns: Pattern[];

  constructor(private readonly size: number) {
    this.patterns = [
      {
        bytes: GO_BUILDINFO_MAGIC,
        // "Go bui": 'G' is rarer than the magic's 0xff.
        ...needleOf(GO_BUILDINFO_MAGIC, 2),
        open: () => this.counts.go < MAX_GO_WINDOWS,
        hit: (offset) => {
          if (offset % GO_BUILDINFO_ALIGN === 0)
            this.open("go", offset, offset + GO_BUILDINFO_MAGIC.length + 2);
        },
      },
      {
        bytes: MODINFO_START,
        // af 0c 92 74 08 02: 0xaf is among the rarest of its bytes.
        ...needleOf(MODINFO_START, 2),
        open: () => this.counts.modinfo < MAX_MODINFO_WINDOWS,
        hit: (offset) => this.open("modinfo", offset, offset + MAX_MODINFO_WINDOW_BYTES),
      },
      ...VERSION_STARTS.map((bytes) => ({
        bytes,
        ...needleOf(bytes, 0),
        open: () => this.counts.version < MAX_VERSION_WINDOWS,
        hit: (offset: number) => this.open("version", offset, offset + VERSION_WINDOW_BYTES),
      })),
      ...ZLIB_HEADERS.map((bytes) => ({
        bytes,
        ...needleOf(bytes, 0),
        open: () => this.counts.audit < MAX_AUDIT_WINDOWS && this.probes < MAX_PROBES,
        hit: (offset: number) => {
          if (!this.implausibleProbe(offset)) this.open("probe", offset, offset + PROBE_BYTES);
        },
      })),
    ];
  }

  write(chunk: Buffer): boolean {
    if (this.declined) return false;
    if (this.format === undefined && this.sniffed.length < 4) {
      this.sniffed = Buffer.concat([this.sniffed, chunk.subarray(0, 4 - this.sniffed.length)]);
      if (this.sniffed.length >= 4) {
        this.format = sniffFormat(this.sniffed);
        if (this.format === undefined) return this.decline();
      }
    }
    this.chunk = chunk;
    if (this.counts.head === 0) this.open("head", 0, HEAD_BYTES);
    this.scan();
    for (const window of [...this.active]) this.fill(window);
    this.settle();
    this.position += chunk.length;
    const recent = Buffer.concat([this.carry, chunk.subarray(Math.max(0, chunk.length - CARRY_BYTES))]);
    this.carry = Buffer.from(recent.subarray(Math.max(0, recent.length - CARRY_BYTES)));
    this.chunk = Buffer.alloc(0);
    return true;
  }

  end(): Buffer | undefined {
    if (this.declined) return undefined;
    this.format ??= sniffFormat(this.sniffed);
    if (this.format === undefined) return undefined;
    // Audit data shorter than a probe ends with the file.
    for (const window of this.active.filter((w) => w.kind === "probe")) this.probe(window);
    if (this.counts.go === 0 && this.counts.audit === 0) return undefined;
    const regions: Region[] = [...this.done, ...this.active]
      .filter((window) => held(window) > 0)
      .map((window) => ({ offset: window.start, bytes: bytesOf(window) }));
    const recording = new RecordingView(new SparseView(this.position, regions));
    withoutStackTraces(() => {
      readGoBuildInfo(recording);
      readCargoAuditData(recording);
    });
    const kept = recording.regions();
    return kept.length > 0 ? encodeSparse(this.position, kept) : undefined;
  }

  private decline(): false {
    this.declined = true;
    this.active = [];
    this.done = [];
    return false;
  }

  /** Finds every pattern in the current chunk and in the seam with the previous one. */
  private scan(): void {
    const chunkStart = this.position;
    for (const pattern of this.patterns) {
      if (!pattern.open()) continue;
      const overlap = pattern.bytes.length - 1;
      if (this.carry.length > 0) {
        const before = this.carry.subarray(Math.max(0, this.carry.length - overlap));
        const seam = Buffer.concat([before, this.chunk.subarray(0, overlap)]);
        for (let at = seam.indexOf(pattern.bytes); at >= 0 && at < before.length; ) {
          if (!pattern.open()) break;
          pattern.hit(chunkStart - before.length + at);
          at = seam.indexOf(pattern.bytes, at + 1);
        }
      }
      const { bytes, needle, needleAt } = pattern;
      for (
        let found = this.chunk.indexOf(needle);
        found >= 0;
        found = this.chunk.indexOf(needle, found + 1)
      ) {
        const at = found - needleAt;
        // A pattern that starts before the chunk was the seam's to find; one that ends past it is
        // the next seam's, and so is every later one.
        if (at < 0) continue;
        if (at + bytes.length > this.chunk.length) break;
        if (needle !== bytes && !matchesAt(this.chunk, at, bytes)) continue;
        if (!pattern.open()) break;
        pattern.hit(chunkStart + at);
      }
    }
  }

  /**
   * Whether a zlib header in the current chunk starts no plausible stream, told from the same
   * bytes a probe window opened there would hold when settle() checks it: such a window would
   * be closed unused, so it is not opened (most zlib headers found are stray bytes).
   */
  private implausibleProbe(offset: number): boolean {
    if (offset < this.position) return false;
    const from = offset - this.position;
    const held = Math.min(PROBE_BYTES, this.chunk.length - from);
    return held >= PROBE_CHECK_BYTES && !plausibleZlibStart(this.chunk.subarray(from, from + held));
  }

  /** Opens a window, filled at once with what the carry and the current chunk hold of it. */
  private open(kind: WindowKind, start: number, end: number): Window | undefined {
    if (start < this.position - this.carry.length || end <= start) return undefined;
    const window: Window = { kind, start, end, pieces: [], next: start };
    this.counts[kind]++;
    this.changes++;
    this.active.push(window);
    this.fill(window);
    return window;
  }

  private close(window: Window, keep: boolean): void {
    this.changes++;
    this.active = this.active.filter((w) => w !== window);
    if (keep) this.done.push(window);
    else this.counts[window.kind]--;
  }

  /** Copies into the window what the carry and current chunk hold from its next offset on. */
  private fill(window: Window): void {
    const carryStart = this.position - this.carry.length;
    const chunkEnd = this.position + this.chunk.length;
    while (window.next < window.end && window.next < chunkEnd) {
      const inCarry = window.next < this.position;
      const source = inCarry ? this.carry : this.chunk;
      const sourceStart = inCarry ? carryStart : this.position;
      const from = window.next - sourceStart;
      if (from < 0) return;
      const to = Math.min(window.end, sourceStart + source.length) - sourceStart;
      let piece: Buffer = Buffer.from(source.subarray(from, to));
      if (window.kind === "modinfo") piece = this.untilModInfoEnd(window, piece);
      window.pieces.push(piece);
      window.next += piece.length;
    }
  }

  /** Cuts a module-information window at its end sentinel once the sentinel has passed. */
  private untilModInfoEnd(window: Window, piece: Buffer): Buffer {
    const tail = window.tail ?? Buffer.alloc(0);
    const joined = Buffer.concat([tail, piece]);
    const found = joined.indexOf(MODINFO_END);
    if (found >= 0) {
      const keep = found + MODINFO_END.length - tail.length;
      window.end = window.next + keep;
      return piece.subarray(0, keep);
    }
    window.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - (MODINFO_END.length - 1))));
    return piece;
  }

  /** Acts on what the windows now hold, until nothing changes; then sets aside the full ones. */
  private settle(): void {
    let before = -1;
    while (before !== this.changes) {
      before = this.changes;
      for (const window of [...this.active]) {
        if (!this.active.includes(window)) continue;
        const end = window.end;
        this.step(window);
        if (window.end !== end) {
          this.changes++;
          this.fill(window);
        }
      }
    }
    for (const window of [...this.active]) {
      if (window.next < window.end) continue;
      if (window.kind === "probe") this.probe(window);
      else this.close(window, true);
    }
  }

  private step(window: Window): void {
    if (window.kind === "go") this.stepGo(window);
    else if (window.kind === "pointer" && window.next >= window.end) this.followStringHeader(window);
    else if (window.kind === "probe" && !window.checked && held(window) >= PROBE_CHECK_BYTES) {
      window.checked = true;
      if (!plausibleZlibStart(bytesOf(window))) this.close(window, false);
    }
  }

  private stepGo(window: Window): void {
    if (window.sized || window.followed) return;
    const bytes = bytesOf(window);
    if (!window.checked) {
      if (bytes.length < GO_BUILDINFO_MAGIC.length + 2) return;
      if (!plausibleHeader(bytes)) {
        this.close(window, false);
        return;
      }
      window.checked = true;
      const inline = ((bytes[GO_BUILDINFO_MAGIC.length + 1] as number) & 0x2) !== 0;
      window.end = window.start + (inline ? 32 + 10 : 32);
      return;
    }
    const inline = ((bytes[GO_BUILDINFO_MAGIC.length + 1] as number) & 0x2) !== 0;
    if (inline && !window.sized) {
      const extent = inlineExtent(bytes);
      if (extent === undefined) return;
      window.sized = extent.final;
      window.end = window.start + Math.min(extent.bytes, MAX_GO_BLOB_BYTES);
      if (window.end < window.next) window.end = window.next;
    } else if (!inline && !window.followed && bytes.length >= 32) {
      window.followed = true;
      const layout = this.headLayout();
      if (!layout) return;
      const pointerSize = bytes[GO_BUILDINFO_MAGIC.length] as 4 | 8;
      const littleEndian = ((bytes[GO_BUILDINFO_MAGIC.length + 1] as number) & 0x1) === 0;
      const fields = new FieldReader(bytes, littleEndian);
      for (const address of [fields.word(16, pointerSize), fields.word(16 + pointerSize, pointerSize)]) {
        const offset = offsetOfAddress(layout, address, 2 * pointerSize);
        if (offset === undefined) continue;
        const header = this.open("pointer", offset, offset + 2 * pointerSize);
        if (header) Object.assign(header, { pointerSize, littleEndian });
      }
    }
  }

  /** A pre-1.18 string header is in: keep its string too if it lies ahead. */
  private followStringHeader(window: Window): void {
    if (window.followed) return;
    window.followed = true;
    const layout = this.headLayout();
    const pointerSize = window.pointerSize ?? 8;
    const fields = new FieldReader(bytesOf(window), window.littleEndian ?? true);
    const data = fields.word(0, pointerSize);
    const length = fields.word(pointerSize, pointerSize);
    if (!layout || !Number.isSafeInteger(length) || length === 0 || length > MAX_MODINFO_WINDOW_BYTES) return;
    const offset = offsetOfAddress(layout, data, length);
    if (offset !== undefined) this.open("string", offset, offset + length);
  }

  /** Inflates a full (or final) probe: audit data becomes a window of its own. */
  private probe(window: Window): void {
    const bytes = bytesOf(window);
    this.probes++;
    if (
      this.counts.audit < MAX_AUDIT_WINDOWS &&
      !startsWithForeignLiteral(bytes) &&
      withoutStackTraces(() => looksLikeAuditData(bytes))
    ) {
      this.counts.probe--;
      this.counts.audit++;
      window.kind = "audit";
      window.end = window.start + MAX_AUDIT_COMPRESSED_BYTES;
      this.fill(window);
    } else {
      this.close(window, false);
    }
  }

  /** The address map from the first 64 KiB, parsed once. */
  private headLayout(): ExecutableLayout | undefined {
    if (this.layout === null) {
      const head = [...this.done, ...this.active].find((window) => window.kind === "head");
      const view = new SparseView(Math.max(this.size, this.position + this.chunk.length), [
        { offset: 0, bytes: head ? bytesOf(head) : Buffer.alloc(0) },
      ]);
      this.layout = readLayout(view);
    }
    return this.layout;
  }
}

/**
 * How many bytes an inline build info takes, as far as its held bytes tell: `final` once both
 * varint lengths were read (or the first was invalid, which ends it where it is).
 */
function inlineExtent(bytes: Buffer): { bytes: number; final: boolean } | undefined {
  const header = 32;
  if (bytes.length < header + 1) return { bytes: header + 10, final: false };
  const version = readUvarint(bytes.subarray(header, header + 10));
  if (!version) return bytes.length >= header + 10 ? { bytes: bytes.length, final: true } : undefined;
  if (version.value > MAX_GO_VERSION_BYTES) return { bytes: bytes.length, final: true };
  const second = header + version.length + version.value;
  if (bytes.length < second + 1) return { bytes: second + 10, final: false };
  const modInfo = readUvarint(bytes.subarray(second, second + 10));
  if (!modInfo) return bytes.length >= second + 10 ? { bytes: bytes.length, final: true } : undefined;
  return { bytes: second + modInfo.length + modInfo.value, final: true };
}

/** Windows' names are Windows' conventions: executables there need no mode bit. */
const WINDOWS_EXECUTABLE = /\.(?:exe|dll)$/i;

/**
 * The executables of an image: regular files with an executable mode bit, and .exe/.dll files.
 * Executables without a mode bit elsewhere are not read (an unpacked rootfs would otherwise have
 * to read every file's first bytes); nor are shared libraries (.so), mode 0644 on Debian.
 */
export const executableFiles: FileCondenser = {
  name: "executable",
  version: 1,
  offered: (path, mode) => (mode & 0o111) !== 0 || WINDOWS_EXECUTABLE.test(path),
  open: (size) => new ExecutableCondenser(size),
};
