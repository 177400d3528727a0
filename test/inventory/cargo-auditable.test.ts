/**
 * Rust executables built with cargo-auditable. cargo-auditable itself is not packaged for this
 * Debian, so the tests do what it does to a real executable: a program compiled by rustc gets a
 * `.dep-v0` section, without SHF_ALLOC as cargo-auditable's object file makes it (objcopy's
 * --add-section does the same), holding the dependency list as zlib-compressed JSON at level 7,
 * written here in cargo-auditable's format. A Go-built PE gets one too, for the PE format.
 */

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { looksLikeAuditData, plausibleZlibStart } from "../../src/inventory/binary/cargo-audit.js";
import { cargoAuditableExtractor } from "../../src/inventory/extractors/cargo-auditable.js";
import { goBinaryExtractor } from "../../src/inventory/extractors/go-binary.js";
import type { ExtractedPackage, Extractor } from "../../src/inventory/types.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { buildGoPrograms, fillCacheEntry, goUnavailable, testBinaryCacheDir } from "../helpers/go-build.js";
import { buildImage, writeOciLayout } from "../helpers/image-builder.js";
import { condenseExecutable, extractFile, extractStreamed } from "../helpers/inventory.js";
import { findTool, run } from "../helpers/tools.js";

/** The dependency list as cargo-auditable writes it (serde_json, compact), with real crates.io releases. */
const AUDIT = {
  packages: [
    { name: "auditable-hello", version: "0.1.0", source: "local", dependencies: [1, 2, 3, 5, 7], root: true },
    { name: "smallvec", version: "1.6.0", source: "crates.io" },
    { name: "serde", version: "1.0.130", source: "crates.io", dependencies: [4] },
    { name: "libc", version: "0.2.100", source: "crates.io" },
    { name: "serde_derive", version: "1.0.130", source: "crates.io", kind: "build", dependencies: [6] },
    { name: "mygit", version: "0.3.0", source: "git" },
    { name: "proc-macro2", version: "1.0.32", source: "crates.io", kind: "build" },
    { name: "internal", version: "2.0.0", source: "registry" },
  ],
};

const EXPECTED = [
  ["auditable-hello", "0.1.0", undefined, "pkg:cargo/auditable-hello@0.1.0"],
  ["smallvec", "1.6.0", "crates.io", "pkg:cargo/smallvec@1.6.0"],
  ["serde", "1.0.130", "crates.io", "pkg:cargo/serde@1.0.130"],
  ["libc", "0.2.100", "crates.io", "pkg:cargo/libc@0.2.100"],
  ["serde_derive", "1.0.130", "crates.io", "pkg:cargo/serde_derive@1.0.130"],
  ["mygit", "0.3.0", undefined, "pkg:cargo/mygit@0.3.0"],
  ["proc-macro2", "1.0.32", "crates.io", "pkg:cargo/proc-macro2@1.0.32"],
  ["internal", "2.0.0", undefined, "pkg:cargo/internal@2.0.0"],
];

const row = (p: ExtractedPackage) => [p.name, p.version, p.ecosystem, p.purl];

function compressed(document: unknown, level = 7): Buffer {
  return deflateSync(Buffer.from(JSON.stringify(document)), { level });
}

const HELLO = "usr/local/bin/hello";
const extract = (content: Buffer, extractor: Extractor = cargoAuditableExtractor) =>
  extractFile(extractor, HELLO, content);
/** What a layer keeps of the executable, checked to be little and to read the same as the whole file. */
const extractKept = (bytes: Buffer, chunkSize?: number) =>
  extractStreamed(cargoAuditableExtractor, HELLO, bytes, chunkSize);

function unavailable(): string | undefined {
  const missing = [
    ["rustc", "rustc"],
    ["objcopy", "binutils"],
  ].filter(([tool]) => findTool(tool as string) === undefined);
  return missing.length > 0
    ? `${missing.map(([tool]) => tool).join(", ")} not found (apt-get install ${missing.map(([, pkg]) => pkg).join(" ")})`
    : undefined;
}

/** A small Rust program compiled by rustc, cached under .cache/test-binaries by compiler and source. */
async function rustProgram(): Promise<string> {
  const source = 'fn main() { println!("hello"); }\n';
  const version = (await run("rustc", ["--version"])).stdout.trim();
  const key = createHash("sha256").update(`${version}\n${source}`).digest("hex").slice(0, 16);
  const dir = join(testBinaryCacheDir(), `rust-${key}`);
  const binary = join(dir, "hello");
  if (existsSync(binary)) return binary;
  await fillCacheEntry(dir, async (work) => {
    await writeFile(join(work, "hello.rs"), source);
    await run("rustc", ["-C", "opt-level=1", "-o", join(work, "hello"), join(work, "hello.rs")], {
      timeoutMs: 240_000,
    });
  });
  return binary;
}

let work: string;

/** `objcopy --add-section .dep-v0=DATA`, as cargo-auditable's linker step leaves the section. */
async function withAuditSection(binary: string, data: Buffer, name: string): Promise<Buffer> {
  const section = join(work, `${name}.dep-v0`);
  const out = join(work, name);
  await writeFile(section, data);
  await run("objcopy", ["--add-section", `.dep-v0=${section}`, binary, out]);
  return readFileSync(out);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-cargo-"));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("cargo-auditable data", () => {
  it("is told from other zlib streams and random bytes by its first block and JSON", () => {
    const json = Buffer.from(JSON.stringify(AUDIT));
    for (let level = 2; level <= 9; level++) {
      const stream = deflateSync(json, { level });
      expect(plausibleZlibStart(stream), `level ${level}`).toBe(true);
      expect(looksLikeAuditData(stream), `level ${level}`).toBe(true);
    }
    expect(looksLikeAuditData(compressed({ format: 1, packages: [] }))).toBe(true);
    expect(looksLikeAuditData(compressed({ name: "not audit data" }))).toBe(false);
    // Random bytes after a zlib header: a quarter start a fixed-code block, which any bits
    // continue; of the rest, few pass the block check (a dynamic block's code is rarely complete).
    // None inflates to audit JSON.
    let passed = 0;
    for (let seed = 1; seed <= 2000; seed++) {
      const bytes = Buffer.concat(
        [1, 2].map((part) => createHash("sha256").update(`${seed}/${part}`).digest()),
      );
      bytes[0] = 0x78;
      bytes[1] = 0xda;
      if (plausibleZlibStart(bytes)) passed++;
      expect(looksLikeAuditData(bytes)).toBe(false);
    }
    expect(passed).toBeGreaterThan(300);
    expect(passed).toBeLessThan(600);
  });
});

describe.skipIf(unavailable() !== undefined)("a Rust executable with a .dep-v0 section", () => {
  let program: string;
  let auditable: Buffer;
  beforeAll(async () => {
    program = await rustProgram();
    auditable = await withAuditSection(program, compressed(AUDIT), "hello");
  });

  it("lists every package, crates.io's in the crates.io ecosystem, from what a stream keeps", () => {
    // The section is not loaded, and lies past every loaded segment, as cargo-auditable's does.
    const sections = execFileSync("readelf", ["-S", "-W", join(work, "hello")]).toString();
    const section = /\.dep-v0\s+PROGBITS\s+0+ ([0-9a-f]+) [0-9a-f]+ 00\s+0\s+0\s+1/.exec(sections);
    expect(section, sections).not.toBeNull();
    const segments = execFileSync("readelf", ["-l", "-W", join(work, "hello")]).toString();
    const loadedEnd = Math.max(
      ...[...segments.matchAll(/LOAD\s+0x([0-9a-f]+) \S+ \S+ 0x([0-9a-f]+)/g)].map(
        ([, offset, size]) => Number.parseInt(offset as string, 16) + Number.parseInt(size as string, 16),
      ),
    );
    expect(Number.parseInt(section?.[1] as string, 16)).toBeGreaterThan(loadedEnd);
    const { packages, warnings } = extractKept(auditable);
    expect(warnings).toEqual([]);
    expect(packages.map(row)).toEqual(EXPECTED);
    // Nothing is kept of the program without it, nor read as Go.
    expect(condenseExecutable(readFileSync(program))).toBeUndefined();
    expect(extract(condenseExecutable(auditable) as Buffer, goBinaryExtractor)).toEqual({
      packages: [],
      warnings: [],
    });
  });

  it("finds the data without section headers, whatever the chunks", () => {
    const bytes = Buffer.from(auditable);
    bytes.fill(0, 0x28, 0x30);
    bytes.fill(0, 0x3c, 0x40);
    for (const size of [4096, 65_536, 1 << 20, 100_003])
      expect(extractKept(bytes, size).packages.map(row), `chunks of ${size}`).toEqual(EXPECTED);
  });

  it("warns once for data cut short, and for each package entry it cannot read", async () => {
    const full = compressed(AUDIT);
    const cut = await withAuditSection(program, full.subarray(0, full.length - 40), "cut");
    const result = extract(condenseExecutable(cut) as Buffer);
    expect(result.packages).toEqual([]);
    // The section's stream stops short, and what follows it is not its rest.
    expect(result.warnings).toEqual([
      expect.stringMatching(
        /^cargo-auditable data at 0x[0-9a-f]+ cannot be inflated \(incorrect data check\)$/,
      ),
    ]);
    // The file itself ends inside the stream.
    const at = auditable.indexOf(full.subarray(0, 16));
    const truncated = extract(condenseExecutable(auditable.subarray(0, at + 100)) as Buffer);
    expect(truncated.packages).toEqual([]);
    expect(truncated.warnings).toEqual([
      `cargo-auditable data at 0x${at.toString(16)} cannot be inflated (unexpected end of file)`,
    ]);
    const odd = await withAuditSection(
      program,
      compressed({
        packages: [{ name: "ok", version: "1.0.0", source: "crates.io" }, { version: "1.0.0" }, 5],
      }),
      "odd",
    );
    expect(extract(condenseExecutable(odd) as Buffer)).toEqual({
      packages: [
        { name: "ok", version: "1.0.0", type: "cargo", purl: "pkg:cargo/ok@1.0.0", ecosystem: "crates.io" },
      ],
      warnings: [
        "cargo-auditable package 1 has no name or version; skipped",
        "cargo-auditable package 2 is not an object; skipped",
      ],
    });
  });

  it("lists the crates of an executable in an image at its path and layer", async () => {
    const image = await buildImage([
      {
        files: [
          { path: "etc/os-release", type: "file", content: Buffer.from('ID=debian\nVERSION_ID="12"\n') },
        ],
        createdBy: "base",
      },
      {
        files: [{ path: "usr/local/bin/hello", type: "file", mode: 0o755, content: auditable }],
        createdBy: "COPY hello",
      },
    ]);
    const layout = join(work, "layout");
    await writeOciLayout(image, layout);
    const sbom = await cli(["sbom", `oci:${layout}`, "--format", "json", "--no-cache"]);
    expect(sbom.stderr).toBe("");
    expect(sbom.code).toBe(0);
    const report = JSON.parse(sbom.stdout) as JsonReport;
    const cargo = report.packages.filter((p) => p.type === "cargo");
    expect(cargo.map((p) => [p.name, p.version, p.ecosystem, p.location, p.layer.index])).toEqual(
      EXPECTED.map(([name, version, ecosystem]) => [name, version, ecosystem, "usr/local/bin/hello", 1]).sort(
        (a, b) => String(a[0]).localeCompare(String(b[0])),
      ),
    );
  });
});

describe.skipIf(goUnavailable() !== undefined || findTool("objcopy") === undefined)(
  "a PE executable with a .dep-v0 section",
  () => {
    it("is read too, and the same kept parts serve the Go reader", async () => {
      const builds = await buildGoPrograms();
      const exe = builds.binaries["windows-amd64.exe"] as string;
      const bytes = await withAuditSection(exe, compressed(AUDIT), "tool.exe");
      expect(execFileSync("objdump", ["-h", join(work, "tool.exe")]).toString()).toMatch(/\.dep-v0/);
      expect(extractKept(bytes).packages.map(row)).toEqual(EXPECTED);
      const go = extract(condenseExecutable(bytes) as Buffer, goBinaryExtractor);
      expect(go.packages.map((p) => p.name)).toEqual([
        "stdlib",
        "example.com/app",
        "example.com/lib",
        "example.com/fork",
      ]);
    });
  },
);
