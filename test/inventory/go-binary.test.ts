/**
 * Go executables: the build info read from what the layer keeps of each executable while it
 * streams, on real binaries (Debian 12's Go programs, Go 1.19 builds made here for four formats,
 * Go 1.15/1.17 builds of the pointer format from Debian 11 and npm), and through the whole
 * pipeline (docker layers, dpkg ownership, the layer cache, rootfs:DIR).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLayer } from "../../src/fs/layer-reader.js";
import type { StreamCondenser } from "../../src/fs/types.js";
import { DenseView } from "../../src/inventory/binary/byte-view.js";
import { executableFiles } from "../../src/inventory/binary/condense.js";
import { GO_BUILDINFO_MAGIC, readGoBuildInfo, readUvarint } from "../../src/inventory/binary/go-buildinfo.js";
import { goBinaryExtractor, parseModInfo, stdlibVersion } from "../../src/inventory/extractors/go-binary.js";
import { inventoryReads, inventoryVersion } from "../../src/inventory/inventory.js";
import type { ExtractedPackage } from "../../src/inventory/types.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import {
  buildGoPrograms,
  bullseyeGosu,
  DownloadUnavailable,
  esbuild0140Binaries,
  type GoBuilds,
  goUnavailable,
  goVersionM,
} from "../helpers/go-build.js";
import { buildImage, type LayerFile, tarOf, writeOciLayout } from "../helpers/image-builder.js";
import { condenseExecutable, extractFile, extractStreamed } from "../helpers/inventory.js";
import { compileSchema } from "../helpers/schema.js";
import { findTool } from "../helpers/tools.js";

const APP = "usr/local/bin/app";
const extract = (content: Buffer) => extractFile(goBinaryExtractor, APP, content);
/** What a layer keeps of the executable, checked to be little and to read the same as the whole file. */
const extractKept = (bytes: Buffer, chunkSize?: number) =>
  extractStreamed(goBinaryExtractor, APP, bytes, chunkSize);

type Row = [string, string, string | undefined, string];
const row = (p: ExtractedPackage): Row => [p.name, p.version, p.ecosystem, p.purl];
const stdlib = (version: string): Row => ["stdlib", version, "Go", `pkg:golang/stdlib@${version}`];

/** What `go version -m` lists, put the way the extractor documents it (replacements, (devel)). */
function expectedFromGo(modules: Awaited<ReturnType<typeof goVersionM>>["modules"]): Array<[string, string]> {
  return modules.map((module): [string, string] => {
    const replacement = module.replacement;
    if (replacement && !replacement.path.startsWith(".") && !replacement.path.startsWith("/"))
      return [replacement.path, replacement.version];
    if (replacement) return [module.path, replacement.version || "(devel)"];
    return [module.path, module.version];
  });
}

async function checkAgainstGo(file: string, packages: ExtractedPackage[]): Promise<void> {
  if (goUnavailable()) return;
  const oracle = await goVersionM(file);
  const goVersion = oracle.goVersion.split(" ")[0] as string;
  expect(packages[0]?.version).toBe(`v${goVersion.slice(2)}`);
  expect(packages.slice(1).map((p): [string, string] => [p.name, p.version])).toEqual(
    expectedFromGo(oracle.modules),
  );
}

describe("toolchain versions", () => {
  it("reads release tags as the SemVer Go's advisories use, and keeps devel toolchains unmatched", () => {
    expect(stdlibVersion("go1.22.1")).toEqual({ version: "v1.22.1", release: true });
    expect(stdlibVersion("go1.22.1 X:boringcrypto")).toEqual({ version: "v1.22.1", release: true });
    expect(stdlibVersion("go1.21rc2")).toEqual({ version: "v1.21.0-rc.2", release: true });
    expect(stdlibVersion("go1.20beta1")).toEqual({ version: "v1.20.0-beta.1", release: true });
    expect(stdlibVersion("go1.9")).toEqual({ version: "v1.9.0", release: true });
    expect(stdlibVersion("go1.21.3-bigcorp")).toEqual({ version: "v1.21.3", release: true });
    expect(stdlibVersion("devel go1.23-e3ba5b9 Tue Jan 9 10:11:12 2024 +0000")).toEqual({
      version: "devel go1.23-e3ba5b9",
      release: false,
    });
    expect(stdlibVersion("devel +b7a03f8 Thu Apr 1 00:00:00 2021 +0000")).toEqual({
      version: "devel +b7a03f8",
      release: false,
    });
  });

  it("reads varints as encoding/binary writes them, and refuses overlong ones", () => {
    expect(readUvarint(Buffer.from([0x08]))).toEqual({ value: 8, length: 1 });
    expect(readUvarint(Buffer.from([0x93, 0x03]))).toEqual({ value: 403, length: 2 });
    expect(readUvarint(Buffer.from([0xff, 0xff]))).toBeUndefined();
    expect(readUvarint(Buffer.alloc(10, 0xff))).toBeUndefined();
  });
});

describe("module information lines", () => {
  it("takes mod, dep and => lines, and reports lines without a path or version", () => {
    const warnings: string[] = [];
    const text = [
      "path\texample.com/cmd/x",
      "mod\texample.com/x\tv1.0.0\th1:abc=",
      "dep\tgolang.org/x/net\tv0.17.0\th1:def=",
      "dep\tgithub.com/old/name\tv1.0.0",
      "=>\tgithub.com/new/name\tv1.0.1\th1:ghi=",
      "dep\texample.com/local\tv0.0.0",
      "=>\t/src/local\t",
      "dep\tgopkg.in/yaml.v3\tv3.0.1",
      "dep\texample.com/broken",
      "=>\tnothing-before",
      "build\t-compiler=gc",
    ].join("\n");
    expect(parseModInfo(text, (w) => warnings.push(w)).map(row)).toEqual([
      ["example.com/x", "v1.0.0", "Go", "pkg:golang/example.com/x@v1.0.0"],
      ["golang.org/x/net", "v0.17.0", "Go", "pkg:golang/golang.org/x/net@v0.17.0"],
      ["github.com/new/name", "v1.0.1", "Go", "pkg:golang/github.com/new/name@v1.0.1"],
      ["example.com/local", "(devel)", undefined, "pkg:golang/example.com/local"],
      ["gopkg.in/yaml.v3", "v3.0.1", "Go", "pkg:golang/gopkg.in/yaml.v3@v3.0.1"],
    ]);
    expect(warnings).toEqual([
      'module line "dep\\texample.com/broken" has no path or version; skipped',
      'replacement line "=>\\tnothing-before" follows no module or has no path; skipped',
    ]);
  });
});

describe("Debian 12's Go programs (go1.19.8, GOPATH builds: no modules)", () => {
  const programs = ["/usr/bin/skopeo", "/usr/bin/docker-registry", "/usr/bin/umoci"].filter((path) => {
    if (existsSync(path)) return true;
    console.warn(`skipping ${path}: not installed (apt-get install ${path.split("/").pop()})`);
    return false;
  });

  it.skipIf(programs.length === 0)("reads the Go version from what a stream keeps of each", async () => {
    for (const path of programs) {
      const { packages, warnings } = extractKept(readFileSync(path));
      expect(warnings, path).toEqual([]);
      // Checked by hand: `go version -m` prints go1.19.8 and path/build lines only.
      expect(packages.map(row), path).toEqual([stdlib("v1.19.8")]);
      await checkAgainstGo(path, packages);
    }
  });

  it.skipIf(!programs.includes("/usr/bin/skopeo"))(
    "finds the build info without section headers, deep in the data segment of a cgo binary",
    () => {
      const bytes = Buffer.from(readFileSync("/usr/bin/skopeo"));
      // e_shoff, e_shnum, e_shstrndx cleared: the file has no section headers at all.
      bytes.fill(0, 0x28, 0x30);
      bytes.fill(0, 0x3c, 0x40);
      const readelf = findTool("readelf");
      if (readelf) {
        const copy = join(tmpdir(), `layerwatch-skopeo-${process.pid}`);
        writeFileSync(copy, bytes);
        try {
          expect(execFileSync(readelf, ["-S", "-W", copy]).toString()).toMatch(
            /There are no sections in this file/,
          );
        } finally {
          rmSync(copy, { force: true });
        }
      }
      expect(extractKept(bytes, 4096).packages.map(row)).toEqual([stdlib("v1.19.8")]);
    },
  );
});

describe.skipIf(goUnavailable() !== undefined)("Go 1.18+ builds made here (inline build info)", () => {
  let builds: GoBuilds;
  let version: string;
  beforeAll(async () => {
    builds = await buildGoPrograms();
    const match = /^go(\d+\.\d+\.\d+)$/.exec(builds.goVersion);
    expect(match, `a release toolchain, not ${builds.goVersion}`).not.toBeNull();
    version = `v${match?.[1]}`;
  });

  const expected = (): Row[] => [
    stdlib(version),
    // The main module built from its directory, and the dependency replaced by a directory.
    ["example.com/app", "(devel)", undefined, "pkg:golang/example.com/app"],
    ["example.com/lib", "(devel)", undefined, "pkg:golang/example.com/lib"],
    // example.com/other v1.0.0 => example.com/fork v1.2.4: the fork is what was built.
    ["example.com/fork", "v1.2.4", "Go", "pkg:golang/example.com/fork@v1.2.4"],
  ];

  it("reads ELF (little and big-endian), Mach-O and PE builds, stripped or not, as go version -m does", async () => {
    for (const target of [
      "linux-amd64",
      "linux-ppc64",
      "darwin-arm64",
      "windows-amd64.exe",
      "linux-amd64-stripped",
    ]) {
      const file = builds.binaries[target] as string;
      const { packages, warnings } = extractKept(readFileSync(file), 7919);
      expect(warnings, target).toEqual([]);
      expect(packages.map(row), target).toEqual(expected());
      await checkAgainstGo(file, packages);
    }
  });

  it("drops a GOEXPERIMENT suffix from the Go version", async () => {
    const file = builds.binaries["linux-amd64-experiment"] as string;
    expect((await goVersionM(file)).goVersion).toBe(`${builds.goVersion} X:fieldtrack`);
    expect(extractKept(readFileSync(file)).packages.map(row)).toEqual(expected());
  });

  it("finds the build info however the stream is cut into chunks", () => {
    const bytes = readFileSync(builds.binaries["linux-amd64"] as string);
    const start = bytes.indexOf(GO_BUILDINFO_MAGIC);
    for (const size of [1, 13, 4096, 1 << 20]) {
      // Tiny chunks over the whole file are slow: they cover the build info and what follows it.
      const condenser = executableFiles.open(bytes.length);
      const tinyFrom = size < 4096 ? start - 100 : bytes.length;
      for (let at = 0; at < tinyFrom; at += 65_536)
        condenser.write(bytes.subarray(at, Math.min(at + 65_536, tinyFrom)));
      for (let at = tinyFrom; at < bytes.length; at += at < start + 4096 ? size : 65_536)
        condenser.write(bytes.subarray(at, at + (at < start + 4096 ? size : 65_536)));
      const kept = condenser.end();
      expect(extract(kept as Buffer).packages.map(row), `chunks of ${size}`).toEqual(expected());
    }
  });

  it("warns once, and lists nothing, for a build info cut short or with a hostile length", () => {
    const bytes = readFileSync(builds.binaries["linux-amd64"] as string);
    const start = bytes.indexOf(GO_BUILDINFO_MAGIC);
    const truncated = bytes.subarray(0, start + 100);
    const cut = extract(condenseExecutable(truncated) as Buffer);
    expect(cut.packages).toEqual([]);
    expect(cut.warnings).toEqual([
      expect.stringMatching(/^Go build info unreadable: the module information at 0x[0-9a-f]+ is cut short$/),
    ]);
    const hostile = Buffer.from(bytes);
    // The module information's length: ten continuation bytes, then a huge one.
    const versionLength = hostile[start + 32] as number;
    hostile.fill(0xff, start + 33 + versionLength, start + 33 + versionLength + 9);
    hostile[start + 33 + versionLength + 9] = 0x01;
    const bad = extract(condenseExecutable(hostile) as Buffer);
    expect(bad.packages).toEqual([]);
    expect(bad.warnings).toEqual([expect.stringMatching(/module information.*(invalid|limit)/)]);
  });

  it("never throws on bytes changed anywhere in the build info", () => {
    const bytes = readFileSync(builds.binaries["linux-amd64"] as string);
    const start = bytes.indexOf(GO_BUILDINFO_MAGIC);
    const blob = bytes.subarray(start, start + 512);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(511), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (edits) => {
          const copy = Buffer.from(blob);
          for (const [at, value] of edits) copy[at] = value;
          const file = Buffer.concat([bytes.subarray(0, start), copy]);
          expect(() => readGoBuildInfo(new DenseView(file))).not.toThrow();
          const kept = condenseExecutable(file);
          if (kept) expect(() => extract(kept)).not.toThrow();
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("Go 1.13-1.17 builds (build info pointing at its strings)", () => {
  it("reads esbuild 0.14.0 (go1.17.2) for ELF 32/64, Mach-O and PE32/PE32+", async (context) => {
    let binaries: Record<string, string>;
    try {
      binaries = await esbuild0140Binaries();
    } catch (error) {
      if (!(error instanceof DownloadUnavailable)) throw error;
      console.warn(`skipping: ${error.message}`);
      context.skip();
      return;
    }
    const main: Row = [
      "github.com/evanw/esbuild",
      "(devel)",
      undefined,
      "pkg:golang/github.com/evanw/esbuild",
    ];
    const sys: Row = [
      "golang.org/x/sys",
      "v0.0.0-20210908233432-aa78b53d3365",
      "Go",
      "pkg:golang/golang.org/x/sys@v0.0.0-20210908233432-aa78b53d3365",
    ];
    // Checked by hand with `go version -m`: the Windows builds list no golang.org/x/sys.
    const expected: Record<string, Row[]> = {
      "linux-64": [stdlib("v1.17.2"), main, sys],
      "linux-32": [stdlib("v1.17.2"), main, sys],
      "darwin-64": [stdlib("v1.17.2"), main, sys],
      "windows-64": [stdlib("v1.17.2"), main],
      "windows-32": [stdlib("v1.17.2"), main],
    };
    for (const [platform, file] of Object.entries(binaries)) {
      const bytes = readFileSync(file);
      const flags = bytes[bytes.indexOf(GO_BUILDINFO_MAGIC) + 15];
      expect(flags, `${platform}: pointer format`).toBe(0);
      const { packages, warnings } = extractKept(bytes, 65_536);
      expect(warnings, platform).toEqual([]);
      expect(packages.map(row), platform).toEqual(expected[platform]);
      await checkAgainstGo(file, packages);
    }
  });

  it("reads gosu from Debian 11 (go1.15.9, GOPATH: module information never set)", async (context) => {
    let file: string;
    try {
      file = await bullseyeGosu();
    } catch (error) {
      if (!(error instanceof DownloadUnavailable)) throw error;
      console.warn(`skipping: ${error.message}`);
      context.skip();
      return;
    }
    const bytes = readFileSync(file);
    const { packages, warnings } = extractKept(bytes, 10_000);
    expect(warnings).toEqual([]);
    expect(packages.map(row)).toEqual([stdlib("v1.15.9")]);
    await checkAgainstGo(file, packages);

    // A pointer aimed outside the file, and one at a string header claiming a huge length.
    const start = bytes.indexOf(GO_BUILDINFO_MAGIC);
    const wild = Buffer.from(bytes);
    wild.writeBigUInt64LE(0x7fff_ffff_0000n, start + 16);
    expect(extract(condenseExecutable(wild) as Buffer)).toEqual({
      packages: [],
      warnings: [
        "Go build info unreadable: the Go version pointer 0x7fffffff0000 is outside the file's mapped data",
      ],
    });
    const long = Buffer.from(bytes);
    // The data segment is mapped at 0x61e000 from file offset 0x21e000 (readelf -l).
    const header = Number(long.readBigUInt64LE(start + 16)) - 0x61e000 + 0x21e000;
    long.writeBigUInt64LE(0xffff_ffff_ffffn, header + 8);
    expect(extract(condenseExecutable(long) as Buffer).warnings).toEqual([
      `Go build info unreadable: the Go version claims ${0xffff_ffff_ffff} bytes, over the 4096-byte limit`,
    ]);
  });
});

describe("the layer reader's condense hook", () => {
  it("streams unwanted files through a condenser, keeps what it returns, and reports one that throws", async () => {
    const tar = await tarOf([
      { path: "usr/bin/tool", type: "file", mode: 0o755, content: Buffer.from("0123456789abcdef") },
      { path: "usr/bin/bad", type: "file", mode: 0o755, content: Buffer.from("xyz") },
      { path: "etc/plain", type: "file", mode: 0o644, content: Buffer.from("plain") },
    ]);
    const offered: string[] = [];
    const layer = await readLayer(Readable.from([tar]), "layer 0", {
      wants: () => false,
      maxFileBytes: 1024,
      condense: (path, mode, size) => {
        offered.push(`${path} ${mode.toString(8)} ${size}`);
        if (!(mode & 0o111)) return undefined;
        let seen = Buffer.alloc(0);
        const condenser: StreamCondenser = {
          write: (chunk) => {
            if (path.endsWith("bad")) throw new Error("boom");
            seen = Buffer.concat([seen, chunk]);
            return seen.length < 4;
          },
          end: () => seen.subarray(0, 4),
        };
        return { by: "first-four", condenser };
      },
    });
    expect(offered).toEqual(["usr/bin/tool 755 16", "usr/bin/bad 755 3", "etc/plain 644 5"]);
    const byPath = new Map(layer.entries.map((e) => [e.path, e]));
    expect(byPath.get("usr/bin/tool")?.content?.toString()).toBe("0123");
    expect(byPath.get("usr/bin/tool")?.condensedBy).toBe("first-four");
    expect(byPath.get("usr/bin/bad")?.content).toBeUndefined();
    expect(byPath.get("etc/plain")?.content).toBeUndefined();
    expect(layer.warnings).toEqual([
      { path: "usr/bin/bad", problem: "cannot be condensed (boom); not read" },
    ]);
  });

  it("offers executables by mode bit or Windows name, and the cache key names the condenser", () => {
    expect(inventoryReads("usr/local/bin/app", 0o755)).toBe(true);
    expect(inventoryReads("opt/app/tool.EXE", 0o644)).toBe(true);
    expect(inventoryReads("opt/app/lib.dll", 0o644)).toBe(true);
    expect(inventoryReads("usr/lib/x86_64-linux-gnu/libc.so.6", 0o644)).toBe(false);
    expect(inventoryReads("etc/passwd", 0o644)).toBe(false);
    expect(inventoryVersion).toContain("condense:executable@1");
    expect(inventoryVersion).toContain("go-binary@1");
  });
});

describe.skipIf(goUnavailable() !== undefined || !existsSync("/usr/bin/skopeo"))(
  "Go executables in an image, end to end",
  () => {
    let work: string;
    let builds: GoBuilds;
    let layout: string;
    let rootfs: string;
    beforeAll(async () => {
      builds = await buildGoPrograms();
      work = await mkdtemp(join(tmpdir(), "layerwatch-go-"));
      const status = execFileSync("dpkg-query", ["-s", "skopeo"]).toString();
      const layers: LayerFile[][] = [
        [
          { path: "etc/os-release", type: "file", content: Buffer.from('ID=debian\nVERSION_ID="12"\n') },
          { path: "var/lib/dpkg/status", type: "file", content: Buffer.from(status) },
          {
            path: "var/lib/dpkg/info/skopeo.list",
            type: "file",
            content: readFileSync("/var/lib/dpkg/info/skopeo.list"),
          },
          { path: "usr/bin/skopeo", type: "file", mode: 0o755, content: readFileSync("/usr/bin/skopeo") },
        ],
        [
          {
            path: "usr/local/bin/app",
            type: "file",
            mode: 0o755,
            content: readFileSync(builds.binaries["linux-amd64"] as string),
          },
          // No mode bit, but a Windows name: read.
          {
            path: "opt/tools/app.exe",
            type: "file",
            mode: 0o644,
            content: readFileSync(builds.binaries["windows-amd64.exe"] as string),
          },
          // Neither: not read (documented), though it is a Go binary.
          {
            path: "opt/data/blob",
            type: "file",
            mode: 0o644,
            content: readFileSync(builds.binaries["linux-amd64-stripped"] as string),
          },
          { path: "usr/local/bin/run.sh", type: "file", mode: 0o755, content: Buffer.from("#!/bin/sh\n") },
        ],
        [
          // The same program rebuilt stripped: its modules came with layer 1 and still do.
          {
            path: "usr/local/bin/app",
            type: "file",
            mode: 0o755,
            content: readFileSync(builds.binaries["linux-amd64-stripped"] as string),
          },
        ],
      ];
      const image = await buildImage(layers.map((files, i) => ({ files, createdBy: `layer ${i}` })));
      layout = join(work, "layout");
      await writeOciLayout(image, layout);
      // The final filesystem, as a container runtime would lay it out.
      rootfs = join(work, "rootfs");
      for (const files of layers)
        for (const file of files) {
          const target = join(rootfs, file.path);
          await mkdir(dirname(target), { recursive: true });
          await writeFile(target, file.content ?? Buffer.alloc(0));
          await chmod(target, file.mode ?? 0o644);
        }
    });
    afterAll(async () => {
      if (work) await rm(work, { recursive: true, force: true });
    });

    const validate = compileSchema(
      JSON.parse(readFileSync(join(import.meta.dirname, "../../docs/report.schema.json"), "utf8")),
    );

    async function sbom(source: string, extra: string[]): Promise<JsonReport> {
      const run = await cli(["sbom", source, "--format", "json", ...extra]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout) as JsonReport;
      expect(validate(report), JSON.stringify(validate.errors, null, 2)).toBe(true);
      return report;
    }

    const goRows = (report: JsonReport) =>
      report.packages
        .filter((p) => p.type === "golang")
        .map((p) => [p.location, p.name, p.version, p.ecosystem, p.osOwned, p.layer.index])
        .sort((a, b) => `${a[0]} ${a[1]}`.localeCompare(`${b[0]} ${b[1]}`));

    it("lists each executable's modules at its path and layer; dpkg's binary's are the OS package's", async () => {
      const cacheDir = join(work, "cache");
      const report = await sbom(`oci:${layout}`, ["--cache-dir", cacheDir]);
      const skopeo = report.packages.find((p) => p.type === "deb" && p.name === "skopeo");
      expect(skopeo?.purl).toMatch(/^pkg:deb\/debian\/skopeo@/);
      const go = `v${builds.goVersion.slice(2)}`;
      const app = (location: string, layer: number) => [
        [location, "example.com/app", "(devel)", undefined, undefined, layer],
        [location, "example.com/fork", "v1.2.4", "Go", undefined, layer],
        [location, "example.com/lib", "(devel)", undefined, undefined, layer],
        [location, "stdlib", go, "Go", undefined, layer],
      ];
      const expected = [
        ...app("opt/tools/app.exe", 1),
        ["usr/bin/skopeo", "stdlib", "v1.19.8", undefined, skopeo?.purl, 0],
        ...app("usr/local/bin/app", 1),
      ];
      expect(goRows(report)).toEqual(expected);
      // Read again from the layer cache: the kept parts survive it.
      expect(goRows(await sbom(`oci:${layout}`, ["--cache-dir", cacheDir]))).toEqual(expected);

      const fromRootfs = await sbom(`rootfs:${rootfs}`, ["--no-cache"]);
      expect(goRows(fromRootfs)).toEqual(expected.map((r) => [...r.slice(0, 5), 0]));
    });
  },
);
