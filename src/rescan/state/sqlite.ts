/**
 * The rescan's state in one SQLite file (the default store): tags as last resolved, and every
 * pulled image with its inventory and last findings. Each write is one statement or one
 * transaction, so a process stopped at any point leaves every record whole; WAL lets a reader
 * (a report, a second process) look while a rescan writes.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { describeError, InputError } from "../../errors.js";
import { openSqlite, type SqlDatabase, type SqlRow, type SqlStatement } from "../../vulndb/sqlite.js";
import type { FindingState, ImageState, RescanStateStore, TagState } from "../types.js";

/** Bumped when the tables change; a store of another version is refused with a message. */
export const STATE_SCHEMA_VERSION = 1;

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
  digest TEXT PRIMARY KEY,
  repository TEXT NOT NULL,
  platform TEXT,
  inventory TEXT NOT NULL,
  inventory_version TEXT NOT NULL,
  scanned_at TEXT NOT NULL,
  findings TEXT NOT NULL,
  matched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  images TEXT NOT NULL,
  resolved_at TEXT NOT NULL,
  PRIMARY KEY (repository, tag)
) WITHOUT ROWID;
`;

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

class SqliteStateStore implements RescanStateStore {
  private readonly statements: Record<
    "tagsOf" | "putTag" | "deleteTag" | "image" | "digests" | "putImage" | "updateFindings",
    SqlStatement
  >;

  constructor(
    private readonly db: SqlDatabase,
    readonly path: string,
  ) {
    this.statements = {
      tagsOf: db.prepare("SELECT * FROM tags WHERE repository = ? ORDER BY tag"),
      putTag: db.prepare(
        "INSERT INTO tags (repository, tag, digest, images, resolved_at) VALUES (?, ?, ?, ?, ?) " +
          "ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, images = excluded.images, resolved_at = excluded.resolved_at",
      ),
      deleteTag: db.prepare("DELETE FROM tags WHERE repository = ? AND tag = ?"),
      image: db.prepare("SELECT * FROM images WHERE digest = ?"),
      digests: db.prepare("SELECT digest FROM images ORDER BY digest"),
      putImage: db.prepare(
        "INSERT OR REPLACE INTO images (digest, repository, platform, inventory, inventory_version, scanned_at, findings, matched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      updateFindings: db.prepare("UPDATE images SET findings = ?, matched_at = ? WHERE digest = ?"),
    };
  }

  private tagOf(row: SqlRow): TagState {
    return {
      repository: String(row.repository),
      tag: String(row.tag),
      digest: String(row.digest),
      images: JSON.parse(String(row.images)) as TagState["images"],
      resolvedAt: String(row.resolved_at),
    };
  }

  async getTags(repository: string): Promise<TagState[]> {
    return this.statements.tagsOf.all(repository).map((row) => this.tagOf(row));
  }

  async putTag(tag: TagState): Promise<void> {
    this.statements.putTag.run(
      tag.repository,
      tag.tag,
      tag.digest,
      JSON.stringify(tag.images),
      tag.resolvedAt,
    );
  }

  async deleteTag(repository: string, tag: string): Promise<void> {
    this.statements.deleteTag.run(repository, tag);
  }

  async getImage(digest: string): Promise<ImageState | undefined> {
    const row = this.statements.image.get(digest);
    if (!row) return undefined;
    const platform = text(row.platform);
    return {
      digest: String(row.digest),
      repository: String(row.repository),
      ...(platform !== undefined ? { platform } : {}),
      inventory: String(row.inventory),
      inventoryVersion: String(row.inventory_version),
      scannedAt: String(row.scanned_at),
      findings: JSON.parse(String(row.findings)) as FindingState[],
      matchedAt: String(row.matched_at),
    };
  }

  async imageDigests(): Promise<string[]> {
    return this.statements.digests.all().map((row) => String(row.digest));
  }

  async putImage(image: ImageState): Promise<void> {
    this.statements.putImage.run(
      image.digest,
      image.repository,
      image.platform ?? null,
      image.inventory,
      image.inventoryVersion,
      image.scannedAt,
      JSON.stringify(image.findings),
      image.matchedAt,
    );
  }

  async updateFindings(digest: string, findings: FindingState[], matchedAt: string): Promise<void> {
    this.statements.updateFindings.run(JSON.stringify(findings), matchedAt, digest);
  }

  /** Runs several writes as one: all of them are stored, or none (a tag and the image it now names). */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Opens (creating when needed) the rescan state file at `path`. */
export async function openSqliteStateStore(path: string): Promise<RescanStateStore> {
  let db: SqlDatabase;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = await openSqlite(path);
  } catch (error) {
    throw new InputError(`rescan state ${path}: cannot open (${describeError(error)})`);
  }
  try {
    db.exec("PRAGMA journal_mode = WAL");
    // A daemon and a one-off rescan may share the file: wait for the other's write, do not fail.
    db.exec("PRAGMA busy_timeout = 10000");
    db.transaction(() => {
      db.exec(schema);
      const version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()?.value;
      if (version === undefined)
        db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(
          String(STATE_SCHEMA_VERSION),
        );
      else if (Number(version) !== STATE_SCHEMA_VERSION)
        throw new InputError(
          `rescan state ${path}: schema version ${String(version)} is not ${STATE_SCHEMA_VERSION}; move it away and rescan`,
        );
    });
  } catch (error) {
    db.close();
    if (error instanceof InputError) throw error;
    throw new InputError(`rescan state ${path}: not a layerwatch rescan state (${describeError(error)})`);
  }
  return new SqliteStateStore(db, path);
}
