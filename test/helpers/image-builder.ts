/**
 * Builds real image archives at test time from small fixture directories: docker-archive (the
 * legacy `<id>/layer.tar` layout and the OCI-based one Docker 25 writes), oci-archive and an OCI
 * layout directory. Every digest is computed from the bytes written, as a real tool would.
 */
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";

export interface LayerFile {
  path: string;
  type: "file" | "directory" | "symlink" | "link";
  content?: Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
}

export interface FixtureLayer {
  files: LayerFile[];
  createdBy: string;
}

export interface BuiltImage {
  layerTars: Buffer[];
  config: Buffer;
  configDigest: string;
  diffIds: string[];
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function hex(digest: string): string {
  return digest.slice("sha256:".length);
}

/** Reads a fixture directory into layer entries, keeping symlinks and empty whiteout files as they are. */
export async function filesFromDirectory(root: string): Promise<LayerFile[]> {
  const files: LayerFile[] = [];
  const walk = async (dir: string) => {
    const entries = await readdir(dir);
    entries.sort();
    for (const name of entries) {
      const full = join(dir, name);
      const path = relative(root, full);
      const info = await lstat(full);
      if (info.isSymbolicLink()) files.push({ path, type: "symlink", linkname: await readlink(full) });
      else if (info.isDirectory()) {
        files.push({ path, type: "directory", mode: 0o755 });
        await walk(full);
      } else files.push({ path, type: "file", content: await readFile(full), mode: 0o644 });
    }
  };
  await walk(root);
  return files;
}

export async function tarOf(files: LayerFile[], options: { prefix?: string } = {}): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    archive.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    archive.on("end", () => resolve(Buffer.concat(chunks)));
    archive.on("error", reject);
  });
  for (const file of files) {
    const name = `${options.prefix ?? ""}${file.path}`;
    const header = {
      name,
      type: file.type,
      mode: file.mode ?? (file.type === "directory" ? 0o755 : 0o644),
      uid: file.uid ?? 0,
      gid: 0,
      mtime: new Date(0),
      ...(file.linkname !== undefined ? { linkname: file.linkname } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolve());
      if (file.type === "file") archive.entry(header, file.content ?? Buffer.alloc(0), callback);
      else archive.entry(header, callback);
    });
  }
  archive.finalize();
  return done;
}

export async function buildImage(
  layers: FixtureLayer[],
  options: {
    user?: string;
    env?: string[];
    emptyHistory?: string[];
    architecture?: string;
    variant?: string;
    labels?: Record<string, string>;
  } = {},
): Promise<BuiltImage> {
  const layerTars = await Promise.all(layers.map((layer) => tarOf(layer.files)));
  const diffIds = layerTars.map(sha256);
  const history = [
    ...layers.map((layer) => ({ created: "2024-01-01T00:00:00Z", created_by: layer.createdBy })),
    ...(options.emptyHistory ?? []).map((createdBy) => ({
      created: "2024-01-01T00:00:00Z",
      created_by: createdBy,
      empty_layer: true,
    })),
  ];
  const configDocument = {
    architecture: options.architecture ?? "amd64",
    ...(options.variant ? { variant: options.variant } : {}),
    os: "linux",
    created: "2024-01-01T00:00:00Z",
    config: {
      ...(options.user !== undefined ? { User: options.user } : {}),
      Env: options.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["node", "/app/index.js"],
      ...(options.labels ? { Labels: options.labels } : {}),
    },
    rootfs: { type: "layers", diff_ids: diffIds },
    history,
  };
  const config = Buffer.from(JSON.stringify(configDocument));
  return { layerTars, config, configDigest: sha256(config), diffIds };
}

export async function imageFromFixture(
  dir: string,
  options: Parameters<typeof buildImage>[1] = {},
): Promise<BuiltImage> {
  const names = (await readdir(dir)).sort();
  const layers: FixtureLayer[] = [];
  for (const name of names) {
    layers.push({
      files: await filesFromDirectory(join(dir, name)),
      createdBy: `/bin/sh -c #(nop) layer ${name}`,
    });
  }
  return buildImage(layers, options);
}

/** `docker save` before Docker 25: `<id>/layer.tar`, `<config>.json`, manifest.json, repositories. */
export async function writeDockerArchive(
  image: BuiltImage,
  path: string,
  options: { repoTag?: string; layout?: "legacy" | "oci"; extraImage?: BuiltImage } = {},
): Promise<void> {
  const repoTag = options.repoTag ?? "layerwatch/fixture:latest";
  const files: LayerFile[] = [];
  if (options.layout === "oci") {
    const blobs = [image.config, ...image.layerTars];
    files.push({ path: "blobs", type: "directory" }, { path: "blobs/sha256", type: "directory" });
    for (const blob of blobs)
      files.push({ path: `blobs/sha256/${hex(sha256(blob))}`, type: "file", content: blob });
    const manifest = [
      {
        Config: `blobs/sha256/${hex(image.configDigest)}`,
        RepoTags: [repoTag],
        Layers: image.layerTars.map((tar) => `blobs/sha256/${hex(sha256(tar))}`),
      },
    ];
    const ociManifest = ociManifestOf(image, image.layerTars, "application/vnd.oci.image.layer.v1.tar");
    files.push({ path: `blobs/sha256/${hex(sha256(ociManifest))}`, type: "file", content: ociManifest });
    files.push({ path: "index.json", type: "file", content: indexOf(ociManifest, repoTag) });
    files.push({ path: "oci-layout", type: "file", content: Buffer.from('{"imageLayoutVersion":"1.0.0"}') });
    files.push({ path: "manifest.json", type: "file", content: Buffer.from(JSON.stringify(manifest)) });
    // Docker 25 puts the layers first in the archive, before the manifest that names them.
    await writeFile(path, await tarOf(files));
    return;
  }
  const images = [image, ...(options.extraImage ? [options.extraImage] : [])];
  const manifest = images.map((img, imageIndex) => {
    const layerPaths = img.layerTars.map((tar, i) => {
      const id = hex(sha256(Buffer.concat([tar, Buffer.from(String(i))])));
      files.push({ path: id, type: "directory" });
      files.push({ path: `${id}/VERSION`, type: "file", content: Buffer.from("1.0") });
      files.push({ path: `${id}/layer.tar`, type: "file", content: tar });
      return `${id}/layer.tar`;
    });
    files.push({ path: `${hex(img.configDigest)}.json`, type: "file", content: img.config });
    return {
      Config: `${hex(img.configDigest)}.json`,
      RepoTags: [imageIndex === 0 ? repoTag : `layerwatch/other:${imageIndex}`],
      Layers: layerPaths,
    };
  });
  files.push({ path: "manifest.json", type: "file", content: Buffer.from(JSON.stringify(manifest)) });
  files.push({ path: "repositories", type: "file", content: Buffer.from("{}") });
  await writeFile(path, await tarOf(files));
}

function ociManifestOf(image: BuiltImage, blobs: Buffer[], mediaType: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: image.configDigest,
        size: image.config.length,
      },
      layers: blobs.map((blob) => ({ mediaType, digest: sha256(blob), size: blob.length })),
    }),
  );
}

function indexOf(manifest: Buffer, refName: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: sha256(manifest),
          size: manifest.length,
          annotations: { "org.opencontainers.image.ref.name": refName },
        },
      ],
    }),
  );
}

/** The files of an OCI image layout, with gzip-compressed layers. */
export interface OciLayoutOptions {
  refName?: string;
  /** gzip the layers (default), or store them as plain tar. */
  gzip?: boolean;
  /** Layer blobs compressed some other way (zstd), one per layer, with their media type. */
  layerBlobs?: { blobs: Buffer[]; mediaType: string };
}

export function ociLayoutFiles(image: BuiltImage, options: OciLayoutOptions = {}): LayerFile[] {
  const gzip = options.gzip ?? true;
  const blobs = options.layerBlobs?.blobs ?? image.layerTars.map((tar) => (gzip ? gzipSync(tar) : tar));
  const manifest = ociManifestOf(
    image,
    blobs,
    options.layerBlobs?.mediaType ??
      (gzip ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar"),
  );
  const files: LayerFile[] = [
    { path: "oci-layout", type: "file", content: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { path: "index.json", type: "file", content: indexOf(manifest, options.refName ?? "latest") },
    { path: "blobs", type: "directory" },
    { path: "blobs/sha256", type: "directory" },
  ];
  for (const blob of [image.config, manifest, ...blobs]) {
    files.push({ path: `blobs/sha256/${hex(sha256(blob))}`, type: "file", content: blob });
  }
  return files;
}

export async function writeOciLayout(
  image: BuiltImage,
  dir: string,
  options: OciLayoutOptions = {},
): Promise<void> {
  for (const file of ociLayoutFiles(image, options)) {
    const target = join(dir, file.path);
    if (file.type === "directory") await mkdir(target, { recursive: true });
    else {
      await mkdir(join(target, ".."), { recursive: true });
      await writeFile(target, file.content ?? Buffer.alloc(0));
    }
  }
}

export async function writeOciArchive(
  image: BuiltImage,
  path: string,
  options: { refName?: string } = {},
): Promise<void> {
  await writeFile(path, await tarOf(ociLayoutFiles(image, options)));
}

/**
 * An OCI layout whose index.json points at an image index listing one image per platform, as
 * `docker buildx` publishes multi-platform images.
 */
export async function writeMultiPlatformLayout(
  images: Array<{ image: BuiltImage; platform: { os: string; architecture: string; variant?: string } }>,
  dir: string,
  refName: string,
): Promise<void> {
  const blobs: Buffer[] = [];
  const entries = images.map(({ image, platform }) => {
    const layers = image.layerTars.map((tar) => gzipSync(tar));
    const manifest = ociManifestOf(image, layers, "application/vnd.oci.image.layer.v1.tar+gzip");
    blobs.push(image.config, manifest, ...layers);
    return {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: sha256(manifest),
      size: manifest.length,
      platform,
    };
  });
  const imageIndex = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: entries,
    }),
  );
  blobs.push(imageIndex);
  await mkdir(join(dir, "blobs/sha256"), { recursive: true });
  for (const blob of blobs) await writeFile(join(dir, "blobs/sha256", hex(sha256(blob))), blob);
  await writeFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.index.v1+json",
          digest: sha256(imageIndex),
          size: imageIndex.length,
          annotations: { "org.opencontainers.image.ref.name": refName },
        },
      ],
    }),
  );
}
