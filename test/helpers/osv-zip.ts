import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { expect } from "vitest";
import yazl from "yazl";
import { cli } from "./cli.js";

/** Writes a zip in OSV's export layout: one `<ID>.json` per record at the root. */
export async function writeZip(
  path: string,
  members: Array<{ name: string; content: Buffer }>,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const zip = new yazl.ZipFile();
  for (const member of members) zip.addBuffer(member.content, member.name);
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(path);
    out.on("close", () => resolve());
    out.on("error", reject);
    zip.outputStream.pipe(out);
  });
}

/** Zips every record file of a fixture directory as `<dest>/<Ecosystem>/all.zip`. */
export async function zipFixtureEcosystem(
  sourceDir: string,
  dest: string,
  ecosystem: string,
): Promise<string> {
  const names = (await readdir(sourceDir)).filter((name) => name.endsWith(".json")).sort();
  const members = await Promise.all(
    names.map(async (name) => ({ name, content: await readFile(join(sourceDir, name)) })),
  );
  const path = join(dest, ecosystem, "all.zip");
  await writeZip(path, members);
  return path;
}

/**
 * Writes each record as `<dir>/<ID>.json` (OSV's layout) and imports the folder into the store
 * with `layerwatch db import`, which must succeed without a word on standard error.
 */
export async function importRecords(db: string, dir: string, records: ReadonlyArray<{ id: string }>) {
  await mkdir(dir, { recursive: true });
  for (const record of records)
    await writeFile(join(dir, `${record.id}.json`), JSON.stringify(record, null, 2));
  const imported = await cli(["--db", db, "db", "import", dir]);
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
}
