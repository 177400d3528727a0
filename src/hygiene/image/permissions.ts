import type { ImageFilesystem } from "../../fs/image-fs.js";
import type { ImageFile } from "../../fs/types.js";
import type { HygieneFinding } from "../types.js";
import { addedSetuid, finding, worldWritable } from "./rules.js";

const SETUID = 0o4000;
const SETGID = 0o2000;
const STICKY = 0o1000;
const OTHERS_WRITE = 0o002;

/** At most this many world-writable paths are listed; a `chmod -R 777` needs no ten thousand lines. */
export const MAX_WORLD_WRITABLE_FINDINGS = 50;

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

function byPath(a: ImageFile, b: ImageFile): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * Setuid and setgid files of the final image that the image's own layers added: the layers from
 * `firstOwnLayer` up, where the base image's layer count is known, else every layer above the
 * first (the first is taken for the base: a distribution's su, passwd and mount are setuid by
 * design). A file the base already had with the same bits, rewritten by an upgrade above, is not
 * added. Hard links are left out: the file they link to is the one checked.
 */
export function checkSetuid(fs: ImageFilesystem, firstOwnLayer: number): HygieneFinding[] {
  const found: ImageFile[] = [];
  for (const file of fs.files()) {
    if (file.type !== "file" || file.layer < firstOwnLayer) continue;
    const special = file.mode & (SETUID | SETGID);
    if (special === 0) continue;
    let inBase = 0;
    for (const version of fs.versions(file.path))
      if (version.layer < firstOwnLayer) inBase |= version.mode & (SETUID | SETGID);
    if ((special & ~inBase) !== 0) found.push(file);
  }
  return found.sort(byPath).map((file) => {
    const bits = [
      file.mode & SETUID ? `setuid (uid ${file.uid})` : "",
      file.mode & SETGID ? `setgid (gid ${file.gid})` : "",
    ]
      .filter(Boolean)
      .join(" and ");
    return finding(
      addedSetuid,
      `${file.path} is ${bits}, mode ${octal(file.mode)}, added by layer ${file.layer}`,
      {
        kind: "file",
        path: file.path,
        layer: file.layer,
      },
    );
  });
}

/** tmp and var/tmp are shared scratch space by design. */
function isScratch(path: string): boolean {
  return path === "tmp" || path.startsWith("tmp/") || path === "var/tmp" || path.startsWith("var/tmp/");
}

/**
 * Files and directories of the final image that any user may write, outside tmp and var/tmp. A
 * directory with the sticky bit is fine (users cannot remove each other's files, as in tmp);
 * symlinks are always 0777 and mean nothing; devices, FIFOs and hard links are not checked.
 */
export function checkWorldWritable(fs: ImageFilesystem): HygieneFinding[] {
  const found: ImageFile[] = [];
  for (const file of fs.files()) {
    if (file.type !== "file" && file.type !== "directory") continue;
    if ((file.mode & OTHERS_WRITE) === 0 || isScratch(file.path)) continue;
    if (file.type === "directory" && (file.mode & STICKY) !== 0) continue;
    found.push(file);
  }
  found.sort(byPath);
  const listed = found.slice(0, MAX_WORLD_WRITABLE_FINDINGS);
  return listed.map((file, i) => {
    const what = file.type === "directory" ? "directory" : "file";
    const more =
      i === listed.length - 1 && found.length > listed.length
        ? ` (and ${found.length - listed.length} more world-writable paths not listed)`
        : "";
    return finding(
      worldWritable,
      `${file.path} is a world-writable ${what}, mode ${octal(file.mode)}: any user in the container can change it${more}`,
      { kind: "file", path: file.path, layer: file.layer },
    );
  });
}
