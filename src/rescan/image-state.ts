/**
 * One image as a rescan keeps it: pulled once, its inventory stored as compact JSON, and matched
 * again against the current advisories on every later rescan without touching the registry.
 */
import { createHash } from "node:crypto";
import { InputError } from "../errors.js";
import { inventoryVersion } from "../inventory/inventory.js";
import type { Distro, Package } from "../inventory/types.js";
import { type AdvisorySource, matchPackages } from "../match/matcher.js";
import { inventoryImage, type PipelineOptions } from "../pipeline.js";
import type { OsvRecord } from "../vulndb/osv.js";
import type { FindingState, ImageState } from "./types.js";

/** The fields of a package the matcher and the rescan's messages read; the rest is not stored. */
type StoredPackage = Pick<
  Package,
  | "name"
  | "version"
  | "type"
  | "purl"
  | "ecosystem"
  | "sourceName"
  | "sourceVersion"
  | "epoch"
  | "location"
  | "layer"
  | "foundBy"
>;

/** What ImageState.inventory holds, as JSON. */
export interface StoredInventory {
  /** The image config's `created`, for a rescan's maximum age. */
  created?: string;
  distro?: Omit<Distro, "eol">;
  packages: StoredPackage[];
}

/** Bumped when StoredInventory changes shape; part of every image's inventoryVersion. */
const STORED_FORMAT = 1;

/**
 * The version stamped on every stored inventory: the stored format and a hash of the inventory
 * code's version (every extractor's and condenser's). A digest stored under another one is pulled
 * again, since a newer extractor may find packages the old one missed.
 */
export const imageStateVersion = `${STORED_FORMAT}:${createHash("sha256").update(inventoryVersion).digest("hex").slice(0, 16)}`;

function storedPackage(pkg: Package): StoredPackage {
  return {
    name: pkg.name,
    version: pkg.version,
    type: pkg.type,
    purl: pkg.purl,
    ...(pkg.ecosystem !== undefined ? { ecosystem: pkg.ecosystem } : {}),
    ...(pkg.sourceName !== undefined ? { sourceName: pkg.sourceName } : {}),
    ...(pkg.sourceVersion !== undefined ? { sourceVersion: pkg.sourceVersion } : {}),
    ...(pkg.epoch !== undefined ? { epoch: pkg.epoch } : {}),
    location: pkg.location,
    layer: pkg.layer,
    foundBy: pkg.foundBy,
  };
}

/** "linux/arm64/v8" as the pipeline's platform. */
function platformOption(text: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = text.split("/");
  if (!os || !architecture) throw new InputError(`platform ${text}: use os/arch or os/arch/variant`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/**
 * Pulls one image (`host/repo@sha256:...`, an image manifest's digest) and lists what it holds.
 * Layers already in the layer cache (options.cacheDir) are not downloaded.
 */
export async function pullImageState(
  reference: string,
  options: Omit<PipelineOptions, "platform"> & { repository: string; platform?: string },
): Promise<Omit<ImageState, "findings" | "matchedAt">> {
  const { repository, platform, ...pipeline } = options;
  // The registry: prefix: a bare name would be looked for in the local Docker daemon first.
  const listed = await inventoryImage(`registry:${reference}`, {
    ...pipeline,
    ...(platform ? { platform: platformOption(platform) } : {}),
  });
  const digest = listed.image.manifestDigest ?? reference.slice(reference.lastIndexOf("@") + 1);
  const { eol: _eol, ...distro } = listed.inventory.distro ?? { eol: undefined };
  const stored: StoredInventory = {
    ...(listed.image.config.created ? { created: listed.image.config.created } : {}),
    ...(listed.inventory.distro ? { distro: distro as Omit<Distro, "eol"> } : {}),
    packages: listed.inventory.packages.map(storedPackage),
  };
  return {
    digest,
    repository,
    ...(platform ? { platform } : {}),
    inventory: JSON.stringify(stored),
    inventoryVersion: imageStateVersion,
    scannedAt: new Date().toISOString(),
  };
}

/** Reads ImageState.inventory back; a record that is not one is an error naming the image. */
export function readStoredInventory(
  image: Pick<ImageState, "inventory"> & { digest?: string },
): StoredInventory {
  const name = image.digest ? `stored image ${image.digest}` : "a stored image";
  let parsed: StoredInventory;
  try {
    parsed = JSON.parse(image.inventory) as StoredInventory;
  } catch {
    throw new InputError(`${name}: its inventory is not JSON`);
  }
  if (parsed === null || typeof parsed !== "object" || !Array.isArray(parsed.packages))
    throw new InputError(`${name}: its inventory holds no package list`);
  return parsed;
}

/** The stored inventory's packages against the advisories, as the rescan remembers findings. */
export function matchImageState(
  image: Pick<ImageState, "inventory">,
  advisories: AdvisorySource,
): FindingState[] {
  const { packages } = readStoredInventory(image);
  // The matcher reads only the stored fields; the rest of Package is never asked for.
  const { findings } = matchPackages(packages as Package[], advisories);
  return findings.map((finding) => {
    const pkg = packages[finding.packageIndex] as StoredPackage;
    return {
      id: finding.id,
      aliases: finding.aliases,
      purl: pkg.purl,
      packageName: pkg.name,
      installedVersion: finding.installedVersion,
      ...(finding.fixedVersion !== undefined ? { fixedVersion: finding.fixedVersion } : {}),
      severity: finding.severity.level,
      ...(finding.summary !== undefined ? { summary: finding.summary } : {}),
    };
  });
}

/**
 * An advisory source that asks the one it wraps each (ecosystem, name) once: re-matching many
 * stored images against a store that does not change meanwhile asks the same questions again
 * and again (every Debian image has libc6).
 */
export function memoizedAdvisories(advisories: AdvisorySource): AdvisorySource {
  const records = new Map<string, OsvRecord[]>();
  const nvd = new Map<string, ReturnType<NonNullable<AdvisorySource["nvdEntry"]>>>();
  const nvdEntry = advisories.nvdEntry?.bind(advisories);
  return {
    recordsFor(ecosystem, name) {
      const key = `${ecosystem}\u0000${name}`;
      let found = records.get(key);
      if (found === undefined) {
        found = advisories.recordsFor(ecosystem, name);
        records.set(key, found);
      }
      return found;
    },
    ...(nvdEntry
      ? {
          nvdEntry(cveId: string) {
            if (!nvd.has(cveId)) nvd.set(cveId, nvdEntry(cveId));
            return nvd.get(cveId);
          },
        }
      : {}),
  };
}

/** The ids a finding is known by: its own and its aliases. */
function idsOf(finding: FindingState): string[] {
  return [finding.id, ...finding.aliases];
}

/**
 * What `after` gained and lost against `before`. Two findings are the same when they are on the
 * same package (purl) and share any id: a record that gained a CVE alias, or whose primary id
 * changed, is not reported as one finding gone and another new.
 */
export function diffFindings(
  before: FindingState[],
  after: FindingState[],
): { newFindings: FindingState[]; goneFindings: FindingState[] } {
  const index = (findings: FindingState[]) => {
    const keys = new Set<string>();
    for (const finding of findings) for (const id of idsOf(finding)) keys.add(`${finding.purl}\u0000${id}`);
    return keys;
  };
  const beforeKeys = index(before);
  const afterKeys = index(after);
  const known = (keys: Set<string>, finding: FindingState) =>
    idsOf(finding).some((id) => keys.has(`${finding.purl}\u0000${id}`));
  return {
    newFindings: after.filter((finding) => !known(beforeKeys, finding)),
    goneFindings: before.filter((finding) => !known(afterKeys, finding)),
  };
}
