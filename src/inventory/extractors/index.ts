import type { Extractor } from "../types.js";
import { apkExtractor } from "./apk.js";
import { cargoAuditableExtractor } from "./cargo-auditable.js";
import { cargoLockExtractor } from "./cargo-lock.js";
import { chiselExtractor } from "./chisel.js";
import { dotnetDepsExtractor } from "./dotnet.js";
import { dpkgExtractor } from "./dpkg.js";
import { goBinaryExtractor } from "./go-binary.js";
import { javaArchiveExtractor } from "./java.js";
import { npmInstalledExtractor } from "./npm.js";
import { npmLockfileExtractor } from "./npm-lockfile.js";
import { composerInstalledExtractor, composerLockExtractor } from "./php.js";
import {
  pipfileLockExtractor,
  poetryLockExtractor,
  pythonInstalledExtractor,
  requirementsExtractor,
  uvLockExtractor,
} from "./python.js";
import { rpmExtractor } from "./rpm.js";
import { gemfileLockExtractor, gemspecExtractor } from "./ruby.js";

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
  gemspecExtractor,
  gemfileLockExtractor,
  composerInstalledExtractor,
  composerLockExtractor,
  dotnetDepsExtractor,
  cargoLockExtractor,
  goBinaryExtractor,
  cargoAuditableExtractor,
];
