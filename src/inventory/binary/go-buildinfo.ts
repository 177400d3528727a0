import type { ByteView } from "./byte-view.js";
import { FieldReader } from "./fields.js";
import {
  type ExecutableLayout,
  isWritableOffset,
  isZeroFilled,
  offsetOfAddress,
  readLayout,
} from "./layout.js";

/**
 * The build information the Go linker writes into every executable (what `go version -m` shows).
 *
 * A 32-byte header starts at a 16-byte-aligned address in the data: the 14-byte magic below, the
 * pointer size (4 or 8) and a flags byte. With flag 0x2 (Go 1.18 on) two strings follow the
 * header inline, each a varint length and its bytes: the Go version and the module information.
 * Without it (Go 1.13 to 1.17) the header holds two pointers, at 16 and 16+ptrSize, in the byte
 * order flag 0x1 gives (set: big-endian), to the Go string headers (data pointer, length) of
 * runtime.buildVersion and runtime.modinfo; those are read through the address map of the
 * executable's headers.
 *
 * The module information, when the binary was built in module mode, is framed by two 16-byte
 * sentinels and holds lines of tab-separated fields (`path`, `mod`, `dep`, `=>`, `build`).
 */

export const GO_BUILDINFO_MAGIC = Buffer.from("\u00ff Go buildinf:", "latin1");
export const MODINFO_START = Buffer.from("3077af0c9274080241e1c107e6d618e6", "hex");
export const MODINFO_END = Buffer.from("f932433186182072008242104116d8f2", "hex");
export const GO_BUILDINFO_ALIGN = 16;
const HEADER_BYTES = 32;
const FLAG_BIG_ENDIAN = 0x1;
const FLAG_INLINE_STRINGS = 0x2;
/** Candidates past this many are not looked at: a real executable has one build info. */
const MAX_CANDIDATES = 64;
/** Longest Go version string read ("devel go1.23-1b2c3d4e Tue Jan 9 12:00:00 2024 +0000" is ~60). */
export const MAX_GO_VERSION_BYTES = 4096;
/** Longest module information read (Kubernetes' is ~60 KiB). */
export const MAX_MODINFO_BYTES = 16 * 1024 * 1024;

export interface GoBuildInfo {
  /** runtime.Version() of the toolchain: "go1.22.1", "go1.22.1 X:boringcrypto", "devel go1.23-abc". */
  goVersion: string;
  /** The module information between its sentinels ("" for a GOPATH build). */
  modInfo: string;
}

export interface GoBuildInfoResult {
  info?: GoBuildInfo;
  /** Why the build info, or part of it, could not be read. */
  problem?: string;
}

/** Whether the 16 header bytes at a candidate hold a pointer size and flags Go writes. */
export function plausibleHeader(header: Buffer): boolean {
  const pointerSize = header[GO_BUILDINFO_MAGIC.length];
  const flags = header[GO_BUILDINFO_MAGIC.length + 1] ?? 0xff;
  return (pointerSize === 4 || pointerSize === 8) && (flags & ~(FLAG_BIG_ENDIAN | FLAG_INLINE_STRINGS)) === 0;
}

/** An unsigned varint (Go's encoding/binary Uvarint) at the start of `bytes`: value and length. */
export function readUvarint(bytes: Buffer): { value: number; length: number } | undefined {
  let value = 0;
  for (let index = 0; index < Math.min(bytes.length, 10); index++) {
    const byte = bytes[index] as number;
    value += (byte & 0x7f) * 2 ** (7 * index);
    if (value > Number.MAX_SAFE_INTEGER) return undefined;
    if ((byte & 0x80) === 0) return { value, length: index + 1 };
  }
  return undefined;
}

const hex = (value: number) => `0x${value.toString(16)}`;

class BuildInfoError extends Error {}

/** A varint-prefixed string at `offset`, and the offset after it. */
function readInlineString(
  view: ByteView,
  offset: number,
  limit: number,
  what: string,
): { text: Buffer; next: number } {
  const prefix = view.readRun(offset, 10);
  const length = readUvarint(prefix);
  if (!length)
    throw new BuildInfoError(`the length of the ${what} at ${hex(offset)} is cut short or invalid`);
  view.read(offset, length.length);
  if (length.value > limit)
    throw new BuildInfoError(`the ${what} claims ${length.value} bytes, over the ${limit}-byte limit`);
  const text = view.read(offset + length.length, length.value);
  if (!text) throw new BuildInfoError(`the ${what} at ${hex(offset)} is cut short`);
  return { text, next: offset + length.length + length.value };
}

/** A Go string (pointer, length) whose header is at `address`, read through the address map. */
function readPointedString(
  view: ByteView,
  layout: ExecutableLayout,
  address: number,
  pointerSize: 4 | 8,
  littleEndian: boolean,
  limit: number,
  what: string,
): Buffer {
  // A variable never set (runtime.modinfo of a GOPATH build) is in zero-filled memory: "".
  if (isZeroFilled(layout, address, 2 * pointerSize)) return Buffer.alloc(0);
  const headerOffset = offsetOfAddress(layout, address, 2 * pointerSize);
  if (headerOffset === undefined)
    throw new BuildInfoError(`the ${what} pointer ${hex(address)} is outside the file's mapped data`);
  const header = view.read(headerOffset, 2 * pointerSize);
  if (!header)
    throw new BuildInfoError(
      `the ${what} string header at ${hex(headerOffset)} was not kept or is cut short`,
    );
  const fields = new FieldReader(header, littleEndian);
  const data = fields.word(0, pointerSize);
  const length = fields.word(pointerSize, pointerSize);
  if (!Number.isSafeInteger(length) || length > limit)
    throw new BuildInfoError(`the ${what} claims ${length} bytes, over the ${limit}-byte limit`);
  if (length === 0) return Buffer.alloc(0);
  const dataOffset = offsetOfAddress(layout, data, length);
  if (dataOffset === undefined)
    throw new BuildInfoError(`the ${what} data pointer ${hex(data)} is outside the file's mapped data`);
  const text = view.read(dataOffset, length);
  if (!text) throw new BuildInfoError(`the ${what} at ${hex(dataOffset)} was not kept or is cut short`);
  return text;
}

function looksLikeGoVersion(text: string): boolean {
  return /^(?:go\d|devel\b)/.test(text);
}

/** The module information between its sentinels; "" when there is none. */
function unframe(modInfo: Buffer): { text: string; problem?: string } {
  if (modInfo.length === 0) return { text: "" };
  const framed =
    modInfo.length >= MODINFO_START.length + MODINFO_END.length &&
    modInfo.subarray(0, MODINFO_START.length).equals(MODINFO_START) &&
    modInfo.subarray(modInfo.length - MODINFO_END.length).equals(MODINFO_END);
  if (!framed)
    return {
      text: "",
      problem: "its module information lacks the sentinels Go frames it with; modules not read",
    };
  return {
    text: modInfo.subarray(MODINFO_START.length, modInfo.length - MODINFO_END.length).toString("utf8"),
  };
}

function readAt(view: ByteView, layout: ExecutableLayout | undefined, offset: number): GoBuildInfoResult {
  const header = view.read(offset, HEADER_BYTES);
  if (!header) throw new BuildInfoError(`the build info at ${hex(offset)} is cut short`);
  const pointerSize = header[GO_BUILDINFO_MAGIC.length] as 4 | 8;
  const flags = header[GO_BUILDINFO_MAGIC.length + 1] as number;
  let version: Buffer;
  let modInfo: Buffer;
  if (flags & FLAG_INLINE_STRINGS) {
    const first = readInlineString(view, offset + HEADER_BYTES, MAX_GO_VERSION_BYTES, "Go version");
    version = first.text;
    modInfo = readInlineString(view, first.next, MAX_MODINFO_BYTES, "module information").text;
  } else {
    if (!layout) throw new BuildInfoError("its headers cannot be read to follow the build info's pointers");
    const littleEndian = (flags & FLAG_BIG_ENDIAN) === 0;
    const fields = new FieldReader(header, littleEndian);
    const versionAddress = fields.word(16, pointerSize);
    const modInfoAddress = fields.word(16 + pointerSize, pointerSize);
    version = readPointedString(
      view,
      layout,
      versionAddress,
      pointerSize,
      littleEndian,
      MAX_GO_VERSION_BYTES,
      "Go version",
    );
    modInfo = readPointedString(
      view,
      layout,
      modInfoAddress,
      pointerSize,
      littleEndian,
      MAX_MODINFO_BYTES,
      "module information",
    );
  }
  const goVersion = version.toString("utf8");
  if (!looksLikeGoVersion(goVersion))
    throw new BuildInfoError(
      `the build info at ${hex(offset)} names no Go version (${JSON.stringify(goVersion.slice(0, 40))})`,
    );
  const unframed = unframe(modInfo);
  return {
    info: { goVersion, modInfo: unframed.text },
    ...(unframed.problem ? { problem: unframed.problem } : {}),
  };
}

/**
 * The Go build info of an executable; undefined when it has none (not a Go program). Candidates
 * are the aligned places of the magic whose pointer size and flags are Go's; those in writable
 * data (where the linker puts the real one) are tried first, then the rest in file order, since a
 * program can hold the magic elsewhere (a copy of debug/buildinfo's constant, an embedded binary).
 */
export function readGoBuildInfo(view: ByteView): GoBuildInfoResult | undefined {
  const candidates = view
    .find(GO_BUILDINFO_MAGIC, MAX_CANDIDATES)
    .filter((offset) => offset % GO_BUILDINFO_ALIGN === 0)
    .filter((offset) => {
      const header = view.read(offset, GO_BUILDINFO_MAGIC.length + 2);
      return header !== undefined && plausibleHeader(header);
    });
  if (candidates.length === 0) return undefined;
  const layout = readLayout(view);
  const writable = (offset: number) => (layout ? isWritableOffset(layout, offset) : false);
  const ordered = [...candidates.filter(writable), ...candidates.filter((offset) => !writable(offset))];
  let firstProblem: string | undefined;
  for (const offset of ordered) {
    try {
      return readAt(view, layout, offset);
    } catch (error) {
      if (!(error instanceof BuildInfoError)) throw error;
      firstProblem ??= error.message;
    }
  }
  return { problem: `Go build info unreadable: ${firstProblem}` };
}
