import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { describeError, ImageNotFoundError, InputError } from "../errors.js";
import { assertDaemonSocket } from "./daemon-endpoint.js";
import { loadOciLayout } from "./oci-layout.js";
import { loadRootfs } from "./rootfs.js";
import { loadTarArchive } from "./tar-archive.js";
import {
  defaultImageReadOptions,
  type ImageReadOptions,
  type ImageSourceKind,
  type ImageSourceRef,
  type LayerProcessor,
  type LoadedImage,
} from "./types.js";

type Loader = <T>(
  source: ImageSourceRef,
  process: LayerProcessor<T>,
  options: ImageReadOptions,
) => Promise<LoadedImage<T>>;

async function loadFromDaemon<T>(
  source: ImageSourceRef,
  read: LayerProcessor<T>,
  options: ImageReadOptions,
): Promise<LoadedImage<T>> {
  await assertDaemonSocket(source, options.env ?? process.env);
  return (await import("./docker-daemon.js")).loadDaemonImage(source, read, options);
}

/** Each source kind and the loader that reads it. A new source is a new loader file and a row here. */
const loaders: Record<ImageSourceKind, Loader> = {
  "docker-archive": loadTarArchive,
  "oci-archive": loadTarArchive,
  oci: loadOciLayout,
  rootfs: loadRootfs,
  // Loaded on first use: undici and dockerode are most of the start-up time of the archive sources.
  registry: async (source, read, options) =>
    (await import("./registry/loader.js")).loadRegistryImage(source, read, options),
  docker: loadFromDaemon,
  podman: loadFromDaemon,
};

/** How each kind is written, for messages. */
const sourceSyntax: Record<ImageSourceKind, string> = {
  "docker-archive": "docker-archive:PATH",
  "oci-archive": "oci-archive:PATH",
  oci: "oci:DIR",
  rootfs: "rootfs:DIR",
  registry: "registry:IMAGE",
  docker: "docker:NAME",
  podman: "podman:NAME",
};

/** Kinds whose text after the colon names an image, not a file. */
const namedKinds = new Set<ImageSourceKind>(["registry", "docker", "podman"]);

/**
 * Parses `KIND:PATH[:REF]`. A trailing `:REF` is split off only when the whole text is not itself
 * an existing path, so paths that contain colons still work.
 */
export function parseImageSource(text: string): ImageSourceRef {
  const colon = text.indexOf(":");
  const kind = text.slice(0, colon) as ImageSourceKind;
  if (colon <= 0 || !(kind in loaders)) {
    // No known prefix: an image reference (`alpine`, `ghcr.io/org/app:1.2`, `host:5000/app@sha256:...`).
    // A `word:` followed by a path is a source kind we do not know, not a tag.
    const looksLikePath = /^[a-z][a-z0-9-]*:[./~]/.test(text);
    if (!looksLikePath && /^[a-z0-9]/.test(text) && !/\s/.test(text))
      return { kind: "registry", path: text, text, bare: true };
    throw new InputError(
      `${text}: unknown image source; use an image reference or one of ${Object.values(sourceSyntax).join(", ")}`,
    );
  }
  const rest = text.slice(colon + 1);
  if (namedKinds.has(kind)) return { kind, path: rest, text };
  if (rest === "") throw new InputError(`${text}: no path after '${kind}:'`);
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > 0 && !existsSync(rest) && existsSync(rest.slice(0, lastColon))) {
    return { kind, path: rest.slice(0, lastColon), reference: rest.slice(lastColon + 1), text };
  }
  return { kind, path: rest, text };
}

export async function loadImage<T>(
  source: ImageSourceRef,
  processLayer: LayerProcessor<T>,
  options: Partial<ImageReadOptions> = {},
): Promise<LoadedImage<T>> {
  const settings = { ...defaultImageReadOptions, ...options };
  if (!source.bare) return loaders[source.kind](source, processLayer, settings);
  // A bare name: the local daemons first (an image just built), then the registry.
  const tried: string[] = [];
  for (const kind of ["docker", "podman", "registry"] as const) {
    try {
      const loaded = await loaders[kind]({ ...source, kind, bare: false }, processLayer, settings);
      return { ...loaded, source };
    } catch (error) {
      if (!(error instanceof ImageNotFoundError)) throw error;
      tried.push(
        error.message.startsWith(`${source.text}: `)
          ? error.message.slice(source.text.length + 2)
          : error.message,
      );
    }
  }
  throw new InputError(`${source.text}: image not found; tried ${tried.join("; ")}`);
}

/** Fails early, before any other work, when the source's path is not there. */
export async function assertSourceExists(source: ImageSourceRef): Promise<void> {
  if (namedKinds.has(source.kind)) return;
  try {
    await stat(source.path);
  } catch (error) {
    throw new InputError(`${source.text}: ${describeError(error)}`);
  }
}
