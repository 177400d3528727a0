/**
 * One `rescan --worker` as its own OS process, for the distributed rescan test: runs runWorker
 * until the queue is empty and prints every WorkerEvent as one JSON line on stdout, so the test
 * can see which job it took and kill it (kill -9) while it holds one.
 *
 *   node --import tsx test/helpers/rescan-worker-process.ts
 *
 * Settings come from the environment (test only):
 *   LAYERWATCH_TEST_CONFIG   the rescan config file (registries, state.postgres.url)
 *   LAYERWATCH_TEST_DB       the advisory store
 *   LAYERWATCH_TEST_PAUSE_MS wait this long after each pull, before storing (runWorker's testPauseAfterPullMs)
 */

import { loadRescanConfig } from "../../src/rescan/config.js";
import { runWorker } from "../../src/rescan/distributed.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";

const configPath = process.env.LAYERWATCH_TEST_CONFIG;
const dbPath = process.env.LAYERWATCH_TEST_DB;
if (!configPath || !dbPath) {
  process.stderr.write("LAYERWATCH_TEST_CONFIG and LAYERWATCH_TEST_DB are required\n");
  process.exit(2);
}
const config = await loadRescanConfig(configPath);
if (config.state.kind !== "postgres") {
  process.stderr.write(`${configPath}: state is not postgres\n`);
  process.exit(2);
}
const advisories = await AdvisoryStore.open(dbPath);
const pause = Number(process.env.LAYERWATCH_TEST_PAUSE_MS ?? 0);
const summary = await runWorker({
  url: config.state.url,
  config,
  advisories,
  untilEmpty: true,
  pollingIntervalSeconds: 0.5,
  maintenanceIntervalSeconds: 1,
  ...(pause > 0 ? { testPauseAfterPullMs: pause } : {}),
  onEvent: (event) => process.stdout.write(`${JSON.stringify({ ...event, at: Date.now() })}\n`),
});
advisories.close();
process.stdout.write(`${JSON.stringify({ type: "exit", ...summary })}\n`);
