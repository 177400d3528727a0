import type { Extractor } from "../types.js";
import { apkExtractor } from "./apk.js";
import { chiselExtractor } from "./chisel.js";
import { dpkgExtractor } from "./dpkg.js";
import { javaArchiveExtractor } from "./java.js";
import { npmInstalledExtractor } from "./npm.js";
import { npmLockfileExtractor } from "./npm-lockfile.js";
import {
  pipfileLockExtractor,
  poetryLockExtractor,
  pythonInstalledExtractor,
  requirementsExtractor,
  uvLockExtractor,
} from "./python.js";
import { rpmExtractor } from "./rpm.js";

/** Every package format layerwatch reads. A new format is a new file and a line here. */
export const extractors: readonly Extractor[] = [
  dpkgExtractor,
  apkExtractor,
  chiselExtractor,
  rpmExtractor,
  npmInstalledExtractor,
  npmLockfileExtractor,
  javaArchiveExtractor,
  pythonInstalledExtractor,
  poetryLockExtractor,
  pipfileLockExtractor,
  uvLockExtractor,
  requirementsExtractor,
];
