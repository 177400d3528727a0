/**
 * The image checks read file contents while layers stream, and what they noted is kept with the
 * layer: a scan answered from the layer cache (a real registry, no layer fetched the second
 * time) gives the same findings, and a cache written without the scanners' notes (keyed on the
 * inventory alone, as before the checks existed) is not used.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskLayerCache } from "../../src/fs/layer-cache.js";
import { readLayer } from "../../src/fs/layer-reader.js";
import { inventoryCondense, inventoryVersion, inventoryWants } from "../../src/inventory/inventory.js";
import { inventoryImage } from "../../src/pipeline.js";
import { type BuiltImage, buildImage } from "../helpers/image-builder.js";
import { type RegistryServer, skipUnlessTools, startRegistry } from "../helpers/registry-server.js";
import {
  baseLayer,
  dir,
  fakeToken,
  file,
  freshPrivateKey,
  layer,
  where,
  whiteout,
} from "./image-fixtures.js";

const githubToken = fakeToken("ghp_", 36, 5);

const layers = [
  baseLayer,
  layer(
    "COPY . /",
    dir("root", 0o700),
    dir("root/.ssh", 0o700),
    file("root/.ssh/id_ed25519", freshPrivateKey(), 0o600),
    dir("srv"),
    file("srv/config.yml", `token: ${githubToken}\n`),
    file("etc/shadow", "root:*:19000::::::\nguest::19000::::::\n", 0o640),
  ),
  layer("RUN rm /root/.ssh/id_ed25519", dir("root/.ssh", 0o700), whiteout("root/.ssh/id_ed25519")),
];

const expected = [
  "LW-IMG-001 config.User",
  "LW-IMG-005 root/.ssh/id_ed25519@1 deleted",
  "LW-IMG-006 srv/config.yml@1",
  "LW-IMG-009 etc/shadow@1",
];

async function push(registry: RegistryServer, repository: string, image: BuiltImage): Promise<string[]> {
  const blobs = image.layerTars.map((tar) => gzipSync(tar));
  const digests: string[] = [];
  for (const blob of blobs) digests.push(await registry.pushBlob(repository, blob));
  await registry.pushBlob(repository, image.config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: image.configDigest,
        size: image.config.length,
      },
      layers: blobs.map((blob, i) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: digests[i],
        size: blob.length,
      })),
    }),
  );
  const put = await registry.request(`/v2/${repository}/manifests/latest`, {
    method: "PUT",
    body: manifest,
    headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
    scope: `repository:${repository}:pull,push`,
  });
  expect(put.status).toBe(201);
  return digests;
}

describe.skipIf(skipUnlessTools(["docker-registry"], "hygiene layer-cache tests"))(
  "image checks and the layer cache",
  () => {
    let registry: RegistryServer;
    let work: string;
    let image: BuiltImage;
    let digests: string[];

    beforeAll(async () => {
      registry = await startRegistry();
      work = await mkdtemp(join(tmpdir(), "layerwatch-hygiene-cache-"));
      image = await buildImage(layers);
      digests = await push(registry, "hygiene/app", image);
    }, 120_000);

    afterAll(async () => {
      await registry?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    const layerGets = async () => {
      let total = 0;
      for (const digest of digests)
        total += await registry.countRequests("GET", new RegExp(`/blobs/${digest}`));
      return total;
    };

    it("gives the same findings from cached layers, fetching none", async () => {
      const cacheDir = join(work, "cache");
      const ref = `${registry.address}/hygiene/app:latest`;
      const before = await layerGets();
      const cold = await inventoryImage(ref, { cacheDir });
      const afterCold = await layerGets();
      expect(afterCold - before).toBe(digests.length);
      expect(where(cold.hygiene ?? []).sort()).toEqual(expected);
      const warm = await inventoryImage(ref, { cacheDir });
      expect((await layerGets()) - afterCold).toBe(0);
      expect(warm.hygiene).toEqual(cold.hygiene);
    });

    it("does not use layers cached without the scanners' notes", async () => {
      const cacheDir = join(work, "stale-cache");
      // What a layerwatch without the image checks kept: read without scanners, keyed on the inventory alone.
      const stale = new DiskLayerCache(cacheDir, inventoryVersion);
      for (const [index, tar] of image.layerTars.entries()) {
        const contents = await readLayer(Readable.from([tar]), `layer ${index}`, {
          wants: inventoryWants,
          maxFileBytes: 1024 * 1024,
          condense: inventoryCondense,
        });
        await stale.put(image.diffIds[index] as string, contents);
      }
      const before = await layerGets();
      const scanned = await inventoryImage(`${registry.address}/hygiene/app:latest`, { cacheDir });
      expect((await layerGets()) - before).toBe(digests.length);
      expect(where(scanned.hygiene ?? []).sort()).toEqual(expected);
    });
  },
);
