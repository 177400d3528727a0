import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { posix } from "node:path";
import type { Readable } from "node:stream";
import { extract } from "tar-stream";
import { describeError, InputError } from "../errors.js";
import { parseJson } from "./json-blob.js";
import { BLOB_READ_CHUNK_BYTES, decodeLayerBlob } from "./layer-stream.js";
import { parseImageConfig, selectManifest, shortDigest, verifyLayer } from "./manifest.js";
import { peekBytes } from "./peek.js";
import { assertSourcePath } from "./source-path.js";
import type {
  ImageConfig,
  ImageReadOptions,
  ImageSourceRef,
  LayerInfo,
  LayerProcessor,
  LayerStreamFacts,
  LoadedImage,
} from "./types.js";

/** How `docker save` describes its images in manifest.json. */
interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

interface LayerCandidate<T> {
  result: T;
  facts: LayerStreamFacts;
}

const TAR_MAGIC_OFFSET = 257;

function looksLikeLayer(head: Buffer): boolean {
  if (head[0] === 0x1f && head[1] === 0x8b) return true; // gzip
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return true; // zstd
  if (head.subarray(TAR_MAGIC_OFFSET, TAR_MAGIC_OFFSET + 5).toString("latin1") === "ustar") return true;
  // An empty layer is a tar of nothing but its end-of-archive zero blocks.
  return head.length >= 512 && head.subarray(0, 512).every((byte) => byte === 0);
}

function normalizeArchivePath(name: string): string {
  return posix.normalize(`/${name}`).slice(1);
}

/**
 * Loads a `docker save` tarball or an OCI layout packed in a tar, reading the archive once.
 * Layers usually come before the manifest in these archives, so every layer-looking entry is
 * read as it passes (a layer's result does not depend on the others) and the manifest then
 * says which of them make the image, in which order.
 */
export async function loadTarArchive<T>(
  source: ImageSourceRef,
  processLayer: LayerProcessor<T>,
  options: ImageReadOptions,
): Promise<LoadedImage<T>> {
  await assertSourcePath(source, "file");
  return loadTarStream(
    source,
    createReadStream(source.path, { highWaterMark: BLOB_READ_CHUNK_BYTES }),
    processLayer,
    options,
  );
}

/**
 * Loads an image from a tar stream in `docker save` or OCI-layout form: a file, or the body of a
 * Docker daemon's image export.
 */
export async function loadTarStream<T>(
  source: ImageSourceRef,
  input: Readable,
  processLayer: LayerProcessor<T>,
  options: ImageReadOptions,
): Promise<LoadedImage<T>> {
  const jsonDocuments = new Map<string, Buffer>();
  const layers = new Map<string, LayerCandidate<T>>();
  const links = new Map<string, string>();
  let entryCount = 0;

  const archive = extract();
  input.on("error", (error) => archive.destroy(error));
  input.pipe(archive);
  try {
    for await (const entry of archive) {
      entryCount++;
      const name = normalizeArchivePath(entry.header.name);
      if (entry.header.type === "symlink" && entry.header.linkname) {
        links.set(name, normalizeArchivePath(posix.join(posix.dirname(name), entry.header.linkname)));
      } else if (entry.header.type === "link" && entry.header.linkname) {
        links.set(name, normalizeArchivePath(entry.header.linkname));
      }
      if (entry.header.type !== "file" && entry.header.type !== "contiguous-file") {
        entry.resume();
        continue;
      }
      // tar-stream entries are streamx streams; peekBytes hands back a Node Readable.
      const { head, stream: body } = await peekBytes(entry, 512);
      if (name.endsWith(".json") || name === "oci-layout" || name === "repositories" || head[0] === 0x7b) {
        if ((entry.header.size ?? 0) > options.maxJsonBytes) {
          await drain(body);
          continue;
        }
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(chunk as Buffer);
        jsonDocuments.set(name, Buffer.concat(chunks));
      } else if (looksLikeLayer(head)) {
        const label = `${source.text}: layer ${name}`;
        const decoded = await decodeLayerBlob(body, { label, maxLayerBytes: options.maxLayerBytes });
        const result = await processLayer(decoded.tar, { label });
        layers.set(name, { result, facts: await decoded.facts });
      } else {
        await drain(body);
      }
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`${source.text}: not a readable tar archive (${describeError(error)})`);
  }
  if (entryCount === 0) throw new InputError(`${source.text}: not an image archive (no tar entries)`);

  const resolve = (path: string): string => {
    let current = normalizeArchivePath(path);
    for (let hops = 0; hops < 16 && links.has(current); hops++) current = links.get(current) as string;
    return current;
  };
  const readJson = (path: string, what: string): unknown => {
    const bytes = jsonDocuments.get(resolve(path));
    if (!bytes) throw new InputError(`${source.text}: ${what} ${path} is missing from the archive`);
    return parseJson(bytes, `${source.text}: ${path}`);
  };
  const blobPath = (digest: string): string => {
    const [algorithm, hex] = digest.split(":");
    return `blobs/${algorithm}/${hex}`;
  };
  const layerFor = (path: string, what: string): LayerCandidate<T> => {
    const layer = layers.get(resolve(path));
    if (!layer)
      throw new InputError(
        `${source.text}: the manifest names ${what} ${path}, which the archive does not contain`,
      );
    return layer;
  };

  const preferDocker = source.kind === "docker-archive";
  const hasDockerManifest = jsonDocuments.has("manifest.json");
  const hasOciIndex = jsonDocuments.has("index.json");
  if ((preferDocker && hasDockerManifest) || (!hasOciIndex && hasDockerManifest)) {
    const entries = readJson("manifest.json", "manifest") as DockerArchiveEntry[];
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new InputError(`${source.text}: manifest.json lists no images`);
    }
    let chosen: DockerArchiveEntry | undefined = entries[0];
    if (source.reference !== undefined) {
      const wanted = source.reference;
      chosen = entries.find((e) =>
        (e.RepoTags ?? []).some((tag) => tag === wanted || tag.endsWith(`/${wanted}`)),
      );
      if (!chosen) throw new InputError(`${source.text}: no image tagged '${wanted}' in the archive`);
    } else if (entries.length > 1) {
      const tags = entries.flatMap((e) => e.RepoTags ?? []);
      throw new InputError(
        `${source.text}: the archive holds ${entries.length} images; name one as docker-archive:PATH:TAG (${tags.join(", ")})`,
      );
    }
    if (!chosen || typeof chosen.Config !== "string" || !Array.isArray(chosen.Layers)) {
      throw new InputError(`${source.text}: manifest.json entry has no Config or Layers`);
    }
    const config = parseImageConfig(readJson(chosen.Config, "config"), `${source.text}: ${chosen.Config}`);
    const configDigest =
      digestFromBlobPath(chosen.Config) ?? `sha256:${shaOf(jsonDocuments.get(resolve(chosen.Config)))}`;
    const loadedLayers = chosen.Layers.map((path, index) => {
      const layer = layerFor(path, "layer");
      const expectedDigest = digestFromBlobPath(resolve(path));
      const info = verifyLayer(config, index, layer.facts, {
        label: `${source.text}: layer ${index} (${path})`,
        ...(expectedDigest ? { blobDigest: expectedDigest } : {}),
      });
      return withResult(info, layer.result);
    });
    checkLayerCount(config, loadedLayers.length, source.text);
    return {
      source,
      configDigest,
      config,
      repoTags: chosen.RepoTags ?? [],
      layers: loadedLayers,
    };
  }

  if (!hasOciIndex) {
    throw new InputError(`${source.text}: not an image archive (no manifest.json or index.json)`);
  }
  const { digest: manifestDigest, manifest } = await selectManifest(
    readJson("index.json", "index"),
    async (digest) => readJson(blobPath(digest), "blob"),
    {
      where: `${source.text}: index.json`,
      ...(source.reference ? { reference: source.reference } : {}),
      ...(options.platform ? { platform: options.platform } : {}),
    },
  );
  const config = parseImageConfig(
    readJson(blobPath(manifest.config.digest), "config blob"),
    `${source.text}: config`,
  );
  const loadedLayers = manifest.layers.map((descriptor, index) => {
    const layer = layerFor(blobPath(descriptor.digest), "layer blob");
    const info = verifyLayer(config, index, layer.facts, {
      label: `${source.text}: layer ${index} (${shortDigest(descriptor.digest)})`,
      blobDigest: descriptor.digest,
      mediaType: descriptor.mediaType,
    });
    return withResult(info, layer.result);
  });
  checkLayerCount(config, loadedLayers.length, source.text);
  return {
    source,
    manifestDigest,
    configDigest: manifest.config.digest,
    config,
    repoTags: [],
    layers: loadedLayers,
  };
}

async function drain(stream: Readable): Promise<void> {
  for await (const _chunk of stream) {
    // Discard: the archive is read in one pass, so skipped entries still have to be read.
  }
}

function withResult<T>(info: LayerInfo, result: T): LayerInfo & { result: T } {
  return { ...info, result };
}

export function checkLayerCount(config: ImageConfig, count: number, where: string): void {
  if (config.rootfs.diff_ids.length !== count) {
    throw new InputError(
      `${where}: the manifest lists ${count} layers but the config lists ${config.rootfs.diff_ids.length}`,
    );
  }
}

function digestFromBlobPath(path: string): string | undefined {
  const match = /^blobs\/([a-z0-9]+)\/([a-f0-9]{32,})$/.exec(path);
  return match ? `${match[1]}:${match[2]}` : undefined;
}

function shaOf(bytes: Buffer | undefined): string {
  return createHash("sha256")
    .update(bytes ?? Buffer.alloc(0))
    .digest("hex");
}
