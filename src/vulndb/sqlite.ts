/**
 * A small adapter over the two SQLite bindings layerwatch can run on: node:sqlite where Node has
 * it (22.13+, and the Node 24 the GitHub Action runs on, where a native module built for another
 * Node would not load), and better-sqlite3 on Node 20.
 */

export type SqlValue = string | number | bigint | Buffer | null;
export type SqlRow = Record<string, SqlValue>;

export interface SqlStatement {
  run(...params: SqlValue[]): void;
  get(...params: SqlValue[]): SqlRow | undefined;
  all(...params: SqlValue[]): SqlRow[];
}

export interface SqlDatabase {
  readonly driver: "node:sqlite" | "better-sqlite3";
  exec(sql: string): void;
  prepare(sql: string): SqlStatement;
  /** Runs `work` in one transaction: all of it is committed, or none. */
  transaction<T>(work: () => T): T;
  close(): void;
}

interface RawStatement {
  run(...params: SqlValue[]): unknown;
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}
interface RawDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): RawStatement;
  close(): unknown;
}

function wrap(raw: RawDatabase, driver: SqlDatabase["driver"]): SqlDatabase {
  let depth = 0;
  return {
    driver,
    exec: (sql) => void raw.exec(sql),
    prepare(sql) {
      const statement = raw.prepare(sql);
      return {
        run: (...params) => void statement.run(...params),
        get: (...params) => statement.get(...params) as SqlRow | undefined,
        all: (...params) => statement.all(...params) as SqlRow[],
      };
    },
    transaction<T>(work: () => T): T {
      // Nested calls join the outer transaction.
      if (depth > 0) return work();
      raw.exec("BEGIN");
      depth++;
      try {
        const result = work();
        raw.exec("COMMIT");
        return result;
      } catch (error) {
        raw.exec("ROLLBACK");
        throw error;
      } finally {
        depth--;
      }
    },
    close: () => void raw.close(),
  };
}

export async function openSqlite(path: string, options: { readonly?: boolean } = {}): Promise<SqlDatabase> {
  const readonly = options.readonly ?? false;
  try {
    // A variable keeps TypeScript (typed for Node 20) from resolving the module at compile time.
    const builtin = "node:sqlite";
    const sqlite = (await import(builtin)) as {
      DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => RawDatabase;
    };
    return wrap(new sqlite.DatabaseSync(path, { readOnly: readonly }), "node:sqlite");
  } catch (error) {
    // Node 20 has no node:sqlite, and 22.5–22.12 hide it behind a flag: use better-sqlite3 there.
    if ((error as NodeJS.ErrnoException).code !== "ERR_UNKNOWN_BUILTIN_MODULE") throw error;
  }
  const { default: BetterSqlite } = (await import("better-sqlite3")) as {
    default: new (path: string, options?: { readonly?: boolean; fileMustExist?: boolean }) => RawDatabase;
  };
  return wrap(new BetterSqlite(path, { readonly, fileMustExist: readonly }), "better-sqlite3");
}
