import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { describeError, InputError } from "../errors.js";
import { ecosystemBase, normalizePackageName } from "./ecosystem.js";
import type { OsvRecord } from "./osv.js";
import { openSqlite, type SqlDatabase, type SqlStatement } from "./sqlite.js";

/**
 * Bumped when the tables or the names they are indexed by change; an older store is refused with
 * a message to re-import, unless `migrations` can bring it forward. 2: npm names stored as
 * written, NuGet and Packagist names lower-cased. 3: the nvd table.
 */
export const STORE_SCHEMA_VERSION = 3;

/** NVD's data per CVE, written by `db update` (sources/nvd.ts); cwes is a JSON list. */
const nvdTable = `
CREATE TABLE IF NOT EXISTS nvd (
  cve_id TEXT PRIMARY KEY,
  last_modified TEXT NOT NULL,
  cvss_version TEXT,
  score REAL,
  vector TEXT,
  severity TEXT,
  cwes TEXT NOT NULL
) WITHOUT ROWID;
`;

/**
 * What brings a store of the version before forward to this version, run when a store is opened
 * for writing. Stores older than the first key are refused (their indexed names differ).
 */
const migrations: Record<number, string> = { 3: nvdTable };

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
${nvdTable}`;

/** NVD's data for one CVE: the CVSS metric layerwatch rates it by (sources/nvd.ts), and its CWEs. */
export interface NvdEntry {
  cveId: string;
  /** NVD's lastModified for the CVE. */
  lastModified: string;
  /** "3.1", "3.0", "4.0" or "2.0": which CVSS version the score is. */
  cvssVersion?: string;
  score?: number;
  vector?: string;
  /** NVD's rating of that metric, lower-cased ("critical"; v2 has no critical). */
  severity?: string;
  /** CWE ids ("CWE-79"); NVD's placeholders (NVD-CWE-noinfo, NVD-CWE-Other) are left out. */
  cwes: string[];
}

export interface StoreSummary {
  advisories: number;
  byEcosystem: Record<string, number>;
  /** CVEs with NVD data. */
  nvd: number;
  lastImport?: string;
  /** The last `db update` that checked a source (even one that found nothing new). */
  lastUpdate?: string;
}

/** How many parsed records a store keeps for recordsFor (a few times what one scan asks for). */
const PARSED_RECORDS_KEPT = 5_000;

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
    recordById: SqlStatement;
    nvdByCve: SqlStatement;
  };

  /**
   * Records already read, by id, with the `modified` they were read at: parsing a record's JSON
   * costs more than finding it, and the matcher's work on a record (its sorted events, its
   * versions list as a set) is remembered on the parsed objects, so a record handed out again
   * comes with that work done. A record changed since (by putRecords, or by another process:
   * its `modified` moves) is read again.
   */
  private readonly parsedRecords = new Map<string, { modified: string; record: OsvRecord }>();

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
        "SELECT a.id AS id, a.modified AS modified FROM affected f JOIN advisories a ON a.id = f.advisory_id " +
          "WHERE f.ecosystem = ? AND f.name = ? AND a.withdrawn IS NULL",
      ),
      recordById: db.prepare("SELECT record FROM advisories WHERE id = ?"),
      // Asked once per finding whose record carries no severity: prepared once, not per call.
      nvdByCve: db.prepare("SELECT * FROM nvd WHERE cve_id = ?"),
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
      const readVersion = () =>
        db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()?.value;
      const migratable = (version: number) =>
        version < STORE_SCHEMA_VERSION && migrations[version + 1] !== undefined;
      if (options.create) {
        db.exec("PRAGMA journal_mode = WAL");
        db.exec(schema);
        const version = readVersion();
        if (version === undefined) {
          db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(
            String(STORE_SCHEMA_VERSION),
          );
        } else if (migratable(Number(version))) {
          db.transaction(() => {
            for (let next = Number(version) + 1; next <= STORE_SCHEMA_VERSION; next++)
              db.exec(migrations[next] ?? "");
            db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(
              String(STORE_SCHEMA_VERSION),
            );
          });
        }
      }
      const version = readVersion();
      if (Number(version) !== STORE_SCHEMA_VERSION) {
        throw new InputError(
          migratable(Number(version))
            ? `vulnerability store ${path}: schema version ${String(version)} is older than ${STORE_SCHEMA_VERSION}; run 'layerwatch db update' or 'layerwatch db import' once to upgrade it`
            : `vulnerability store ${path}: schema version ${String(version)} is not ${STORE_SCHEMA_VERSION}; delete it and import again`,
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
        this.parsedRecords.delete(record.id);
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

  /**
   * Records (not withdrawn) with an affected entry for this package in any release of the
   * ecosystem. The records are shared with earlier and later callers: read them, never change them.
   */
  recordsFor(ecosystem: string, name: string): OsvRecord[] {
    const rows = this.statements.byPackage.all(
      ecosystemBase(ecosystem),
      normalizePackageName(ecosystem, name),
    );
    return rows.map((row) => this.parsedRecord(String(row.id), String(row.modified)));
  }

  private parsedRecord(id: string, modified: string): OsvRecord {
    const kept = this.parsedRecords.get(id);
    if (kept?.modified === modified) return kept.record;
    const record = JSON.parse(String(this.statements.recordById.get(id)?.record)) as OsvRecord;
    if (this.parsedRecords.size >= PARSED_RECORDS_KEPT && !kept) {
      // The oldest read goes first (a Map iterates in insertion order).
      const oldest = this.parsedRecords.keys().next().value;
      if (oldest !== undefined) this.parsedRecords.delete(oldest);
    }
    this.parsedRecords.set(id, { modified, record });
    return record;
  }

  /** The stored record's `modified`, or undefined when the store does not hold the record. */
  modifiedOf(id: string): string | undefined {
    const value = this.db.prepare("SELECT modified FROM advisories WHERE id = ?").get(id)?.modified;
    return typeof value === "string" ? value : undefined;
  }

  /** Adds or replaces NVD entries, all in one transaction. */
  putNvdEntries(entries: NvdEntry[]): void {
    const upsert = this.db.prepare(
      "INSERT OR REPLACE INTO nvd (cve_id, last_modified, cvss_version, score, vector, severity, cwes) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.db.transaction(() => {
      for (const entry of entries) {
        upsert.run(
          entry.cveId,
          entry.lastModified,
          entry.cvssVersion ?? null,
          entry.score ?? null,
          entry.vector ?? null,
          entry.severity ?? null,
          JSON.stringify(entry.cwes),
        );
      }
    });
  }

  nvdEntry(cveId: string): NvdEntry | undefined {
    const row = this.statements.nvdByCve.get(cveId);
    if (!row) return undefined;
    const text = (value: unknown) => (typeof value === "string" ? value : undefined);
    const cvssVersion = text(row.cvss_version);
    const vector = text(row.vector);
    const severity = text(row.severity);
    return {
      cveId,
      lastModified: String(row.last_modified),
      ...(cvssVersion ? { cvssVersion } : {}),
      ...(row.score !== null && row.score !== undefined ? { score: Number(row.score) } : {}),
      ...(vector ? { vector } : {}),
      ...(severity ? { severity } : {}),
      cwes: JSON.parse(String(row.cwes)) as string[],
    };
  }

  /**
   * A consistent copy of the whole store in one file (SQLite's VACUUM INTO: a snapshot, compacted,
   * without the write-ahead log). The file must not exist yet.
   */
  exportTo(path: string): void {
    this.db.prepare("VACUUM INTO ?").run(path);
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
    const nvd = Number(this.db.prepare("SELECT count(*) AS n FROM nvd").get()?.n ?? 0);
    const lastImport = this.getMeta("last_import");
    const lastUpdate = this.getMeta("last_update");
    return {
      advisories,
      byEcosystem,
      nvd,
      ...(lastImport ? { lastImport } : {}),
      ...(lastUpdate ? { lastUpdate } : {}),
    };
  }

  close(): void {
    this.db.close();
  }
}
