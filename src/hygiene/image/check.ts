import { ImageFilesystem } from "../../fs/image-fs.js";
import type { LayerContents } from "../../fs/types.js";
import type { ImageConfig } from "../../image/types.js";
import type { HygieneFinding } from "../types.js";
import { checkConfigSecrets } from "./config-secrets.js";
import { LayerFates } from "./layer-fate.js";
import { checkSetuid, checkWorldWritable } from "./permissions.js";
import { checkSecretContents } from "./secret-content.js";
import { checkSecretFiles } from "./secret-files.js";
import { checkEmptyPasswords } from "./shadow.js";
import { checkUser } from "./user.js";

/** What the image checks read: the config and the layers, read with `imageScanners`. */
export interface ImageHygieneInput {
  config: ImageConfig;
  /** Each layer's contents, from the base up (index = layer index). */
  layers: readonly LayerContents[];
  /** How many of the first layers are the base image's, when known (--base-image or its labels). */
  baseLayers?: number;
  /** The filesystem the layers make, when the caller has built it already. */
  filesystem?: ImageFilesystem;
}

/** The image checks (docs/rules.md, "Image rules"), over an image already read. */
export function checkImage(input: ImageHygieneInput): HygieneFinding[] {
  const fs = input.filesystem ?? ImageFilesystem.fromLayers([...input.layers]);
  const fates = new LayerFates(input.layers);
  // Unknown base: the first layer is taken for it (see checkSetuid).
  const firstOwnLayer = input.baseLayers ?? 1;
  return [
    ...checkUser(input.config),
    ...checkConfigSecrets(input.config),
    ...checkSecretFiles(input.layers, fates),
    ...checkSecretContents(input.layers, fates),
    ...checkSetuid(fs, firstOwnLayer),
    ...checkWorldWritable(fs),
    ...checkEmptyPasswords(fs),
  ];
}
