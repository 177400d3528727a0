import type { Extractor } from "../types.js";
import { dpkgExtractor } from "./dpkg.js";
import { npmInstalledExtractor } from "./npm.js";

/** Every package format layerwatch reads. A new format is a new file and a line here. */
export const extractors: readonly Extractor[] = [dpkgExtractor, npmInstalledExtractor];
