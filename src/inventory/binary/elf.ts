import type { ByteView } from "./byte-view.js";
import { FieldReader, mappedRange } from "./fields.js";
import type { ExecutableLayout, MappedRange } from "./layout.js";

/**
 * ELF (32/64-bit, either byte order): the loadable segments of the program header table. Section
 * headers are not read: they sit at the end of the file, after everything a stream has passed,
 * and stripped binaries may have none.
 */

const PT_LOAD = 1;
const PF_W = 2;
/** Program header tables are a few hundred bytes; a larger one is not read. */
const MAX_PROGRAM_HEADER_BYTES = 64 * 1024;

export function readElfLayout(view: ByteView): ExecutableLayout | undefined {
  const ident = view.read(0, 16);
  if (!ident) return undefined;
  const bits = ident[4] === 1 ? 32 : ident[4] === 2 ? 64 : undefined;
  const littleEndian = ident[5] === 1 ? true : ident[5] === 2 ? false : undefined;
  if (bits === undefined || littleEndian === undefined) return undefined;
  const header = view.read(0, bits === 64 ? 64 : 52);
  if (!header) return undefined;
  const fields = new FieldReader(header, littleEndian);
  const tableOffset = bits === 64 ? fields.u64(0x20) : fields.u32(0x1c);
  const entrySize = fields.u16(bits === 64 ? 0x36 : 0x2a);
  const count = fields.u16(bits === 64 ? 0x38 : 0x2c);
  const minimumEntry = bits === 64 ? 56 : 32;
  if (count === 0) return { format: "elf", bits, littleEndian, ranges: [] };
  if (entrySize < minimumEntry || entrySize * count > MAX_PROGRAM_HEADER_BYTES) return undefined;
  const table = view.read(tableOffset, entrySize * count);
  if (!table) return undefined;
  const entries = new FieldReader(table, littleEndian);
  const ranges: MappedRange[] = [];
  for (let index = 0; index < count; index++) {
    const at = index * entrySize;
    if (entries.u32(at) !== PT_LOAD) continue;
    // Elf64_Phdr moves p_flags up beside p_type; the other fields keep their order, at twice the width.
    const segment =
      bits === 64
        ? {
            offset: entries.u64(at + 8),
            address: entries.u64(at + 16),
            size: entries.u64(at + 32),
            memorySize: entries.u64(at + 40),
            flags: entries.u32(at + 4),
          }
        : {
            offset: entries.u32(at + 4),
            address: entries.u32(at + 8),
            size: entries.u32(at + 16),
            memorySize: entries.u32(at + 20),
            flags: entries.u32(at + 24),
          };
    const range = mappedRange({ ...segment, writable: (segment.flags & PF_W) !== 0 });
    if (range) ranges.push(range);
  }
  return { format: "elf", bits, littleEndian, ranges };
}
