/**
 * Real Go executables built at test time, offline, by the Go toolchain on the machine
 * (Debian's golang-go):
 *
 *   example.com/app            the main module, built from its directory: version (devel)
 *     requires example.com/lib v1.0.0    replaced by the directory ../lib
 *     requires example.com/other v1.0.0  replaced by the module example.com/fork v1.2.4, which
 *                                        a file:// GOPROXY written here serves (info, mod, zip)
 *
 * for Linux (amd64; ppc64, a big-endian ELF), macOS (arm64: Mach-O), Windows (amd64: PE32+),
 * stripped (-ldflags=-s -w) and with a GOEXPERIMENT (its version reads "go1.x.y X:fieldtrack").
 * The program prints with the println builtin so a cross build compiles little more than the
 * runtime. Builds are cached under .cache/test-binaries/go-<key>, keyed by the sources, the
 * targets and `go version`, so a second run reads them back in no time.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import yazl from "yazl";
import { findTool, httpRequest, run } from "./tools.js";

/** Bump when what this file builds changes without its inputs changing. */
const RECIPE = 1;

const FORK = { module: "example.com/fork", version: "v1.2.4" };

const SOURCES: Record<string, string> = {
  "app/go.mod": [
    "module example.com/app",
    "",
    "go 1.19",
    "",
    "require (",
    "\texample.com/lib v1.0.0",
    "\texample.com/other v1.0.0",
    ")",
    "",
    "replace example.com/lib => ../lib",
    "",
    `replace example.com/other => ${FORK.module} ${FORK.version}`,
    "",
  ].join("\n"),
  "app/main.go": [
    "package main",
    "",
    "import (",
    '\t"example.com/lib"',
    '\tother "example.com/other"',
    ")",
    "",
    "func main() { println(lib.Name(), other.Name()) }",
    "",
  ].join("\n"),
  "lib/go.mod": "module example.com/lib\n\ngo 1.19\n",
  "lib/lib.go": 'package lib\n\nfunc Name() string { return "lib" }\n',
};

/** The fork as its module zip holds it: a fork keeps the module path of what it forks. */
const FORK_FILES: Record<string, string> = {
  "go.mod": "module example.com/other\n\ngo 1.19\n",
  "other.go": 'package other\n\nfunc Name() string { return "fork" }\n',
};

export interface GoTarget {
  name: string;
  goos: string;
  goarch: string;
  ldflags?: string;
  experiment?: string;
}

export const GO_TARGETS: GoTarget[] = [
  { name: "linux-amd64", goos: "linux", goarch: "amd64" },
  { name: "linux-ppc64", goos: "linux", goarch: "ppc64" },
  { name: "darwin-arm64", goos: "darwin", goarch: "arm64" },
  { name: "windows-amd64.exe", goos: "windows", goarch: "amd64" },
  { name: "linux-amd64-stripped", goos: "linux", goarch: "amd64", ldflags: "-s -w" },
  { name: "linux-amd64-experiment", goos: "linux", goarch: "amd64", experiment: "fieldtrack" },
];

export interface GoBuilds {
  /** `go version` of the toolchain that built them ("go1.19.8"). */
  goVersion: string;
  /** Path of each target's executable, by target name. */
  binaries: Record<string, string>;
}

export function testBinaryCacheDir(): string {
  return resolve(join(import.meta.dirname, "../../.cache/test-binaries"));
}

/** Why Go programs cannot be built here, or undefined when they can. */
export function goUnavailable(): string | undefined {
  return findTool("go") ? undefined : "go not found (apt-get install golang-go)";
}

async function moduleZip(): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, text] of Object.entries(FORK_FILES))
    zip.addBuffer(Buffer.from(text), `${FORK.module}@${FORK.version}/${name}`, { mtime: new Date(0) });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A GOPROXY directory serving the fork, as `GOPROXY=file://DIR` reads it. */
async function writeProxy(dir: string): Promise<void> {
  const versions = join(dir, FORK.module, "@v");
  await mkdir(versions, { recursive: true });
  await writeFile(join(versions, "list"), `${FORK.version}\n`);
  await writeFile(
    join(versions, `${FORK.version}.info`),
    JSON.stringify({ Version: FORK.version, Time: "2024-01-01T00:00:00Z" }),
  );
  await writeFile(join(versions, `${FORK.version}.mod`), FORK_FILES["go.mod"] as string);
  await writeFile(join(versions, `${FORK.version}.zip`), await moduleZip());
}

/** Builds every target (or reads them from the cache). */
export async function buildGoPrograms(cacheRoot = testBinaryCacheDir()): Promise<GoBuilds> {
  const goVersion = (await run("go", ["env", "GOVERSION"])).stdout.trim();
  const key = createHash("sha256")
    .update(JSON.stringify({ RECIPE, goVersion, SOURCES, FORK_FILES, GO_TARGETS }))
    .digest("hex")
    .slice(0, 16);
  const dir = join(cacheRoot, `go-${key}`);
  const binaries = Object.fromEntries(GO_TARGETS.map((target) => [target.name, join(dir, target.name)]));
  const built = () => Object.values(binaries).every((path) => existsSync(path));
  if (built()) return { goVersion, binaries };
  await mkdir(cacheRoot, { recursive: true });
  // One builder at a time: test files run in parallel workers, and a build takes a minute.
  const release = await lock(`${dir}.lock`);
  try {
    if (!built()) await build(dir, cacheRoot, key);
  } finally {
    await release();
  }
  return { goVersion, binaries };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An mkdir lock holding its owner's pid; a dead owner's lock is taken over. */
async function lock(path: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      await mkdir(path);
      await writeFile(join(path, "pid"), String(process.pid));
      return () => rm(path, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(await readFile(join(path, "pid"), "utf8").catch(() => "NaN"));
      // No pid yet: its owner is still writing it.
      const alive = !Number.isInteger(owner) || isRunning(owner);
      if (!alive) await rm(path, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
      else await sleep(500);
    }
  }
}

async function build(dir: string, cacheRoot: string, key: string): Promise<void> {
  // Built beside and renamed, so a reader never sees half a set.
  const work = join(cacheRoot, `go-${key}.${randomBytes(4).toString("hex")}.tmp`);
  const out = join(work, "out");
  try {
    for (const [path, text] of Object.entries(SOURCES)) {
      await mkdir(join(work, path, ".."), { recursive: true });
      await writeFile(join(work, path), text);
    }
    await writeProxy(join(work, "proxy"));
    await mkdir(out, { recursive: true });
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: work,
      GOPATH: join(work, "gopath"),
      GOCACHE: join(work, "gocache"),
      GOPROXY: `file://${join(work, "proxy")}`,
      GOSUMDB: "off",
      GOFLAGS: "-mod=mod -modcacherw",
      GOTOOLCHAIN: "local",
      GOENV: "off",
      CGO_ENABLED: "0",
    };
    for (const target of GO_TARGETS) {
      const args = ["build", "-trimpath", "-o", join(out, target.name)];
      if (target.ldflags) args.push(`-ldflags=${target.ldflags}`);
      await run("go", [...args, "."], {
        cwd: join(work, "app"),
        env: {
          ...env,
          GOOS: target.goos,
          GOARCH: target.goarch,
          ...(target.experiment ? { GOEXPERIMENT: target.experiment } : {}),
        },
        timeoutMs: 240_000,
      });
    }
    await rm(dir, { recursive: true, force: true });
    await rename(out, dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Fills a cache entry: `fill` writes into a scratch folder beside `dir`, which then becomes `dir`
 * in one rename, so a reader never sees half an entry. When another process made the entry
 * first, theirs is kept.
 */
export async function fillCacheEntry(dir: string, fill: (work: string) => Promise<void>): Promise<void> {
  const work = `${dir}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await mkdir(work, { recursive: true });
    await fill(work);
    try {
      await rename(work, dir);
    } catch (error) {
      if (!existsSync(dir)) throw error;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A module line of `go version -m`: its kind and fields, replacements attached to their module. */
export interface GoVersionModule {
  kind: "mod" | "dep";
  path: string;
  version: string;
  replacement?: { path: string; version: string };
}

/**
 * What the Go toolchain itself says an executable holds (`go version -m FILE`): an oracle the
 * extractor's output is checked against.
 */
export async function goVersionM(file: string): Promise<{ goVersion: string; modules: GoVersionModule[] }> {
  const { stdout } = await run("go", ["version", "-m", file], {
    env: { ...process.env, GOTOOLCHAIN: "local", GOENV: "off" },
  });
  const [first = "", ...lines] = stdout.split("\n");
  const goVersion = first.slice(first.indexOf(": ") + 2).trim();
  const modules: GoVersionModule[] = [];
  for (const line of lines) {
    const fields = line.trim().split("\t");
    if (fields[0] === "mod" || fields[0] === "dep")
      modules.push({ kind: fields[0], path: fields[1] ?? "", version: fields[2] ?? "" });
    else if (fields[0] === "=>") {
      const last = modules[modules.length - 1];
      if (last) last.replacement = { path: fields[1] ?? "", version: fields[2] ?? "" };
    }
  }
  return { goVersion, modules };
}

/** Why a download failed: the network (skip the test), or anything else (fail it). */
export class DownloadUnavailable extends Error {}

/**
 * Go 1.13-1.17 executables, whose build info points at its strings: esbuild 0.14.0, built with
 * go1.17.2, as its npm packages ship it for Linux (amd64: ELF64, 386: ELF32), macOS (amd64:
 * Mach-O) and Windows (amd64: PE32+, 386: PE32). `npm pack` fetches the packages whatever the
 * platform; they are cached under .cache/test-binaries/esbuild-0.14.0.
 */
export const ESBUILD_PACKAGES: Record<string, string> = {
  "linux-64": "package/bin/esbuild",
  "linux-32": "package/bin/esbuild",
  "darwin-64": "package/bin/esbuild",
  "windows-64": "package/esbuild.exe",
  "windows-32": "package/esbuild.exe",
};

export async function esbuild0140Binaries(cacheRoot = testBinaryCacheDir()): Promise<Record<string, string>> {
  const dir = join(cacheRoot, "esbuild-0.14.0");
  const binaries = Object.fromEntries(
    Object.entries(ESBUILD_PACKAGES).map(([platform, path]) => [platform, join(dir, platform, path)]),
  );
  if (Object.values(binaries).every((path) => existsSync(path))) return binaries;
  await fillCacheEntry(dir, async (work) => {
    const specs = Object.keys(ESBUILD_PACKAGES).map((platform) => `esbuild-${platform}@0.14.0`);
    try {
      await run("npm", ["pack", "--silent", "--pack-destination", work, ...specs], {
        cwd: work,
        timeoutMs: 5 * 60_000,
      });
    } catch (error) {
      throw new DownloadUnavailable(`npm pack ${specs.join(" ")} failed: ${(error as Error).message}`);
    }
    for (const platform of Object.keys(ESBUILD_PACKAGES)) {
      await mkdir(join(work, platform));
      await run("tar", ["-xzf", join(work, `esbuild-${platform}-0.14.0.tgz`), "-C", join(work, platform)]);
    }
  });
  return binaries;
}

/**
 * gosu 1.12-1+b6 from Debian 11 (bullseye), built with go1.15.9 in GOPATH mode: a pre-1.18 build
 * info whose module information is an unset variable. The .deb is fetched from the Debian
 * archive, checked against the SHA-256 the bullseye Packages index gives, and cached.
 */
const GOSU_DEB = {
  url: "http://deb.debian.org/debian/pool/main/g/gosu/gosu_1.12-1+b6_amd64.deb",
  sha256: "bfd69238f1e558f38b56f6c49f655a67921f2d651eccc5a5016bffb33a4be42f",
};

export async function bullseyeGosu(cacheRoot = testBinaryCacheDir()): Promise<string> {
  const dir = join(cacheRoot, "gosu-1.12-1+b6");
  const binary = join(dir, "usr/sbin/gosu");
  if (existsSync(binary)) return binary;
  let body: Buffer;
  try {
    const response = await httpRequest(GOSU_DEB.url, { timeoutMs: 60_000 });
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
    body = response.body;
  } catch (error) {
    throw new DownloadUnavailable(`${GOSU_DEB.url}: ${(error as Error).message}`);
  }
  const digest = createHash("sha256").update(body).digest("hex");
  if (digest !== GOSU_DEB.sha256)
    throw new Error(`${GOSU_DEB.url}: sha256 ${digest}, not ${GOSU_DEB.sha256}`);
  await fillCacheEntry(dir, async (work) => {
    await writeFile(join(work, "gosu.deb"), body);
    await run("dpkg-deb", ["-x", join(work, "gosu.deb"), work]);
    await rm(join(work, "gosu.deb"));
  });
  return binary;
}
