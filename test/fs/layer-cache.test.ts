import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskLayerCache } from "../../src/fs/layer-cache.js";
import type { LayerContents } from "../../src/fs/types.js";

const diffId = `sha256:${"ab".repeat(32)}`;
const contents: LayerContents = {
  entries: [
    {
      path: "etc/os-release",
      type: "file",
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 9,
      content: Buffer.from("ID=debian"),
    },
    { path: "bin/sh", type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 0, linkTarget: "dash" },
  ],
  whiteouts: ["tmp/x"],
  opaqueDirectories: [],
  warnings: [],
  entryCount: 3,
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "layerwatch-cache-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the layer cache", () => {
  it("gives back what was put, contents as Buffers", async () => {
    const cache = new DiskLayerCache(dir, "dpkg@1,npm@1");
    expect(await cache.get(diffId)).toBeUndefined();
    await cache.put(diffId, contents);
    const back = await cache.get(diffId);
    expect(back).toEqual(contents);
    expect(Buffer.isBuffer(back?.entries[0]?.content)).toBe(true);
  });

  it("never serves a result made by another inventory version", async () => {
    await new DiskLayerCache(dir, "dpkg@1,npm@1").put(diffId, contents);
    expect(await new DiskLayerCache(dir, "dpkg@2,npm@1").get(diffId)).toBeUndefined();
  });

  it("treats a damaged file as a miss and removes it", async () => {
    const cache = new DiskLayerCache(dir, "damaged");
    await cache.put(diffId, contents);
    const [key] = await readdir(join(dir, "layers"));
    const files = await readdir(join(dir, "layers"));
    for (const sub of files) {
      for (const name of await readdir(join(dir, "layers", sub)))
        await writeFile(join(dir, "layers", sub, name), "not v8");
    }
    expect(key).toBeDefined();
    expect(await cache.get(diffId)).toBeUndefined();
  });

  it("ignores keys that are not sha256 digests", async () => {
    const cache = new DiskLayerCache(dir, "x");
    await cache.put("../../etc/passwd", contents);
    expect(await cache.get("../../etc/passwd")).toBeUndefined();
  });
});
