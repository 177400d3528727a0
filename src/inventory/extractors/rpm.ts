import { PackageURL } from "packageurl-js";
import { isBerkeleyDb, readBerkeleyDb } from "../rpm/bdb.js";
import { parseRpmHeader, type RpmHeader, RpmHeaderError } from "../rpm/header.js";
import { isNdb, readNdb } from "../rpm/ndb.js";
import { RpmdbError, type RpmdbRecord } from "../rpm/records.js";
import { isSqlite, readSqlite } from "../rpm/sqlite.js";
import type { Distro, ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/**
 * Where rpm keeps its database: /var/lib/rpm traditionally, /usr/lib/sysimage/rpm on SUSE and on
 * Fedora 36+ (where /var/lib/rpm is a symlink to it, so only the real path is a file). Which of
 * the three formats a file holds is read from its first bytes, not from its name.
 */
const DATABASE_PATHS = new Set(
  ["var/lib/rpm", "usr/lib/sysimage/rpm"].flatMap((dir) =>
    ["Packages", "Packages.db", "rpmdb.sqlite"].map((name) => `${dir}/${name}`),
  ),
);

/** The write-ahead log SQLite keeps beside the database while it is open. */
const WAL_SUFFIX = "-wal";
const WAL_HEADER_SIZE = 32;

/** purl namespaces (the vendor, per the purl spec's rpm type) where it is not the os-release ID. */
const PURL_NAMESPACES: Record<string, string> = {
  rhel: "redhat",
  ol: "oracle",
  "opensuse-leap": "opensuse",
  "opensuse-tumbleweed": "opensuse",
  "opensuse-microos": "opensuse",
  sle_hpc: "sles",
  sles_sap: "sles",
  "sle-micro": "sles",
};

/** "openssl-3.0.7-24.el9.src.rpm" → name "openssl", version "3.0.7", release "24.el9". */
export function parseSourceRpm(file: string): { name: string; version: string; release: string } | undefined {
  const match = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(file);
  if (!match) return undefined;
  const [, name = "", version = "", release = ""] = match;
  return { name, version, release };
}

type Format = "BerkeleyDB" | "NDB" | "SQLite";

/**
 * Every offset the readers use is checked first; should a corrupt file still slip past a check,
 * Buffer's own bounds error is reported like any other corruption instead of ending the scan.
 */
function isOutOfBounds(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return error instanceof RangeError && (code === "ERR_OUT_OF_RANGE" || code === "ERR_BUFFER_OUT_OF_BOUNDS");
}

function readRecords(
  content: Buffer,
  warn: (problem: string) => void,
): { format?: Format; records: RpmdbRecord[] } {
  const readers: Array<[Format, (db: Buffer) => boolean, typeof readNdb]> = [
    ["SQLite", isSqlite, readSqlite],
    ["NDB", isNdb, readNdb],
    ["BerkeleyDB", isBerkeleyDb, readBerkeleyDb],
  ];
  for (const [format, detect, read] of readers) {
    if (!detect(content)) continue;
    const prefixed = (problem: string) => warn(`${format} rpmdb: ${problem}`);
    try {
      return { format, records: read(content, prefixed) };
    } catch (error) {
      if (!(error instanceof RpmdbError) && !isOutOfBounds(error)) throw error;
      prefixed(`${(error as Error).message}; no packages read`);
      return { format, records: [] };
    }
  }
  warn("not an rpm database (no SQLite, NDB or BerkeleyDB hash magic); no packages read");
  return { records: [] };
}

function toPackage(header: RpmHeader, distro: Distro | undefined): ExtractedPackage {
  const version = `${header.version}-${header.release}`;
  const epochPrefix = header.epoch !== undefined ? `${header.epoch}:` : "";
  // Subpackages (openssl-libs) are built from one source package (openssl); advisories are
  // written against its version, and the file name of the source rpm carries no epoch.
  const source = header.sourceRpm ? parseSourceRpm(header.sourceRpm) : undefined;
  const qualifiers: Record<string, string> = {};
  if (header.arch) qualifiers.arch = header.arch;
  if (header.epoch !== undefined) qualifiers.epoch = String(header.epoch);
  if (distro?.versionId) qualifiers.distro = `${distro.id}-${distro.versionId}`;
  const namespace = distro ? (PURL_NAMESPACES[distro.id] ?? distro.id) : undefined;
  return {
    name: header.name,
    version,
    type: "rpm",
    purl: new PackageURL("rpm", namespace, header.name, version, qualifiers).toString(),
    sourceName: source?.name ?? header.name,
    sourceVersion: `${epochPrefix}${source ? `${source.version}-${source.release}` : version}`,
    ...(header.arch ? { arch: header.arch } : {}),
    ...(header.epoch !== undefined ? { epoch: header.epoch } : {}),
    ...(distro?.osvEcosystem ? { ecosystem: distro.osvEcosystem } : {}),
    ...(header.license ? { license: header.license } : {}),
    ...(header.vendor ? { vendor: header.vendor } : {}),
    ...(header.modularityLabel ? { modularityLabel: header.modularityLabel } : {}),
    ...(header.files ? { files: header.files } : {}),
  };
}

export const rpmExtractor: Extractor = {
  name: "rpm",
  version: 1,
  pathHint: { directories: ["var/lib/rpm", "usr/lib/sysimage/rpm"] },
  wants: (path) => DATABASE_PATHS.has(path),
  needs: (path) => path.endsWith(WAL_SUFFIX) && DATABASE_PATHS.has(path.slice(0, -WAL_SUFFIX.length)),
  extract(path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    // An empty file holds no database (nothing to read, nothing missed).
    if (content.length === 0) return [];
    const { format, records } = readRecords(content, context.warn);
    if (format === "SQLite") {
      // rpm checkpoints and removes the log when it closes the database; one left behind holds
      // changes this reader does not apply.
      const wal = context.readFile(`${path}${WAL_SUFFIX}`);
      if (wal && wal.length > WAL_HEADER_SIZE) {
        context.warn(
          `${path}${WAL_SUFFIX} holds ${wal.length} bytes of changes not yet written to the database; packages they add or remove are not reflected`,
        );
      }
    }
    const packages: ExtractedPackage[] = [];
    for (const record of records) {
      let header: RpmHeader;
      try {
        header = parseRpmHeader(record.blob, (problem) => context.warn(`header ${record.id}: ${problem}`));
      } catch (error) {
        if (!(error instanceof RpmHeaderError) && !isOutOfBounds(error)) throw error;
        context.warn(`header ${record.id}: ${(error as Error).message}; skipped`);
        continue;
      }
      // Imported signing keys are stored as packages named gpg-pubkey; nothing is installed.
      if (header.name === "gpg-pubkey") continue;
      packages.push(toPackage(header, context.distro));
    }
    return packages;
  },
};
