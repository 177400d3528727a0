/**
 * The PostgreSQL rescan state store against a real PostgreSQL server started for the test: the
 * shared RescanStateStore contract, then what only this backend has (its schema and migrations,
 * concurrent first opens, errors that name the server without its password).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { openPostgresStateStore, POSTGRES_STATE_VERSION } from "../../src/rescan/state/postgres.js";
import { type PostgresServer, skipUnlessPostgres, startPostgres } from "../helpers/postgres.js";
import { describeStateStoreContract } from "./state-contract.js";

const skip = skipUnlessPostgres("the PostgreSQL state store tests");

describe.skipIf(skip)("PostgreSQL rescan state", () => {
  let server: PostgresServer;
  let url: string;
  let schemas = 0;
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase("rescan_state");
  });
  afterAll(async () => {
    await server?.stop();
  });

  // Each contract case gets its own schema in the one database: a fresh, empty store.
  describeStateStoreContract("PostgreSQL", async () => {
    const schema = `contract_${++schemas}`;
    return { open: () => openPostgresStateStore(url, { schema }) };
  });

  it("creates its tables in the layerwatch schema at the current version, once", async () => {
    const first = await openPostgresStateStore(url);
    await first.close();
    const second = await openPostgresStateStore(url);
    await second.close();
    const tables = await server.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'layerwatch' ORDER BY table_name",
      [],
      "rescan_state",
    );
    expect(tables.map((t) => t.table_name)).toEqual(["findings", "images", "schema_version", "tags"]);
    const versions = await server.query<{ version: number }>(
      "SELECT version FROM layerwatch.schema_version ORDER BY version",
      [],
      "rescan_state",
    );
    expect(versions.map((v) => v.version)).toEqual(
      Array.from({ length: POSTGRES_STATE_VERSION }, (_, i) => i + 1),
    );
  });

  it("lets ten processes' first opens race on an empty schema: one creates, none fails", async () => {
    const stores = await Promise.all(
      Array.from({ length: 10 }, () => openPostgresStateStore(url, { schema: "race" })),
    );
    await Promise.all(stores.map((store) => store.close()));
    const versions = await server.query("SELECT version FROM race.schema_version", [], "rescan_state");
    expect(versions).toHaveLength(POSTGRES_STATE_VERSION);
  });

  it("refuses a schema a newer layerwatch migrated, naming both versions", async () => {
    const store = await openPostgresStateStore(url, { schema: "newer" });
    await store.close();
    await server.query(
      `INSERT INTO newer.schema_version (version) VALUES (${POSTGRES_STATE_VERSION + 1})`,
      [],
      "rescan_state",
    );
    const opening = openPostgresStateStore(url, { schema: "newer" });
    await expect(opening).rejects.toThrow(InputError);
    await expect(opening).rejects.toThrow(
      `schema newer is at version ${POSTGRES_STATE_VERSION + 1}, newer than this layerwatch knows (${POSTGRES_STATE_VERSION}); upgrade layerwatch`,
    );
  });

  it("says which server it could not reach, with the password hidden", async () => {
    // Port 1: nothing listens there. The password must not appear in the message.
    const closed = `postgres://layerwatch:s3cret-pass@127.0.0.1:1/rescan_state`;
    const opening = openPostgresStateStore(closed);
    await expect(opening).rejects.toThrow(InputError);
    await expect(opening).rejects.toThrow(
      /^PostgreSQL postgres:\/\/layerwatch:\*\*\*@127\.0\.0\.1:1\/rescan_state: cannot connect \(/,
    );
    await expect(opening).rejects.not.toThrow(/s3cret/);
  });

  it("refuses a schema name that is not a plain identifier", async () => {
    await expect(openPostgresStateStore(url, { schema: "x; DROP TABLE y" })).rejects.toThrow(
      /schema name 'x; DROP TABLE y' must be lower-case letters, digits and _/,
    );
  });
});
