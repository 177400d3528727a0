/**
 * The rpm header as rpm databases store it: an index of (tag, type, offset, count) entries and a
 * data store they point into. In an rpmdb the header starts with the index count and the data
 * length; the 8-byte magic a header has inside a .rpm file is not stored.
 *
 * Every offset and count is checked against the record before it is used: a record whose index
 * points outside its data store is rejected with an RpmHeaderError naming what was wrong.
 */

/** Tag numbers from rpm's rpmtag.h. */
export const RpmTag = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  VENDOR: 1011,
  LICENSE: 1014,
  ARCH: 1022,
  /** Full paths, in headers written before rpm 4 compressed file names into the three below. */
  OLDFILENAMES: 1027,
  SOURCERPM: 1044,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  MODULARITYLABEL: 5096,
} as const;

/** Entry data types from rpm's header.h. */
const TYPE_INT32 = 4;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;

const PREAMBLE_SIZE = 8;
const INDEX_ENTRY_SIZE = 16;
/** rpm itself refuses headers beyond these sizes (hdrchkTags and hdrchkData in header.c). */
const MAX_INDEX_ENTRIES = 0xffff;
const MAX_DATA_LENGTH = 0x0fffffff;

export class RpmHeaderError extends Error {}

export interface RpmHeader {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch?: string;
  sourceRpm?: string;
  license?: string;
  vendor?: string;
  modularityLabel?: string;
  /** Owned paths as rpm lists them (directories it owns included), without the leading slash. */
  files?: string[];
}

interface IndexEntry {
  type: number;
  offset: number;
  count: number;
}

class HeaderReader {
  private readonly entries = new Map<number, IndexEntry>();
  private readonly dataStart: number;
  private readonly dataEnd: number;

  constructor(private readonly blob: Buffer) {
    if (blob.length < PREAMBLE_SIZE) {
      throw new RpmHeaderError(`header of ${blob.length} bytes is shorter than its 8-byte preamble`);
    }
    const indexCount = blob.readUInt32BE(0);
    const dataLength = blob.readUInt32BE(4);
    if (indexCount === 0 || indexCount > MAX_INDEX_ENTRIES) {
      throw new RpmHeaderError(`header claims ${indexCount} index entries`);
    }
    if (dataLength > MAX_DATA_LENGTH) {
      throw new RpmHeaderError(`header claims ${dataLength} bytes of data`);
    }
    this.dataStart = PREAMBLE_SIZE + indexCount * INDEX_ENTRY_SIZE;
    this.dataEnd = this.dataStart + dataLength;
    if (this.dataEnd > blob.length) {
      throw new RpmHeaderError(
        `header needs ${this.dataEnd} bytes for ${indexCount} index entries and ${dataLength} bytes of data; the record has ${blob.length}`,
      );
    }
    for (let i = 0; i < indexCount; i++) {
      const at = PREAMBLE_SIZE + i * INDEX_ENTRY_SIZE;
      const tag = blob.readInt32BE(at);
      // The first entry wins: rpm appends entries it adds at install time after the package's own.
      if (this.entries.has(tag)) continue;
      this.entries.set(tag, {
        type: blob.readUInt32BE(at + 4),
        offset: blob.readInt32BE(at + 8),
        count: blob.readUInt32BE(at + 12),
      });
    }
  }

  /** The entry's data start, checked to lie inside the data store. */
  private start(tag: number, entry: IndexEntry): number {
    if (entry.offset < 0 || this.dataStart + entry.offset >= this.dataEnd) {
      throw new RpmHeaderError(`tag ${tag}: data offset ${entry.offset} is outside the data store`);
    }
    return this.dataStart + entry.offset;
  }

  /** `count` NUL-terminated strings from `at`, each ending inside the data store. */
  private strings(tag: number, at: number, count: number): string[] {
    const values: string[] = [];
    let position = at;
    for (let i = 0; i < count; i++) {
      const end = this.blob.indexOf(0, position);
      if (end < 0 || end >= this.dataEnd) {
        throw new RpmHeaderError(`tag ${tag}: string ${i + 1} of ${count} runs past the data store`);
      }
      values.push(this.blob.toString("utf8", position, end));
      position = end + 1;
    }
    return values;
  }

  /** A STRING, or the first string of a STRING_ARRAY or I18NSTRING (the untranslated one). */
  string(tag: number): string | undefined {
    const entry = this.entries.get(tag);
    if (!entry) return undefined;
    if (entry.type !== TYPE_STRING && entry.type !== TYPE_STRING_ARRAY && entry.type !== TYPE_I18NSTRING) {
      throw new RpmHeaderError(`tag ${tag}: type ${entry.type} where a string was expected`);
    }
    if (entry.count === 0) return undefined;
    return this.strings(tag, this.start(tag, entry), 1)[0];
  }

  stringArray(tag: number): string[] | undefined {
    const entry = this.entries.get(tag);
    if (!entry) return undefined;
    if (entry.type !== TYPE_STRING_ARRAY) {
      throw new RpmHeaderError(`tag ${tag}: type ${entry.type} where a string array was expected`);
    }
    if (entry.count === 0) return [];
    const at = this.start(tag, entry);
    // Each string takes at least its NUL byte, so a larger count cannot be true.
    if (entry.count > this.dataEnd - at) {
      throw new RpmHeaderError(`tag ${tag}: ${entry.count} strings cannot fit in the data store`);
    }
    return this.strings(tag, at, entry.count);
  }

  int32Array(tag: number): number[] | undefined {
    const entry = this.entries.get(tag);
    if (!entry) return undefined;
    if (entry.type !== TYPE_INT32) {
      throw new RpmHeaderError(`tag ${tag}: type ${entry.type} where a 32-bit integer was expected`);
    }
    if (entry.count === 0) return [];
    const at = this.start(tag, entry);
    if (entry.count > (this.dataEnd - at) / 4) {
      throw new RpmHeaderError(`tag ${tag}: ${entry.count} integers run past the data store`);
    }
    const values: number[] = [];
    for (let i = 0; i < entry.count; i++) values.push(this.blob.readInt32BE(at + i * 4));
    return values;
  }
}

/**
 * The package's files. Since rpm 4 a path is split into a basename and an index into the list
 * of directory names; older headers keep whole paths in OLDFILENAMES.
 */
function fileList(reader: HeaderReader): string[] | undefined {
  const basenames = reader.stringArray(RpmTag.BASENAMES);
  if (basenames === undefined) {
    return reader.stringArray(RpmTag.OLDFILENAMES)?.map((path) => path.replace(/^\/+/, ""));
  }
  const dirnames = reader.stringArray(RpmTag.DIRNAMES) ?? [];
  const dirindexes = reader.int32Array(RpmTag.DIRINDEXES) ?? [];
  if (dirindexes.length !== basenames.length) {
    throw new RpmHeaderError(`${basenames.length} file names but ${dirindexes.length} directory indexes`);
  }
  return basenames.map((basename, i) => {
    const directory = dirnames[dirindexes[i] as number];
    if (directory === undefined) {
      throw new RpmHeaderError(`file ${basename}: directory index ${dirindexes[i]} of ${dirnames.length}`);
    }
    return `${directory}${basename}`.replace(/^\/+/, "");
  });
}

/**
 * Reads the fields layerwatch reports from one header. A header that cannot be read as a whole
 * throws; a package whose file list alone is inconsistent is still returned, without files, and
 * the problem is passed to `warn`.
 */
export function parseRpmHeader(blob: Buffer, warn: (problem: string) => void = () => undefined): RpmHeader {
  const reader = new HeaderReader(blob);
  const name = reader.string(RpmTag.NAME);
  const version = reader.string(RpmTag.VERSION);
  const release = reader.string(RpmTag.RELEASE);
  if (!name || !version || !release) {
    throw new RpmHeaderError(
      `header without ${[!name && "NAME", !version && "VERSION", !release && "RELEASE"].filter(Boolean).join(", ")}`,
    );
  }
  const epoch = reader.int32Array(RpmTag.EPOCH)?.[0];
  const optional = (tag: number) => {
    const value = reader.string(tag);
    return value ? value : undefined;
  };
  let files: string[] | undefined;
  try {
    files = fileList(reader);
  } catch (error) {
    if (!(error instanceof RpmHeaderError)) throw error;
    warn(`${name}: file list unreadable (${error.message}); package kept without files`);
  }
  const arch = optional(RpmTag.ARCH);
  const sourceRpm = optional(RpmTag.SOURCERPM);
  const license = optional(RpmTag.LICENSE);
  const vendor = optional(RpmTag.VENDOR);
  const modularityLabel = optional(RpmTag.MODULARITYLABEL);
  return {
    name,
    version,
    release,
    ...(epoch !== undefined ? { epoch } : {}),
    ...(arch ? { arch } : {}),
    ...(sourceRpm ? { sourceRpm } : {}),
    ...(license ? { license } : {}),
    ...(vendor ? { vendor } : {}),
    ...(modularityLabel ? { modularityLabel } : {}),
    ...(files ? { files } : {}),
  };
}
