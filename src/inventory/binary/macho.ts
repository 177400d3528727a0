import type { ByteView } from "./byte-view.js";
import { FieldReader, fixedName } from "./fields.js";
import type { ExecutableLayout, MappedRange } from "./layout.js";

/**
 * Thin Mach-O (32/64-bit, either byte order): the segments of the load commands, which follow
 * the header at the start of the file.
 */

const LC_SEGMENT = 0x1;
const LC_SEGMENT_64 = 0x19;
const VM_PROT_WRITE = 0x2;
/** Load commands of real executables take a few KiB; more is not read. */
const MAX_COMMAND_BYTES = 1024 * 1024;
const MAX_COMMANDS = 4096;

export function readMachOLayout(view: ByteView): ExecutableLayout | undefined {
  const magic = view.read(0, 4);
  if (!magic) return undefined;
  const first = magic.readUInt32BE(0);
  // Written in the file's own byte order: feedfacX reads as itself only when it is big-endian.
  const littleEndian = first === 0xcefaedfe || first === 0xcffaedfe;
  const bits = first === 0xfeedfacf || first === 0xcffaedfe ? 64 : 32;
  const headerBytes = bits === 64 ? 32 : 28;
  const header = view.read(0, headerBytes);
  if (!header) return undefined;
  const fields = new FieldReader(header, littleEndian);
  const count = fields.u32(16);
  const commandBytes = fields.u32(20);
  if (count > MAX_COMMANDS || commandBytes > MAX_COMMAND_BYTES) return undefined;
  const commands = view.read(headerBytes, commandBytes);
  if (!commands) return undefined;
  const entries = new FieldReader(commands, littleEndian);
  const ranges: MappedRange[] = [];
  let at = 0;
  for (let index = 0; index < count; index++) {
    if (at + 8 > commands.length) return undefined;
    const command = entries.u32(at);
    const size = entries.u32(at + 4);
    if (size < 8 || at + size > commands.length) return undefined;
    const segment =
      command === LC_SEGMENT_64 && size >= 72
        ? {
            address: entries.u64(at + 24),
            memorySize: entries.u64(at + 32),
            offset: entries.u64(at + 40),
            size: entries.u64(at + 48),
            protection: entries.u32(at + 60),
          }
        : command === LC_SEGMENT && size >= 56
          ? {
              address: entries.u32(at + 24),
              memorySize: entries.u32(at + 28),
              offset: entries.u32(at + 32),
              size: entries.u32(at + 36),
              protection: entries.u32(at + 44),
            }
          : undefined;
    if (
      segment &&
      [segment.address, segment.offset, segment.size, segment.memorySize].every(Number.isSafeInteger)
    ) {
      ranges.push({
        address: segment.address,
        offset: segment.offset,
        size: segment.size,
        memorySize: Math.max(segment.size, segment.memorySize),
        writable: (segment.protection & VM_PROT_WRITE) !== 0,
        name: fixedName(commands.subarray(at + 8, at + 24)),
      });
    }
    at += size;
  }
  return { format: "macho", bits, littleEndian, ranges };
}
