/**
 * Inventory speed on a real node_modules tree: a real npm install (--ignore-scripts) of enough
 * real packages for at least 20,000 files, laid out as one /app layer of an OCI layout, once as a
 * plain tar and once gzip-compressed. Built once and kept in .cache/bench.
 *
 * Measured, medians of BENCH_RUNS (default 5) runs each, every baseline in the same run:
 *  - baselines: `tar -tf` over the layer (a process, like the CLI) and tar-stream in this process
 *    reading every entry and doing nothing with it (like the in-process inventory); tar-stream as
 *    the layer reader drives it (1 MiB reads, entry events) and the blob's SHA-256 alone, the two
 *    costs no inventory of the layer can avoid while it reads with tar-stream and checks digests;
 *  - layerwatch's inventory in this process (lib/pipeline.js inventoryImage, no layer cache), with
 *    its CPU time and its main thread's alone (what a second core cannot take over);
 *  - the CLI, `layerwatch sbom --no-cache`.
 * Reported: tar entries scanned per second (entries / median time), the times, and the ratios
 * against the baselines. Goal (issue #5): at least 50,000 entries/s.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { extract, pack } from "tar-stream";
import { sha256 } from "../test/helpers/image-builder.js";
import { installNpmProject, npmCacheDir, walkNodeModules } from "../test/helpers/npm-install.js";
import { median, repeat, seconds, type Timed, timeCommand } from "./stats.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "bin/layerwatch.js");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const GOAL_ENTRIES_PER_SECOND = 50_000;
const MIN_FILES = 20_000;

/**
 * Real packages whose install holds over 20,000 files (22,108 with npm 11, 513 package.json
 * manifests): build tools and libraries that ship many small modules.
 */
export const DEPENDENCIES = {
  "@babel/core": "7.24.5",
  "@babel/preset-env": "7.24.5",
  "core-js": "3.37.0",
  "date-fns": "3.6.0",
  eslint: "8.57.0",
  jest: "29.7.0",
  lodash: "4.17.21",
  moment: "2.30.1",
  ramda: "0.30.0",
  rxjs: "7.8.1",
  typescript: "5.4.5",
  webpack: "5.91.0",
};

/** Bump when the layout written below changes. */
const LAYOUT_FORMAT = 1;

interface BenchLayout {
  dir: string;
  /** The plain-tar layer and its gzip blob, inside dir/blobs. */
  tarPath: string;
  gzipPath: string;
  entries: number;
  files: number;
  tarBytes: number;
  gzipBytes: number;
  /** name@version of every installed package, from the tree on disk. */
  packages: number;
}

/** Streams `dir` into a tar under `prefix/` (sorted, directories first), returning its entry count. */
async function writeTar(
  dir: string,
  prefix: string,
  out: string,
): Promise<{ entries: number; files: number }> {
  const archive = pack();
  const written = pipeline(archive, createWriteStream(out));
  let entries = 0;
  let files = 0;
  const add = (header: Parameters<typeof archive.entry>[0], content?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      entries++;
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (content) archive.entry(header, content, done);
      else archive.entry(header, done);
    });
  const walk = async (full: string, name: string): Promise<void> => {
    const info = await lstat(full);
    const base = { name, mode: info.mode & 0o7777, uid: 0, gid: 0, mtime: new Date(0) };
    if (info.isDirectory()) {
      await add({ ...base, name: `${name}/`, type: "directory" });
      for (const child of (await readdir(full)).sort()) await walk(join(full, child), `${name}/${child}`);
    } else if (info.isSymbolicLink()) {
      await add({ ...base, type: "symlink", linkname: await readlink(full) });
    } else if (info.isFile()) {
      files++;
      const content = await readFile(full);
      await add({ ...base, type: "file", size: content.length }, content);
    }
  };
  await walk(dir, prefix);
  archive.finalize();
  await written;
  return { entries, files };
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(
    createReadStream(path),
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback();
      },
    }),
  );
  return `sha256:${hash.digest("hex")}`;
}

/** Builds (or takes from .cache/bench) the OCI layout with the tree as a plain and a gzip layer. */
async function benchLayout(): Promise<BenchLayout> {
  const project = await installNpmProject({ dependencies: DEPENDENCIES }, npmCacheDir("bench/npm"));
  const dir = join(npmCacheDir("bench"), `node-modules-${project.key}-${LAYOUT_FORMAT}`);
  const summaryFile = `${dir}.json`;
  if (existsSync(summaryFile) && existsSync(dir))
    return JSON.parse(await readFile(summaryFile, "utf8")) as BenchLayout;

  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const blobs = join(tmp, "blobs/sha256");
  await mkdir(blobs, { recursive: true });
  const tarTmp = join(tmp, "layer.tar");
  // The project folder becomes /app: package.json, package-lock.json, node_modules.
  const { entries, files } = await writeTar(project.projectDir, "app", tarTmp);
  if (files < MIN_FILES)
    throw new Error(`the install holds ${files} files; add packages until >= ${MIN_FILES}`);
  const gzipTmp = join(tmp, "layer.tar.gz");
  await pipeline(createReadStream(tarTmp), createGzip({ level: 6 }), createWriteStream(gzipTmp));
  const diffId = await fileDigest(tarTmp);
  const gzipDigest = await fileDigest(gzipTmp);
  const tarBytes = (await stat(tarTmp)).size;
  const gzipBytes = (await stat(gzipTmp)).size;
  await rename(tarTmp, join(blobs, diffId.slice(7)));
  await rename(gzipTmp, join(blobs, gzipDigest.slice(7)));

  const writeBlob = async (value: object): Promise<{ digest: string; size: number }> => {
    const bytes = Buffer.from(JSON.stringify(value));
    await writeFile(join(blobs, sha256(bytes).slice(7)), bytes);
    return { digest: sha256(bytes), size: bytes.length };
  };
  const config = await writeBlob({
    architecture: "amd64",
    os: "linux",
    created: "2024-01-01T00:00:00Z",
    config: { Cmd: ["node", "/app/index.js"], WorkingDir: "/app" },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created: "2024-01-01T00:00:00Z", created_by: "COPY . /app (npm install --ignore-scripts)" }],
  });
  const manifestOf = (mediaType: string, digest: string, size: number) =>
    writeBlob({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType, digest, size }],
    });
  const plain = await manifestOf("application/vnd.oci.image.layer.v1.tar", diffId, tarBytes);
  const gzip = await manifestOf("application/vnd.oci.image.layer.v1.tar+gzip", gzipDigest, gzipBytes);
  const entry = (manifest: { digest: string; size: number }, ref: string) => ({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    ...manifest,
    annotations: { "org.opencontainers.image.ref.name": ref },
  });
  await writeFile(
    join(tmp, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [entry(plain, "tar"), entry(gzip, "gzip")],
    }),
  );
  await writeFile(join(tmp, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  const summary: BenchLayout = {
    dir,
    tarPath: join(dir, "blobs/sha256", diffId.slice(7)),
    gzipPath: join(dir, "blobs/sha256", gzipDigest.slice(7)),
    entries,
    files,
    tarBytes,
    gzipBytes,
    packages: (await walkNodeModules(project.projectDir)).length,
  };
  await writeFile(summaryFile, JSON.stringify(summary, null, 2));
  return summary;
}

interface InProcessTimed extends Timed {
  /** CPU time (user + system) of this process during the run: less swayed than wall time by
   * other work on a shared machine. It includes zlib's thread. */
  cpuMs: number;
  /** CPU time of the main thread alone (Linux; NaN elsewhere): the JavaScript the run executes,
   * without zlib's and the garbage collector's helper threads. */
  mainThreadMs: number;
}

/** The main thread's time on a CPU so far, in ms, from /proc (the main thread's id is the pid). */
function mainThreadCpuMs(): number {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ");
    return Number(fields[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

/** Times an in-process run (the exit code is always 0, a failure throws). */
async function timeInProcess(work: () => Promise<unknown>): Promise<InProcessTimed> {
  const cpu = process.cpuUsage();
  const mainThread = mainThreadCpuMs();
  const started = process.hrtime.bigint();
  await work();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const used = process.cpuUsage(cpu);
  return {
    ms,
    cpuMs: (used.user + used.system) / 1000,
    mainThreadMs: mainThreadCpuMs() - mainThread,
    peakRssMiB: 0,
    code: 0,
    stderr: "",
  };
}

/** tar-stream as src/fs/layer-reader.ts drives it: 1 MiB reads, entry events, empty bodies unread. */
async function countEntriesAsReader(path: string, gzip: boolean): Promise<number> {
  const archive = extract();
  let count = 0;
  archive.on("entry", (header, body, next) => {
    count++;
    if ((header.size ?? 0) > 0 && header.type !== "directory") body.resume();
    next();
  });
  const input = createReadStream(path, { highWaterMark: 1024 * 1024 });
  await (gzip ? pipeline(input, createGunzip({ chunkSize: 256 * 1024 }), archive) : pipeline(input, archive));
  return count;
}

/** The SHA-256 of the uncompressed layer alone (its diff id), read in 1 MiB chunks. */
async function hashLayer(path: string, gzip: boolean): Promise<void> {
  const hash = createHash("sha256");
  const input = createReadStream(path, { highWaterMark: 1024 * 1024 });
  const tar = gzip ? input.pipe(createGunzip({ chunkSize: 256 * 1024 })) : input;
  for await (const chunk of tar) hash.update(chunk as Buffer);
  hash.digest();
}

/** tar-stream over the layer, reading every entry and doing nothing with it. */
async function countEntries(path: string, gzip: boolean): Promise<number> {
  const archive = extract();
  let count = 0;
  const input = createReadStream(path);
  const reading = gzip ? pipeline(input, createGunzip(), archive) : pipeline(input, archive);
  for await (const entry of archive) {
    count++;
    entry.resume();
  }
  await reading;
  return count;
}

const rate = (entries: number, ms: number) => Math.round(entries / (ms / 1000));
const runs = (results: Timed[]) => results.map((r) => seconds(r.ms)).join(", ");

export async function benchNodeModules(): Promise<Record<string, number>> {
  const layout = await benchLayout();
  // The built code, as the CLI runs it (npm run bench builds first).
  const { inventoryImage } = (await import(
    join(root, "lib/pipeline.js")
  )) as typeof import("../src/pipeline.js");
  console.log(
    `\n== node_modules inventory (Node ${process.version}): ${layout.packages} packages, ${layout.files} files, ${layout.entries} tar entries; tar ${(layout.tarBytes / 1024 ** 2).toFixed(1)} MiB, gzip ${(layout.gzipBytes / 1024 ** 2).toFixed(1)} MiB; medians of ${RUNS} runs`,
  );
  const figures: Record<string, number> = { entries: layout.entries, files: layout.files };
  for (const variant of ["tar", "gzip"] as const) {
    const gzip = variant === "gzip";
    const blob = gzip ? layout.gzipPath : layout.tarPath;
    const source = `oci:${layout.dir}:${variant}`;

    const counted = await countEntries(blob, gzip);
    if (counted !== layout.entries)
      throw new Error(`${variant}: tar-stream read ${counted} of ${layout.entries} entries`);
    const inventory = await inventoryImage(source);
    const npm = inventory.inventory.packages.filter((p) => p.type === "npm" && p.foundBy === "npm-installed");
    if (npm.length !== layout.packages)
      throw new Error(
        `${variant}: inventory found ${npm.length} installed npm packages of ${layout.packages}`,
      );

    const tarCli = await repeat(
      RUNS,
      () => timeCommand("tar", gzip ? ["-tzf", blob] : ["-tf", blob]),
      `${variant}: tar -t`,
    );
    const tarStream = await repeat(
      RUNS,
      () => timeInProcess(() => countEntries(blob, gzip)),
      `${variant}: tar-stream`,
    );
    const asReader = await repeat(
      RUNS,
      () => timeInProcess(() => countEntriesAsReader(blob, gzip)),
      `${variant}: tar-stream as the reader drives it`,
    );
    const hashing = await repeat(
      RUNS,
      () => timeInProcess(() => hashLayer(blob, gzip)),
      `${variant}: sha256`,
    );
    const inProcess = await repeat(
      RUNS,
      () => timeInProcess(() => inventoryImage(source)),
      `${variant}: inventoryImage`,
    );
    const cli = await repeat(
      RUNS,
      () => timeCommand(process.execPath, [bin, "sbom", source, "--no-cache", "--output", "/dev/null"]),
      `${variant}: layerwatch sbom`,
    );
    const cpuOf = (results: Timed[]) => median(results.map((r) => (r as InProcessTimed).cpuMs));
    const mainThreadOf = (results: Timed[]) => median(results.map((r) => (r as InProcessTimed).mainThreadMs));
    const tarMs = median(tarCli.map((r) => r.ms));
    const streamMs = median(tarStream.map((r) => r.ms));
    const inProcessMs = median(inProcess.map((r) => r.ms));
    const cliMs = median(cli.map((r) => r.ms));
    const line = (label: string, ms: number, results: Timed[], extra = "") =>
      console.log(
        `${label.padEnd(44)} ${seconds(ms)}  ${String(rate(layout.entries, ms)).padStart(7)} entries/s${extra}   runs: ${runs(results)}`,
      );
    console.log(
      `-- ${variant === "tar" ? "uncompressed layer" : "gzip layer"} (${source.replace(root, ".")})`,
    );
    line(`baseline: tar ${gzip ? "-tzf" : "-tf"}`, tarMs, tarCli);
    line(
      "baseline: tar-stream in process, no-op",
      streamMs,
      tarStream,
      ` (CPU ${seconds(cpuOf(tarStream))}, ${rate(layout.entries, cpuOf(tarStream))}/s)`,
    );
    const asReaderMs = median(asReader.map((r) => r.ms));
    const hashMs = median(hashing.map((r) => r.ms));
    line(
      "baseline: tar-stream, 1 MiB reads, events",
      asReaderMs,
      asReader,
      ` (CPU ${seconds(cpuOf(asReader))}, ${rate(layout.entries, cpuOf(asReader))}/s)`,
    );
    line(
      `baseline: ${gzip ? "gunzip + " : ""}sha256 of the layer alone`,
      hashMs,
      hashing,
      ` (CPU ${seconds(cpuOf(hashing))})`,
    );
    const goal = (ms: number) =>
      rate(layout.entries, ms) >= GOAL_ENTRIES_PER_SECOND ? "goal MET" : "goal NOT MET";
    line(
      "inventoryImage in process (no cache)",
      inProcessMs,
      inProcess,
      ` (CPU ${seconds(cpuOf(inProcess))}, ${rate(layout.entries, cpuOf(inProcess))}/s; main thread ${seconds(mainThreadOf(inProcess))}, ${rate(layout.entries, mainThreadOf(inProcess))}/s)  x${(inProcessMs / streamMs).toFixed(2)} tar-stream, CPU x${(cpuOf(inProcess) / cpuOf(tarStream)).toFixed(2)}  (${goal(inProcessMs)})`,
    );
    line(
      "layerwatch sbom --no-cache (CLI)",
      cliMs,
      cli,
      `  x${(cliMs / tarMs).toFixed(2)} tar -t, peak RSS ${median(cli.map((r) => r.peakRssMiB)).toFixed(0)} MiB  (${goal(cliMs)})`,
    );
    Object.assign(figures, {
      [`${variant}TarMs`]: tarMs,
      [`${variant}TarStreamMs`]: streamMs,
      [`${variant}InProcessMs`]: inProcessMs,
      [`${variant}InProcessCpuMs`]: cpuOf(inProcess),
      [`${variant}InProcessMainThreadMs`]: mainThreadOf(inProcess),
      [`${variant}TarStreamCpuMs`]: cpuOf(tarStream),
      [`${variant}TarStreamAsReaderMs`]: asReaderMs,
      [`${variant}HashMs`]: hashMs,
      [`${variant}CliMs`]: cliMs,
      [`${variant}InProcessEntriesPerSecond`]: rate(layout.entries, inProcessMs),
      [`${variant}CliEntriesPerSecond`]: rate(layout.entries, cliMs),
    });
  }
  // On a shared machine the figures are only as good as the machine was idle.
  const load = loadavg().map((value) => value.toFixed(2));
  console.log(
    `goal: >= ${GOAL_ENTRIES_PER_SECOND} entries/s; load average ${load.join(", ")} on ${availableParallelism()} CPUs`,
  );
  return figures;
}
