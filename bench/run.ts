/**
 * `npm run bench`: every benchmark, each printing medians of at least five runs and its ratios
 * against a baseline measured in the same run. Timing goals live here, never in tests.
 */
import { benchImageSources } from "./image-sources.js";
import { benchNodeModules } from "./node-modules.js";
import { benchRescan } from "./rescan.js";
import { benchTrivy } from "./trivy.js";
import { benchVulndb } from "./vulndb.js";

const groups: Record<string, () => Promise<unknown>> = {
  "image-sources": benchImageSources,
  "node-modules": benchNodeModules,
  rescan: benchRescan,
  trivy: benchTrivy,
  vulndb: benchVulndb,
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(groups)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await run();
}
