/**
 * ReadLayerOptions.scanners: every regular file offered to them streams through them beside what
 * else reads it (kept whole, condensed), and only their notes are kept.
 */
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { readLayer } from "../../src/fs/layer-reader.js";
import type {
  FileScanner,
  LayerContents,
  ReadLayerOptions,
  ScanNote,
  StreamCondenser,
} from "../../src/fs/types.js";
import { type LayerFile, tarOf } from "../helpers/image-builder.js";

const file = (path: string, text: string, mode = 0o644): LayerFile => ({
  path,
  type: "file",
  content: Buffer.from(text),
  mode,
});

/** Notes the byte count it saw and whether "SECRET" was in it; stops after `limit` bytes. */
function countingScanner(limit = Number.POSITIVE_INFINITY, offered = (_path: string) => true): FileScanner {
  return {
    name: "count",
    version: "1",
    offered,
    open() {
      const chunks: Buffer[] = [];
      let bytes = 0;
      return {
        write(chunk: Buffer) {
          chunks.push(chunk);
          bytes += chunk.length;
          return bytes < limit;
        },
        end(): ScanNote[] {
          const text = Buffer.concat(chunks).toString();
          return text.includes("SECRET") ? [{ kind: "secret", detail: `${bytes} bytes` }] : [];
        },
      };
    },
  };
}

const upperCondenser = (): StreamCondenser => {
  const chunks: Buffer[] = [];
  return {
    write(chunk) {
      chunks.push(chunk);
      return true;
    },
    end: () => Buffer.from(Buffer.concat(chunks).toString().toUpperCase()),
  };
};

async function read(files: LayerFile[], options: Partial<ReadLayerOptions>): Promise<LayerContents> {
  // In 16 KiB pieces, as a layer arrives from a decompressor: a body comes in several chunks.
  const tar = await tarOf(files);
  const pieces: Buffer[] = [];
  for (let at = 0; at < tar.length; at += 16 * 1024) pieces.push(tar.subarray(at, at + 16 * 1024));
  return readLayer(Readable.from(pieces), "test layer", {
    wants: () => false,
    maxFileBytes: 1024 * 1024,
    ...options,
  });
}

describe("file scanners", () => {
  it("see wanted, condensed and otherwise unread files, and keep only their notes", async () => {
    const contents = await read(
      [
        file("etc/wanted.conf", "SECRET=1"),
        file("usr/bin/tool", "binary SECRET", 0o755),
        file("srv/plain.txt", "a SECRET here"),
        file("srv/clean.txt", "nothing"),
        { path: "srv", type: "directory" },
      ],
      {
        wants: (path) => path === "etc/wanted.conf",
        condense: (_path, mode) => (mode & 0o111 ? { by: "upper", condenser: upperCondenser() } : undefined),
        scanners: [countingScanner()],
      },
    );
    const byPath = new Map(contents.entries.map((e) => [e.path, e]));
    expect(byPath.get("etc/wanted.conf")?.content?.toString()).toBe("SECRET=1");
    expect(byPath.get("etc/wanted.conf")?.notes).toEqual({ count: [{ kind: "secret", detail: "8 bytes" }] });
    expect(byPath.get("usr/bin/tool")?.content?.toString()).toBe("BINARY SECRET");
    expect(byPath.get("usr/bin/tool")?.condensedBy).toBe("upper");
    expect(byPath.get("usr/bin/tool")?.notes).toEqual({ count: [{ kind: "secret", detail: "13 bytes" }] });
    // Scanned, but its bytes are not kept.
    expect(byPath.get("srv/plain.txt")?.content).toBeUndefined();
    expect(byPath.get("srv/plain.txt")?.notes).toEqual({ count: [{ kind: "secret", detail: "13 bytes" }] });
    expect(byPath.get("srv/clean.txt")?.notes).toBeUndefined();
    expect(byPath.get("srv")?.notes).toBeUndefined();
    expect(contents.warnings).toEqual([]);
  });

  it("stop receiving bytes when they say so, and the layer reads on", async () => {
    const big = "SECRET".padEnd(200_000, "x");
    const contents = await read([file("a.txt", big), file("b.txt", "SECRET")], {
      scanners: [countingScanner(1)],
    });
    const notes = contents.entries.map((e) => [e.path, e.notes?.count?.[0]?.kind]);
    expect(notes).toEqual([
      ["a.txt", "secret"],
      ["b.txt", "secret"],
    ]);
    // Only the first chunk of a.txt was handed over.
    expect(Number.parseInt(contents.entries[0]?.notes?.count?.[0]?.detail ?? "", 10)).toBeLessThan(
      big.length,
    );
  });

  it("are offered only what they accept, and a failing one is a warning, not a lost layer", async () => {
    const offeredPaths: Array<[string, number]> = [];
    const failing: FileScanner = {
      name: "broken",
      version: "1",
      offered: (path, _mode, size) => {
        offeredPaths.push([path, size ?? -1]);
        return path.endsWith(".txt");
      },
      open: () => ({
        write: () => {
          throw new Error("scanner bug");
        },
        end: () => [],
      }),
    };
    const contents = await read([file("x.txt", "hello"), file("y.bin", "data")], {
      scanners: [failing, countingScanner(Number.POSITIVE_INFINITY, (path) => path === "x.txt")],
    });
    expect(offeredPaths).toEqual([
      ["x.txt", 5],
      ["y.bin", 4],
    ]);
    expect(contents.entries.map((e) => e.path)).toEqual(["x.txt", "y.bin"]);
    expect(contents.warnings).toEqual([
      { path: "x.txt", problem: "cannot be scanned by broken (scanner bug); not read" },
    ]);
  });
});
