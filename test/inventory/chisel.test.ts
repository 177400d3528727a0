/**
 * Ubuntu chiselled images: the packages and files of a Chisel manifest (var/lib/chisel/manifest.wall),
 * compressed by the real zstd CLI as Chisel's own output is.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { chiselExtractor } from "../../src/inventory/extractors/chisel.js";
import type { Distro } from "../../src/inventory/types.js";
import { findTool } from "../helpers/tools.js";

const zstd = findTool("zstd");
if (!zstd) console.warn("skipping chisel manifest tests: zstd not found (apt-get install zstd)");

const ubuntu2204: Distro = {
  id: "ubuntu",
  versionId: "22.04",
  osvEcosystem: "Ubuntu:22.04:LTS",
  source: "etc/os-release",
};

/** A manifest as Chisel writes one: a header line, then every other line sorted. */
function jsonwall(records: object[]): string {
  const lines = records.map((record) => JSON.stringify(record)).sort();
  return `${[JSON.stringify({ jsonwall: "1.0", schema: "1.0", count: lines.length }), ...lines].join("\n")}\n`;
}

function compress(text: string, args: string[] = []): Buffer {
  return execFileSync(zstd as string, ["-q", "-c", ...args], { input: Buffer.from(text) });
}

/** `null` for an image without os-release. */
function extract(content: Buffer, distro: Distro | null = ubuntu2204) {
  const warnings: string[] = [];
  const packages = chiselExtractor.extract("var/lib/chisel/manifest.wall", content, {
    ...(distro ? { distro } : {}),
    warn: (w) => warnings.push(w),
    readFile: () => undefined,
  });
  return { packages, warnings };
}

const sha = (c: string) => c.repeat(64);

const manifest = jsonwall([
  { kind: "package", name: "base-files", version: "12ubuntu4.6", sha256: sha("a"), arch: "amd64" },
  { kind: "package", name: "libc6", version: "2.35-0ubuntu3.8", sha256: sha("b"), arch: "amd64" },
  { kind: "package", name: "openssl", version: "3.0.2-0ubuntu1.18", sha256: sha("c"), arch: "amd64" },
  { kind: "slice", name: "base-files_base" },
  { kind: "slice", name: "base-files_chisel" },
  { kind: "slice", name: "libc6_libs" },
  { kind: "slice", name: "openssl_bins" },
  { kind: "slice", name: "openssl_config" },
  { kind: "path", path: "/etc/", mode: "0755", slices: ["base-files_base", "openssl_config"] },
  { kind: "path", path: "/etc/ssl/openssl.cnf", mode: "0644", slices: ["openssl_config"], sha256: sha("d") },
  { kind: "path", path: "/usr/bin/openssl", mode: "0755", slices: ["openssl_bins"], sha256: sha("e") },
  { kind: "path", path: "/usr/lib/x86_64-linux-gnu/libc.so.6", mode: "0755", slices: ["libc6_libs"] },
  { kind: "path", path: "/var/lib/chisel/", mode: "0755", slices: ["base-files_chisel"] },
  { kind: "path", path: "/var/lib/chisel/manifest.wall", mode: "0644", slices: ["base-files_chisel"] },
  { kind: "content", slice: "openssl_bins", path: "/usr/bin/openssl" },
]);

describe.skipIf(!zstd)("chisel manifest", () => {
  it("wants the manifest chisel-releases' base-files_chisel slice writes", () => {
    expect(chiselExtractor.wants("var/lib/chisel/manifest.wall")).toBe(true);
    expect(chiselExtractor.wants("var/lib/chisel/manifest.wall.bak")).toBe(false);
  });

  it("lists every package with its files, and no directories", () => {
    const { packages, warnings } = extract(compress(manifest));
    expect(warnings).toEqual([]);
    expect(packages).toEqual([
      {
        name: "base-files",
        version: "12ubuntu4.6",
        type: "deb",
        purl: "pkg:deb/ubuntu/base-files@12ubuntu4.6?arch=amd64&distro=ubuntu-22.04",
        arch: "amd64",
        ecosystem: "Ubuntu:22.04:LTS",
        files: ["var/lib/chisel/manifest.wall"],
      },
      {
        name: "libc6",
        version: "2.35-0ubuntu3.8",
        type: "deb",
        purl: "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.8?arch=amd64&distro=ubuntu-22.04",
        arch: "amd64",
        ecosystem: "Ubuntu:22.04:LTS",
        files: ["usr/lib/x86_64-linux-gnu/libc.so.6"],
      },
      {
        name: "openssl",
        version: "3.0.2-0ubuntu1.18",
        type: "deb",
        purl: "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.18?arch=amd64&distro=ubuntu-22.04",
        arch: "amd64",
        ecosystem: "Ubuntu:22.04:LTS",
        files: ["etc/ssl/openssl.cnf", "usr/bin/openssl"],
      },
    ]);
  });

  it("reads a manifest split over several zstd frames", () => {
    const lines = manifest.split("\n");
    const half = Math.floor(lines.length / 2);
    const twoFrames = Buffer.concat([
      compress(`${lines.slice(0, half).join("\n")}\n`),
      compress(lines.slice(half).join("\n")),
    ]);
    expect(extract(twoFrames).packages.map((p) => p.name)).toEqual(["base-files", "libc6", "openssl"]);
  });

  it("skips bad lines with a warning, and refuses what is not a zstd jsonwall", () => {
    const withJunk = manifest.replace(
      '{"kind":"slice","name":"libc6_libs"}',
      'not json\n[1,2]\n{"kind":"package","name":"half"}\n{"kind":"future-kind","x":1}',
    );
    const { packages, warnings } = extract(compress(withJunk));
    expect(packages.map((p) => p.name)).toEqual(["base-files", "libc6", "openssl"]);
    expect(warnings).toEqual([
      expect.stringMatching(/^line \d+: not JSON; skipped$/),
      expect.stringMatching(/^line \d+: not a JSON object; skipped$/),
      expect.stringMatching(/^line \d+: a package without name or version; skipped$/),
    ]);
    expect(extract(Buffer.from(manifest)).warnings[0]).toMatch(/^not a readable zstd manifest/);
    const truncated = compress(manifest);
    expect(extract(truncated.subarray(0, truncated.length - 9)).warnings[0]).toMatch(
      /^not a readable zstd manifest/,
    );
    expect(extract(compress('{"kind":"package"}\n')).warnings).toEqual([
      "no jsonwall header on the first line; skipped",
    ]);
  });

  it("reads a streamed frame with zstd's largest usual window, and refuses a header asking for more", () => {
    // From a pipe, zstd knows no content size and names its window: 128 MiB with --long.
    const streamed = execFileSync("sh", ["-c", `"${zstd}" -q -c --ultra -22 --long=27`], { input: manifest });
    expect(streamed[5]).toBe(0x88);
    expect(extract(streamed).packages).toHaveLength(3);
    // The same frame naming a 2 GiB window: refused before the decoder allocates it.
    const hostile = Buffer.from(streamed);
    hostile[5] = 0xa8;
    const started = performance.now();
    expect(extract(hostile).warnings).toEqual([
      "not a readable zstd manifest (a zstd frame asks for a 2147483648-byte window); skipped",
    ]);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it("names the distro from os-release, and ubuntu without one", () => {
    const [first] = extract(compress(manifest), null).packages;
    expect(first?.purl).toBe("pkg:deb/ubuntu/base-files@12ubuntu4.6?arch=amd64");
    expect(first?.ecosystem).toBeUndefined();
  });
});
