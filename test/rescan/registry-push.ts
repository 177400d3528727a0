/**
 * Pushes images built by test/helpers/image-builder.ts to a test registry over the Distribution
 * API (blob uploads, then the manifest PUT), as `docker push` does: no skopeo, so a test can push
 * dozens of tags in a second. Blobs the registry already holds in the repository are not sent again.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { BuiltImage } from "../helpers/image-builder.js";
import type { RegistryServer } from "../helpers/registry-server.js";

export interface PushedImage {
  manifestDigest: string;
  manifest: Buffer;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** The compressed layers of an image, made once and reused for every push of it. */
const gzipped = new WeakMap<BuiltImage, Buffer[]>();

async function putManifest(
  registry: RegistryServer,
  repository: string,
  reference: string,
  body: Buffer,
  mediaType: string,
): Promise<string> {
  const response = await registry.request(`/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    scope: `repository:${repository}:pull,push`,
    body,
    headers: { "content-type": mediaType, "content-length": String(body.length) },
  });
  if (response.status !== 201)
    throw new Error(`manifest PUT ${repository}:${reference} answered ${response.status}: ${response.body}`);
  return sha256(body);
}

async function ensureBlob(registry: RegistryServer, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const head = await registry.request(`/v2/${repository}/blobs/${digest}`, {
    method: "HEAD",
    scope: `repository:${repository}:pull,push`,
  });
  if (head.status === 200) return digest;
  return registry.pushBlob(repository, bytes);
}

/**
 * Pushes `image` as `repository:tag` (an OCI manifest with gzip layers), or by its digest alone
 * when `tag` is undefined, and returns its manifest digest.
 */
export async function pushImage(
  registry: RegistryServer,
  repository: string,
  tag: string | undefined,
  image: BuiltImage,
): Promise<PushedImage> {
  let layers = gzipped.get(image);
  if (!layers) {
    layers = image.layerTars.map((tar) => gzipSync(tar));
    gzipped.set(image, layers);
  }
  for (const blob of [image.config, ...layers]) await ensureBlob(registry, repository, blob);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: image.configDigest,
        size: image.config.length,
      },
      layers: layers.map((blob) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: sha256(blob),
        size: blob.length,
      })),
    }),
  );
  const manifestDigest = await putManifest(
    registry,
    repository,
    tag ?? sha256(manifest),
    manifest,
    "application/vnd.oci.image.manifest.v1+json",
  );
  return { manifestDigest, manifest };
}

/**
 * Pushes one image per platform (by digest), then an OCI index naming them as `repository:tag`;
 * returns the index's digest and each platform's manifest digest.
 */
export async function pushIndex(
  registry: RegistryServer,
  repository: string,
  tag: string,
  images: Array<{ image: BuiltImage; platform: { os: string; architecture: string; variant?: string } }>,
): Promise<{ indexDigest: string; manifests: Record<string, string> }> {
  const entries = [];
  const manifests: Record<string, string> = {};
  for (const { image, platform } of images) {
    const pushed = await pushImage(registry, repository, undefined, image);
    const name = [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
    manifests[name] = pushed.manifestDigest;
    entries.push({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: pushed.manifestDigest,
      size: pushed.manifest.length,
      platform,
    });
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: entries,
    }),
  );
  const indexDigest = await putManifest(
    registry,
    repository,
    tag,
    index,
    "application/vnd.oci.image.index.v1+json",
  );
  return { indexDigest, manifests };
}

/** The same image with another config `created` (and so another config and manifest digest). */
export function withCreated(image: BuiltImage, created: string): BuiltImage {
  const config = JSON.parse(image.config.toString("utf8")) as Record<string, unknown>;
  const bytes = Buffer.from(JSON.stringify({ ...config, created }));
  return { ...image, config: bytes, configDigest: sha256(bytes) };
}
