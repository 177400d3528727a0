import { open, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describeError, InputError } from "../errors.js";
import { compareOsvTimestamps, type OsvRecord, validateOsvRecord } from "./osv.js";
import type { AdvisoryStore } from "./store.js";
import { zipMembers } from "./zip.js";

export interface SkippedRecord {
  /** The file (and zip member) the record came from. */
  where: string;
  reason: string;
}

export interface ImportResult {
  imported: number;
  skipped: SkippedRecord[];
  byEcosystem: Record<string, number>;
  /** The latest `modified` among the imported records (what an incremental update starts after). */
  newestModified?: string;
}

export interface ImportOptions {
  onSkip?: (skipped: SkippedRecord) => void;
  /** Told how many records have been read so far (for a progress bar). */
  onProgress?: (records: number) => void;
}

const BATCH_SIZE = 2000;
/** An OSV record is a few KiB; a member far larger than this is not one. */
const MAX_RECORD_BYTES = 32 * 1024 * 1024;

class Importer {
  readonly result: ImportResult = { imported: 0, skipped: [], byEcosystem: {} };
  private batch: OsvRecord[] = [];

  constructor(
    private readonly store: AdvisoryStore,
    private readonly options: ImportOptions,
  ) {}

  /** Parses one record file; a bad one is counted and reported, and the import goes on. */
  add(where: string, bytes: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString("utf8"));
    } catch (error) {
      this.skip(where, `not valid JSON (${describeError(error)})`);
      return;
    }
    this.addParsed(where, value);
  }

  addParsed(where: string, value: unknown): void {
    let record: OsvRecord;
    try {
      record = validateOsvRecord(value);
    } catch (error) {
      this.skip(where, describeError(error));
      return;
    }
    this.batch.push(record);
    const newest = this.result.newestModified;
    if (newest === undefined || compareOsvTimestamps(record.modified, newest) > 0)
      this.result.newestModified = record.modified;
    this.options.onProgress?.(this.result.imported + this.batch.length);
    const ecosystems = new Set(
      (record.affected ?? []).map((a) => a.package?.ecosystem).filter((e) => e !== undefined),
    );
    for (const ecosystem of ecosystems)
      this.result.byEcosystem[ecosystem] = (this.result.byEcosystem[ecosystem] ?? 0) + 1;
    if (this.batch.length >= BATCH_SIZE) this.flush();
  }

  private skip(where: string, reason: string): void {
    const skipped = { where, reason };
    this.result.skipped.push(skipped);
    this.options.onSkip?.(skipped);
  }

  flush(): void {
    if (this.batch.length === 0) return;
    this.store.putRecords(this.batch);
    this.result.imported += this.batch.length;
    this.batch = [];
  }
}

async function fileKind(path: string): Promise<"zip" | "json" | "directory" | "other"> {
  const info = await stat(path);
  if (info.isDirectory()) return "directory";
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    if (head[0] === 0x50 && head[1] === 0x4b) return "zip";
  } finally {
    await handle.close();
  }
  return path.endsWith(".json") ? "json" : "other";
}

async function importZip(importer: Importer, path: string): Promise<void> {
  try {
    for await (const member of zipMembers(path)) {
      if (!member.name.endsWith(".json")) continue;
      const where = `${path}!${member.name}`;
      if (member.size > MAX_RECORD_BYTES) {
        importer.addParsed(where, `a ${member.size}-byte member is too large to be a record`);
        continue;
      }
      importer.add(where, await member.read());
    }
  } catch (error) {
    throw new InputError(`${path}: not a readable zip (${describeError(error)})`);
  }
}

async function importDirectory(importer: Importer, path: string): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await importDirectory(importer, child);
    else if (entry.name.endsWith(".zip")) await importZip(importer, child);
    else if (entry.name.endsWith(".json")) importer.add(child, await readFile(child));
  }
}

/**
 * Imports OSV records from OSV's export layout: a zip of `<ID>.json` records (`<Ecosystem>/all.zip`),
 * a directory holding such zips or record files, or one record file. Invalid records inside a zip
 * or directory are skipped and counted; an input that is not OSV data at all is an error.
 */
export async function importOsv(
  store: AdvisoryStore,
  path: string,
  onSkip: (skipped: SkippedRecord) => void = () => undefined,
  options: Omit<ImportOptions, "onSkip"> = {},
): Promise<ImportResult> {
  let kind: Awaited<ReturnType<typeof fileKind>>;
  try {
    kind = await fileKind(path);
  } catch (error) {
    throw new InputError(`${path}: ${describeError(error)}`);
  }
  const importer = new Importer(store, { ...options, onSkip });
  switch (kind) {
    case "zip":
      await importZip(importer, path);
      break;
    case "directory":
      await importDirectory(importer, path);
      break;
    case "json": {
      let value: unknown;
      const bytes = await readFile(path);
      try {
        value = JSON.parse(bytes.toString("utf8"));
      } catch (error) {
        throw new InputError(`${path}: not valid JSON (${describeError(error)})`);
      }
      // One file may hold one record or a list of them.
      const records = Array.isArray(value) ? value : [value];
      records.forEach((record, i) => {
        importer.addParsed(Array.isArray(value) ? `${path}[${i}]` : path, record);
      });
      if (!Array.isArray(value) && importer.result.skipped.length > 0) {
        throw new InputError(`${path}: not an OSV record (${importer.result.skipped[0]?.reason})`);
      }
      break;
    }
    default:
      throw new InputError(
        `${path}: not OSV data (expected a .zip of records, a .json record or a directory)`,
      );
  }
  importer.flush();
  store.setMeta("last_import", new Date().toISOString());
  return importer.result;
}

/**
 * Imports records fetched one by one (an incremental update), with the same checks as a file:
 * a body that is not a valid record is skipped and counted.
 */
export function importRecordBodies(
  store: AdvisoryStore,
  bodies: Array<{ where: string; bytes: Buffer }>,
  options: ImportOptions = {},
): ImportResult {
  const importer = new Importer(store, options);
  for (const body of bodies) importer.add(body.where, body.bytes);
  importer.flush();
  store.setMeta("last_import", new Date().toISOString());
  return importer.result;
}
