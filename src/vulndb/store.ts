import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { describeError, InputError } from "../errors.js";
import { ecosystemBase, normalizePackageName } from "./ecosystem.js";
import type { OsvRecord } from "./osv.js";
import { openSqlite, type SqlDatabase, type SqlStatement } from "./sqlite.js";

/** Bumped when the tables change; an older store is refused with a message to re-import. */
export const STORE_SCHEMA_VERSION = 1;

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS advisories (
  id TEXT PRIMARY KEY,
  modified TEXT NOT NULL,
  withdrawn TEXT,
  record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS affected (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  advisory_id TEXT NOT NULL,
  PRIMARY KEY (ecosystem, name, advisory_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS affected_by_advisory ON affected (advisory_id);
`;

export interface StoreSummary {
  advisories: number;
  byEcosystem: Record<string, number>;
  lastImport?: string;
}

/**
 * The advisory store: OSV records indexed by (ecosystem, normalised package name). The
 * ecosystem column holds the base name ("Debian"), so one query finds every release's records.
 */
export class AdvisoryStore {
  private readonly statements: {
    deleteAffected: SqlStatement;
    upsert: SqlStatement;
    insertAffected: SqlStatement;
    byPackage: SqlStatement;
  };

  private constructor(
    private readonly db: SqlDatabase,
    readonly path: string,
  ) {
    this.statements = {
      deleteAffected: db.prepare("DELETE FROM affected WHERE advisory_id = ?"),
      upsert: db.prepare(
        "INSERT INTO advisories (id, modified, withdrawn, record) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, withdrawn = excluded.withdrawn, record = excluded.record",
      ),
      insertAffected: db.prepare(
        "INSERT OR IGNORE INTO affected (ecosystem, name, advisory_id) VALUES (?, ?, ?)",
      ),
      byPackage: db.prepare(
        "SELECT a.record AS record FROM affected f JOIN advisories a ON a.id = f.advisory_id " +
          "WHERE f.ecosystem = ? AND f.name = ? AND a.withdrawn IS NULL",
      ),
    };
  }

  static async open(path: string, options: { create?: boolean } = {}): Promise<AdvisoryStore> {
    let db: SqlDatabase;
    try {
      if (options.create) mkdirSync(dirname(path), { recursive: true });
      db = await openSqlite(path, { readonly: !options.create });
    } catch (error) {
      throw new InputError(
        options.create
          ? `vulnerability store ${path}: cannot open (${describeError(error)})`
          : `vulnerability store ${path}: cannot open (${describeError(error)}); run 'layerwatch db import' first`,
      );
    }
    try {
      if (options.create) {
        db.exec("PRAGMA journal_mode = WAL");
        db.exec(schema);
        const version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()?.value;
        if (version === undefined) {
          db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(
            String(STORE_SCHEMA_VERSION),
          );
        }
      }
      const version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()?.value;
      if (Number(version) !== STORE_SCHEMA_VERSION) {
        throw new InputError(
          `vulnerability store ${path}: schema version ${String(version)} is not ${STORE_SCHEMA_VERSION}; delete it and import again`,
        );
      }
    } catch (error) {
      db.close();
      if (error instanceof InputError) throw error;
      throw new InputError(`vulnerability store ${path}: not a layerwatch store (${describeError(error)})`);
    }
    return new AdvisoryStore(db, path);
  }

  /** Adds or replaces records, all in one transaction. */
  putRecords(records: OsvRecord[]): void {
    this.db.transaction(() => {
      for (const record of records) {
        this.statements.deleteAffected.run(record.id);
        this.statements.upsert.run(
          record.id,
          record.modified,
          record.withdrawn ?? null,
          JSON.stringify(record),
        );
        for (const affected of record.affected ?? []) {
          const pkg = affected.package;
          if (!pkg) continue;
          this.statements.insertAffected.run(
            ecosystemBase(pkg.ecosystem),
            normalizePackageName(pkg.ecosystem, pkg.name),
            record.id,
          );
        }
      }
    });
  }

  /** Records (not withdrawn) with an affected entry for this package in any release of the ecosystem. */
  recordsFor(ecosystem: string, name: string): OsvRecord[] {
    const rows = this.statements.byPackage.all(
      ecosystemBase(ecosystem),
      normalizePackageName(ecosystem, name),
    );
    return rows.map((row) => JSON.parse(String(row.record)) as OsvRecord);
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
      .run(key, value);
  }

  getMeta(key: string): string | undefined {
    const value = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key)?.value;
    return value === undefined || value === null ? undefined : String(value);
  }

  summary(): StoreSummary {
    const advisories = Number(this.db.prepare("SELECT count(*) AS n FROM advisories").get()?.n ?? 0);
    const byEcosystem: Record<string, number> = {};
    for (const row of this.db
      .prepare(
        "SELECT ecosystem, count(DISTINCT advisory_id) AS n FROM affected GROUP BY ecosystem ORDER BY ecosystem",
      )
      .all()) {
      byEcosystem[String(row.ecosystem)] = Number(row.n);
    }
    const lastImport = this.getMeta("last_import");
    return { advisories, byEcosystem, ...(lastImport ? { lastImport } : {}) };
  }

  close(): void {
    this.db.close();
  }
}
