/** The inventory stage: which operating system an image runs, and which packages it holds. */

import type { StreamCondenser } from "../fs/types.js";

export interface Distro {
  /** os-release ID ("debian", "ubuntu", "alpine"). */
  id: string;
  /** os-release VERSION_ID ("12", "22.04", "3.19.1"), when the release has one. */
  versionId?: string;
  versionCodename?: string;
  prettyName?: string;
  /** The OSV ecosystem string this release's advisories use ("Debian:12"), when known. */
  osvEcosystem?: string;
  /** The date (YYYY-MM-DD) the vendor's security support for this release ends, when known. */
  endOfLife?: string;
  /** Whether that date had passed when the image was scanned (set by the scan, not the inventory). */
  eol?: boolean;
  /** A distroless image: dpkg's status.d database and no shell (bin/sh). */
  distroless?: boolean;
  /** The file the facts came from. */
  source: string;
}

/** A package as an extractor finds it in one file, before layer attribution. */
export interface ExtractedPackage {
  name: string;
  version: string;
  /** The purl type: deb, npm, ... */
  type: string;
  purl: string;
  /** The OSV ecosystem whose advisories apply ("Debian:12", "npm"). */
  ecosystem?: string;
  /** The name advisories use, when it differs from `name` (a Debian binary package's source package). */
  sourceName?: string;
  sourceVersion?: string;
  arch?: string;
  /** Files the package installed, root-relative, where its database lists them. */
  files?: string[];
  /** The declared license, as the package database writes it. */
  license?: string;
  /** rpm: the epoch, when the package has one (it orders before version and release). */
  epoch?: number;
  /** rpm: the vendor ("Red Hat, Inc.", "AlmaLinux"). */
  vendor?: string;
  /** rpm: the module stream a package was built for (RHEL 8+ AppStream), e.g. "nodejs:18:...". */
  modularityLabel?: string;
  /** A development dependency only, where a lockfile says so (npm: package-lock, pnpm; Python: Pipfile.lock, poetry.lock; Composer: composer.lock, installed.json). */
  dev?: boolean;
  /** Java: the SHA-1 of the archive (jar, war, ...) the package was read from. */
  sha1?: string;
  /**
   * Where the package was found, when that is not the file itself: an archive nested in the file
   * (`app.jar!BOOT-INF/lib/log4j-core-2.14.1.jar`). The inventory records the file's path otherwise.
   */
  location?: string;
}

export interface Package extends ExtractedPackage {
  /** Where the package was found (the database or manifest file). */
  location: string;
  /** Index of the layer that introduced this version of the package. */
  layer: number;
  /** The extractor that found it. */
  foundBy: string;
  /**
   * A language package whose metadata file an OS package installed: that package's purl. Such a
   * package has no `ecosystem`, so it is matched only as the OS package (inventory.ts).
   */
  osOwned?: string;
  /**
   * The declared `license` as a valid SPDX expression ("GPLv2+ and LGPLv2+" →
   * "GPL-2.0-or-later AND LGPL-2.0-or-later"), when it can be told without guessing
   * (inventory/license.ts); absent otherwise, and `license` is then a license name.
   */
  licenseExpression?: string;
}

export interface InventoryWarning {
  path: string;
  layer?: number;
  problem: string;
}

export interface Inventory {
  distro?: Distro;
  packages: Package[];
  warnings: InventoryWarning[];
}

/** What an extractor is told besides the file. */
export interface ExtractContext {
  distro?: Distro;
  /** Report a record that was skipped or a file that was odd; the rest of the file is still read. */
  warn(problem: string): void;
  /**
   * Another file of the image as it stands in the final filesystem (symlinks followed), when
   * some extractor wants or needs its path: a database split over several files (dpkg's
   * info/*.list) reads the rest through this.
   */
  readFile(path: string): Buffer | undefined;
}

/**
 * One package format. It declares the paths it wants, so layers keep only those files' contents,
 * and turns one such file into packages.
 */
export interface Extractor {
  readonly name: string;
  /** Bumped when the output for the same input changes (cached layer results carry it). */
  readonly version: number;
  /** The package databases: each is kept and handed to extract(). */
  wants(path: string): boolean;
  /**
   * Which paths wants() and needs() can accept at all, so that most of an image's paths are
   * turned away with a map lookup instead of asking every extractor. Without it, both are asked
   * of every path. wants() and needs() stay the final word: a hint may let through paths they
   * refuse, never hold back one they accept (test/inventory/path-hints.test.ts checks this).
   */
  readonly pathHint?: PathHint;
  /**
   * Companion files that extract() reads through `context.readFile` but that hold no packages of
   * their own (dpkg's info/*.list): layers keep their contents, extract() is never called on them.
   */
  needs?(path: string): boolean;
  /**
   * Files of any path and size read while they stream (executables), of which layers keep only
   * what this condenser returns: extract() is called with that on each such file.
   */
  readonly condensed?: FileCondenser;
  extract(path: string, content: Buffer, context: ExtractContext): ExtractedPackage[];
}

/**
 * Where an extractor's paths can be, by their last part: a path is let through when its file
 * name is one of `fileNames`, it ends with one of `suffixes` (compared without regard to case;
 * each starts with "."), or its parent directory is one of `directories`. An empty hint lets
 * nothing through (an extractor that reads only condensed files).
 */
export interface PathHint {
  readonly fileNames?: readonly string[];
  readonly suffixes?: readonly string[];
  readonly directories?: readonly string[];
}

/**
 * Keeps, of files too many and too large to hold (every executable of an image), the few bytes
 * some extractors read. Several extractors may share one, so each file is streamed through it once.
 */
export interface FileCondenser {
  /** Recorded on each file it condensed (LayerEntry.condensedBy). */
  readonly name: string;
  /** Bumped when what it keeps changes (cached layer results carry it). */
  readonly version: number;
  /** Whether a file is worth streaming through it, told by its path and mode alone. */
  offered(path: string, mode: number): boolean;
  /** A condenser for one file of `size` bytes. */
  open(size: number): StreamCondenser;
}
