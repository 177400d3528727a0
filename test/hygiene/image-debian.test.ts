/**
 * The image checks on a real debootstrapped Debian bookworm (minbase, and with openssl, curl and
 * ca-certificates) must report nothing but the root user: no secret in its CA bundle or docs, no
 * world-writable path (tmp, var/tmp and run/lock are sticky), no empty password (every account is
 * '*'), and the setuid su/passwd/mount/... are in the base layer, so not added.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readLayer } from "../../src/fs/layer-reader.js";
import type { LayerContents } from "../../src/fs/types.js";
import { checkImage } from "../../src/hygiene/image/check.js";
import { imageScanners } from "../../src/hygiene/image/scanners.js";
import { loadImage, parseImageSource } from "../../src/image/source.js";
import { inventoryCondense, inventoryWants } from "../../src/inventory/inventory.js";
import { inventoryImage } from "../../src/pipeline.js";
import { buildDebianImage, type DebianImage } from "../helpers/debian-image.js";
import { missingTools } from "../helpers/tools.js";
import { where } from "./image-fixtures.js";

const missing = missingTools(["debootstrap"]);
if (missing) console.warn(`skipping the Debian image-check tests: ${missing.message}`);

/** Regular files with a setuid or setgid bit in the rootfs on disk, found without layerwatch. */
async function setuidFiles(root: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(join(root, prefix))) {
    const path = prefix ? `${prefix}/${name}` : name;
    const info = await lstat(join(root, path));
    if (info.isDirectory()) found.push(...(await setuidFiles(root, path)));
    else if (info.isFile() && (info.mode & 0o6000) !== 0) found.push(path);
  }
  return found;
}

async function readLayers(
  image: DebianImage,
): Promise<{ config: Parameters<typeof checkImage>[0]["config"]; layers: LayerContents[] }> {
  const loaded = await loadImage(
    parseImageSource(`oci:${image.layoutDir}:${image.refName}`),
    (tar, context) =>
      readLayer(tar, context.label, {
        wants: inventoryWants,
        maxFileBytes: 256 * 1024 * 1024,
        condense: inventoryCondense,
        scanners: imageScanners,
      }),
    {},
  );
  return { config: loaded.config, layers: loaded.layers.map((layer) => layer.result) };
}

describe.skipIf(missing !== undefined)("image checks on a debootstrapped Debian", () => {
  for (const include of [[], ["ca-certificates", "curl", "openssl"]]) {
    const name = include.length > 0 ? `minbase with ${include.join(", ")}` : "minbase";

    it(`${name}: only the root user`, { timeout: 15 * 60_000 }, async () => {
      const image = await buildDebianImage({ include });
      const started = Date.now();
      const result = await inventoryImage(`oci:${image.layoutDir}:${image.refName}`);
      console.info(`hygiene on Debian ${name}: inventoryImage took ${Date.now() - started} ms`);
      expect(result.hygiene).toEqual([
        {
          ruleId: "LW-IMG-001",
          severity: "high",
          message: "config.User is not set, so the container runs as root",
          location: { kind: "config", field: "config.User" },
        },
      ]);
    });

    it(`${name}: its setuid tools are seen, and left out only for being in the base layer`, {
      timeout: 15 * 60_000,
    }, async () => {
      const image = await buildDebianImage({ include });
      const onDisk = (await setuidFiles(image.rootfsDir)).sort();
      expect(onDisk).toContain("usr/bin/su");
      const { config, layers } = await readLayers(image);
      // With no layer taken for the base, every one of them is "added".
      const all = checkImage({ config, layers, baseLayers: 0 });
      expect(where(all).filter((w) => w.startsWith("LW-IMG-007"))).toEqual(
        onDisk.map((path) => `LW-IMG-007 ${path}@0`),
      );
      expect(where(all).filter((w) => !w.startsWith("LW-IMG-007"))).toEqual(["LW-IMG-001 config.User"]);
    });
  }
});
