/**
 * Builds small images for the image-check tests and runs them through the real pipeline
 * (oci-archive → layer reader with the hygiene scanners → checkImage), returning the findings.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HygieneFinding } from "../../src/hygiene/types.js";
import { inventoryImage, type PipelineOptions } from "../../src/pipeline.js";
import { buildImage, type FixtureLayer, type LayerFile, writeOciArchive } from "../helpers/image-builder.js";

export const file = (path: string, content: string | Buffer, mode = 0o644): LayerFile => ({
  path,
  type: "file",
  content: typeof content === "string" ? Buffer.from(content) : content,
  mode,
});
export const dir = (path: string, mode = 0o755): LayerFile => ({ path, type: "directory", mode });
/** A `.wh.NAME` entry deleting `path` from the layers below. */
export const whiteout = (path: string): LayerFile => {
  const slash = path.lastIndexOf("/");
  return file(`${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`, "");
};
export const layer = (createdBy: string, ...files: LayerFile[]): FixtureLayer => ({ createdBy, files });

/** A fresh RSA private key in PKCS#1 PEM: made here, so it was never anyone's secret. */
export function freshPrivateKey(): string {
  return generateKeyPairSync("rsa", {
    modulusLength: 1024,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
}

/** A made-up token: `prefix` and `length` characters from a fixed alphabet, varied by `seed`. */
export function fakeToken(prefix: string, length: number, seed = 0): string {
  const alphabet = "Zq7Xw2Lk9Rt4Vb6Nm1Pc8Hd3Jf5Gs0YaQeTyUiOpSdFgHjKlMnBvCx";
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[(i * 7 + seed * 13 + 3) % alphabet.length];
  return prefix + out;
}

/** A base layer as every test image has one: a minimal etc with locked accounts. */
export const baseLayer = layer(
  "ADD rootfs.tar.gz /",
  dir("etc"),
  file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
  file("etc/shadow", "root:*:19000:0:99999:7:::\n", 0o640),
  dir("tmp", 0o1777),
  dir("usr"),
  dir("usr/bin"),
);

export interface ScanOptions {
  image?: Parameters<typeof buildImage>[1];
  /** Layers of a base image (a prefix of `layers`), passed as --base-image. */
  baseLayers?: FixtureLayer[];
  pipeline?: PipelineOptions;
}

/** Builds the image as an oci-archive, reads it through inventoryImage, and returns its hygiene findings. */
export async function scanLayers(
  layers: FixtureLayer[],
  options: ScanOptions = {},
): Promise<HygieneFinding[]> {
  const work = await mkdtemp(join(tmpdir(), "layerwatch-hygiene-"));
  try {
    const archive = join(work, "image.tar");
    await writeOciArchive(await buildImage(layers, options.image), archive);
    const pipeline: PipelineOptions = { ...options.pipeline };
    if (options.baseLayers) {
      const base = join(work, "base.tar");
      await writeOciArchive(await buildImage(options.baseLayers), base);
      pipeline.baseImage = `oci-archive:${base}`;
    }
    const result = await inventoryImage(`oci-archive:${archive}`, pipeline);
    if (!result.hygiene) throw new Error("inventoryImage returned no hygiene findings");
    return result.hygiene;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** [ruleId, where] of each finding, for exact comparisons. */
export function where(findings: readonly HygieneFinding[]): string[] {
  return findings.map((f) => {
    const at = f.location;
    if (at.kind === "config") return `${f.ruleId} ${at.field}`;
    if (at.kind === "file") return `${f.ruleId} ${at.path}@${at.layer}${at.deleted ? " deleted" : ""}`;
    return `${f.ruleId} ${at.path}:${at.line}`;
  });
}
