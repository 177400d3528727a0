/**
 * The rescan state in PostgreSQL, for rescans shared by several machines (`rescan --enqueue` and
 * `rescan --worker`). Tables live in their own schema ("layerwatch" by default), created when
 * missing and brought forward by numbered migrations. Every write is one transaction, and images
 * are keyed on their digest, so a job retried after its worker died writes the same rows again
 * instead of new ones.
 */
import pg from "pg";
import { describeError, InputError } from "../../errors.js";
import type { FindingState, ImageState, RescanStateStore, TagState } from "../types.js";

export interface PostgresStateOptions {
  /** The schema the tables go in; default "layerwatch". */
  schema?: string;
  /** Connections the pool may open; default 4 (a worker pulls one image at a time). */
  maxConnections?: number;
}

export const DEFAULT_POSTGRES_SCHEMA = "layerwatch";

/**
 * Each migration brings the schema from version N-1 to N; `schema_version` records the last one
 * applied. Applied in order, in one transaction, under an advisory lock, so that workers started
 * together do not race to create the tables. Times are ISO 8601 text, kept exactly as written (as
 * the SQLite store keeps them); inventories are the JSON text the pipeline wrote, also unchanged.
 */
const migrations: Array<(schema: string) => string> = [
  // 1: images, their findings (one row each, for queries such as "which images have CVE-X"), tags.
  (schema) => `
    CREATE TABLE ${schema}.images (
      digest text PRIMARY KEY,
      repository text NOT NULL,
      platform text,
      inventory text NOT NULL,
      inventory_version text NOT NULL,
      scanned_at text NOT NULL,
      matched_at text NOT NULL
    );
    CREATE TABLE ${schema}.findings (
      digest text NOT NULL REFERENCES ${schema}.images (digest) ON DELETE CASCADE,
      position integer NOT NULL,
      advisory_id text NOT NULL,
      aliases jsonb NOT NULL,
      purl text NOT NULL,
      package_name text NOT NULL,
      installed_version text NOT NULL,
      fixed_version text,
      severity text NOT NULL,
      summary text,
      PRIMARY KEY (digest, position)
    );
    CREATE INDEX findings_by_advisory ON ${schema}.findings (advisory_id);
    CREATE TABLE ${schema}.tags (
      repository text NOT NULL,
      tag text NOT NULL,
      digest text NOT NULL,
      images jsonb NOT NULL,
      resolved_at text NOT NULL,
      PRIMARY KEY (repository, tag)
    );
  `,
];

export const POSTGRES_STATE_VERSION = migrations.length;

/** The URL with its password replaced, for messages: credentials are never printed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(an unparseable PostgreSQL URL)";
  }
}

/** The same 64-bit lock key for every process using this schema: hashtext is stable across servers. */
const lockSql = (schema: string) => `SELECT pg_advisory_xact_lock(hashtext('layerwatch-migrate:${schema}'))`;

async function migrate(client: pg.PoolClient, schema: string, where: string): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query(lockSql(schema));
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_version (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const current = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${schema}.schema_version`,
    );
    const version = current.rows[0]?.version ?? 0;
    if (version > POSTGRES_STATE_VERSION) {
      throw new InputError(
        `${where}: schema ${schema} is at version ${version}, newer than this layerwatch knows (${POSTGRES_STATE_VERSION}); upgrade layerwatch`,
      );
    }
    for (let next = version + 1; next <= POSTGRES_STATE_VERSION; next++) {
      await client.query((migrations[next - 1] as (schema: string) => string)(schema));
      await client.query(`INSERT INTO ${schema}.schema_version (version) VALUES ($1)`, [next]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

interface ImageRow {
  digest: string;
  repository: string;
  platform: string | null;
  inventory: string;
  inventory_version: string;
  scanned_at: string;
  matched_at: string;
}

interface FindingRow {
  advisory_id: string;
  aliases: string[];
  purl: string;
  package_name: string;
  installed_version: string;
  fixed_version: string | null;
  severity: FindingState["severity"];
  summary: string | null;
}

interface TagRow {
  repository: string;
  tag: string;
  digest: string;
  images: TagState["images"];
  resolved_at: string;
}

function findingFromRow(row: FindingRow): FindingState {
  return {
    id: row.advisory_id,
    aliases: row.aliases,
    purl: row.purl,
    packageName: row.package_name,
    installedVersion: row.installed_version,
    ...(row.fixed_version !== null ? { fixedVersion: row.fixed_version } : {}),
    severity: row.severity,
    ...(row.summary !== null ? { summary: row.summary } : {}),
  };
}

function tagFromRow(row: TagRow): TagState {
  return {
    repository: row.repository,
    tag: row.tag,
    digest: row.digest,
    images: row.images,
    resolvedAt: row.resolved_at,
  };
}

class PostgresStateStore implements RescanStateStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {}

  /** Runs `work` in one transaction on one connection; any error rolls it all back. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async getTags(repository: string): Promise<TagState[]> {
    const { rows } = await this.pool.query<TagRow>(
      `SELECT * FROM ${this.schema}.tags WHERE repository = $1 ORDER BY tag`,
      [repository],
    );
    return rows.map(tagFromRow);
  }

  async putTag(tag: TagState): Promise<void> {
    await this.transaction((client) =>
      client.query(
        `INSERT INTO ${this.schema}.tags (repository, tag, digest, images, resolved_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, images = excluded.images, resolved_at = excluded.resolved_at`,
        [tag.repository, tag.tag, tag.digest, JSON.stringify(tag.images), tag.resolvedAt],
      ),
    );
  }

  async deleteTag(repository: string, tag: string): Promise<void> {
    await this.transaction((client) =>
      client.query(`DELETE FROM ${this.schema}.tags WHERE repository = $1 AND tag = $2`, [repository, tag]),
    );
  }

  async getImage(digest: string): Promise<ImageState | undefined> {
    // One snapshot for both reads, so a re-match committed in between cannot mix two versions.
    return this.transaction(async (client) => {
      await client.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      const image = await client.query<ImageRow>(`SELECT * FROM ${this.schema}.images WHERE digest = $1`, [
        digest,
      ]);
      const row = image.rows[0];
      if (!row) return undefined;
      const findings = await client.query<FindingRow>(
        `SELECT * FROM ${this.schema}.findings WHERE digest = $1 ORDER BY position`,
        [digest],
      );
      return {
        digest: row.digest,
        repository: row.repository,
        ...(row.platform !== null ? { platform: row.platform } : {}),
        inventory: row.inventory,
        inventoryVersion: row.inventory_version,
        scannedAt: row.scanned_at,
        findings: findings.rows.map(findingFromRow),
        matchedAt: row.matched_at,
      };
    });
  }

  async imageDigests(): Promise<string[]> {
    const { rows } = await this.pool.query<{ digest: string }>(
      `SELECT digest FROM ${this.schema}.images ORDER BY digest`,
    );
    return rows.map((row) => row.digest);
  }

  async putImage(image: ImageState): Promise<void> {
    await this.transaction(async (client) => {
      // The upsert locks the image's row, so two workers storing one digest take turns: the
      // second replaces the first's findings rather than adding to them.
      await client.query(
        `INSERT INTO ${this.schema}.images (digest, repository, platform, inventory, inventory_version, scanned_at, matched_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (digest) DO UPDATE SET repository = excluded.repository, platform = excluded.platform,
           inventory = excluded.inventory, inventory_version = excluded.inventory_version,
           scanned_at = excluded.scanned_at, matched_at = excluded.matched_at`,
        [
          image.digest,
          image.repository,
          image.platform ?? null,
          image.inventory,
          image.inventoryVersion,
          image.scannedAt,
          image.matchedAt,
        ],
      );
      await this.replaceFindings(client, image.digest, image.findings);
    });
  }

  async updateFindings(digest: string, findings: FindingState[], matchedAt: string): Promise<void> {
    await this.transaction(async (client) => {
      const updated = await client.query(
        `UPDATE ${this.schema}.images SET matched_at = $2 WHERE digest = $1`,
        [digest, matchedAt],
      );
      if (updated.rowCount === 0) throw new Error(`rescan state: no image ${digest} to update findings of`);
      await this.replaceFindings(client, digest, findings);
    });
  }

  private async replaceFindings(client: pg.PoolClient, digest: string, findings: FindingState[]) {
    await client.query(`DELETE FROM ${this.schema}.findings WHERE digest = $1`, [digest]);
    if (findings.length === 0) return;
    // One INSERT of parallel arrays: an image may have thousands of findings.
    await client.query(
      `INSERT INTO ${this.schema}.findings
         (digest, position, advisory_id, aliases, purl, package_name, installed_version, fixed_version, severity, summary)
       SELECT $1, f.position, f.advisory_id, f.aliases::jsonb, f.purl, f.package_name, f.installed_version,
              f.fixed_version, f.severity, f.summary
       FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
         AS f(position, advisory_id, aliases, purl, package_name, installed_version, fixed_version, severity, summary)`,
      [
        digest,
        findings.map((_, index) => index),
        findings.map((f) => f.id),
        findings.map((f) => JSON.stringify(f.aliases)),
        findings.map((f) => f.purl),
        findings.map((f) => f.packageName),
        findings.map((f) => f.installedVersion),
        findings.map((f) => f.fixedVersion ?? null),
        findings.map((f) => f.severity),
        findings.map((f) => f.summary ?? null),
      ],
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Opens the rescan state in the PostgreSQL database at `url`
 * (postgres://user:password@host:5432/database), creating or migrating its schema first.
 */
export async function openPostgresStateStore(
  url: string,
  options: PostgresStateOptions = {},
): Promise<RescanStateStore> {
  const schema = options.schema ?? DEFAULT_POSTGRES_SCHEMA;
  const where = `PostgreSQL ${redactUrl(url)}`;
  // The name goes into SQL text (identifiers cannot be parameters): only plain names are allowed.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new InputError(`${where}: schema name '${schema}' must be lower-case letters, digits and _`);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 4,
    application_name: "layerwatch",
  });
  // An idle connection the server drops (a restart) must not crash the process; the next query
  // opens a new one.
  pool.on("error", () => undefined);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new InputError(`${where}: cannot connect (${describeError(error)})`);
  }
  try {
    await migrate(client, schema, where);
  } catch (error) {
    client.release();
    await pool.end().catch(() => undefined);
    if (error instanceof InputError) throw error;
    throw new InputError(`${where}: cannot create the rescan tables (${describeError(error)})`);
  }
  client.release();
  return new PostgresStateStore(pool, schema);
}
