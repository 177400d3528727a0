/**
 * Starts a real PostgreSQL server for tests, from Debian's packages (postgresql-15 or whichever
 * major version /usr/lib/postgresql holds): initdb in a temp dir, the server listening on
 * 127.0.0.1 only, on a free port, with its unix socket in the temp dir.
 *
 *   const server = await startPostgres();
 *   const url = await server.createDatabase("contract");
 *   await server.stop();
 *
 * PostgreSQL refuses to run as root. When the tests run as root, initdb and the server run as
 * the `postgres` user Debian's package creates (else `nobody`) through setpriv, which execs in
 * place: the child's pid is the server's own, so stop() signals the server itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, closeSync, constants, openSync, readdirSync, rmSync } from "node:fs";
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { freePort } from "./registry-server.js";
import { findTool, run } from "./tools.js";

export interface PostgresTools {
  initdb: string;
  postgres: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** initdb and postgres from the newest /usr/lib/postgresql/N/bin, else from PATH. */
export function findPostgresTools(): PostgresTools | undefined {
  let versions: string[] = [];
  try {
    versions = readdirSync("/usr/lib/postgresql")
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    // not Debian's layout; PATH below
  }
  for (const version of versions) {
    const bin = `/usr/lib/postgresql/${version}/bin`;
    const initdb = join(bin, "initdb");
    const postgres = join(bin, "postgres");
    if (executable(initdb) && executable(postgres)) return { initdb, postgres };
  }
  const initdb = findTool("initdb");
  const postgres = findTool("postgres");
  return initdb && postgres ? { initdb, postgres } : undefined;
}

/** A user id to run the server as when this process is root: Debian's `postgres`, else `nobody`. */
async function unprivilegedUser(): Promise<{ name: string; uid: number; gid: number } | undefined> {
  const passwd = await readFile("/etc/passwd", "utf8").catch(() => "");
  for (const name of ["postgres", "nobody"]) {
    const line = passwd.split("\n").find((entry) => entry.startsWith(`${name}:`));
    const fields = line?.split(":");
    if (fields && fields.length >= 4) return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  return undefined;
}

/**
 * For `describe.skipIf(...)`: true, with one warning line saying why, when the PostgreSQL tests
 * cannot run here (no initdb/postgres; or root without setpriv to drop to another user).
 */
export function skipUnlessPostgres(what = "PostgreSQL tests"): boolean {
  let reason: string | undefined;
  if (findPostgresTools() === undefined)
    reason = "initdb and postgres not found (apt-get install postgresql)";
  else if (process.getuid?.() === 0 && findTool("setpriv") === undefined)
    reason = "running as root and setpriv (util-linux) is missing to run PostgreSQL as another user";
  if (reason) console.warn(`skipping ${what}: ${reason}`);
  return reason !== undefined;
}

export interface PostgresServer {
  host: "127.0.0.1";
  port: number;
  /** The superuser the URLs connect as (trust authentication, loopback only). */
  user: string;
  /** postgres://layerwatch@127.0.0.1:PORT/DB */
  url(database?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** One query on `database` (default "postgres"), for assertions. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
    database?: string,
  ): Promise<T[]>;
  /** The server's log, for diagnosing a failed test. */
  log(): Promise<string>;
  /** Stops the server (fast shutdown, then SIGKILL) and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Servers and temp dirs still alive, cleaned up if the test process exits without stop(). */
const live = new Set<{ child: ChildProcess; dir: string }>();
process.once("exit", () => {
  for (const entry of live) {
    entry.child.kill("SIGKILL");
    rmSync(entry.dir, { recursive: true, force: true });
  }
});

const SUPERUSER = "layerwatch";

export async function startPostgres(): Promise<PostgresServer> {
  const tools = findPostgresTools();
  if (!tools) throw new Error("initdb and postgres not found (apt-get install postgresql)");
  const dir = await mkdtemp(join(tmpdir(), "layerwatch-pg-"));
  const dataDir = join(dir, "data");
  const logFile = join(dir, "postgres.log");
  // As root: the temp dir goes to the unprivileged user and every program runs through setpriv.
  let wrap = (file: string, args: string[]): [string, string[]] => [file, args];
  if (process.getuid?.() === 0) {
    const user = await unprivilegedUser();
    const setpriv = findTool("setpriv");
    if (!user || !setpriv) throw new Error("running as root without a postgres/nobody user and setpriv");
    await chown(dir, user.uid, user.gid);
    wrap = (file, args) => [
      setpriv,
      [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--", file, ...args],
    ];
  }
  try {
    const [initFile, initArgs] = wrap(tools.initdb, [
      "-D",
      dataDir,
      "-U",
      SUPERUSER,
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    await run(initFile, initArgs, { env: { ...process.env, LC_ALL: "C" }, timeoutMs: 120_000 });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  // The port may be taken between freePort() and the server's bind: try a few.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const [file, args] = wrap(tools.postgres, [
      "-D",
      dataDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${dir}`,
      // A throwaway cluster: durability buys nothing and costs the shared cores time.
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "max_connections=200",
      "-c",
      "logging_collector=off",
    ]);
    const logFd = openSync(logFile, "a");
    const child = spawn(file, args, {
      stdio: ["ignore", logFd, logFd],
      env: { ...process.env, LC_ALL: "C" },
    });
    closeSync(logFd);
    const entry = { child, dir };
    live.add(entry);
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((resolve) =>
      child.once("exit", (code) => {
        exitCode = code;
        resolve();
      }),
    );
    const url = (database = "postgres") => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`;
    const deadline = Date.now() + 60_000;
    let ready = false;
    while (Date.now() < deadline && exitCode === undefined) {
      const client = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 2_000 });
      try {
        await client.connect();
        await client.query("SELECT 1");
        ready = true;
        break;
      } catch {
        await sleep(200);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    if (!ready) {
      child.kill("SIGKILL");
      await exited;
      live.delete(entry);
      const log = await readFile(logFile, "utf8").catch(() => "");
      if (attempt < 3 && /could not bind|Address already in use/.test(log)) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(
        `PostgreSQL did not start on 127.0.0.1:${port}:\n${log.split("\n").slice(-20).join("\n")}`,
      );
    }

    let stopped = false;
    const query = async <T extends pg.QueryResultRow>(
      text: string,
      values: unknown[] = [],
      database?: string,
    ) => {
      const client = new pg.Client({ connectionString: url(database) });
      await client.connect();
      try {
        return (await client.query<T>(text, values)).rows;
      } finally {
        await client.end();
      }
    };
    return {
      host: "127.0.0.1",
      port,
      user: SUPERUSER,
      url,
      async createDatabase(name) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
        await query(`CREATE DATABASE ${name}`);
        return url(name);
      },
      query,
      log: () => readFile(logFile, "utf8").catch(() => ""),
      async stop() {
        if (stopped) return;
        stopped = true;
        if (exitCode === undefined) {
          // SIGINT is PostgreSQL's fast shutdown: it ends open sessions instead of waiting for them.
          child.kill("SIGINT");
          const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
          await exited;
          clearTimeout(timer);
        }
        live.delete(entry);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
