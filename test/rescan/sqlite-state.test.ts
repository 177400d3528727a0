/**
 * The SQLite rescan state (the default store) against the contract every RescanStateStore keeps
 * (state-contract.ts), on real files in a temp directory.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { openSqliteStateStore } from "../../src/rescan/state/sqlite.js";
import { describeStateStoreContract } from "./state-contract.js";

let work: string;
let next = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-sqlite-state-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describeStateStoreContract("SQLite", async () => {
  const path = join(work, `state-${next++}.sqlite`);
  return { open: () => openSqliteStateStore(path) };
});
