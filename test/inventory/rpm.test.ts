import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSourceRpm, rpmExtractor } from "../../src/inventory/extractors/rpm.js";
import { parseRpmHeader, RpmHeaderError, RpmTag } from "../../src/inventory/rpm/header.js";
import type { Distro, ExtractedPackage } from "../../src/inventory/types.js";
import { inventoryImage } from "../../src/pipeline.js";
import type { JsonReport } from "../../src/report/model.js";
import { openSqlite } from "../../src/vulndb/sqlite.js";
import { cli } from "../helpers/cli.js";
import { buildImage, type LayerFile, writeOciLayout } from "../helpers/image-builder.js";
import { sharedData } from "../helpers/shared-data.js";
import { findTool, run } from "../helpers/tools.js";

const alma93: Distro = {
  id: "almalinux",
  versionId: "9.3",
  osvEcosystem: "AlmaLinux:9",
  source: "etc/os-release",
};

function extract(content: Buffer, options: { path?: string; distro?: Distro; wal?: Buffer } = {}) {
  const warnings: string[] = [];
  const path = options.path ?? "var/lib/rpm/rpmdb.sqlite";
  const packages = rpmExtractor.extract(path, content, {
    ...(options.distro ? { distro: options.distro } : {}),
    warn: (problem) => warnings.push(problem),
    readFile: (wanted) => (wanted === `${path}-wal` ? options.wal : undefined),
  });
  return { packages, warnings };
}

// ---- synthetic headers and databases -------------------------------------------------------

const INT32 = 4;
const STRING = 6;
const STRING_ARRAY = 8;

interface HeaderEntry {
  tag: number;
  type: number;
  value: string | string[] | number[];
}

/** An rpm header as rpmdbs store it: index count, data length, index entries, data store. */
function headerBlob(entries: HeaderEntry[]): Buffer {
  const index: Buffer[] = [];
  const data: Buffer[] = [];
  let length = 0;
  for (const entry of entries) {
    let bytes: Buffer;
    let count: number;
    if (entry.type === INT32) {
      const padding = (4 - (length % 4)) % 4;
      data.push(Buffer.alloc(padding));
      length += padding;
      const numbers = entry.value as number[];
      bytes = Buffer.alloc(numbers.length * 4);
      numbers.forEach((n, i) => {
        bytes.writeInt32BE(n, i * 4);
      });
      count = numbers.length;
    } else {
      const strings = typeof entry.value === "string" ? [entry.value] : (entry.value as string[]);
      bytes = Buffer.concat(strings.map((s) => Buffer.from(`${s}\0`)));
      count = strings.length;
    }
    const indexEntry = Buffer.alloc(16);
    indexEntry.writeInt32BE(entry.tag, 0);
    indexEntry.writeUInt32BE(entry.type, 4);
    indexEntry.writeInt32BE(length, 8);
    indexEntry.writeUInt32BE(count, 12);
    index.push(indexEntry);
    data.push(bytes);
    length += bytes.length;
  }
  const preamble = Buffer.alloc(8);
  preamble.writeUInt32BE(entries.length, 0);
  preamble.writeUInt32BE(length, 4);
  return Buffer.concat([preamble, ...index, ...data]);
}

function packageHeader(name: string, version: string, release: string, extra: HeaderEntry[] = []): Buffer {
  return headerBlob([
    { tag: RpmTag.NAME, type: STRING, value: name },
    { tag: RpmTag.VERSION, type: STRING, value: version },
    { tag: RpmTag.RELEASE, type: STRING, value: release },
    { tag: RpmTag.ARCH, type: STRING, value: "x86_64" },
    ...extra,
  ]);
}

function adler32(bytes: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** An NDB Packages.db holding the given headers, laid out as rpm's ndb backend writes it. */
function ndbFile(blobs: Buffer[]): Buffer {
  const slotArea = Buffer.alloc(4096);
  slotArea.write("RpmP", 0, "latin1");
  slotArea.writeUInt32LE(0, 4);
  slotArea.writeUInt32LE(1, 8);
  slotArea.writeUInt32LE(1, 12);
  slotArea.writeUInt32LE(blobs.length + 1, 16);
  const blobParts: Buffer[] = [];
  let block = slotArea.length / 16;
  blobs.forEach((blob, i) => {
    const id = i + 1;
    const size = Math.ceil((16 + blob.length + 12) / 16) * 16;
    const area = Buffer.alloc(size);
    area.write("BlbS", 0, "latin1");
    area.writeUInt32LE(id, 4);
    area.writeUInt32LE(1, 8);
    area.writeUInt32LE(blob.length, 12);
    blob.copy(area, 16);
    area.writeUInt32LE(adler32(area.subarray(0, size - 12)), size - 12);
    area.writeUInt32LE(blob.length, size - 8);
    area.write("BlbE", size - 4, "latin1");
    const slot = 32 + i * 16;
    slotArea.write("Slot", slot, "latin1");
    slotArea.writeUInt32LE(id, slot + 4);
    slotArea.writeUInt32LE(block, slot + 8);
    slotArea.writeUInt32LE(size / 16, slot + 12);
    block += size / 16;
    blobParts.push(area);
  });
  // Empty slots still carry the magic.
  for (let slot = 32 + blobs.length * 16; slot < 4096; slot += 16) slotArea.write("Slot", slot, "latin1");
  return Buffer.concat([slotArea, ...blobParts]);
}

/**
 * A BerkeleyDB hash Packages file in either byte order, 512-byte pages: the metadata page, one
 * hash page of (4-byte key, value) pairs, and overflow chains for values that do not fit inline.
 * Key 0 holds rpm's counter, as in a real database.
 */
function bdbFile(blobs: Buffer[], littleEndian: boolean): Buffer {
  const pageSize = 512;
  const u32 = (buffer: Buffer, value: number, at: number) =>
    littleEndian ? buffer.writeUInt32LE(value, at) : buffer.writeUInt32BE(value, at);
  const u16 = (buffer: Buffer, value: number, at: number) =>
    littleEndian ? buffer.writeUInt16LE(value, at) : buffer.writeUInt16BE(value, at);
  const pages: Buffer[] = [Buffer.alloc(pageSize), Buffer.alloc(pageSize)];
  const items: Buffer[] = [];
  const keyItem = (id: number) => {
    const item = Buffer.alloc(5);
    item[0] = 1; // H_KEYDATA
    u32(item, id, 1);
    return item;
  };
  const counter = Buffer.alloc(5);
  counter[0] = 1;
  u32(counter, blobs.length + 1, 1);
  items.push(keyItem(0), counter);
  blobs.forEach((blob, i) => {
    items.push(keyItem(i + 1));
    if (blob.length < 100) {
      items.push(Buffer.concat([Buffer.from([1]), blob]));
      return;
    }
    const first = pages.length;
    const room = pageSize - 26;
    for (let at = 0; at < blob.length; at += room) {
      const page = Buffer.alloc(pageSize);
      const last = at + room >= blob.length;
      u32(page, pages.length, 8);
      u32(page, last ? 0 : pages.length + 1, 16);
      u16(page, Math.min(room, blob.length - at), 22);
      page[25] = 7; // P_OVERFLOW
      blob.copy(page, 26, at, at + room);
      pages.push(page);
    }
    const item = Buffer.alloc(12);
    item[0] = 3; // H_OFFPAGE
    u32(item, first, 4);
    u32(item, blob.length, 8);
    items.push(item);
  });
  const meta = pages[0] as Buffer;
  u32(meta, 0x061561, 12);
  u32(meta, 9, 16);
  u32(meta, pageSize, 20);
  meta[25] = 8; // P_HASHMETA
  u32(meta, pages.length - 1, 32);
  const hash = pages[1] as Buffer;
  u32(hash, 1, 8);
  u16(hash, items.length, 20);
  hash[25] = 13; // P_HASH
  let end = pageSize;
  items.forEach((item, index) => {
    end -= item.length;
    item.copy(hash, end);
    u16(hash, end, 26 + index * 2);
  });
  u16(hash, end, 22);
  return Buffer.concat(pages);
}

/** A SQLite rpmdb written by SQLite itself, with rpm's Packages table. */
async function sqliteRpmdb(
  dir: string,
  blobs: Buffer[],
  options: { pageSize?: number; deleteIds?: number[]; wal?: boolean } = {},
): Promise<Buffer> {
  const path = join(dir, `rpmdb-${Math.random().toString(36).slice(2)}.sqlite`);
  const db = await openSqlite(path);
  if (options.pageSize) db.exec(`PRAGMA page_size = ${options.pageSize}`);
  if (options.wal) db.exec("PRAGMA journal_mode = WAL");
  db.exec("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)");
  db.exec("CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL)");
  const insert = db.prepare("INSERT INTO Packages (blob) VALUES (?)");
  db.transaction(() => {
    for (const blob of blobs) insert.run(blob);
  });
  for (const id of options.deleteIds ?? []) db.prepare("DELETE FROM Packages WHERE hnum = ?").run(id);
  db.close();
  const content = await readFile(path);
  await rm(path, { force: true });
  await rm(`${path}-wal`, { force: true });
  await rm(`${path}-shm`, { force: true });
  return content;
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "layerwatch-rpm-"));
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

// ---- headers --------------------------------------------------------------------------------

describe("rpm headers", () => {
  it("reads identity, epoch, license, vendor, modularity label, source rpm and the file list", () => {
    const header = parseRpmHeader(
      packageHeader("nodejs", "18.18.2", "2.module_el9.3.0+40+0ce3b2e5", [
        { tag: RpmTag.EPOCH, type: INT32, value: [1] },
        { tag: RpmTag.LICENSE, type: STRING, value: "MIT and ASL 2.0" },
        { tag: RpmTag.VENDOR, type: STRING, value: "AlmaLinux" },
        { tag: RpmTag.SOURCERPM, type: STRING, value: "nodejs-18.18.2-2.module_el9.3.0+40+0ce3b2e5.src.rpm" },
        { tag: RpmTag.MODULARITYLABEL, type: STRING, value: "nodejs:18:9030020231120:rhel9" },
        { tag: RpmTag.DIRNAMES, type: STRING_ARRAY, value: ["/usr/bin/", "/usr/lib/node_modules/"] },
        { tag: RpmTag.BASENAMES, type: STRING_ARRAY, value: ["node", "npm", "corepack"] },
        { tag: RpmTag.DIRINDEXES, type: INT32, value: [0, 1, 1] },
      ]),
    );
    expect(header).toEqual({
      name: "nodejs",
      version: "18.18.2",
      release: "2.module_el9.3.0+40+0ce3b2e5",
      epoch: 1,
      arch: "x86_64",
      sourceRpm: "nodejs-18.18.2-2.module_el9.3.0+40+0ce3b2e5.src.rpm",
      license: "MIT and ASL 2.0",
      vendor: "AlmaLinux",
      modularityLabel: "nodejs:18:9030020231120:rhel9",
      files: ["usr/bin/node", "usr/lib/node_modules/npm", "usr/lib/node_modules/corepack"],
    });
  });

  it("reads the whole paths of headers older than rpm 4", () => {
    const header = parseRpmHeader(
      packageHeader("bash", "1.14.7", "22", [
        { tag: RpmTag.OLDFILENAMES, type: STRING_ARRAY, value: ["/bin/bash", "/bin/sh"] },
      ]),
    );
    expect(header.files).toEqual(["bin/bash", "bin/sh"]);
  });

  it.each<[string, (blob: Buffer) => Buffer, RegExp]>([
    ["a record shorter than the preamble", (b) => b.subarray(0, 5), /shorter than its 8-byte preamble/],
    ["a data store cut short", (b) => b.subarray(0, b.length - 3), /the record has/],
    [
      "an index count far beyond the record",
      (b) => {
        const copy = Buffer.from(b);
        copy.writeUInt32BE(0x7fffffff, 0);
        return copy;
      },
      /index entries/,
    ],
    [
      "an entry pointing outside the data store",
      (b) => {
        const copy = Buffer.from(b);
        copy.writeInt32BE(1_000_000, 8 + 8); // the NAME entry's offset
        return copy;
      },
      /tag 1000: data offset 1000000 is outside the data store/,
    ],
    [
      "a header without a NAME",
      (b) => {
        const copy = Buffer.from(b);
        copy.writeInt32BE(999, 8); // renumber the NAME entry
        return copy;
      },
      /header without NAME/,
    ],
  ])("rejects %s", (_what, corrupt, message) => {
    const blob = packageHeader("a", "1", "1", [
      { tag: RpmTag.BASENAMES, type: STRING_ARRAY, value: ["a"] },
      { tag: RpmTag.DIRNAMES, type: STRING_ARRAY, value: ["/"] },
      { tag: RpmTag.DIRINDEXES, type: INT32, value: [0] },
    ]);
    expect(() => parseRpmHeader(corrupt(blob))).toThrow(RpmHeaderError);
    expect(() => parseRpmHeader(corrupt(blob))).toThrow(message);
  });

  it("keeps a package whose file list is unreadable, without files, and says why", () => {
    const withFiles = (extra: HeaderEntry[]) =>
      packageHeader("a", "1", "1", [
        { tag: RpmTag.BASENAMES, type: STRING_ARRAY, value: ["x", "y"] },
        { tag: RpmTag.DIRNAMES, type: STRING_ARRAY, value: ["/"] },
        ...extra,
      ]);
    const countTooLarge = Buffer.from(withFiles([{ tag: RpmTag.DIRINDEXES, type: INT32, value: [0, 0] }]));
    countTooLarge.writeUInt32BE(0xffffff, 8 + 4 * 16 + 12); // the BASENAMES entry's count
    for (const [blob, problem] of [
      [withFiles([{ tag: RpmTag.DIRINDEXES, type: INT32, value: [0, 7] }]), "file y: directory index 7 of 1"],
      [
        withFiles([{ tag: RpmTag.DIRINDEXES, type: INT32, value: [0] }]),
        "2 file names but 1 directory indexes",
      ],
      [countTooLarge, "tag 1117: 16777215 strings cannot fit in the data store"],
    ] as const) {
      const warnings: string[] = [];
      const header = parseRpmHeader(blob, (w) => warnings.push(w));
      expect(header.name).toBe("a");
      expect(header.files).toBeUndefined();
      expect(warnings).toEqual([`a: file list unreadable (${problem}); package kept without files`]);
    }
  });

  it("takes the source package's name and version from the source rpm's file name", () => {
    expect(parseSourceRpm("openssl-3.0.7-24.el9.src.rpm")).toEqual({
      name: "openssl",
      version: "3.0.7",
      release: "24.el9",
    });
    expect(parseSourceRpm("python-urllib3-1.26.5-3.el9.noarch.src.rpm")?.name).toBe("python-urllib3");
    expect(parseSourceRpm("kernel-5.14.0-362.8.1.el9_3.nosrc.rpm")?.name).toBe("kernel");
    expect(parseSourceRpm("(none)")).toBeUndefined();
    expect(parseSourceRpm("noversion.src.rpm")).toBeUndefined();
  });
});

// ---- the extractor on synthetic databases -------------------------------------------------

describe("rpm extractor", () => {
  it("wants the rpmdb paths of every format, and the SQLite log beside them", () => {
    for (const path of [
      "var/lib/rpm/Packages",
      "var/lib/rpm/rpmdb.sqlite",
      "var/lib/rpm/Packages.db",
      "usr/lib/sysimage/rpm/Packages.db",
      "usr/lib/sysimage/rpm/rpmdb.sqlite",
    ])
      expect(rpmExtractor.wants(path)).toBe(true);
    expect(rpmExtractor.wants("var/lib/rpm/Name")).toBe(false);
    expect(rpmExtractor.wants("var/lib/rpm/rpmdb.sqlite-wal")).toBe(false);
    expect(rpmExtractor.needs?.("var/lib/rpm/rpmdb.sqlite-wal")).toBe(true);
    expect(rpmExtractor.needs?.("var/lib/rpm/other-wal")).toBe(false);
  });

  it("builds the package: VERSION-RELEASE, epoch apart, source package, purl with the vendor namespace", () => {
    const db = ndbFile([
      packageHeader("openssl-libs", "3.0.7", "24.el9", [
        { tag: RpmTag.EPOCH, type: INT32, value: [1] },
        { tag: RpmTag.SOURCERPM, type: STRING, value: "openssl-3.0.7-24.el9.src.rpm" },
        { tag: RpmTag.VENDOR, type: STRING, value: "AlmaLinux" },
        { tag: RpmTag.LICENSE, type: STRING, value: "ASL 2.0" },
      ]),
      packageHeader("gpg-pubkey", "b86b3716", "61e69f29"),
    ]);
    const { packages, warnings } = extract(db, { path: "var/lib/rpm/Packages.db", distro: alma93 });
    expect(warnings).toEqual([]);
    expect(packages).toEqual([
      {
        name: "openssl-libs",
        version: "3.0.7-24.el9",
        type: "rpm",
        purl: "pkg:rpm/almalinux/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=almalinux-9.3&epoch=1",
        sourceName: "openssl",
        sourceVersion: "1:3.0.7-24.el9",
        arch: "x86_64",
        epoch: 1,
        ecosystem: "AlmaLinux:9",
        license: "ASL 2.0",
        vendor: "AlmaLinux",
      },
    ]);
  });

  it.each([
    ["rhel", "9.3", "pkg:rpm/redhat/bash@5.1.8-6.el9_1?arch=x86_64&distro=rhel-9.3"],
    ["ol", "8.9", "pkg:rpm/oracle/bash@5.1.8-6.el9_1?arch=x86_64&distro=ol-8.9"],
    ["opensuse-leap", "15.5", "pkg:rpm/opensuse/bash@5.1.8-6.el9_1?arch=x86_64&distro=opensuse-leap-15.5"],
    ["amzn", "2023", "pkg:rpm/amzn/bash@5.1.8-6.el9_1?arch=x86_64&distro=amzn-2023"],
  ])("names the purl namespace for %s", (id, versionId, purl) => {
    const db = ndbFile([packageHeader("bash", "5.1.8", "6.el9_1")]);
    const { packages } = extract(db, {
      path: "var/lib/rpm/Packages.db",
      distro: { id, versionId, source: "x" },
    });
    expect(packages[0]?.purl).toBe(purl);
    expect(packages[0]?.ecosystem).toBeUndefined();
  });

  it("leaves the namespace out when the OS is unknown", () => {
    const { packages } = extract(ndbFile([packageHeader("bash", "5.1.8", "6.el9_1")]));
    expect(packages[0]?.purl).toBe("pkg:rpm/bash@5.1.8-6.el9_1?arch=x86_64");
  });

  it("reads every row of a SQLite table spread over interior, leaf and overflow pages, in rowid order", async () => {
    // Sizes from a few bytes to several pages, so that cells overflow at every page size.
    const blobs = Array.from({ length: 300 }, (_, i) =>
      packageHeader(`pkg${i}`, "1.0", `${i}`, [
        { tag: RpmTag.LICENSE, type: STRING, value: "x".repeat((i * 977) % 9000) },
      ]),
    );
    for (const pageSize of [512, 4096, 65536]) {
      const db = await sqliteRpmdb(scratch, blobs, { pageSize, deleteIds: [5, 6, 7, 150] });
      const { packages, warnings } = extract(db);
      expect(warnings).toEqual([]);
      const expected = blobs.map((_, i) => `pkg${i}`).filter((_, i) => ![4, 5, 6, 149].includes(i));
      expect(packages.map((p) => p.name)).toEqual(expected);
      expect(packages[10]?.license?.length).toBe((13 * 977) % 9000);
    }
  });

  it("reads BerkeleyDB files of either byte order, with values inline and on overflow pages", () => {
    const blobs = [
      packageHeader("bash", "5.1.8", "6.el9_1", [
        { tag: RpmTag.LICENSE, type: STRING, value: "GPLv3+ ".repeat(300) },
      ]),
      packageHeader("a", "1", "1"), // 85 bytes: stored inline on the hash page
      packageHeader("zlib", "1.2.11", "40.el9", [
        { tag: RpmTag.VENDOR, type: STRING, value: "AlmaLinux" },
        { tag: RpmTag.LICENSE, type: STRING, value: "zlib and Boost" },
      ]),
    ];
    for (const littleEndian of [true, false]) {
      const { packages, warnings } = extract(bdbFile(blobs, littleEndian), { path: "var/lib/rpm/Packages" });
      expect(warnings).toEqual([]);
      expect(packages.map((p) => [p.name, p.version, p.license?.length])).toEqual([
        ["bash", "5.1.8-6.el9_1", 2100],
        ["a", "1-1", undefined],
        ["zlib", "1.2.11-40.el9", 14],
      ]);
    }
  });

  it("reads a SQLite database left in WAL mode, and warns about a log that was not checkpointed", async () => {
    const db = await sqliteRpmdb(scratch, [packageHeader("bash", "5.1.8", "6.el9_1")], { wal: true });
    expect(db[18]).toBe(2);
    expect(extract(db, { wal: Buffer.alloc(0) })).toEqual({ packages: [expect.anything()], warnings: [] });
    const { packages, warnings } = extract(db, { wal: Buffer.alloc(4152) });
    expect(packages.map((p) => p.name)).toEqual(["bash"]);
    expect(warnings).toEqual([
      "var/lib/rpm/rpmdb.sqlite-wal holds 4152 bytes of changes not yet written to the database; packages they add or remove are not reflected",
    ]);
  });

  it("skips a bad header with a warning and reads the rest", async () => {
    const bad = Buffer.from(packageHeader("broken", "1", "1"));
    bad.writeUInt32BE(0x00ffffff, 4); // data length far beyond the record
    const good = packageHeader("bash", "5.1.8", "6.el9_1");
    for (const [path, db] of [
      ["var/lib/rpm/Packages.db", ndbFile([good, bad, good])],
      ["var/lib/rpm/rpmdb.sqlite", await sqliteRpmdb(scratch, [good, bad, good])],
    ] as const) {
      const { packages, warnings } = extract(db, { path });
      expect(packages.map((p) => p.name)).toEqual(["bash", "bash"]);
      expect(warnings).toEqual([
        "header 2: header needs 16777287 bytes for 4 index entries and 16777215 bytes of data; the record has 90; skipped",
      ]);
    }
  });

  it("says what is wrong with a file that is no rpmdb, and reads nothing from an empty one", () => {
    expect(extract(Buffer.from("not a database at all, just some text that is long enough"))).toEqual({
      packages: [],
      warnings: ["not an rpm database (no SQLite, NDB or BerkeleyDB hash magic); no packages read"],
    });
    expect(extract(Buffer.alloc(0))).toEqual({ packages: [], warnings: [] });
  });

  it("checks NDB blobs against their slot, their tail and their checksum", () => {
    const headers = ["a", "b", "c", "d"].map((name) => packageHeader(name, "1", "1"));
    const db = ndbFile(headers);
    const blobStart = (index: number) => db.readUInt32LE(32 + index * 16 + 8) * 16;
    db.writeUInt8(db.readUInt8(blobStart(1) + 40) ^ 0xff, blobStart(1) + 40); // a byte inside b's header
    db.writeUInt32LE(99, blobStart(2) + 4); // c's blob head names another package
    db.writeUInt32LE(0xffffff, 32 + 3 * 16 + 8); // d's slot points past the end of the file
    const { packages, warnings } = extract(db, { path: "var/lib/rpm/Packages.db" });
    expect(packages.map((p) => p.name)).toEqual(["a"]);
    expect(warnings).toEqual([
      "NDB rpmdb: package 2 (slot 3): the blob checksum does not match; skipped",
      "NDB rpmdb: package 3 (slot 4): the blob head does not match the slot; skipped",
      expect.stringMatching(/^NDB rpmdb: package 4 \(slot 5\): its blob at bytes \d+-\d+ is outside/),
    ]);
  });
});

// ---- real rpmdbs ----------------------------------------------------------------------------

interface Expected {
  name: string;
  version: string;
  epoch?: number;
  arch?: string;
  sourceName?: string;
  sourceVersion?: string;
  license?: string;
  vendor?: string;
  modularityLabel?: string;
  files?: string[];
}

function summary(pkg: ExtractedPackage, withFiles = false): Expected {
  return {
    name: pkg.name,
    version: pkg.version,
    ...(pkg.epoch !== undefined ? { epoch: pkg.epoch } : {}),
    ...(pkg.arch ? { arch: pkg.arch } : {}),
    ...(pkg.sourceName ? { sourceName: pkg.sourceName } : {}),
    ...(pkg.sourceVersion ? { sourceVersion: pkg.sourceVersion } : {}),
    ...(pkg.license ? { license: pkg.license } : {}),
    ...(pkg.vendor ? { vendor: pkg.vendor } : {}),
    ...(pkg.modularityLabel ? { modularityLabel: pkg.modularityLabel } : {}),
    ...(withFiles ? { files: pkg.files ?? [] } : {}),
  };
}

const byIdentity = (a: Expected, b: Expected) =>
  a.name.localeCompare(b.name) ||
  a.version.localeCompare(b.version) ||
  (a.arch ?? "").localeCompare(b.arch ?? "");

function fromSourceRpm(sourceRpm: string, epoch: number | undefined, fallback: string) {
  const source = parseSourceRpm(sourceRpm);
  const prefix = epoch !== undefined ? `${epoch}:` : "";
  return {
    sourceName: source?.name ?? fallback,
    sourceVersion: `${prefix}${source ? `${source.version}-${source.release}` : ""}`,
  };
}

/** go-rpmdb's packages.csv: EPOCH¶NAME¶VERSION¶RELEASE¶ARCH¶SOURCERPM¶SIZE¶LICENSE¶VENDOR¶SUMMARY¶SIGMD5. */
function expectedFromCsv(text: string): Expected[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.split("¶"))
    .filter((fields) => fields[1] !== "gpg-pubkey")
    .map(
      ([
        epochText = "",
        name = "",
        version = "",
        release = "",
        arch = "",
        sourceRpm = "",
        ,
        license,
        vendor,
      ]) => {
        const epoch = epochText === "" ? undefined : Number(epochText);
        return {
          name,
          version: `${version}-${release}`,
          ...(epoch !== undefined ? { epoch } : {}),
          ...(arch ? { arch } : {}),
          ...fromSourceRpm(sourceRpm, epoch, name),
          ...(license ? { license } : {}),
          ...(vendor ? { vendor } : {}),
        };
      },
    )
    .sort(byIdentity);
}

const QUERY_FORMAT =
  "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\t%{VENDOR}\\t%{MODULARITYLABEL}\\t[%{FILENAMES}\\v]\\n";

/** What rpm itself says is in a database: `rpm -qa --queryformat`, gpg-pubkey left out. */
async function rpmQuery(args: string[]): Promise<Expected[]> {
  const { stdout } = await run("rpm", [...args, "-qa", "--queryformat", QUERY_FORMAT]);
  const none = (value: string | undefined) => (value === undefined || value === "(none)" ? undefined : value);
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"))
    .filter(([name]) => name !== "gpg-pubkey")
    .map(
      ([
        name = "",
        epochText,
        version = "",
        release = "",
        arch,
        sourceRpm = "",
        license,
        vendor,
        label,
        files,
      ]) => {
        const epoch = none(epochText) === undefined ? undefined : Number(epochText);
        return {
          name,
          version: `${version}-${release}`,
          ...(epoch !== undefined ? { epoch } : {}),
          ...(none(arch) ? { arch: arch as string } : {}),
          ...fromSourceRpm(sourceRpm, epoch, name),
          ...(none(license) ? { license: license as string } : {}),
          ...(none(vendor) ? { vendor: vendor as string } : {}),
          ...(none(label) ? { modularityLabel: label as string } : {}),
          files: (files ?? "")
            .split("\v")
            .filter((f) => f !== "" && f !== "(none)")
            .map((f) => f.replace(/^\/+/, "")),
        };
      },
    )
    .sort(byIdentity);
}

const rpmMissing = findTool("rpm") === undefined;
if (rpmMissing) console.warn("skipping the comparisons with rpm itself: rpm not found (apt-get install rpm)");

describe("real rpmdbs", () => {
  const fixture = (path: string) => sharedData(`pkgdb/rpm/${path}`);
  const read = async (path: string) => readFile(fixture(path) as string);

  const dive = fixture("syft/Packages");
  it.skipIf(!dive)("BerkeleyDB: syft's dive, installed into an empty database on centos:8", async () => {
    const { packages, warnings } = extract(await read("syft/Packages"), { path: "var/lib/rpm/Packages" });
    expect(warnings).toEqual([]);
    expect(packages.map((p) => summary(p, true))).toEqual([
      {
        name: "dive",
        version: "0.9.2-1",
        arch: "x86_64",
        sourceName: "dive",
        sourceVersion: "0.9.2-1",
        license: "MIT",
        files: ["usr/local/bin/dive"],
      },
    ]);
  });

  const epoch = fixture("scalibr/Packages_epoch");
  it.skipIf(!epoch)("BerkeleyDB: osv-scalibr's hello with epoch 1 (dive's record was erased)", async () => {
    const { packages, warnings } = extract(await read("scalibr/Packages_epoch"), { distro: alma93 });
    expect(warnings).toEqual([]);
    expect(packages.map((p) => summary(p))).toEqual([
      {
        name: "hello",
        version: "0.0.1-rls",
        epoch: 1,
        arch: "x86_64",
        sourceName: "hello",
        sourceVersion: "1:0.0.1-rls",
        license: "GPL",
      },
    ]);
    expect(packages[0]?.purl).toBe(
      "pkg:rpm/almalinux/hello@0.0.1-rls?arch=x86_64&distro=almalinux-9.3&epoch=1",
    );
  });

  const libuuid = fixture("go-rpmdb/libuuid/Packages");
  it.skipIf(!libuuid)("BerkeleyDB: go-rpmdb's RHEL 8 libuuid, built from util-linux", async () => {
    const { packages, warnings } = extract(await read("go-rpmdb/libuuid/Packages"));
    expect(warnings).toEqual([]);
    expect(packages.map((p) => summary(p))).toEqual([
      {
        name: "libuuid",
        version: "2.32.1-42.el8_8",
        arch: "x86_64",
        sourceName: "util-linux",
        sourceVersion: "2.32.1-42.el8_8",
        license: "BSD",
        vendor: "Red Hat, Inc.",
      },
    ]);
    expect(packages[0]?.files).toContain("usr/lib64/libuuid.so.1.3.0");
  });

  const empty = fixture("rpm-parser/fixtures/rpm4_empty");
  it.skipIf(!empty)(
    "BerkeleyDB: rpm-parser's empty database has no packages and nothing to warn about",
    async () => {
      expect(extract(await read("rpm-parser/fixtures/rpm4_empty"))).toEqual({ packages: [], warnings: [] });
    },
  );

  const snykNdb = fixture("snyk-docker-plugin/Packages.db");
  it.skipIf(!snykNdb)("NDB: snyk-docker-plugin's three SLES 15 SP3 packages", async () => {
    const { packages, warnings } = extract(await read("snyk-docker-plugin/Packages.db"), {
      path: "usr/lib/sysimage/rpm/Packages.db",
    });
    expect(warnings).toEqual([]);
    expect(packages.map((p) => [p.name, p.version, p.arch])).toEqual([
      ["system-user-root", "20190513-3.3.1", "noarch"],
      ["filesystem", "15.0-11.8.1", "x86_64"],
      ["glibc", "2.31-150300.63.1", "x86_64"],
    ]);
  });

  for (const [db, csv, count] of [
    ["go-rpmdb/sle15-bci/Packages.db", "go-rpmdb/sle15-bci/packages.csv", 36],
    ["go-rpmdb/amazonlinux2023-plain/rpmdb.sqlite", "go-rpmdb/amazonlinux2023-plain/packages.csv", 102],
  ] as const) {
    const present = fixture(db) && fixture(csv);
    it.skipIf(!present)(`${db} matches every row of its packages.csv (${count} packages)`, async () => {
      const { packages, warnings } = extract(await read(db));
      expect(warnings).toEqual([]);
      const expected = expectedFromCsv(await readFile(fixture(csv) as string, "utf8"));
      expect(expected.length).toBe(count);
      expect(packages.map((p) => summary(p)).sort(byIdentity)).toEqual(expected);
    });
  }

  const mariner = fixture("go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite");
  it.skipIf(!mariner)("SQLite: CBL-Mariner 2.0's 129 packages, curl as go-rpmdb decoded it", async () => {
    const { packages, warnings } = extract(await read("go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite"));
    expect(warnings).toEqual([]);
    expect(packages.length).toBe(129);
    const curl = JSON.parse(await readFile(fixture("go-rpmdb/cbl-mariner-2.0/curl.json") as string, "utf8"));
    const fileNames: string[] = JSON.parse(
      await readFile(fixture("go-rpmdb/cbl-mariner-2.0/curl_file_names.json") as string, "utf8"),
    );
    const found = packages.find((p) => p.name === "curl");
    expect(found && summary(found, true)).toEqual({
      name: curl.Name,
      version: `${curl.Version}-${curl.Release}`,
      arch: curl.Arch,
      sourceName: "curl",
      sourceVersion: `${curl.Version}-${curl.Release}`,
      license: curl.License,
      vendor: curl.Vendor,
      files: fileNames.map((f) => f.slice(1)),
    });
  });

  // rpm reads BerkeleyDB (read-only) and SQLite databases, but Debian's build has no NDB.
  for (const [path, name, backend] of [
    ["syft/Packages", "Packages", "bdb_ro"],
    ["scalibr/Packages_epoch", "Packages", "bdb_ro"],
    ["go-rpmdb/libuuid/Packages", "Packages", "bdb_ro"],
    ["go-rpmdb/amazonlinux2023-plain/rpmdb.sqlite", "rpmdb.sqlite", "sqlite"],
    ["go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite", "rpmdb.sqlite", "sqlite"],
  ] as const) {
    it.skipIf(rpmMissing || !fixture(path))(`${path}: every field and file agrees with rpm -qa`, async () => {
      // rpm wants the database under its own name in a directory it may write its lock into.
      const dir = await mkdtemp(join(scratch, "rpmdb-"));
      await copyFile(fixture(path) as string, join(dir, name));
      const expected = await rpmQuery(["--dbpath", dir, "--define", `_db_backend ${backend}`]);
      const { packages } = extract(await read(path));
      expect(packages.map((p) => summary(p, true)).sort(byIdentity)).toEqual(expected);
    });
  }
});

describe("corrupt real rpmdbs", () => {
  const path = (p: string) => sharedData(`pkgdb/rpm/${p}`);
  const amazon = path("go-rpmdb/amazonlinux2023-plain/rpmdb.sqlite");
  const libuuid = path("go-rpmdb/libuuid/Packages");
  const sle = path("go-rpmdb/sle15-bci/Packages.db");

  it.skipIf(!amazon)("truncated SQLite: what is there is read, what is missing is reported", async () => {
    const db = await readFile(amazon as string);
    // rpm created its index tables last, so the schema's own pages are near the end of the file.
    expect(extract(db.subarray(0, db.length / 2 + 100)).warnings).toEqual([
      "SQLite rpmdb: the file holds 380 whole pages of the 760 its header declares (truncated?); what is there was read",
      "SQLite rpmdb: page 626 is outside the 380-page file; that part of the table was not read",
      "SQLite rpmdb: page 628 is outside the 380-page file; that part of the table was not read",
      "SQLite rpmdb: no Packages table; no packages read",
    ]);
    // Cut at 90%, only the last row (the gpg-pubkey, added last) loses its overflow pages.
    const { packages, warnings } = extract(db.subarray(0, Math.floor(db.length * 0.9)));
    expect(packages.length).toBe(102);
    expect(warnings).toEqual([
      "SQLite rpmdb: the file holds 684 whole pages of the 760 its header declares (truncated?); what is there was read",
      "SQLite rpmdb: page 619, cell 1: page 759 is outside the 684-page file; skipped",
    ]);
  });

  it("SQLite table with a wiped leaf page: the rows on every other page are read", async () => {
    const blobs = Array.from({ length: 300 }, (_, i) =>
      packageHeader(`pkg${i}`, "1.0", `${i}`, [
        { tag: RpmTag.LICENSE, type: STRING, value: "x".repeat(i * 7) },
      ]),
    );
    const db = await sqliteRpmdb(scratch, blobs, { pageSize: 1024 });
    // The first table leaf after page 10 (every table leaf here is one of Packages).
    let leaf = 11;
    while (db[(leaf - 1) * 1024] !== 0x0d) leaf++;
    const cells = db.readUInt16BE((leaf - 1) * 1024 + 3);
    db.fill(0, (leaf - 1) * 1024, leaf * 1024);
    const { packages, warnings } = extract(db);
    expect(warnings).toEqual([`SQLite rpmdb: page ${leaf} has type 0, not a table b-tree page; not read`]);
    expect(packages.length).toBe(300 - cells);
  });

  it.skipIf(!amazon)("SQLite b-tree whose pages link in a loop: each page is read once", async () => {
    const db = Buffer.from(await readFile(amazon as string));
    const pageSize = db.readUInt16BE(16);
    // Packages' root is page 2, an interior page: point its right-most child back at itself.
    const root = pageSize;
    expect(db[root]).toBe(0x05);
    db.writeUInt32BE(2, root + 8);
    const { packages, warnings } = extract(db);
    expect(warnings).toContain("SQLite rpmdb: b-tree page 2 is reached twice (a loop); not read again");
    expect(packages.length).toBeGreaterThan(50);
    expect(packages.length).toBeLessThan(102);
  });

  it.skipIf(!libuuid)("BerkeleyDB overflow chain that loops, or is cut off", async () => {
    const original = await readFile(libuuid as string);
    const looped = Buffer.from(original);
    looped.writeUInt32LE(3, 10 * 4096 + 16); // page 10's next overflow page: back to page 3
    expect(extract(looped).warnings).toEqual([
      "BerkeleyDB rpmdb: header 1 (hash page 2): overflow chain loops back to page 3; skipped",
    ]);
    const truncated = original.subarray(0, 12 * 4096 + 100);
    expect(extract(truncated)).toEqual({
      packages: [],
      warnings: [
        "BerkeleyDB rpmdb: file ends inside page 12 (truncated?); the 12 whole pages were read",
        "BerkeleyDB rpmdb: header 1 (hash page 2): an overflow item claims 80880 bytes, more than the whole file; skipped",
      ],
    });
  });

  it.skipIf(!sle)("NDB with one damaged package: the other 35 are read", async () => {
    const db = Buffer.from(await readFile(sle as string));
    const slot = 32 + 5 * 16;
    const blob = db.readUInt32LE(slot + 8) * 16;
    db.writeUInt8(db.readUInt8(blob + 200) ^ 0x55, blob + 200);
    const { packages, warnings } = extract(db);
    expect(packages.length).toBe(35);
    expect(warnings).toEqual(["NDB rpmdb: package 6 (slot 7): the blob checksum does not match; skipped"]);
  });

  it.skipIf(!amazon || !sle || !libuuid)(
    "random damage to real databases never throws and never loops",
    async () => {
      const sources = [
        await readFile(path("syft/Packages") as string),
        await readFile(path("snyk-docker-plugin/Packages.db") as string),
        await sqliteRpmdb(scratch, [packageHeader("a", "1", "1"), packageHeader("b", "2", "2")], {
          pageSize: 512,
        }),
      ];
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: sources.length - 1 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
          fc.option(fc.nat(), { nil: undefined }),
          (which, edits, cut) => {
            const source = sources[which] as Buffer;
            const damaged = Buffer.from(source);
            for (const [at, value] of edits) damaged[at % damaged.length] = value;
            const input = cut === undefined ? damaged : damaged.subarray(0, cut % damaged.length);
            const { packages } = extract(input);
            expect(Array.isArray(packages)).toBe(true);
          },
        ),
        { numRuns: 400 },
      );
    },
    60_000,
  );
});

// ---- an rpmdb written by rpm at test time, scanned end to end -------------------------------

const rpmbuildMissing = rpmMissing || findTool("rpmbuild") === undefined;
if (rpmbuildMissing) {
  console.warn("skipping the rpmdb built at test time: rpm or rpmbuild not found (apt-get install rpm)");
}

/** Small packages with real names and versions: openssl (with an epoch and a -libs subpackage), tzdata (noarch), nodejs (from a module stream). */
const specs: Record<string, string> = {
  openssl: `Name: openssl
Epoch: 1
Version: 3.0.7
Release: 24.el9
Summary: Utilities from the general purpose cryptography library with TLS implementation
License: ASL 2.0
Vendor: AlmaLinux
%description
test package
%package libs
Summary: A general purpose cryptography library with TLS implementation
%description libs
test package
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/lib64/engines-3
echo bin > %{buildroot}/usr/bin/openssl
echo lib > %{buildroot}/usr/lib64/libssl.so.3
echo lib > %{buildroot}/usr/lib64/libcrypto.so.3
%files
/usr/bin/openssl
%files libs
%dir /usr/lib64/engines-3
/usr/lib64/libcrypto.so.3
/usr/lib64/libssl.so.3
`,
  tzdata: `Name: tzdata
Version: 2024a
Release: 1.el9
Summary: Timezone data
License: Public Domain
Vendor: AlmaLinux
BuildArch: noarch
%description
test package
%install
mkdir -p %{buildroot}/usr/share/zoneinfo
echo tz > %{buildroot}/usr/share/zoneinfo/UTC
%files
/usr/share/zoneinfo/UTC
`,
  nodejs: `Name: nodejs
Epoch: 1
Version: 18.18.2
Release: 2.module_el9.3.0+40+0ce3b2e5
Summary: JavaScript runtime
License: MIT and ASL 2.0
Vendor: AlmaLinux
ModularityLabel: nodejs:18:9030020231120:rhel9
%description
test package
%install
mkdir -p %{buildroot}/usr/bin
echo node > %{buildroot}/usr/bin/node
%files
/usr/bin/node
`,
};

const almaOsRelease = `NAME="AlmaLinux"
VERSION="9.3 (Shamrock Pampas Cat)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.3 (Shamrock Pampas Cat)"
`;

describe.skipIf(rpmbuildMissing)("an rpmdb written by rpm", () => {
  let work: string;
  let root: string;
  /** The database after tzdata alone, and after openssl, openssl-libs and nodejs too. */
  let firstDb: Buffer;
  let secondDb: Buffer;
  const rpmArgs = () => ["--root", root, "--dbpath", "/var/lib/rpm"];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-rpmbuild-"));
    root = join(work, "root");
    await mkdir(root);
    // A private HOME keeps the user's ~/.rpmmacros out of the build.
    const env = { ...process.env, HOME: work };
    const built: Record<string, string[]> = {};
    for (const [name, spec] of Object.entries(specs)) {
      const specPath = join(work, `${name}.spec`);
      await writeFile(specPath, spec);
      const topdir = join(work, `top-${name}`);
      const { stdout } = await run(
        "rpmbuild",
        ["--define", `_topdir ${topdir}`, "--target", "x86_64", "-bb", specPath],
        { env },
      );
      built[name] = [...stdout.matchAll(/^Wrote: (.+\.rpm)$/gm)].map((m) => m[1] as string);
    }
    const install = (files: string[]) =>
      run("rpm", [...rpmArgs(), "-i", "--nodeps", "--ignorearch", "--justdb", ...files], { env });
    await run("rpm", [...rpmArgs(), "--initdb"], { env });
    await install(built.tzdata ?? []);
    firstDb = await readFile(join(root, "var/lib/rpm/rpmdb.sqlite"));
    await install([...(built.openssl ?? []), ...(built.nodejs ?? [])]);
    secondDb = await readFile(join(root, "var/lib/rpm/rpmdb.sqlite"));
  }, 120_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("reads what rpm -qa reports, field for field and file for file", async () => {
    const { packages, warnings } = extract(secondDb, { distro: alma93 });
    expect(warnings).toEqual([]);
    const expected = await rpmQuery(rpmArgs());
    expect(expected.map((p) => p.name).sort()).toEqual(["nodejs", "openssl", "openssl-libs", "tzdata"]);
    expect(packages.map((p) => summary(p, true)).sort(byIdentity)).toEqual(expected);
  });

  it("scans an AlmaLinux 9 image end to end: packages, purls, layers and epoch-aware findings", async () => {
    const dir = join(work, "image");
    const rpmdbFile = (content: Buffer): LayerFile[] => [
      { path: "var", type: "directory" },
      { path: "var/lib", type: "directory" },
      { path: "var/lib/rpm", type: "directory" },
      { path: "var/lib/rpm/rpmdb.sqlite", type: "file", content },
      // rpm leaves an empty log beside the database; it holds nothing to apply.
      { path: "var/lib/rpm/rpmdb.sqlite-wal", type: "file", content: Buffer.alloc(0) },
    ];
    const image = await buildImage([
      {
        files: [
          { path: "etc", type: "directory" },
          { path: "etc/os-release", type: "file", content: Buffer.from(almaOsRelease) },
          ...rpmdbFile(firstDb),
        ],
        createdBy: "/bin/sh -c #(nop) ADD almalinux-9.3 rootfs",
      },
      { files: rpmdbFile(secondDb), createdBy: "/bin/sh -c dnf install -y openssl nodejs" },
    ]);
    await writeOciLayout(image, dir);

    const db = join(work, "vulndb.sqlite");
    const almaZip = sharedData("osv/AlmaLinux/all.zip");
    const advisories = almaZip ?? join(import.meta.dirname, "../../fixtures/osv");
    const imported = await cli(["--db", db, "db", "import", advisories]);
    expect(imported.code, imported.stderr).toBe(0);

    const scan = await cli(["--db", db, "scan", `oci:${dir}`, "--format", "json"]);
    expect(scan.stderr).toBe("");
    const report = JSON.parse(scan.stdout) as JsonReport;
    expect(report.os?.ecosystem).toBe("AlmaLinux:9");
    expect(report.warnings).toEqual([]);
    const rows = report.packages
      .filter((p) => p.type === "rpm")
      .map((p) => ({
        name: p.name,
        version: p.version,
        epoch: p.epoch,
        arch: p.arch,
        sourceName: p.sourceName,
        sourceVersion: p.sourceVersion,
        purl: p.purl,
        ecosystem: p.ecosystem,
        modularityLabel: p.modularityLabel,
        layer: p.layer.index,
      }));
    const row = (name: string, version: string, epoch: number | undefined, arch: string, layer: number) => ({
      name,
      version,
      epoch,
      arch,
      purl: `pkg:rpm/almalinux/${name}@${version}?arch=${arch}&distro=almalinux-9.3${epoch !== undefined ? `&epoch=${epoch}` : ""}`,
      ecosystem: "AlmaLinux:9",
      layer,
    });
    expect(rows).toEqual([
      {
        ...row("nodejs", "18.18.2-2.module_el9.3.0+40+0ce3b2e5", 1, "x86_64", 1),
        sourceName: "nodejs",
        sourceVersion: "1:18.18.2-2.module_el9.3.0+40+0ce3b2e5",
        modularityLabel: "nodejs:18:9030020231120:rhel9",
      },
      {
        ...row("openssl", "3.0.7-24.el9", 1, "x86_64", 1),
        sourceName: "openssl",
        sourceVersion: "1:3.0.7-24.el9",
        modularityLabel: undefined,
      },
      {
        ...row("openssl-libs", "3.0.7-24.el9", 1, "x86_64", 1),
        sourceName: "openssl",
        sourceVersion: "1:3.0.7-24.el9",
        modularityLabel: undefined,
      },
      {
        ...row("tzdata", "2024a-1.el9", undefined, "noarch", 0),
        sourceName: "tzdata",
        sourceVersion: "2024a-1.el9",
        modularityLabel: undefined,
      },
    ]);

    // The file list stays in the inventory (the report leaves it out).
    const { inventory } = await inventoryImage(`oci:${dir}`);
    const libs = inventory.packages.find((p) => p.name === "openssl-libs");
    expect(libs?.files).toEqual(["usr/lib64/engines-3", "usr/lib64/libcrypto.so.3", "usr/lib64/libssl.so.3"]);
    const { stdout } = await run("rpm", [...rpmArgs(), "-ql", "openssl-libs"]);
    expect(libs?.files).toEqual(
      stdout
        .trim()
        .split("\n")
        .map((f) => f.slice(1)),
    );

    if (almaZip) {
      // openssl 1:3.0.7-24.el9 is older than every fix from 1:3.0.7-25.el9_3 on, and newer than
      // 1:3.0.7-16.el9_2 (ALSA-2023:3722): without its epoch it would look older than that one too.
      const opensslFindings = report.findings
        .filter((f) => f.package.name === "openssl-libs")
        .map((f) => [f.id, f.fixedVersion])
        .sort();
      expect(opensslFindings).toEqual([
        ["ALSA-2024:0310", "1:3.0.7-25.el9_3"],
        ["ALSA-2024:2447", "1:3.0.7-27.el9"],
        ["ALSA-2024:6783", "1:3.0.7-28.el9_4"],
        ["ALSA-2024:9333", "1:3.2.2-6.el9_5"],
        ["ALSA-2025:1330", "1:3.2.2-6.el9_5.1"],
        ["ALSA-2025:21255", "1:3.5.1-4.el9_7"],
        ["ALSA-2026:1473", "1:3.5.1-7.el9_7"],
        ["ALSA-2026:19218", "1:3.5.5-2.el9_8"],
        ["ALSA-2026:22312", "1:3.5.5-3.el9_8"],
        ["ALSA-2026:25239", "1:3.5.5-4.el9_8"],
      ]);
      expect(report.findings.filter((f) => f.package.name === "tzdata")).toEqual([]);
    }
  }, 60_000);
});
