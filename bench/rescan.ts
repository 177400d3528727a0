/**
 * Registry rescans (issue #9), in a local CNCF registry:
 *  - 50 repositories × 4 tags = 200 tags, each tag its own image (the debian-app fixture image,
 *    each with its own config time, so 200 digests sharing three layers), pushed by the bench.
 *    A first rescan pulls them all; then the timed rescan where nothing changed (`layerwatch
 *    rescan` as a user runs it: catalog, tags lists, a HEAD per tag, 200 stored inventories
 *    matched again). Goal: at most 10 s, and no blob fetched (counted in the registry's access log).
 *  - re-matching 1,000 stored inventories against an updated store: the inventory of the
 *    debootstrapped Debian image (with its npm layer) stored under 1,000 digests, matched first
 *    against fixtures/osv, then timed against a store with more records (every shared OSV record
 *    when the vulndb bench has built that store, else the shared Debian and npm exports).
 *    Goal: at most 10 s.
 * The updated store also holds one new record for every tenth Debian source package of that
 * inventory, so every stored image gains findings (what a newly disclosed batch does).
 * Baseline, measured in the same run: one plain `layerwatch scan` of one of the images (layer
 * cache warm), which is what a rescan replaces per image. Medians of BENCH_RUNS (at least 5).
 */

import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoredInventory } from "../src/rescan/image-state.js";
import { buildDebianImage, pushWithSkopeo } from "../test/helpers/debian-image.js";
import { imageFromFixture } from "../test/helpers/image-builder.js";
import { parseAccessLine, startRegistry } from "../test/helpers/registry-server.js";
import { sharedDataRoot } from "../test/helpers/shared-data.js";
import { pushImage, withCreated } from "../test/rescan/registry-push.js";
import { median, repeat, seconds, timeCommand } from "./stats.js";

type StoredPackage = StoredInventory["packages"][number];

const root = join(import.meta.dirname, "..");
const bin = join(root, "bin/layerwatch.js");
const RUNS = Math.max(5, Number(process.env.BENCH_RUNS ?? 5));
const REPOSITORIES = 50;
const TAGS = ["1.0.0", "1.1.0", "2.0.0", "latest"];
const STORED_IMAGES = 1000;
const GOAL_MS = 10_000;

/** The built code, as the CLI runs it (npm run bench builds first). */
async function loadLib() {
  const lib = (path: string) => join(root, "lib", path);
  return {
    ...((await import(lib("rescan/rescan.js"))) as typeof import("../src/rescan/rescan.js")),
    ...((await import(lib("rescan/image-state.js"))) as typeof import("../src/rescan/image-state.js")),
    ...((await import(lib("rescan/state/sqlite.js"))) as typeof import("../src/rescan/state/sqlite.js")),
    ...((await import(lib("vulndb/store.js"))) as typeof import("../src/vulndb/store.js")),
  };
}

/** The store with every shared record that bench/vulndb.ts builds, when it has. */
async function cachedFullStore(): Promise<string | undefined> {
  const dir = join(root, ".cache/bench");
  if (!existsSync(dir)) return undefined;
  const name = (await readdir(dir)).find((file) => /^vulndb-all-[0-9a-f]+\.sqlite$/.test(file));
  return name && existsSync(join(dir, `${name}.records`)) ? join(dir, name) : undefined;
}

async function cliOk(args: string[], what: string): Promise<number> {
  const run = await timeCommand(process.execPath, [bin, ...args]);
  if (run.code !== 0) throw new Error(`${what}: exit ${run.code}: ${run.stderr.trim()}`);
  return run.ms;
}

export async function benchRescan(): Promise<Record<string, number>> {
  const lib = await loadLib();
  const registry = await startRegistry();
  const work = await mkdtemp(join(tmpdir(), "layerwatch-bench-rescan-"));
  try {
    const db = join(work, "db.sqlite");
    await cliOk(["--db", db, "db", "import", join(root, "fixtures/osv")], "db import");
    const cacheDir = join(work, "cache");

    // 200 tags, each its own image: 200 manifests and configs over three shared layers.
    const app = await imageFromFixture(join(root, "fixtures/images/debian-app"));
    const pushStarted = Date.now();
    await Promise.all(
      Array.from({ length: REPOSITORIES }, async (_, r) => {
        const repository = `bench/app-${String(r).padStart(3, "0")}`;
        for (const [t, tag] of TAGS.entries()) {
          const created = new Date(Date.UTC(2026, 0, 1, 0, r, t)).toISOString();
          await pushImage(registry, repository, tag, withCreated(app, created));
        }
      }),
    );
    const pushMs = Date.now() - pushStarted;

    const config = join(work, "rescan.yaml");
    await writeFile(config, `registries:\n  - registry: ${registry.address}\n`);
    const state = join(work, "state.sqlite");
    const rescanArgs = [
      "--db",
      db,
      "rescan",
      "--config",
      config,
      "--state",
      state,
      "--format",
      "json",
      "--output",
      join(work, "changes.json"),
      "--cache-dir",
      cacheDir,
    ];
    const firstMs = await cliOk(rescanArgs, "first rescan");
    const first = JSON.parse(await readFile(join(work, "changes.json"), "utf8")) as {
      counts: { tags: number; pulled: number };
    };
    if (
      first.counts.tags !== REPOSITORIES * TAGS.length ||
      first.counts.pulled !== REPOSITORIES * TAGS.length
    )
      throw new Error(`first rescan: ${JSON.stringify(first.counts)}`);

    const logFrom = (await registry.accessLog()).length;
    const unchanged = await repeat(RUNS, () => timeCommand(process.execPath, [bin, ...rescanArgs]), "rescan");
    const after = (await registry.accessLog()).slice(logFrom).map(parseAccessLine);
    const blobGets = after.filter((entry) => entry?.method === "GET" && /\/blobs\//.test(entry.path)).length;
    const manifestGets = after.filter(
      (entry) => entry?.method === "GET" && /\/manifests\//.test(entry.path),
    ).length;
    const heads = after.filter((entry) => entry?.method === "HEAD").length;

    // Baseline: one plain scan of one of those images, layer cache warm.
    const scanArgs = [
      "--db",
      db,
      "scan",
      `${registry.address}/bench/app-000:latest`,
      "--format",
      "json",
      "--output",
      "/dev/null",
      "--cache-dir",
      cacheDir,
    ];
    await cliOk(scanArgs, "warm-up scan");
    const baseline = await repeat(RUNS, () => timeCommand(process.execPath, [bin, ...scanArgs]), "scan");

    // 1,000 stored inventories of the debootstrapped Debian image.
    const debian = await buildDebianImage();
    await pushWithSkopeo(debian.layoutDir, "bench/debian:1", registry.url);
    const pulled = await lib.pullImageState(`${registry.address}/bench/debian@${debian.manifestDigest}`, {
      repository: `${registry.address}/bench/debian`,
      cacheDir,
    });
    const packages = (JSON.parse(pulled.inventory) as { packages: unknown[] }).packages.length;
    const storedState = join(work, "stored.sqlite");
    const oldStore = await lib.AdvisoryStore.open(db);
    const store = await lib.openSqliteStateStore(storedState);
    const digests: string[] = [];
    try {
      const findings = lib.matchImageState(pulled, oldStore);
      const matchedAt = new Date().toISOString();
      for (let i = 0; i < STORED_IMAGES; i++) {
        const digest = `sha256:${i.toString(16).padStart(64, "0")}`;
        digests.push(digest);
        await store.putImage({ ...pulled, digest, findings, matchedAt });
      }
    } finally {
      oldStore.close();
      await store.close();
    }
    // The updated store: more records than the images were matched against.
    const updated = join(work, "updated.sqlite");
    const full = await cachedFullStore();
    let storeNote: string;
    if (full) {
      await copyFile(full, updated);
      storeNote = `every shared OSV record (${full}) and fixtures/osv`;
    } else {
      const zips = ["Debian", "npm"]
        .map((ecosystem) => join(sharedDataRoot, "osv", ecosystem, "all.zip"))
        .filter((zip) => existsSync(zip));
      await cliOk(["--db", updated, "db", "import", ...zips], "db import (updated)");
      storeNote = `fixtures/osv and the shared ${zips.length > 0 ? "Debian and npm exports" : "(absent) exports"}`;
    }
    await cliOk(["--db", updated, "db", "import", join(root, "fixtures/osv")], "db import (fixtures)");
    // And vulnerabilities disclosed since: one record for every tenth Debian source package of
    // the inventory (every version affected), so each stored image gains findings.
    const disclosed = join(work, "disclosed");
    await mkdir(disclosed);
    const sources = new Map<string, string>();
    for (const pkg of (JSON.parse(pulled.inventory) as { packages: StoredPackage[] }).packages)
      if (pkg.type === "deb" && pkg.ecosystem) sources.set(pkg.sourceName ?? pkg.name, pkg.ecosystem);
    const chosen = [...sources].filter((_, i) => i % 10 === 0);
    for (const [i, [name, ecosystem]] of chosen.entries()) {
      const id = `LW-BENCH-${String(i).padStart(4, "0")}`;
      const record = {
        schema_version: "1.4.0",
        id,
        modified: "2026-11-27T00:00:00Z",
        published: "2026-11-27T00:00:00Z",
        summary: `bench: a vulnerability in ${name} disclosed after the images were scanned`,
        affected: [
          {
            package: { ecosystem, name },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }],
          },
        ],
      };
      await writeFile(join(disclosed, `${id}.json`), JSON.stringify(record));
    }
    await cliOk(["--db", updated, "db", "import", disclosed], "db import (disclosed)");
    storeNote += ` and ${chosen.length} records disclosed since`;
    let changed = 0;
    const rematch = await repeat(
      RUNS,
      async (run) => {
        // Each run from the state as the last rescan left it: 1,000 images matched against the old store.
        const runState = join(work, `stored-${run}.sqlite`);
        await copyFile(storedState, runState);
        const started = process.hrtime.bigint();
        const advisories = await lib.AdvisoryStore.open(updated);
        const stateStore = await lib.openSqliteStateStore(runState);
        try {
          const changes = await lib.rematchImages(stateStore, advisories, digests);
          changed = changes.filter((c) => c.newFindings.length > 0 || c.goneFindings.length > 0).length;
        } finally {
          await stateStore.close();
          advisories.close();
        }
        return { ms: Number(process.hrtime.bigint() - started) / 1e6, peakRssMiB: 0, code: 0, stderr: "" };
      },
      "re-match",
    );

    const figures = {
      pushMs,
      firstRescanMs: firstMs,
      unchangedMs: median(unchanged.map((r) => r.ms)),
      unchangedPeakRssMiB: median(unchanged.map((r) => r.peakRssMiB)),
      blobGets,
      manifestGets,
      heads,
      baselineScanMs: median(baseline.map((r) => r.ms)),
      rematchMs: median(rematch.map((r) => r.ms)),
    };
    const met = (ok: boolean) => (ok ? "MET" : "NOT MET");
    console.log(
      `\n== rescan (Node ${process.version}): ${REPOSITORIES} repositories × ${TAGS.length} tags in a local registry, 200 images (debian-app fixture, 3 shared layers); medians of ${RUNS} runs`,
    );
    console.log(`push of the 200 tags:                 ${seconds(pushMs)}`);
    console.log(`first rescan (200 images pulled):     ${seconds(firstMs)}`);
    console.log(
      `rescan, nothing changed:              ${seconds(figures.unchangedMs)}   (goal <= 10 s) ${met(figures.unchangedMs <= GOAL_MS)}   runs: ${unchanged.map((r) => seconds(r.ms)).join(", ")}`,
    );
    console.log(
      `  during those ${RUNS} runs: ${blobGets} blob GETs (goal 0) ${met(blobGets === 0)}, ${manifestGets} manifest GETs, ${heads} HEADs; peak RSS ${figures.unchangedPeakRssMiB.toFixed(0)} MiB`,
    );
    console.log(
      `baseline: one plain scan of one image (layer cache warm): ${seconds(figures.baselineScanMs)}; unchanged rescan of 200 tags / one scan: ${(figures.unchangedMs / figures.baselineScanMs).toFixed(2)}`,
    );
    console.log(
      `re-match of ${STORED_IMAGES} stored inventories (debootstrapped Debian, ${packages} packages each) against ${storeNote}: ${seconds(figures.rematchMs)}   (goal <= 10 s) ${met(figures.rematchMs <= GOAL_MS)}   runs: ${rematch.map((r) => seconds(r.ms)).join(", ")}; ${changed} images with new or gone findings`,
    );
    return figures;
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}
