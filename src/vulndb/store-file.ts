import { copyFile, mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { describeError, InputError } from "../errors.js";
import { openSqlite } from "./sqlite.js";
import { AdvisoryStore, type StoreSummary } from "./store.js";

/**
 * The store as one file, for CI caches: `db export` writes a consistent copy, `db import` of such
 * a file puts it in place of the store.
 */

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");

/** Whether the file is an SQLite database (as opposed to OSV data). */
export async function isSqliteFile(path: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, "r");
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.equals(SQLITE_MAGIC);
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

function temporaryBeside(path: string, purpose: string): string {
  return join(dirname(path), `.${basename(path)}.${purpose}-${process.pid}-${Date.now()}`);
}

/** The schema version a layerwatch store records, or undefined for any other SQLite file. */
async function schemaVersion(path: string): Promise<string | undefined> {
  let db: Awaited<ReturnType<typeof openSqlite>> | undefined;
  try {
    db = await openSqlite(path, { readonly: true });
    const value = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()?.value;
    return value === undefined || value === null ? undefined : String(value);
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/** Writes a consistent copy of the store at `storePath` to `file` (replacing it), and sums it up. */
export async function exportStore(storePath: string, file: string): Promise<StoreSummary> {
  if (resolve(file) === resolve(storePath)) throw new InputError(`${file}: that is the store itself`);
  const store = await AdvisoryStore.open(storePath);
  const partial = temporaryBeside(file, "export");
  try {
    const summary = store.summary();
    try {
      store.exportTo(partial);
      await rename(partial, file);
    } catch (error) {
      throw new InputError(`${file}: cannot write the export (${describeError(error)})`);
    }
    return summary;
  } finally {
    store.close();
    await rm(partial, { force: true });
  }
}

/**
 * Puts an exported store file in place of the store at `storePath`: copied beside it, checked to
 * be a layerwatch store (and brought to the current schema), then renamed over it, so a bad file
 * leaves the old store as it was.
 */
export async function importStoreFile(file: string, storePath: string): Promise<StoreSummary> {
  if (resolve(file) === resolve(storePath)) throw new InputError(`${file}: that is the store itself`);
  const copy = temporaryBeside(storePath, "import");
  try {
    try {
      await mkdir(dirname(storePath), { recursive: true });
      await copyFile(file, copy);
    } catch (error) {
      throw new InputError(`${file}: ${describeError(error)}`);
    }
    // Opening for writing would turn any SQLite file into an empty store: look first.
    if ((await schemaVersion(copy)) === undefined)
      throw new InputError(`${file}: an SQLite file, but not a layerwatch store (no schema version)`);
    let summary: StoreSummary;
    try {
      const store = await AdvisoryStore.open(copy, { create: true });
      try {
        summary = store.summary();
      } finally {
        store.close();
      }
    } catch (error) {
      throw new InputError(`${file}: ${describeError(error).replace(`vulnerability store ${copy}: `, "")}`);
    }
    // A write-ahead log left beside the old store would be replayed into the new one.
    await rm(`${storePath}-wal`, { force: true });
    await rm(`${storePath}-shm`, { force: true });
    await rename(copy, storePath);
    return summary;
  } finally {
    await rm(copy, { force: true });
    await rm(`${copy}-wal`, { force: true });
    await rm(`${copy}-shm`, { force: true });
  }
}
