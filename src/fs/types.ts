/** The filesystem stage: what each layer holds, and the image's files once the layers are applied. */

export type EntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

/** One tar entry of one layer, with its content when an extractor asked for the path. */
export interface LayerEntry {
  /** Path inside the image root, without a leading slash ("etc/os-release"). */
  path: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Symlink target as written, or hardlink target as a root-relative path. */
  linkTarget?: string;
  content?: Buffer;
  /**
   * Set when `content` is not the file's bytes but what the named condenser kept of them while
   * the file streamed (ReadLayerOptions.condense).
   */
  condensedBy?: string;
  /**
   * What the file scanners noted while the file streamed (ReadLayerOptions.scanners), by scanner
   * name; only scanners that noted something are there.
   */
  notes?: Record<string, ScanNote[]>;
}

export interface LayerWarning {
  path: string;
  problem: string;
}

/** What one layer does to the filesystem below it. */
export interface LayerContents {
  entries: LayerEntry[];
  /** Paths that `.wh.NAME` entries delete from the layers below. */
  whiteouts: string[];
  /** Directories that `.wh..wh..opq` entries empty of everything the layers below put there. */
  opaqueDirectories: string[];
  /** Entries refused (escaping the root, oversized wanted files) or otherwise odd; reported, never silent. */
  warnings: LayerWarning[];
  entryCount: number;
}

/** A file as it stands in the final image, with the layer that last wrote it. */
export interface ImageFile extends LayerEntry {
  layer: number;
}

/**
 * Reads one file as it streams and keeps only what some later stage needs of it, so that a file
 * of any size (an executable) costs a bounded amount of memory.
 */
export interface StreamCondenser {
  /** The file's next bytes, in order. Returns false once it needs no more of them. */
  write(chunk: Buffer): boolean;
  /** What to keep of the file, or undefined when nothing (the file was not what it looked for). */
  end(): Buffer | undefined;
}

/** A condenser for one file, with the name recorded on the entry it condensed. */
export interface Condensing {
  by: string;
  condenser: StreamCondenser;
}

/** One thing a file scanner noticed in a file, in its own words (already masked where sensitive). */
export interface ScanNote {
  kind: string;
  detail: string;
}

/** Reads one file as it streams, holding a bounded amount of it, and says what it noticed. */
export interface StreamScanner {
  /** The file's next bytes, in order. Returns false once it needs no more of them. */
  write(chunk: Buffer): boolean;
  end(): ScanNote[];
}

/**
 * Looks at files while a layer streams, beside whatever else reads them (a file wanted whole or
 * condensed is scanned too), so a later stage can check contents the layer does not keep. Its
 * notes are kept on the entry; the file's bytes are not.
 */
export interface FileScanner {
  /** Names the notes on the entry (LayerEntry.notes). */
  name: string;
  /** Changes when the notes for the same file would change: layer caches are keyed on it. */
  version: string;
  /**
   * Whether to read this regular file, told from its path, mode and size before any byte. The
   * size is undefined when a source asks whether to send the file's body at all (the rootfs
   * source's `contentWanted`): the answer is then whether it may read a file of some size.
   */
  offered(path: string, mode: number, size?: number): boolean;
  open(path: string, size: number): StreamScanner;
}

export interface ReadLayerOptions {
  /** Which paths' contents to keep: the inventory stage's extractors decide. */
  wants: (path: string) => boolean;
  /** Largest file content kept in memory. */
  maxFileBytes: number;
  /**
   * For a regular file not wanted whole: a condenser to stream it through, or undefined to skip
   * it. The entry keeps what the condenser returns, marked with `condensedBy`.
   */
  condense?: (path: string, mode: number, size: number) => Condensing | undefined;
  /** Scanners every regular file is offered to (after, and independently of, wants and condense). */
  scanners?: readonly FileScanner[];
}
