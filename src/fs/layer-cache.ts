import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import type { LayerContents } from "./types.js";

/** Bumped when LayerContents changes shape (2: entries carry their scanners' notes). */
const FORMAT_VERSION = 2;

/**
 * Layer results on disk, one file per diff id, so a second scan of an image that shares layers
 * with an earlier one reads neither the registry nor the layer again. The directory name carries
 * the format version and the readers' version (which paths the inventory keeps, which scanners
 * noted what), so a layerwatch that reads more or differently never uses an older result.
 */
export class DiskLayerCache {
  private readonly dir: string;

  constructor(root: string, readersVersion: string) {
    const key = createHash("sha256")
      .update(`${FORMAT_VERSION}\u0000${readersVersion}`)
      .digest("hex")
      .slice(0, 16);
    this.dir = join(root, "layers", key);
  }

  private file(diffId: string): string | undefined {
    const match = /^sha256:([a-f0-9]{64})$/.exec(diffId);
    return match ? join(this.dir, `${match[1]}.v8`) : undefined;
  }

  async get(diffId: string): Promise<LayerContents | undefined> {
    const path = this.file(diffId);
    if (!path) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      return undefined;
    }
    try {
      const value = deserialize(bytes) as LayerContents;
      // structured clone turns Buffers into Uint8Arrays; the rest of the pipeline wants Buffers.
      for (const entry of value.entries) {
        if (entry.content)
          entry.content = Buffer.from(
            entry.content.buffer,
            entry.content.byteOffset,
            entry.content.byteLength,
          );
      }
      return value;
    } catch {
      // A damaged cache file is a miss, and is removed so it is written afresh.
      await rm(path, { force: true });
      return undefined;
    }
  }

  async put(diffId: string, value: LayerContents): Promise<void> {
    const path = this.file(diffId);
    if (!path) return;
    await mkdir(this.dir, { recursive: true });
    // Written beside and renamed, so a reader never sees half a file.
    const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    await writeFile(temporary, serialize(value));
    await rename(temporary, path);
  }
}
