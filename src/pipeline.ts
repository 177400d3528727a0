import { ImageFilesystem } from "./fs/image-fs.js";
import { DiskLayerCache } from "./fs/layer-cache.js";
import { readLayer } from "./fs/layer-reader.js";
import type { LayerContents, LayerWarning } from "./fs/types.js";
import { loadImage, parseImageSource } from "./image/source.js";
import type { ImageReadOptions, LayerCache, LoadedImage } from "./image/types.js";
import { buildInventory, inventoryVersion, inventoryWants } from "./inventory/inventory.js";
import type { Inventory } from "./inventory/types.js";
import { type AdvisorySource, matchPackages } from "./match/matcher.js";
import type { Finding, MatchWarning } from "./match/types.js";

/** Largest package file (dpkg status, package.json) read into memory. */
const MAX_PACKAGE_FILE_BYTES = 256 * 1024 * 1024;

export interface ScanWarning {
  /** What the warning is about: a file in a layer, a package, the image. */
  subject: string;
  problem: string;
}

export interface ImageInventory {
  image: Omit<LoadedImage<LayerContents>, "layers"> & {
    layers: Array<Omit<LoadedImage<LayerContents>["layers"][number], "result">>;
  };
  inventory: Inventory;
  warnings: ScanWarning[];
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
}

/** image → fs → inventory: reads the image once and lists what is installed in it. */
export async function inventoryImage(
  sourceText: string,
  options: PipelineOptions = {},
): Promise<ImageInventory> {
  const source = parseImageSource(sourceText);
  const { cacheDir, ...readOptions } = options;
  const layerCache = cacheDir ? new DiskLayerCache(cacheDir, inventoryVersion) : undefined;
  const image = await loadImage(
    source,
    (tar, context) =>
      readLayer(tar, context.label, { wants: inventoryWants, maxFileBytes: MAX_PACKAGE_FILE_BYTES }),
    { ...readOptions, ...(layerCache ? { layerCache: layerCache as LayerCache<unknown> } : {}) },
  );
  const fs = ImageFilesystem.fromLayers(image.layers.map((layer) => layer.result));
  const inventory = buildInventory(fs);
  const warnings: ScanWarning[] = [
    ...(image.warnings ?? []),
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
  else if (!inventory.distro.osvEcosystem && inventory.packages.some((p) => p.type === "deb")) {
    warnings.push({
      subject: inventory.distro.source,
      problem: `no advisory ecosystem known for ${inventory.distro.id} ${inventory.distro.versionId ?? "(no VERSION_ID)"}; OS packages are not matched`,
    });
  }
  const layers = image.layers.map(({ result: _result, ...layer }) => layer);
  return { image: { ...image, layers }, inventory, warnings };
}

/** The whole scan: inventory, then every package against the advisories. */
export async function scanImage(
  sourceText: string,
  advisories: AdvisorySource,
  options: PipelineOptions = {},
): Promise<ScanResult> {
  const listed = await inventoryImage(sourceText, options);
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
