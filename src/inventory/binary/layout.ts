import type { ByteView } from "./byte-view.js";
import { readElfLayout } from "./elf.js";
import { readMachOLayout } from "./macho.js";
import { readPeLayout } from "./pe.js";

/** The executable formats whose embedded package data layerwatch reads. */
export type ExecutableFormat = "elf" | "macho" | "pe";

/** A run of the file that the loader maps into memory at `address`. */
export interface MappedRange {
  address: number;
  offset: number;
  /** Bytes backed by the file. */
  size: number;
  /** Bytes of memory, the ones past `size` zero-filled (.bss). */
  memorySize: number;
  writable: boolean;
  /** Segment or section name, where the format has one. */
  name?: string;
}

/** What the readers need of an executable's headers: how addresses map to file offsets. */
export interface ExecutableLayout {
  format: ExecutableFormat;
  bits: 32 | 64;
  littleEndian: boolean;
  ranges: MappedRange[];
}

const ELF_MAGIC = 0x7f454c46;
/** Thin Mach-O, as the first four bytes read big-endian: 32/64-bit, either byte order. */
const MACHO_MAGICS = new Set([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe]);

/**
 * The format the first bytes of a file announce. Fat (universal) Mach-O files are not read:
 * their magic is also Java's class-file magic, and Go and cargo never write them.
 */
export function sniffFormat(head: Buffer): ExecutableFormat | undefined {
  if (head.length >= 4) {
    const magic = head.readUInt32BE(0);
    if (magic === ELF_MAGIC) return "elf";
    if (MACHO_MAGICS.has(magic)) return "macho";
  }
  if (head.length >= 2 && head[0] === 0x4d && head[1] === 0x5a) return "pe";
  return undefined;
}

/** The layout from the file's headers, or undefined where they cannot be read. */
export function readLayout(view: ByteView): ExecutableLayout | undefined {
  const head = view.read(0, Math.min(view.size, 4));
  switch (head ? sniffFormat(head) : undefined) {
    case "elf":
      return readElfLayout(view);
    case "macho":
      return readMachOLayout(view);
    case "pe":
      return readPeLayout(view);
    default:
      return undefined;
  }
}

/** The file offset of `length` bytes at `address`, when one mapped range holds all of them. */
export function offsetOfAddress(
  layout: ExecutableLayout,
  address: number,
  length: number,
): number | undefined {
  if (!Number.isSafeInteger(address) || !Number.isSafeInteger(length) || length < 0) return undefined;
  for (const range of layout.ranges) {
    if (address >= range.address && address + length <= range.address + range.size)
      return range.offset + (address - range.address);
  }
  return undefined;
}

/** Whether `length` bytes at `address` are all zero-filled memory (past a range's file bytes). */
export function isZeroFilled(layout: ExecutableLayout, address: number, length: number): boolean {
  return layout.ranges.some(
    (range) => address >= range.address + range.size && address + length <= range.address + range.memorySize,
  );
}

/** Whether the file offset lies in a range mapped writable (where Go puts its build info). */
export function isWritableOffset(layout: ExecutableLayout, offset: number): boolean {
  return layout.ranges.some(
    (range) => range.writable && offset >= range.offset && offset < range.offset + range.size,
  );
}
