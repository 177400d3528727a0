import { describeError, InputError } from "./errors.js";
import { ImageFilesystem } from "./fs/image-fs.js";
import { DiskLayerCache } from "./fs/layer-cache.js";
import { readLayer } from "./fs/layer-reader.js";
import type { LayerContents, LayerWarning } from "./fs/types.js";
import { checkImage } from "./hygiene/image/check.js";
import { imageScanners, imageScannersRead, imageScannersVersion } from "./hygiene/image/scanners.js";
import type { HygieneFinding } from "./hygiene/types.js";
import { parseImageReference } from "./image/registry/reference.js";
import { assertSourceExists, loadImage, parseImageSource } from "./image/source.js";
import type {
  ImageReadOptions,
  ImageSourceRef,
  LayerCache,
  LayerProcessor,
  LoadedImage,
} from "./image/types.js";
import {
  buildInventory,
  inventoryCondense,
  inventoryReads,
  inventoryVersion,
  inventoryWants,
} from "./inventory/inventory.js";
import { isEndOfLife } from "./inventory/os-release.js";
import { assertSbomExists, readSbomFile, sbomSourcePath } from "./inventory/sbom/index.js";
import type { Distro, Inventory } from "./inventory/types.js";
import { type AdvisorySource, matchPackages } from "./match/matcher.js";
import type { Finding, MatchWarning } from "./match/types.js";

/** Largest package file (dpkg status, package.json) read into memory. */
const MAX_PACKAGE_FILE_BYTES = 256 * 1024 * 1024;

export interface ScanWarning {
  /** What the warning is about: a file in a layer, a package, the image. */
  subject: string;
  problem: string;
}

/** An SBOM read in place of an image (`sbom:FILE`): an inventory source that is not an image. */
export interface SbomSourceRef {
  kind: "sbom";
  path: string;
  text: string;
}

export interface ImageInventory {
  image: Omit<LoadedImage<LayerContents>, "layers" | "source" | "configDigest"> & {
    source: ImageSourceRef | SbomSourceRef;
    /** Always there for an image; an SBOM may name none. */
    configDigest?: string;
    layers: Array<Omit<LoadedImage<LayerContents>["layers"][number], "result">>;
  };
  inventory: Inventory;
  warnings: ScanWarning[];
  baseImage?: BaseImage;
  /** Build-hygiene findings of the image checks (config, history, layers); none for an SBOM. */
  hygiene?: HygieneFinding[];
}

export interface ScanResult extends ImageInventory {
  findings: Finding[];
}

function layerWarnings(image: LoadedImage<LayerContents>): ScanWarning[] {
  return image.layers.flatMap((layer) =>
    layer.result.warnings.map((warning: LayerWarning) => ({
      subject: `layer ${layer.index}: ${warning.path}`,
      problem: warning.problem,
    })),
  );
}

export interface PipelineOptions extends Partial<ImageReadOptions> {
  /** Where layer results are kept between scans; none when undefined. */
  cacheDir?: string;
  /** The image this one was built FROM (any source), to tell its layers from the image's own. */
  baseImage?: string;
  /** false: no image checks; file bodies are not read for them, and `hygiene` is left out. */
  hygiene?: boolean;
}

/** The image the scanned one was built on, and how many of its layers came from it. */
export interface BaseImage {
  reference: string;
  /** The scanned image's layers 0..layers-1 are the base image's. */
  layers: number;
  /** Where the base was named: --base-image, or the org.opencontainers.image.base.* labels. */
  from: "option" | "label";
}

const BASE_NAME_LABEL = "org.opencontainers.image.base.name";
const BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest";

/**
 * Finds how many of the image's layers its base image supplied: the base's diff ids must be a
 * prefix of the image's. The base comes from --base-image, else from the OCI base labels.
 */
async function findBaseImage(
  image: LoadedImage<LayerContents>,
  options: PipelineOptions,
  readOptions: Partial<ImageReadOptions>,
  processor: LayerProcessor<LayerContents>,
): Promise<{ base?: BaseImage; warning?: ScanWarning }> {
  const labels = image.config.config?.Labels ?? {};
  const labelName = labels[BASE_NAME_LABEL];
  const labelDigest = labels[BASE_DIGEST_LABEL];
  let reference: string | undefined = options.baseImage;
  let from: BaseImage["from"] = "option";
  if (reference === undefined && labelName) {
    // Pin the base by digest when the label gives one: the tag may have moved since the build.
    reference = labelName;
    if (labelDigest) {
      const named = parseImageReference(labelName);
      reference = `${named.registry}/${named.repository}@${labelDigest}`;
    }
    from = "label";
  }
  if (reference === undefined) return {};
  const subject = from === "option" ? `--base-image ${reference}` : `base image label ${reference}`;
  let baseDiffIds: string[];
  try {
    const base = await loadImage(parseImageSource(reference), processor, readOptions);
    baseDiffIds = base.config.rootfs.diff_ids;
  } catch (error) {
    if (from === "option") throw error;
    return {
      warning: {
        subject,
        problem: `cannot read it (${describeError(error)}); layers are not split into base and own`,
      },
    };
  }
  const own = image.config.rootfs.diff_ids;
  const isPrefix = baseDiffIds.length <= own.length && baseDiffIds.every((id, i) => own[i] === id);
  if (!isPrefix) {
    return {
      warning: {
        subject,
        problem: "its layers are not the first layers of this image; it is not this image's base",
      },
    };
  }
  return { base: { reference, layers: baseDiffIds.length, from } };
}

/** Package types that come from the OS distribution and are matched against its advisories. */
const osPackageTypes = new Set(["deb", "apk", "rpm"]);

function distroName(distro: Distro): string {
  return distro.prettyName ?? `${distro.id} ${distro.versionId ?? ""}`.trim();
}

function endOfLifeWarning(distro: Distro | undefined): ScanWarning[] {
  if (!distro?.eol) return [];
  return [
    {
      subject: distro.source,
      problem: `${distroName(distro)} reached end of life on ${distro.endOfLife}; it gets no security fixes`,
    },
  ];
}

/** Fails early, before any other work, when the image source or SBOM file is not there. */
export async function assertInputExists(sourceText: string): Promise<void> {
  const sbomPath = sbomSourcePath(sourceText);
  if (sbomPath !== undefined) await assertSbomExists(sourceText, sbomPath);
  else await assertSourceExists(parseImageSource(sourceText));
}

/**
 * sbom → inventory: an SBOM's packages, without the image. There is no image to load, so no
 * layers are read and no base image is looked for; the image section is what the SBOM says.
 */
async function inventorySbom(sourceText: string, sbomPath: string, options: PipelineOptions) {
  if (options.baseImage !== undefined)
    throw new InputError(`--base-image does not apply to ${sourceText}: an SBOM has no layers to compare`);
  const sbom = await readSbomFile(sourceText);
  const read = sbom.inventory;
  const inventory = read.distro?.endOfLife
    ? { ...read, distro: { ...read.distro, eol: isEndOfLife(read.distro, new Date()) } }
    : read;
  const warnings: ScanWarning[] = inventory.warnings.map((w) => ({ subject: w.path, problem: w.problem }));
  const unmatchedOs = inventory.packages.filter((p) => osPackageTypes.has(p.type) && !p.ecosystem).length;
  if (unmatchedOs > 0)
    warnings.push({
      subject: sourceText,
      problem: `${unmatchedOs} OS packages have no advisory ecosystem (the SBOM names no release layerwatch knows); they are not matched`,
    });
  warnings.push(...endOfLifeWarning(inventory.distro));
  const { image } = sbom;
  const result: ImageInventory = {
    image: {
      source: { kind: "sbom", path: sbomPath, text: sourceText },
      ...(image.manifestDigest ? { manifestDigest: image.manifestDigest } : {}),
      ...(image.configDigest ? { configDigest: image.configDigest } : {}),
      config: {
        ...(image.os ? { os: image.os } : {}),
        ...(image.architecture ? { architecture: image.architecture } : {}),
        rootfs: { type: "layers", diff_ids: image.layers.map((layer) => layer.diffId) },
      },
      repoTags: image.repoTags,
      layers: image.layers,
    },
    inventory,
    warnings,
    ...(image.baseImage ? { baseImage: image.baseImage } : {}),
  };
  return result;
}

/**
 * image → fs → inventory: reads the image once and lists what is installed in it. An `sbom:FILE`
 * source lists what the SBOM says instead.
 */
export async function inventoryImage(
  sourceText: string,
  options: PipelineOptions = {},
): Promise<ImageInventory> {
  const sbomPath = sbomSourcePath(sourceText);
  if (sbomPath !== undefined) return inventorySbom(sourceText, sbomPath, options);
  const source = parseImageSource(sourceText);
  const { cacheDir, baseImage: _baseImage, hygiene: hygieneWanted = true, ...imageOptions } = options;
  // Cached layers hold what the inventory kept and what the hygiene scanners noted: both key them
  // (a layer read without the scanners has no notes, so it has a key of its own).
  const layerCache = cacheDir
    ? new DiskLayerCache(
        cacheDir,
        hygieneWanted ? `${inventoryVersion},${imageScannersVersion}` : inventoryVersion,
      )
    : undefined;
  const readOptions = {
    ...imageOptions,
    contentWanted: (path: string, mode: number, size?: number) =>
      inventoryReads(path, mode) || (hygieneWanted && imageScannersRead(path, mode, size)),
    ...(layerCache ? { layerCache: layerCache as LayerCache<unknown> } : {}),
  };
  const processor: LayerProcessor<LayerContents> = (tar, context) =>
    readLayer(tar, context.label, {
      wants: inventoryWants,
      maxFileBytes: MAX_PACKAGE_FILE_BYTES,
      // Executables stream through a condenser that keeps only their embedded package data.
      condense: inventoryCondense,
      // The image checks read small text files (secrets) and etc/shadow as they stream.
      ...(hygieneWanted ? { scanners: imageScanners } : {}),
    });
  const image = await loadImage(source, processor, readOptions);
  const { base, warning: baseWarning } = await findBaseImage(image, options, readOptions, processor);
  const fs = ImageFilesystem.fromLayers(image.layers.map((layer) => layer.result));
  const built = buildInventory(fs);
  // Whether the release is past its end of life depends on the day of the scan, not the image.
  const inventory = built.distro?.endOfLife
    ? { ...built, distro: { ...built.distro, eol: isEndOfLife(built.distro, new Date()) } }
    : built;
  const warnings: ScanWarning[] = [
    ...(image.warnings ?? []),
    ...(baseWarning ? [baseWarning] : []),
    ...layerWarnings(image),
    ...inventory.warnings.map((w) => ({
      subject: w.layer === undefined ? w.path : `layer ${w.layer}: ${w.path}`,
      problem: w.problem,
    })),
  ];
  if (!inventory.distro)
    warnings.push({
      subject: "image",
      problem: "no OS release found (etc/os-release); OS packages are not matched",
    });
  else if (!inventory.distro.osvEcosystem && inventory.packages.some((p) => osPackageTypes.has(p.type))) {
    warnings.push({
      subject: inventory.distro.source,
      problem: `no advisory ecosystem known for ${inventory.distro.id} ${inventory.distro.versionId ?? "(no VERSION_ID)"}; OS packages are not matched`,
    });
  }
  warnings.push(...endOfLifeWarning(inventory.distro));
  const layers = image.layers.map(({ result: _result, ...layer }) => layer);
  const hygiene = hygieneWanted
    ? checkImage({
        config: image.config,
        layers: image.layers.map((layer) => layer.result),
        ...(base ? { baseLayers: base.layers } : {}),
        filesystem: fs,
      })
    : undefined;
  return {
    image: { ...image, layers },
    inventory,
    warnings,
    ...(base ? { baseImage: base } : {}),
    ...(hygiene ? { hygiene } : {}),
  };
}

/** The whole scan: inventory, then every package against the advisories. */
export async function scanImage(
  sourceText: string,
  advisories: AdvisorySource,
  options: PipelineOptions = {},
): Promise<ScanResult> {
  return matchInventory(await inventoryImage(sourceText, options), advisories);
}

/** An inventory's packages against the advisories (scanImage's second half; `scan --online` fetches in between). */
export function matchInventory(listed: ImageInventory, advisories: AdvisorySource): ScanResult {
  const matched = matchPackages(listed.inventory.packages, advisories);
  return {
    ...listed,
    findings: matched.findings,
    warnings: [
      ...listed.warnings,
      ...matched.warnings.map((w: MatchWarning) => ({ subject: w.package, problem: w.problem })),
    ],
  };
}
