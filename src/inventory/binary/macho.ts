import type { ByteView } from "./byte-view.js";
import { FieldReader, fixedName, mappedRange } from "./fields.js";
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
    // segment_command and segment_command_64 differ only in the width of vmaddr, vmsize, fileoff
    // and filesize, the four words after the 16-byte segname; maxprot and initprot follow them.
    const word = command === LC_SEGMENT_64 ? 8 : command === LC_SEGMENT ? 4 : undefined;
    if (word !== undefined && size >= 24 + 4 * word + 16) {
      const range = mappedRange({
        address: entries.word(at + 24, word),
        memorySize: entries.word(at + 24 + word, word),
        offset: entries.word(at + 24 + 2 * word, word),
        size: entries.word(at + 24 + 3 * word, word),
        writable: (entries.u32(at + 24 + 4 * word + 4) & VM_PROT_WRITE) !== 0,
        name: fixedName(commands.subarray(at + 8, at + 24)),
      });
      if (range) ranges.push(range);
    }
    at += size;
  }
  return { format: "macho", bits, littleEndian, ranges };
}
