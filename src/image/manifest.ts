import { InputError } from "../errors.js";
import type { HistoryEntry, ImageConfig, LayerInfo, LayerStreamFacts } from "./types.js";

/** OCI content descriptor. Docker's v2 schema 2 uses the same shape. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
} as const;

const REF_NAME = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME = "io.containerd.image.name";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export const defaultPlatform: Platform = { os: "linux", architecture: "amd64" };

function isIndex(descriptorOrDoc: { mediaType?: string; manifests?: unknown }): boolean {
  return (
    descriptorOrDoc.mediaType === MediaType.ociIndex ||
    descriptorOrDoc.mediaType === MediaType.dockerList ||
    Array.isArray(descriptorOrDoc.manifests)
  );
}

function platformText(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}

function matchesReference(descriptor: Descriptor, reference: string): boolean {
  const annotations = descriptor.annotations ?? {};
  const refName = annotations[REF_NAME];
  const fullName = annotations[CONTAINERD_NAME];
  return (
    refName === reference ||
    fullName === reference ||
    fullName?.endsWith(`:${reference}`) === true ||
    descriptor.digest === reference
  );
}

export function asDescriptor(value: unknown, where: string): Descriptor {
  const candidate = value as Partial<Descriptor> | null;
  if (
    candidate === null ||
    typeof candidate !== "object" ||
    typeof candidate.digest !== "string" ||
    !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(candidate.digest)
  ) {
    throw new InputError(`${where}: descriptor without a valid digest`);
  }
  return {
    mediaType: typeof candidate.mediaType === "string" ? candidate.mediaType : "",
    digest: candidate.digest,
    size: typeof candidate.size === "number" ? candidate.size : -1,
    ...(candidate.platform ? { platform: candidate.platform } : {}),
    ...(candidate.annotations ? { annotations: candidate.annotations } : {}),
    ...(candidate.urls ? { urls: candidate.urls } : {}),
  };
}

export function parseImageManifest(value: unknown, where: string): ImageManifest {
  const doc = value as Partial<ImageManifest> | null;
  if (doc === null || typeof doc !== "object" || !doc.config || !Array.isArray(doc.layers)) {
    throw new InputError(`${where}: not an image manifest (no config or layers)`);
  }
  return {
    schemaVersion: Number(doc.schemaVersion ?? 2),
    ...(doc.mediaType ? { mediaType: doc.mediaType } : {}),
    config: asDescriptor(doc.config, where),
    layers: doc.layers.map((layer) => asDescriptor(layer, where)),
  };
}

export function parseImageConfig(value: unknown, where: string): ImageConfig {
  const doc = value as Partial<ImageConfig> | null;
  if (
    doc === null ||
    typeof doc !== "object" ||
    !doc.rootfs ||
    !Array.isArray(doc.rootfs.diff_ids) ||
    !doc.rootfs.diff_ids.every((id) => typeof id === "string")
  ) {
    throw new InputError(`${where}: not an image config (no rootfs.diff_ids)`);
  }
  return doc as ImageConfig;
}

/**
 * Picks one image manifest from an index (index.json of a layout, or a manifest list):
 * by reference when given, else the only one, else by platform. Nested indexes are followed.
 */
export async function selectManifest(
  index: unknown,
  readJson: (digest: string) => Promise<unknown>,
  options: { where: string; reference?: string; platform?: Platform },
): Promise<{ digest: string; manifest: ImageManifest }> {
  const platform = options.platform ?? defaultPlatform;
  let document = index as Partial<ImageIndex>;
  let where = options.where;
  let reference = options.reference;
  for (let depth = 0; depth < 4; depth++) {
    if (!Array.isArray(document.manifests)) throw new InputError(`${where}: not an image index`);
    const descriptors = document.manifests.map((entry) => asDescriptor(entry, where));
    let chosen: Descriptor | undefined;
    if (reference !== undefined) {
      chosen = descriptors.find((descriptor) => matchesReference(descriptor, reference as string));
      if (!chosen) {
        const names = descriptors.map((d) => d.annotations?.[REF_NAME]).filter(Boolean);
        throw new InputError(
          `${where}: no image named '${reference}'${names.length ? ` (it has: ${names.join(", ")})` : ""}`,
        );
      }
      reference = undefined;
    } else if (descriptors.length === 1) {
      chosen = descriptors[0];
    } else {
      chosen = descriptors.find(
        (d) =>
          d.platform?.os === platform.os &&
          d.platform?.architecture === platform.architecture &&
          (platform.variant === undefined || d.platform?.variant === platform.variant),
      );
      if (!chosen) {
        const offered = descriptors
          .map((d) => (d.platform ? platformText(d.platform) : d.annotations?.[REF_NAME]))
          .filter(Boolean);
        throw new InputError(
          `${where}: no image for platform ${platformText(platform)} (it has: ${offered.join(", ") || "none"})`,
        );
      }
    }
    if (!chosen) throw new InputError(`${where}: the index lists no manifests`);
    const body = await readJson(chosen.digest);
    if (isIndex(chosen) || isIndex(body as { mediaType?: string; manifests?: unknown })) {
      document = body as Partial<ImageIndex>;
      where = `${options.where} (index ${chosen.digest})`;
      continue;
    }
    return {
      digest: chosen.digest,
      manifest: parseImageManifest(body, `${options.where} (${chosen.digest})`),
    };
  }
  throw new InputError(`${options.where}: image indexes nested too deeply`);
}

/** The history entries that made layers, in layer order (empty_layer entries made none). */
export function layerHistory(config: ImageConfig): Array<HistoryEntry | undefined> {
  const entries = (config.history ?? []).filter((entry) => !entry.empty_layer);
  return config.rootfs.diff_ids.map((_, index) =>
    entries.length === config.rootfs.diff_ids.length ? entries[index] : undefined,
  );
}

/**
 * Checks what streaming a layer measured against what the manifest and config promise,
 * and returns the layer's description. A mismatch means a corrupt or tampered image.
 */
export function verifyLayer(
  config: ImageConfig,
  index: number,
  facts: LayerStreamFacts,
  expected: { blobDigest?: string; mediaType?: string; label: string },
): LayerInfo {
  if (expected.blobDigest !== undefined && expected.blobDigest !== facts.blobDigest) {
    throw new InputError(
      `${expected.label}: digest mismatch: the manifest says ${expected.blobDigest}, the blob hashes to ${facts.blobDigest}`,
    );
  }
  const diffId = config.rootfs.diff_ids[index];
  if (diffId === undefined) {
    throw new InputError(
      `${expected.label}: the image config lists only ${config.rootfs.diff_ids.length} layers`,
    );
  }
  if (diffId !== facts.diffId) {
    throw new InputError(
      `${expected.label}: diff id mismatch: the config says ${diffId}, the uncompressed layer hashes to ${facts.diffId}`,
    );
  }
  const history = layerHistory(config)[index];
  return {
    index,
    diffId,
    ...(expected.blobDigest ? { digest: expected.blobDigest } : {}),
    ...(expected.mediaType ? { mediaType: expected.mediaType } : {}),
    ...(history?.created_by ? { createdBy: history.created_by } : {}),
  };
}

export function shortDigest(digest: string): string {
  const [, hex = digest] = digest.split(":");
  return hex.slice(0, 12);
}
