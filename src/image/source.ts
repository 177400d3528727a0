import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { describeError, InputError } from "../errors.js";
import { loadOciLayout } from "./oci-layout.js";
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

/** Each source kind and the loader that reads it. A new source is a new loader file and a row here. */
const loaders: Record<ImageSourceKind, Loader> = {
  "docker-archive": loadTarArchive,
  "oci-archive": loadTarArchive,
  oci: loadOciLayout,
};

export const sourceKinds = Object.keys(loaders) as ImageSourceKind[];

/**
 * Parses `KIND:PATH[:REF]`. A trailing `:REF` is split off only when the whole text is not itself
 * an existing path, so paths that contain colons still work.
 */
export function parseImageSource(text: string): ImageSourceRef {
  const colon = text.indexOf(":");
  const kind = text.slice(0, colon) as ImageSourceKind;
  if (colon <= 0 || !(kind in loaders)) {
    throw new InputError(
      `${text}: unknown image source; use one of ${sourceKinds.map((k) => `${k}:PATH`).join(", ")}`,
    );
  }
  const rest = text.slice(colon + 1);
  if (rest === "") throw new InputError(`${text}: no path after '${kind}:'`);
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > 0 && !existsSync(rest) && existsSync(rest.slice(0, lastColon))) {
    return { kind, path: rest.slice(0, lastColon), reference: rest.slice(lastColon + 1), text };
  }
  return { kind, path: rest, text };
}

export function loadImage<T>(
  source: ImageSourceRef,
  processLayer: LayerProcessor<T>,
  options: Partial<ImageReadOptions> = {},
): Promise<LoadedImage<T>> {
  return loaders[source.kind](source, processLayer, { ...defaultImageReadOptions, ...options });
}

/** Fails early, before any other work, when the source's path is not there. */
export async function assertSourceExists(source: ImageSourceRef): Promise<void> {
  try {
    await stat(source.path);
  } catch (error) {
    throw new InputError(`${source.text}: ${describeError(error)}`);
  }
}
