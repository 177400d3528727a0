/**
 * What the CI report tests share: the e2e fixture image (fixtures/images/debian-app, seven
 * findings against fixtures/osv, see fixtures/README.md) as a docker-archive, with the history a
 * given builder would write, and a store with fixtures/osv imported.
 */
import { copyFile, mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { type CliRun, cli } from "../helpers/cli.js";
import {
  type BuiltImage,
  buildImage,
  type FixtureLayer,
  filesFromDirectory,
  writeDockerArchive,
} from "../helpers/image-builder.js";
import { zipFixtureEcosystem } from "../helpers/osv-zip.js";

export const fixtureImageDir = join(import.meta.dirname, "../../fixtures/images/debian-app");
export const fixtureOsvDir = join(import.meta.dirname, "../../fixtures/osv");
export const fixtureDockerfile = "fixtures/dockerfiles/debian-app.Dockerfile";

export interface FixtureHistory {
  /** created_by of layers 0-base, 1-app and 2-upgrade. */
  layers: [string, string, string];
  /** History entries that made no layer. */
  empty: string[];
}

/** The e2e test's history: one "#(nop) layer NAME" line per layer, and an ENV. */
export const plainHistory: FixtureHistory = {
  layers: [
    "/bin/sh -c #(nop) layer 0-base",
    "/bin/sh -c #(nop) layer 1-app",
    "/bin/sh -c #(nop) layer 2-upgrade",
  ],
  empty: ["/bin/sh -c #(nop)  ENV NODE_ENV=production"],
};

/**
 * Builds the fixture image with `history`; `edit` may change a layer's files first (path inside
 * the layer → new content), as a rebuild with other package versions would.
 */
export async function buildFixtureImage(
  history: FixtureHistory = plainHistory,
  edit: Record<string, Buffer> = {},
  extraFiles: Array<{ layer: number; path: string; content: Buffer }> = [],
): Promise<BuiltImage> {
  const names = (await readdir(fixtureImageDir)).sort();
  const layers: FixtureLayer[] = [];
  for (const [index, name] of names.entries()) {
    const files = (await filesFromDirectory(join(fixtureImageDir, name))).map((file) => {
      const replaced = edit[`${name}/${file.path}`];
      return replaced ? { ...file, content: replaced } : file;
    });
    for (const extra of extraFiles)
      if (extra.layer === index) files.push({ path: extra.path, type: "file", content: extra.content });
    layers.push({ files, createdBy: history.layers[index] as string });
  }
  return buildImage(layers, { emptyHistory: history.empty });
}

export interface FixtureScan {
  work: string;
  db: string;
  /** docker-archive:... of an image written with `archive`. */
  archive(image: BuiltImage, name: string): Promise<string>;
  /** `layerwatch --db DB scan SOURCE ...args`, in process. */
  scan(source: string, args: string[]): Promise<CliRun>;
  /** The JSON report of the same scan. */
  report(source: string, args?: string[]): Promise<JsonReport>;
}

/**
 * A work directory with a store of fixtures/osv, plus `extraDebian` records (written to the
 * Debian zip beside the fixture's).
 */
export async function fixtureStore(prefix: string, extraDebian: object[] = []): Promise<FixtureScan> {
  const work = await mkdtemp(join(tmpdir(), `layerwatch-${prefix}-`));
  const db = join(work, "db.sqlite");
  const osv = join(work, "osv");
  await zipFixtureEcosystem(join(fixtureOsvDir, "npm"), osv, "npm");
  let debianDir = join(fixtureOsvDir, "Debian");
  if (extraDebian.length > 0) {
    debianDir = join(work, "debian-records");
    await mkdir(debianDir, { recursive: true });
    for (const name of await readdir(join(fixtureOsvDir, "Debian")))
      await copyFile(join(fixtureOsvDir, "Debian", name), join(debianDir, name));
    for (const record of extraDebian)
      await writeFile(join(debianDir, `${(record as { id: string }).id}.json`), JSON.stringify(record));
  }
  await zipFixtureEcosystem(debianDir, osv, "Debian");
  const imported = await cli(["--db", db, "db", "import", osv]);
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
  const scan = (source: string, args: string[]) => cli(["--db", db, "scan", source, ...args]);
  return {
    work,
    db,
    archive: async (image, name) => {
      const path = join(work, `${name}.tar`);
      await writeDockerArchive(image, path);
      return `docker-archive:${path}`;
    },
    scan,
    report: async (source, args = []) => {
      const run = await scan(source, ["--format", "json", ...args]);
      expect(run.stderr).toBe("");
      return JSON.parse(run.stdout) as JsonReport;
    },
  };
}
