import type { ByteView } from "./byte-view.js";
import { FieldReader, fixedName } from "./fields.js";
import type { ExecutableLayout, MappedRange } from "./layout.js";

/**
 * PE (PE32 and PE32+): the section table after the COFF and optional headers, at the start of
 * the file. Addresses are the image base plus a section's relative address, as pointers in the
 * image hold them.
 */

const PE32_MAGIC = 0x10b;
const PE32_PLUS_MAGIC = 0x20b;
const IMAGE_SCN_MEM_WRITE = 0x80000000;
const SECTION_HEADER_BYTES = 40;
/** The format allows 96 sections; a count far past that is not a real table. */
const MAX_SECTIONS = 1024;
/** Where the PE header may start (e_lfanew); real files put it within the first KiB. */
const MAX_PE_HEADER_OFFSET = 1024 * 1024;

export function readPeLayout(view: ByteView): ExecutableLayout | undefined {
  const dos = view.read(0, 64);
  if (!dos) return undefined;
  const peOffset = dos.readUInt32LE(0x3c);
  if (peOffset > MAX_PE_HEADER_OFFSET) return undefined;
  const coff = view.read(peOffset, 24);
  if (coff?.readUInt32BE(0) !== 0x50450000) return undefined;
  const fields = new FieldReader(coff, true);
  const sectionCount = fields.u16(6);
  const optionalBytes = fields.u16(20);
  if (sectionCount > MAX_SECTIONS) return undefined;
  const optional = view.read(peOffset + 24, Math.min(optionalBytes, 32));
  if (!optional || optional.length < 32) return undefined;
  const magic = optional.readUInt16LE(0);
  const bits = magic === PE32_PLUS_MAGIC ? 64 : magic === PE32_MAGIC ? 32 : undefined;
  if (bits === undefined) return undefined;
  const optionalFields = new FieldReader(optional, true);
  const imageBase = bits === 64 ? optionalFields.u64(24) : optionalFields.u32(28);
  if (!Number.isSafeInteger(imageBase)) return undefined;
  const table = view.read(peOffset + 24 + optionalBytes, sectionCount * SECTION_HEADER_BYTES);
  if (!table) return undefined;
  const sections = new FieldReader(table, true);
  const ranges: MappedRange[] = [];
  for (let index = 0; index < sectionCount; index++) {
    const at = index * SECTION_HEADER_BYTES;
    const virtualSize = sections.u32(at + 8);
    const rawSize = sections.u32(at + 16);
    // Some linkers leave VirtualSize 0; the raw data, rounded up to the file alignment, is what is there.
    const size = virtualSize === 0 ? rawSize : Math.min(virtualSize, rawSize);
    ranges.push({
      address: imageBase + sections.u32(at + 12),
      offset: sections.u32(at + 20),
      size,
      memorySize: Math.max(size, virtualSize),
      writable: (sections.u32(at + 36) & IMAGE_SCN_MEM_WRITE) !== 0,
      name: fixedName(table.subarray(at, at + 8)),
    });
  }
  return { format: "pe", bits, littleEndian: true, ranges };
}
