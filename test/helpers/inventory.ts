import { Readable } from "node:stream";
import { expect } from "vitest";
import { ImageFilesystem } from "../../src/fs/image-fs.js";
import { readLayer } from "../../src/fs/layer-reader.js";
import { executableFiles } from "../../src/inventory/binary/condense.js";
import { buildInventory, inventoryWants } from "../../src/inventory/inventory.js";
import type { Extractor } from "../../src/inventory/types.js";
import { type LayerFile, tarOf } from "./image-builder.js";

/** The inventory of an image made of these layers, read through the real layer reader. */
export async function inventoryOf(layers: LayerFile[][]) {
  const contents = await Promise.all(
    layers.map(async (files, index) =>
      readLayer(Readable.from(await tarOf(files)), `layer ${index}`, {
        wants: inventoryWants,
        maxFileBytes: 1 << 20,
      }),
    ),
  );
  return buildInventory(ImageFilesystem.fromLayers(contents));
}

export function textFile(path: string, content: string): LayerFile {
  return { path, type: "file", content: Buffer.from(content) };
}

/** What an extractor makes of one file at `path`: its packages, and the warnings it gave. */
export function extractFile(extractor: Extractor, path: string, content: string | Buffer) {
  const warnings: string[] = [];
  const packages = extractor.extract(path, Buffer.isBuffer(content) ? content : Buffer.from(content), {
    warn: (warning) => warnings.push(warning),
    readFile: () => undefined,
  });
  return { packages, warnings };
}

/** Streams a file through the executable condenser in chunks of `chunkSize`, as a layer would. */
export function condenseExecutable(bytes: Buffer, chunkSize = 64 * 1024): Buffer | undefined {
  const condenser = executableFiles.open(bytes.length);
  for (let at = 0; at < bytes.length; at += chunkSize)
    if (!condenser.write(bytes.subarray(at, at + chunkSize))) break;
  return condenser.end();
}

/**
 * Condenses an executable, checks that the kept bytes are few and that the extractor reads the
 * same from them as from the whole file, and returns what it read.
 */
export function extractStreamed(extractor: Extractor, path: string, bytes: Buffer, chunkSize?: number) {
  const kept = condenseExecutable(bytes, chunkSize);
  expect(kept, "something kept").toBeDefined();
  expect((kept as Buffer).length).toBeLessThan(16 * 1024);
  const streamed = extractFile(extractor, path, kept as Buffer);
  expect(streamed).toEqual(extractFile(extractor, path, bytes));
  return streamed;
}
