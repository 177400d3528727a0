/**
 * The layer reader's own tar reader, against tar-stream on the same archives: real ones (the
 * demo docker archive's layers, the Debian test image's layers and the node_modules bench layer
 * where they were built, and tars GNU tar writes here in pax and gnu formats with long names,
 * long link targets, big ids and a base-256 size), fed whole, in 1-byte chunks and in random
 * chunks; and hostile or broken tars, which must fail with the offset named or be read safely.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLayer } from "../../src/fs/layer-reader.js";
import { MAX_META_BYTES, type TarHeader, TarReader } from "../../src/fs/tar-reader.js";
import { tarOf } from "../helpers/image-builder.js";

/** What both readers are compared on: the header fields the layer reader uses, and the body. */
interface Seen {
  name: string;
  type: string | null;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string | null;
  pax: Record<string, string> | null;
  body: string;
}

const digest = (chunks: Buffer[]) => {
  const hash = createHash("sha256");
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest("hex").slice(0, 16);
};

/** tar-stream's reading, with pax uid/gid applied as the tar reader applies them. */
async function readWithTarStream(chunks: AsyncIterable<Buffer> | Buffer[]): Promise<Seen[]> {
  const archive = extract();
  const seen: Seen[] = [];
  const reading = pipeline(Readable.from(chunks), archive);
  for await (const entry of archive) {
    const header = entry.header;
    const body: Buffer[] = [];
    for await (const chunk of entry) body.push(chunk as Buffer);
    const pax = (header.pax as Record<string, string> | undefined) ?? null;
    seen.push({
      name: header.name,
      type: header.type ?? null,
      mode: header.mode ?? 0,
      uid: pax?.uid ? Number.parseInt(pax.uid, 10) : (header.uid ?? 0),
      gid: pax?.gid ? Number.parseInt(pax.gid, 10) : (header.gid ?? 0),
      size: header.size ?? 0,
      linkname: header.linkname ?? null,
      pax,
      body: digest(body),
    });
  }
  await reading;
  return seen;
}

/** The tar reader's reading; every body read, or every body skipped (body then ""). */
function readWithTarReader(chunks: Iterable<Buffer>, skipBodies = false): Seen[] {
  const seen: Seen[] = [];
  const reader = new TarReader((header: TarHeader) => {
    const record: Seen = { ...header, body: "" };
    delete (record as Partial<TarHeader>).offset;
    const body: Buffer[] = [];
    if (skipBodies) {
      seen.push(record);
      return undefined;
    }
    return {
      write: (chunk) => body.push(chunk),
      end: () => {
        record.body = digest(body);
        seen.push(record);
      },
    };
  });
  for (const chunk of chunks) reader.write(chunk);
  reader.end();
  return seen;
}

/** Deterministic pseudo-random chunk sizes (1 to `max` bytes). */
function* randomChunks(bytes: Buffer, seed: number, max: number): Generator<Buffer> {
  let state = seed;
  for (let at = 0; at < bytes.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + (state % max);
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

function* byteChunks(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at++) yield bytes.subarray(at, at + 1);
}

/** Checks the tar reader against tar-stream on one archive, under several chunkings. */
async function expectSameAsTarStream(bytes: Buffer, options: { oneByte?: boolean } = {}): Promise<Seen[]> {
  const expected = await readWithTarStream([bytes]);
  expect(expected.length).toBeGreaterThan(0);
  expect(readWithTarReader([bytes])).toEqual(expected);
  expect(readWithTarReader(randomChunks(bytes, 7, 4096))).toEqual(expected);
  expect(readWithTarReader(randomChunks(bytes, 11, 600_000))).toEqual(expected);
  if (options.oneByte !== false) expect(readWithTarReader(byteChunks(bytes))).toEqual(expected);
  // Skipping every body leaves the headers as they were.
  expect(readWithTarReader(randomChunks(bytes, 13, 1500), true)).toEqual(
    expected.map((entry) => ({ ...entry, body: "" })),
  );
  return expected;
}

async function gunzipFile(path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(createReadStream(path), createGunzip(), async (source) => {
    for await (const chunk of source) chunks.push(chunk as Buffer);
  });
  return Buffer.concat(chunks);
}

/** A tar header block with a good checksum (for hostile tars built by hand). */
function header(fields: {
  name: string;
  type?: string;
  size?: number | Buffer;
  linkname?: string;
  uid?: Buffer;
}): Buffer {
  const block = Buffer.alloc(512);
  block.write(fields.name, 0, 100, "utf8");
  block.write("0000644\0", 100);
  if (fields.uid) fields.uid.copy(block, 108);
  else block.write("0000000\0", 108);
  block.write("0000000\0", 116);
  if (Buffer.isBuffer(fields.size)) fields.size.copy(block, 124);
  else block.write(`${(fields.size ?? 0).toString(8).padStart(11, "0")}\0`, 124);
  block.write("00000000000\0", 136);
  block.write(fields.type ?? "0", 156);
  if (fields.linkname) block.write(fields.linkname, 157, 100, "utf8");
  block.write("ustar\x0000", 257, "latin1");
  return withChecksum(block);
}

function withChecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
}

const padded = (body: Buffer) => Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
const END = Buffer.alloc(1024);

function paxBody(records: Record<string, string>): Buffer {
  let text = "";
  for (const [key, value] of Object.entries(records)) {
    const line = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(line) + 1;
    while (String(length).length + Buffer.byteLength(line) !== length) length++;
    text += `${length}${line}`;
  }
  return Buffer.from(text);
}

const gnuTar = (() => {
  try {
    return /GNU tar/.test(execFileSync("tar", ["--version"], { encoding: "utf8" }));
  } catch {
    return false;
  }
})();

describe("the tar reader against tar-stream on real archives", () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-tar-reader-"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** A tree with names and link targets past ustar's 100/155 limits, and files of every padding. */
  async function writeTree(root: string): Promise<void> {
    const deep = join(root, "a".repeat(60), "b".repeat(60), "c".repeat(60), "d".repeat(60));
    await mkdir(deep, { recursive: true });
    const longName = `${"n".repeat(120)}.txt`;
    await writeFile(join(deep, longName), "long name\n");
    await writeFile(join(root, `${"x".repeat(200)}.js`), "x".repeat(1500));
    await writeFile(join(root, "empty"), "");
    await writeFile(join(root, "block"), Buffer.alloc(512, 7));
    await writeFile(join(root, "odd"), Buffer.alloc(513, 9));
    await writeFile(join(root, "unicodé-файл"), "ü\n");
    await symlink(join(deep, longName), join(root, "long-link"));
    await symlink("empty", join(root, "short-link"));
    execFileSync("ln", [join(deep, longName), join(root, "hard-link")]);
  }

  it.runIf(gnuTar)("reads GNU tar's pax and gnu formats, long names and big ids", async () => {
    const root = join(work, "tree");
    await writeTree(root);
    for (const format of ["pax", "gnu", "ustar"] as const) {
      const out = join(work, `tree-${format}.tar`);
      // Ids past ustar's 7 octal digits: pax records for pax, base-256 for gnu (ustar refuses).
      const ids = format === "ustar" ? [] : ["--owner=3000000", "--group=3000001", "--numeric-owner"];
      // ustar cannot hold the longest names: only the short ones go in.
      const names = format === "ustar" ? ["empty", "block", "odd", "short-link"] : ["."];
      execFileSync("tar", ["-c", `--format=${format}`, ...ids, "-f", out, "-C", root, ...names]);
      const seen = await expectSameAsTarStream(await readFile(out));
      const longest = seen.find((entry) => entry.name.endsWith(`${"n".repeat(120)}.txt`));
      if (format === "ustar") {
        expect(seen.map((entry) => entry.name)).toEqual(["empty", "block", "odd", "short-link"]);
        continue;
      }
      // Checked by hand: the names as written, the ids GNU tar was told.
      // ./ + four 60-byte directories + a 124-byte name, with their slashes.
      expect(longest?.name.length).toBe(370);
      expect(longest?.uid).toBe(3_000_000);
      expect(longest?.gid).toBe(3_000_001);
      const link = seen.find((entry) => entry.name.endsWith("long-link"));
      expect(link?.type).toBe("symlink");
      expect(link?.linkname?.endsWith(`${"n".repeat(120)}.txt`)).toBe(true);
      // The second of the two names of the hard-linked file (in directory order) is the link.
      const hard = seen.find((entry) => entry.name.endsWith("hard-link"));
      expect([hard?.type, longest?.type].sort()).toEqual(["file", "link"]);
      if (format === "pax") expect(longest?.pax?.path).toBe(longest?.name);
    }
  });

  it.runIf(gnuTar)("reads a base-256 size as tar-stream does", async () => {
    const root = join(work, "size");
    await mkdir(root, { recursive: true });
    await writeFile(join(root, "big"), Buffer.alloc(70_000, 1));
    const out = join(work, "size.tar");
    execFileSync("tar", ["-c", "--format=gnu", "-f", out, "-C", root, "big"]);
    const bytes = await readFile(out);
    // GNU tar writes base-256 only past 8 GiB: the same size is rewritten so, by hand.
    const block = bytes.subarray(0, 512);
    block.fill(0, 124, 136);
    block[124] = 0x80;
    block.writeUIntBE(70_000, 130, 6);
    withChecksum(block);
    const seen = await expectSameAsTarStream(bytes);
    expect(seen.map((entry) => [entry.name, entry.size])).toEqual([["big", 70_000]]);
  });

  it("reads the layers of the demo docker archive", async () => {
    const archive = join(import.meta.dirname, "../../.cache/demo/debian-app.tar");
    if (!existsSync(archive)) {
      console.warn(`skipping: ${archive} is absent (npm run demo builds it)`);
      return;
    }
    const outer = await expectSameAsTarStream(readFileSync(archive));
    const layers: Buffer[] = [];
    const reader = new TarReader((entry) => {
      if (!entry.name.endsWith("layer.tar") && !entry.name.startsWith("blobs/")) return undefined;
      const body: Buffer[] = [];
      return { write: (chunk) => body.push(chunk), end: () => layers.push(Buffer.concat(body)) };
    });
    reader.write(readFileSync(archive));
    reader.end();
    expect(outer.length).toBeGreaterThan(2);
    let tars = 0;
    for (const layer of layers) {
      // Blobs that are not tars (the config, manifests) are JSON.
      if (layer[0] === 0x7b) continue;
      tars++;
      await expectSameAsTarStream(layer);
    }
    expect(tars).toBeGreaterThan(0);
  });

  it("reads the Debian test image's and the bench's layers", async () => {
    const images = join(import.meta.dirname, "../../.cache/test-images");
    const blobs: string[] = [];
    for (const image of existsSync(images) ? readdirSync(images) : []) {
      for (const layout of readdirSync(join(images, image))) {
        const dir = join(images, image, layout, "blobs/sha256");
        if (layout.startsWith("layout-") && existsSync(dir))
          for (const blob of readdirSync(dir)) blobs.push(join(dir, blob));
      }
    }
    const bench = join(import.meta.dirname, "../../.cache/bench");
    for (const layout of existsSync(bench) ? readdirSync(bench) : []) {
      const dir = join(bench, layout, "blobs/sha256");
      if (layout.startsWith("node-modules-") && existsSync(dir))
        for (const blob of readdirSync(dir)) blobs.push(join(dir, blob));
    }
    let tars = 0;
    for (const blob of blobs) {
      const head = readFileSync(blob).subarray(0, 2);
      // Gzip layers are read unpacked; JSON blobs and the bench's gzip twin are passed over.
      if (head[0] === 0x7b || (blob.includes("node-modules-") && head[0] === 0x1f)) continue;
      const bytes = head[0] === 0x1f && head[1] === 0x8b ? await gunzipFile(blob) : readFileSync(blob);
      await expectSameAsTarStream(bytes, { oneByte: bytes.length < 4 * 1024 * 1024 });
      tars++;
    }
    if (tars === 0) console.warn(`skipping: no test image or bench layout built under ${images} or ${bench}`);
  }, 300_000);
});

describe("the tar reader on hostile and broken tars", () => {
  const good = () => Buffer.concat([header({ name: "a", size: 5 }), padded(Buffer.from("hello"))]);
  const read = (bytes: Buffer) => readWithTarReader(randomChunks(bytes, 3, 700));

  it("names the offset of a header with a bad checksum", () => {
    const bytes = Buffer.concat([good(), header({ name: "b" }), END]);
    bytes[1024 + 10] = 0x41;
    expect(() => read(bytes)).toThrow("bad header checksum at byte 1024");
  });

  it("refuses a tar cut inside a header, a body or its padding, and one that is not a tar", () => {
    const bytes = Buffer.concat([good(), header({ name: "b", size: 600 }), padded(Buffer.alloc(600)), END]);
    expect(() => read(bytes.subarray(0, 1024 + 300))).toThrow(/^unexpected end of data at byte 1324/);
    expect(() => read(bytes.subarray(0, 1024 + 512 + 100))).toThrow(
      "unexpected end of data at byte 1636: 500 bytes short of the body of the entry at byte 1024",
    );
    expect(() => read(bytes.subarray(0, 1024 + 512 + 700))).toThrow(/^unexpected end of data at byte 2236/);
    expect(() => read(Buffer.from("{}".repeat(600)))).toThrow(/^bad header checksum at byte 0/);
    const notUstar = header({ name: "v7" });
    notUstar.fill(0, 257, 265);
    expect(() => read(withChecksum(notUstar))).toThrow("unknown tar header format at byte 0");
  });

  it("reads a tar without its end blocks, as tar-stream does", async () => {
    const bytes = good();
    expect(read(bytes).map((entry) => entry.name)).toEqual(["a"]);
    expect((await readWithTarStream([bytes])).map((entry) => entry.name)).toEqual(["a"]);
  });

  it("refuses long names and pax headers over the limit without holding them", () => {
    for (const type of ["L", "K", "x", "g"]) {
      const bytes = Buffer.concat([header({ name: "././@LongLink", type, size: MAX_META_BYTES + 1 }), END]);
      expect(() => read(bytes)).toThrow(
        `the ${type} header at byte 0 holds ${MAX_META_BYTES + 1} bytes, over the ${MAX_META_BYTES}-byte limit`,
      );
    }
  });

  it("refuses a negative or unreadable size", () => {
    // Base-256, negative: -1.
    const negative = Buffer.alloc(12, 0xff);
    negative[11] = 0xfe;
    expect(() => read(Buffer.concat([header({ name: "n", size: negative }), END]))).toThrow(
      "invalid size in the header at byte 0",
    );
    const garbage = Buffer.from("zzzzzzzzzzz\0");
    expect(() => read(Buffer.concat([header({ name: "g", size: garbage }), END]))).toThrow(
      "invalid size in the header at byte 0",
    );
  });

  it("applies pax records and keeps every key, a global header's under the entry's own", () => {
    const bytes = Buffer.concat([
      header({
        name: "pax_global_header",
        type: "g",
        size: paxBody({ comment: "c", "LAYERWATCH.size": "1" }).length,
      }),
      padded(paxBody({ comment: "c", "LAYERWATCH.size": "1" })),
      header({
        name: "short",
        type: "x",
        size: paxBody({ path: "p/é", uid: "4000000", "LAYERWATCH.size": "77" }).length,
      }),
      padded(paxBody({ path: "p/é", uid: "4000000", "LAYERWATCH.size": "77" })),
      header({ name: "short" }),
      header({ name: "plain", type: "2", linkname: "target" }),
      END,
    ]);
    const seen = read(bytes);
    expect(seen.map((entry) => [entry.name, entry.uid, entry.type, entry.linkname, entry.pax])).toEqual([
      [
        "p/é",
        4_000_000,
        "file",
        null,
        { comment: "c", path: "p/é", uid: "4000000", "LAYERWATCH.size": "77" },
      ],
      ["plain", 0, "symlink", "target", { comment: "c", "LAYERWATCH.size": "1" }],
    ]);
  });

  it("skips a huge skipped body without holding it, and reads on after it", () => {
    const size = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024);
    const reader = new TarReader(() => undefined);
    const names: string[] = [];
    const counting = new TarReader((entry) => {
      names.push(entry.name);
      return undefined;
    });
    for (const target of [reader, counting]) {
      target.write(header({ name: "huge", size }));
      for (let written = 0; written < size; written += chunk.length) target.write(chunk);
      target.write(good());
      target.write(END);
      target.end();
    }
    expect(names).toEqual(["huge", "a"]);
  });
});

describe("the layer reader on broken tars", () => {
  it("says a truncated layer tar is corrupt, naming the layer and where it ends", async () => {
    const tar = await tarOf([{ path: "a", type: "file", content: Buffer.alloc(3000, 1) }]);
    await expect(
      readLayer(Readable.from([tar.subarray(0, 2000)]), "layer 1 (abc)", {
        wants: () => true,
        maxFileBytes: 10,
      }),
    ).rejects.toThrow(
      "layer 1 (abc): corrupt layer tar (unexpected end of data at byte 2000: 1512 bytes short of the body of the entry at byte 0)",
    );
  });

  it("passes an error of the input stream through unchanged", async () => {
    const lost = new Error("connection reset");
    const input = new Readable({
      read() {
        this.destroy(lost);
      },
    });
    await expect(readLayer(input, "layer 0 (abc)", { wants: () => true, maxFileBytes: 10 })).rejects.toBe(
      lost,
    );
  });
});
