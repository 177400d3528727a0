import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describeError, InputError } from "../../errors.js";
import { isTransient } from "../../http.js";
import { decodeLayerBlob } from "../layer-stream.js";
import {
  asDescriptor,
  type ImageManifest,
  parseImageConfig,
  parseImageManifest,
  selectManifest,
  shortDigest,
  verifyLayer,
} from "../manifest.js";
import { checkLayerCount } from "../tar-archive.js";
import type { ImageReadOptions, ImageSourceRef, LayerInfo, LayerProcessor, LoadedImage } from "../types.js";
import { RegistryClient } from "./client.js";
import { resolveCredentials } from "./credentials.js";
import { formatReference, parseImageReference } from "./reference.js";

/** Layers fetched at once: the network and zlib's thread pool overlap on two cores. */
const LAYER_CONCURRENCY = 3;
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_RETRIES = 4;

const schema1Types = new Set([
  "application/vnd.docker.distribution.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
]);

/** Layers that registries are not allowed to serve (Windows base layers): listed, never fetched. */
function isForeign(mediaType: string): boolean {
  return mediaType.includes("foreign") || mediaType.includes("nondistributable");
}

/** An empty tar: two zero blocks. What a skipped layer contributes to the filesystem. */
const EMPTY_TAR = Buffer.alloc(1024);

function parseJsonBody(body: Buffer, where: string): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new InputError(`${where}: not valid JSON (${describeError(error)})`);
  }
}

async function readBlobJson(
  client: RegistryClient,
  repository: string,
  digest: string,
  limit: number,
  where: string,
): Promise<unknown> {
  const stream = await client.openBlob(repository, digest);
  const chunks: Buffer[] = [];
  let length = 0;
  const hash = createHash("sha256");
  for await (const chunk of stream) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      stream.destroy();
      throw new InputError(`${where}: larger than ${limit} bytes`);
    }
    hash.update(chunk as Buffer);
    chunks.push(chunk as Buffer);
  }
  const actual = `sha256:${hash.digest("hex")}`;
  if (actual !== digest) throw new InputError(`${where}: digest mismatch: expected ${digest}, got ${actual}`);
  return parseJsonBody(Buffer.concat(chunks), where);
}

/**
 * Loads an image from a registry over the OCI Distribution API: the manifest (or an index and
 * then the platform's manifest), the config, and every layer, each verified against its digest
 * while it streams. Layers the cache already holds are not fetched at all.
 */
export async function loadRegistryImage<T>(
  source: ImageSourceRef,
  processLayer: LayerProcessor<T>,
  options: ImageReadOptions,
): Promise<LoadedImage<T>> {
  const reference = parseImageReference(source.path);
  const name = formatReference(reference);
  const env = options.env ?? process.env;
  const settings = options.registry ?? {};
  const credentials = await resolveCredentials(reference.registry, {
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    env,
  });
  const retries = settings.retries ?? DEFAULT_RETRIES;
  const client = new RegistryClient(reference.registry, {
    ...(settings.insecure !== undefined ? { insecure: settings.insecure } : {}),
    ...(settings.caFile !== undefined ? { caFile: settings.caFile } : {}),
    timeoutMs: settings.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries,
    ...(credentials ? { credentials } : {}),
    env,
    ...(options.onNote ? { onRetry: options.onNote } : {}),
  });
  const repository = reference.repository;
  try {
    const top = await client.getManifest(repository, reference.digest ?? reference.tag ?? "latest");
    const topDocument = parseJsonBody(top.body, `${name}: manifest`) as {
      schemaVersion?: number;
      mediaType?: string;
      manifests?: unknown;
    };
    if (schema1Types.has(top.mediaType) || topDocument.schemaVersion === 1) {
      throw new InputError(
        `${name}: the registry served a schema 1 manifest, which layerwatch does not read`,
      );
    }
    let manifestDigest = top.digest;
    let manifest: ImageManifest;
    if (Array.isArray(topDocument.manifests)) {
      const selected = await selectManifest(
        topDocument,
        async (digest) =>
          parseJsonBody((await client.getManifest(repository, digest)).body, `${name}@${digest}`),
        { where: name, ...(options.platform ? { platform: options.platform } : {}) },
      );
      manifestDigest = selected.digest;
      manifest = selected.manifest;
    } else {
      manifest = parseImageManifest(topDocument, `${name}: manifest`);
    }
    const configDescriptor = asDescriptor(manifest.config, `${name}: manifest config`);
    const config = parseImageConfig(
      await readBlobJson(
        client,
        repository,
        configDescriptor.digest,
        options.maxJsonBytes,
        `${name}: config ${configDescriptor.digest}`,
      ),
      `${name}: config`,
    );
    checkLayerCount(config, manifest.layers.length, name);

    const warnings: Array<{ subject: string; problem: string }> = [];
    const results: Array<LayerInfo & { result: T }> = new Array(manifest.layers.length);
    const readOne = async (index: number) => {
      const descriptor = manifest.layers[index];
      if (!descriptor) return;
      const label = `${name}: layer ${index} (${shortDigest(descriptor.digest)})`;
      const diffId = config.rootfs.diff_ids[index] as string;
      if (isForeign(descriptor.mediaType)) {
        warnings.push({
          subject: label,
          problem: `foreign layer (${descriptor.mediaType}) not fetched; its files are not scanned`,
        });
        const result = await processLayer(Readable.from([EMPTY_TAR]), { label });
        results[index] = {
          index,
          diffId,
          digest: descriptor.digest,
          mediaType: descriptor.mediaType,
          result,
        };
        return;
      }
      const cached = await options.layerCache?.get(diffId);
      if (cached !== undefined) {
        const history = verifyLayer(
          config,
          index,
          {
            blobDigest: descriptor.digest,
            diffId,
            compression: "none",
            compressedBytes: 0,
            uncompressedBytes: 0,
          },
          { label, blobDigest: descriptor.digest, mediaType: descriptor.mediaType },
        );
        // The cache holds what this same processor returned for this diff id.
        results[index] = { ...history, result: cached as T };
        return;
      }
      for (let attempt = 0; ; attempt++) {
        let blob: Readable | undefined;
        try {
          blob = await client.openBlob(repository, descriptor.digest);
          const decoded = await decodeLayerBlob(blob, { label, maxLayerBytes: options.maxLayerBytes });
          const result = await processLayer(decoded.tar, { label });
          const info = verifyLayer(config, index, await decoded.facts, {
            label,
            blobDigest: descriptor.digest,
            mediaType: descriptor.mediaType,
          });
          await options.layerCache?.put(diffId, result);
          results[index] = { ...info, result };
          return;
        } catch (error) {
          // Whatever failed, the rest of this download is not wanted: free its connection.
          blob?.destroy();
          // A connection lost mid-layer: read the whole layer again, from the start.
          if (!isTransient(error) || attempt >= retries) {
            if (error instanceof InputError) throw error;
            throw new InputError(
              `${label}: ${describeError(error)}${attempt > 0 ? ` (after ${attempt + 1} attempts)` : ""}`,
            );
          }
          options.onNote?.(`${label}: ${describeError(error)}; reading the layer again`);
        }
      }
    };
    let next = 0;
    const worker = async () => {
      while (next < manifest.layers.length) await readOne(next++);
    };
    await Promise.all(Array.from({ length: Math.min(LAYER_CONCURRENCY, manifest.layers.length) }, worker));
    return {
      source,
      manifestDigest,
      configDigest: configDescriptor.digest,
      config,
      repoTags: reference.tag ? [name] : [],
      layers: results,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  } finally {
    await client.close();
  }
}
