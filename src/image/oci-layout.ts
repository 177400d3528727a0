import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describeError, InputError } from "../errors.js";
import { parseJson } from "./json-blob.js";
import { BLOB_READ_CHUNK_BYTES, decodeLayerBlob } from "./layer-stream.js";
import { parseImageConfig, selectManifest, shortDigest, verifyLayer } from "./manifest.js";
import { assertSourcePath } from "./source-path.js";
import { checkLayerCount } from "./tar-archive.js";
import type { ImageReadOptions, ImageSourceRef, LayerInfo, LayerProcessor, LoadedImage } from "./types.js";

/** Layers read at once: zlib inflates on the thread pool, so two keep both cores busy. */
const LAYER_CONCURRENCY = 2;

function blobFile(root: string, digest: string): string {
  const [algorithm = "", hex = ""] = digest.split(":");
  if (!/^[a-z0-9]+$/.test(algorithm) || !/^[a-f0-9]+$/.test(hex)) {
    throw new InputError(`invalid digest ${digest}`);
  }
  return join(root, "blobs", algorithm, hex);
}

/** Loads an image from an OCI image layout directory (`oci:DIR[:REF]`). */
export async function loadOciLayout<T>(
  source: ImageSourceRef,
  processLayer: LayerProcessor<T>,
  options: ImageReadOptions,
): Promise<LoadedImage<T>> {
  await assertSourcePath(source, "directory");
  const readJsonFile = async (path: string, what: string): Promise<unknown> => {
    let bytes: Buffer;
    try {
      const info = await stat(path);
      if (info.size > options.maxJsonBytes)
        throw new InputError(`${source.text}: ${what} is larger than ${options.maxJsonBytes} bytes`);
      bytes = await readFile(path);
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw new InputError(`${source.text}: ${what} is missing (${describeError(error)})`);
    }
    return parseJson(bytes, `${source.text}: ${what}`);
  };

  const index = await readJsonFile(join(source.path, "index.json"), "index.json");
  const { digest: manifestDigest, manifest } = await selectManifest(
    index,
    (digest) => readJsonFile(blobFile(source.path, digest), `blob ${digest}`),
    {
      where: `${source.text}: index.json`,
      ...(source.reference ? { reference: source.reference } : {}),
      ...(options.platform ? { platform: options.platform } : {}),
    },
  );
  const config = parseImageConfig(
    await readJsonFile(
      blobFile(source.path, manifest.config.digest),
      `config blob ${manifest.config.digest}`,
    ),
    `${source.text}: config`,
  );
  checkLayerCount(config, manifest.layers.length, source.text);

  const results: Array<LayerInfo & { result: T }> = new Array(manifest.layers.length);
  let next = 0;
  const worker = async () => {
    while (next < manifest.layers.length) {
      const index = next++;
      const descriptor = manifest.layers[index];
      if (!descriptor) continue;
      const label = `${source.text}: layer ${index} (${shortDigest(descriptor.digest)})`;
      const path = blobFile(source.path, descriptor.digest);
      try {
        await stat(path);
      } catch {
        throw new InputError(
          `${source.text}: the manifest names layer blob ${descriptor.digest}, which the layout does not contain`,
        );
      }
      const decoded = await decodeLayerBlob(
        createReadStream(path, { highWaterMark: BLOB_READ_CHUNK_BYTES }),
        {
          label,
          maxLayerBytes: options.maxLayerBytes,
        },
      );
      const result = await processLayer(decoded.tar, { label });
      const info = verifyLayer(config, index, await decoded.facts, {
        label,
        blobDigest: descriptor.digest,
        mediaType: descriptor.mediaType,
      });
      results[index] = { ...info, result };
    }
  };
  await Promise.all(Array.from({ length: LAYER_CONCURRENCY }, worker));
  return {
    source,
    manifestDigest,
    configDigest: manifest.config.digest,
    config,
    repoTags: [],
    layers: results,
  };
}
