import { Readable } from "node:stream";
import { ImageFilesystem } from "../../src/fs/image-fs.js";
import { readLayer } from "../../src/fs/layer-reader.js";
import { buildInventory, inventoryWants } from "../../src/inventory/inventory.js";
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
