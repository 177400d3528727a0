/**
 * The advisory store and the matcher, on the real OSV data in ../shared/data/osv:
 *  - import: the Go, PyPI and AlmaLinux exports, each into a fresh store (open, importOsv,
 *    close), in this process from lib/; records, seconds, records/s and the store file's size;
 *  - matching: matchPackages (lib/match/matcher.js) over 1,000 real packages against a store
 *    holding every shared record (every osv/<Ecosystem>/all.zip, imported once and kept in
 *    .cache/bench). The packages: every language package that osv-scanner's recorded querybatch
 *    requests ask about (../shared/data/api), then this machine's Debian packages from its real
 *    dpkg status (read by layerwatch's dpkg extractor, as Debian:12) up to 1,000.
 * Medians of BENCH_RUNS (default 5) runs each; the matching runs follow one warm-up run (the
 * first run also pays for the JIT and the page cache, and is reported apart). Goal (issue #6):
 * matching 1,000 packages in at most 50 ms. BENCH_VULNDB=match runs the matching part alone.
 * The matching runs share one open store, as a long-lived process would: the store keeps the
 * records it parsed and the matcher what it worked out from them, so the first run pays for
 * that. Two more figures show what one scan pays: a freshly opened store per run (the records
 * parsed again; this process's version parsing and JIT stay warm), and one call in a new Node
 * process per run (nothing warm), as `layerwatch scan` makes it.
 * Every matching run, in every setting, must give the same result; its digest (sha256 of the
 * result as JSON) is printed, so a change to the matcher can be checked not to change a single one.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { PackageURL } from "packageurl-js";
import type { Package } from "../src/inventory/types.js";
import { sharedDataRoot } from "../test/helpers/shared-data.js";
import { median } from "./stats.js";

const root = join(import.meta.dirname, "..");
const RUNS = Math.max(5, Number(process.env.BENCH_RUNS ?? 5));
const GOAL_MATCH_MS = 50;
const PACKAGE_COUNT = 1000;
/** Bump when what the cached all-records store holds, or how it is built, changes. */
const STORE_FORMAT = 1;

/** The built code, as the CLI runs it (npm run bench builds first), loaded when the bench runs. */
async function loadLib() {
  const lib = (path: string) => join(root, "lib", path);
  return {
    ...((await import(lib("vulndb/store.js"))) as typeof import("../src/vulndb/store.js")),
    ...((await import(lib("vulndb/import.js"))) as typeof import("../src/vulndb/import.js")),
    ...((await import(lib("match/matcher.js"))) as typeof import("../src/match/matcher.js")),
    ...((await import(lib("match/versions/index.js"))) as typeof import("../src/match/versions/index.js")),
    ...((await import(
      lib("inventory/extractors/dpkg.js")
    )) as typeof import("../src/inventory/extractors/dpkg.js")),
  };
}
let built: Awaited<ReturnType<typeof loadLib>>;

const osvDir = join(sharedDataRoot, "osv");
const IMPORTED = ["Go", "PyPI", "AlmaLinux"];

/** The store file and its write-ahead log, if one is left. */
async function storeBytes(path: string): Promise<number> {
  let bytes = 0;
  for (const file of [path, `${path}-wal`]) if (existsSync(file)) bytes += (await stat(file)).size;
  return bytes;
}

const cpuOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;
const digestOf = (value: unknown) =>
  createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

interface ImportRun {
  ms: number;
  /** CPU time (user + system) of this process: less swayed than wall time by a busy machine. */
  cpuMs: number;
  records: number;
  bytes: number;
}

/** Imports one zip into a new store: open, import, close (which checkpoints the log). */
async function importOnce(zip: string, dir: string): Promise<ImportRun> {
  const path = join(dir, `store-${Math.random().toString(36).slice(2)}.sqlite`);
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const store = await built.AdvisoryStore.open(path, { create: true });
  const result = await built.importOsv(store, zip);
  store.close();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const cpuMs = cpuOf(process.cpuUsage(cpu));
  if (result.skipped.length > 0)
    throw new Error(`${zip}: ${result.skipped.length} records skipped, first: ${result.skipped[0]?.reason}`);
  const bytes = await storeBytes(path);
  await rm(path, { force: true });
  return { ms, cpuMs, records: result.imported, bytes };
}

async function benchImports(): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};
  const dir = await mkdtemp(join(tmpdir(), "layerwatch-bench-import-"));
  try {
    console.log(`-- import into a fresh store (open, importOsv, close), medians of ${RUNS} runs`);
    for (const ecosystem of IMPORTED) {
      const zip = join(osvDir, ecosystem, "all.zip");
      const zipBytes = (await stat(zip)).size;
      const runs: ImportRun[] = [];
      for (let run = 0; run < RUNS; run++) runs.push(await importOnce(zip, dir));
      const ms = median(runs.map((r) => r.ms));
      const cpuMs = median(runs.map((r) => r.cpuMs));
      const records = runs[0]?.records ?? 0;
      const bytes = runs[0]?.bytes ?? 0;
      console.log(
        `${ecosystem.padEnd(10)} ${String(records).padStart(5)} records  ${secs(ms)}  ${String(Math.round(records / (ms / 1000))).padStart(6)} records/s (CPU ${secs(cpuMs)})  store ${mib(bytes)} (zip ${mib(zipBytes)})   runs: ${runs.map((r) => secs(r.ms)).join(", ")}`,
      );
      Object.assign(figures, {
        [`import${ecosystem}Records`]: records,
        [`import${ecosystem}Ms`]: ms,
        [`import${ecosystem}CpuMs`]: cpuMs,
        [`import${ecosystem}RecordsPerSecond`]: Math.round(records / (ms / 1000)),
        [`import${ecosystem}StoreBytes`]: bytes,
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}

/** Every shared export, keyed by what could change the store built from them. */
async function sharedZips(): Promise<{ zips: string[]; key: string }> {
  const zips: string[] = [];
  const hash = createHash("sha256").update(`${STORE_FORMAT} ${built.STORE_SCHEMA_VERSION}`);
  for (const name of (await readdir(osvDir)).sort()) {
    const zip = join(osvDir, name, "all.zip");
    if (!existsSync(zip)) continue;
    const info = await stat(zip);
    zips.push(zip);
    hash.update(`\n${name} ${info.size} ${info.mtimeMs}`);
  }
  return { zips, key: hash.digest("hex").slice(0, 16) };
}

/** The store with every shared record, built once into .cache/bench. */
async function fullStore(): Promise<{ path: string; records: number }> {
  const { zips, key } = await sharedZips();
  const dir = join(root, ".cache/bench");
  const path = join(dir, `vulndb-all-${key}.sqlite`);
  const countFile = `${path}.records`;
  if (existsSync(path) && existsSync(countFile))
    return { path, records: Number(await readFile(countFile, "utf8")) };
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const store = await built.AdvisoryStore.open(tmp, { create: true });
  let records = 0;
  try {
    for (const zip of zips) records += (await built.importOsv(store, zip)).imported;
  } finally {
    store.close();
  }
  await rename(tmp, path);
  await writeFile(countFile, String(records));
  return { path, records };
}

/** purl types of the ecosystems the querybatch recordings ask about. */
const PURL_TYPES: Record<string, string> = {
  Maven: "maven",
  "crates.io": "cargo",
  PyPI: "pypi",
  RubyGems: "gem",
  Go: "golang",
  npm: "npm",
  Hackage: "hackage",
  NuGet: "nuget",
  Packagist: "composer",
  Debian: "deb",
  Ubuntu: "deb",
  Alpine: "apk",
  openSUSE: "rpm",
};
const OS_ECOSYSTEMS = new Set(["Debian", "Ubuntu", "Alpine", "openSUSE"]);

interface Query {
  ecosystem: string;
  name: string;
  version: string;
}

/** The distinct (ecosystem, name, version) queries of the recordings, in the order first asked. */
async function recordedQueries(): Promise<Query[]> {
  const text = gunzipSync(
    await readFile(join(sharedDataRoot, "api/osv-querybatch-recordings.jsonl.gz")),
  ).toString("utf8");
  const seen = new Set<string>();
  const queries: Query[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const interaction = JSON.parse(line) as {
      request?: { queries?: Array<{ package?: { ecosystem?: string; name?: string }; version?: string }> };
    };
    for (const query of interaction.request?.queries ?? []) {
      const { ecosystem, name } = query.package ?? {};
      const version = query.version;
      if (!ecosystem || !name || !version) continue;
      const key = `${ecosystem}\u0000${name}\u0000${version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      queries.push({ ecosystem, name, version });
    }
  }
  return queries;
}

function packageOf(query: Query, index: number): Package {
  const base = query.ecosystem.split(":")[0] as string;
  const type = PURL_TYPES[base] ?? "generic";
  // Maven names are group:artifact, the purl's namespace and name.
  const [namespace, name] =
    type === "maven" ? (query.name.split(":") as [string, string]) : [undefined, query.name];
  return {
    name: query.name,
    version: query.version,
    type,
    purl: new PackageURL(type, namespace, name, query.version, undefined, undefined).toString(),
    ecosystem: query.ecosystem,
    location: "querybatch",
    layer: 0,
    foundBy: `bench-${index}`,
  };
}

/**
 * 1,000 real packages: the recordings' language packages, then the Debian packages of this
 * machine's dpkg status up to 1,000, then (should that run short) the recordings' OS packages.
 */
async function benchPackages(): Promise<{ packages: Package[]; origin: string }> {
  const queries = (await recordedQueries()).filter((q) => built.versionSchemeFor(q.ecosystem) !== undefined);
  const language = queries.filter((q) => !OS_ECOSYSTEMS.has(q.ecosystem.split(":")[0] as string));
  const os = queries.filter((q) => OS_ECOSYSTEMS.has(q.ecosystem.split(":")[0] as string));
  const packages = language.map(packageOf);
  const statusPath = "/var/lib/dpkg/status";
  let debian: Package[] = [];
  if (existsSync(statusPath)) {
    const warnings: string[] = [];
    debian = built.dpkgExtractor
      .extract("var/lib/dpkg/status", await readFile(statusPath), {
        distro: { id: "debian", versionId: "12", osvEcosystem: "Debian:12", source: "etc/os-release" },
        warn: (problem) => warnings.push(problem),
        readFile: () => undefined,
      })
      .map((pkg) => ({ ...pkg, location: "var/lib/dpkg/status", layer: 0, foundBy: "dpkg" }));
  }
  const fromDpkg = debian.slice(0, PACKAGE_COUNT - packages.length);
  packages.push(...fromDpkg);
  const fromOs = os.slice(0, PACKAGE_COUNT - packages.length).map(packageOf);
  packages.push(...fromOs);
  if (packages.length < PACKAGE_COUNT) throw new Error(`only ${packages.length} real packages found`);
  const byEcosystem = new Map<string, number>();
  for (const pkg of packages) {
    const base = (pkg.ecosystem ?? "").split(":")[0] as string;
    byEcosystem.set(base, (byEcosystem.get(base) ?? 0) + 1);
  }
  const counts = [...byEcosystem].sort((a, b) => b[1] - a[1]).map(([e, n]) => `${e} ${n}`);
  return {
    packages,
    origin: `${language.length} language packages from the querybatch recordings, ${fromDpkg.length} Debian:12 from ${statusPath}, ${fromOs.length} OS packages from the recordings (${counts.join(", ")})`,
  };
}

interface MatchRun {
  ms: number;
  cpuMs: number;
  findings: number;
  digest: string;
}

/**
 * One matchPackages call in a new Node process, timed there: the store opened and the modules
 * loaded first, then the call, with everything it does the first time (JIT, parsing, scoring).
 */
const freshProcessScript = `
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
const [lib, storePath, packagesPath] = process.argv.slice(1);
const { AdvisoryStore } = await import(lib + "/vulndb/store.js");
const { matchPackages } = await import(lib + "/match/matcher.js");
const packages = JSON.parse(readFileSync(packagesPath, "utf8"));
const store = await AdvisoryStore.open(storePath);
const started = process.hrtime.bigint();
const cpu = process.cpuUsage();
const result = matchPackages(packages, store);
const ms = Number(process.hrtime.bigint() - started) / 1e6;
const usage = process.cpuUsage(cpu);
const digest = createHash("sha256").update(JSON.stringify(result)).digest("hex").slice(0, 16);
store.close();
console.log(JSON.stringify({ ms, cpuMs: (usage.user + usage.system) / 1000, findings: result.findings.length, digest }));
`;

async function freshProcessRuns(storePath: string, packages: Package[]): Promise<MatchRun[]> {
  const dir = await mkdtemp(join(tmpdir(), "layerwatch-bench-match-"));
  try {
    const packagesPath = join(dir, "packages.json");
    await writeFile(packagesPath, JSON.stringify(packages));
    const runs: MatchRun[] = [];
    for (let run = 0; run < RUNS; run++) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--input-type=module", "-e", freshProcessScript, join(root, "lib"), storePath, packagesPath],
        { maxBuffer: 1024 * 1024 },
      );
      runs.push(JSON.parse(stdout) as MatchRun);
    }
    return runs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchMatching(): Promise<Record<string, number>> {
  const { path, records } = await fullStore();
  const { packages, origin } = await benchPackages();
  const store = await built.AdvisoryStore.open(path);
  try {
    console.log(
      `-- matchPackages over ${packages.length} packages against every shared record (${records} records, ${mib(await storeBytes(path))}: ${path.replace(root, ".")})`,
    );
    console.log(`   packages: ${origin}`);
    const time = (against: import("../src/vulndb/store.js").AdvisoryStore): MatchRun => {
      const started = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      const result = built.matchPackages(packages, against);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const cpuMs = cpuOf(process.cpuUsage(cpu));
      return { ms, cpuMs, findings: result.findings.length, digest: digestOf(result) };
    };
    const first = time(store);
    const runs = Array.from({ length: RUNS }, () => time(store));
    const freshStoreRuns: MatchRun[] = [];
    for (let run = 0; run < RUNS; run++) {
      const fresh = await built.AdvisoryStore.open(path);
      try {
        freshStoreRuns.push(time(fresh));
      } finally {
        fresh.close();
      }
    }
    const freshRuns = await freshProcessRuns(path, packages);
    // Caches in the matcher, the version schemes or the store must never change an answer.
    const digests = new Set([first, ...runs, ...freshStoreRuns, ...freshRuns].map((r) => r.digest));
    if (digests.size !== 1)
      throw new Error(`matchPackages gave ${digests.size} different results over the runs`);
    const ms = median(runs.map((r) => r.ms));
    const cpuMs = median(runs.map((r) => r.cpuMs));
    // The store's share: its query and the records' JSON for each name looked up (Debian
    // packages by source package, as the matcher asks), without the matcher.
    const lookups = new Set(packages.map((p) => `${p.ecosystem}\u0000${p.sourceName ?? p.name}`));
    let returned = 0;
    const lookupRuns = Array.from({ length: RUNS }, () => {
      const started = process.hrtime.bigint();
      returned = 0;
      for (const key of lookups) {
        const [ecosystem = "", name = ""] = key.split("\u0000");
        returned += store.recordsFor(ecosystem, name).length;
      }
      return Number(process.hrtime.bigint() - started) / 1e6;
    });
    const lookupMs = median(lookupRuns);
    const goal = ms <= GOAL_MATCH_MS ? "goal MET" : "goal NOT MET";
    console.log(
      `matchPackages, ${packages.length} packages: ${ms.toFixed(1)} ms median, CPU ${cpuMs.toFixed(1)} ms (${goal}: <= ${GOAL_MATCH_MS} ms); first run ${first.ms.toFixed(1)} ms, ${runs[0]?.findings} findings (digest ${[...digests][0]})   runs: ${runs.map((r) => r.ms.toFixed(1)).join(", ")} ms`,
    );
    console.log(
      `   of which store lookups alone: ${lookups.size} (ecosystem, name) lookups returning ${returned} records: ${lookupMs.toFixed(1)} ms median`,
    );
    const summary = (what: string, list: MatchRun[]) =>
      console.log(
        `${what}: ${median(list.map((r) => r.ms)).toFixed(1)} ms median, CPU ${median(list.map((r) => r.cpuMs)).toFixed(1)} ms   runs: ${list.map((r) => r.ms.toFixed(1)).join(", ")} ms`,
      );
    summary("   a freshly opened store per run", freshStoreRuns);
    summary("   one call in a new process per run", freshRuns);
    return {
      matchPackages: packages.length,
      matchMs: ms,
      matchCpuMs: cpuMs,
      matchFirstMs: first.ms,
      matchFreshStoreMs: median(freshStoreRuns.map((r) => r.ms)),
      matchFreshStoreCpuMs: median(freshStoreRuns.map((r) => r.cpuMs)),
      matchFreshProcessMs: median(freshRuns.map((r) => r.ms)),
      matchFreshProcessCpuMs: median(freshRuns.map((r) => r.cpuMs)),
      matchFindings: runs[0]?.findings ?? 0,
      storeRecords: records,
      lookupMs,
    };
  } finally {
    store.close();
  }
}

export async function benchVulndb(): Promise<Record<string, number>> {
  if (!existsSync(osvDir)) {
    console.log(`\n== vulndb: skipped, ${osvDir} is absent (set LAYERWATCH_SHARED_DATA)`);
    return {};
  }
  built = await loadLib();
  console.log(`\n== vulndb (Node ${process.version}, ${RUNS} runs)`);
  const matchOnly = process.env.BENCH_VULNDB === "match";
  const figures = { ...(matchOnly ? {} : await benchImports()), ...(await benchMatching()) };
  const load = loadavg().map((value) => value.toFixed(2));
  console.log(`load average ${load.join(", ")} on ${availableParallelism()} CPUs`);
  return figures;
}
