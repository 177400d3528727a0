import { copyFile, lstat, mkdir, readdir, readlink, rm, symlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * Applies one fixture layer directory onto `target` as a container runtime would: an opaque
 * marker empties the directory first, `.wh.NAME` deletes NAME, everything else is written over.
 */
export async function applyLayerDirectory(layer: string, target: string): Promise<void> {
  const names = (await readdir(layer)).sort();
  await mkdir(target, { recursive: true });
  if (names.includes(".wh..wh..opq")) {
    for (const name of await readdir(target)) await rm(join(target, name), { recursive: true, force: true });
  }
  for (const name of names) {
    if (name === ".wh..wh..opq") continue;
    const from = join(layer, name);
    const to = join(target, name);
    if (name.startsWith(".wh.")) {
      await rm(join(target, name.slice(".wh.".length)), { recursive: true, force: true });
      continue;
    }
    const info = await lstat(from);
    if (info.isDirectory()) {
      const existing = await lstat(to).catch(() => undefined);
      if (existing && !existing.isDirectory()) await rm(to, { force: true });
      await applyLayerDirectory(from, to);
      continue;
    }
    await rm(to, { recursive: true, force: true });
    if (info.isSymbolicLink()) await symlink(await readlink(from), to);
    else await copyFile(from, to);
  }
}
