import type { ImageFilesystem } from "../../fs/image-fs.js";
import type { FileScanner, ScanNote, StreamScanner } from "../../fs/types.js";
import type { HygieneFinding } from "../types.js";
import { emptyPassword, finding } from "./rules.js";

const SHADOW = "etc/shadow";
/** A shadow file is a line per account; anything larger is not one. */
const MAX_SHADOW_BYTES = 1024 * 1024;
const EMPTY_PASSWORD = "empty-password";

/** Notes each account whose password field is empty; the hashes themselves are not kept. */
class ShadowScanner implements StreamScanner {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    return this.bytes <= MAX_SHADOW_BYTES;
  }

  end(): ScanNote[] {
    if (this.bytes > MAX_SHADOW_BYTES) return [];
    const notes: ScanNote[] = [];
    for (const line of Buffer.concat(this.chunks).toString("utf8").split("\n")) {
      // name:password:lastchange:...; "*", "!", "!!", "!*" and "!<hash>" are locked, "" is no password.
      const fields = line.split(":");
      if (fields.length < 2 || fields[0] === "" || line.startsWith("#")) continue;
      if (fields[1] === "") notes.push({ kind: EMPTY_PASSWORD, detail: fields[0] as string });
    }
    return notes;
  }
}

export const shadowScanner: FileScanner = {
  name: "shadow",
  version: "1",
  offered: (path, _mode, size) => path === SHADOW && (size === undefined || size <= MAX_SHADOW_BYTES),
  open: () => new ShadowScanner(),
};

/** Accounts of the final image's etc/shadow with an empty password field. */
export function checkEmptyPasswords(fs: ImageFilesystem): HygieneFinding[] {
  const file = fs.file(SHADOW);
  const notes = file?.notes?.[shadowScanner.name] ?? [];
  if (!file) return [];
  return notes
    .filter((note) => note.kind === EMPTY_PASSWORD)
    .map((note) =>
      finding(
        emptyPassword,
        `account ${note.detail} has an empty password in ${SHADOW}: anyone in the container can become it without one`,
        { kind: "file", path: SHADOW, layer: file.layer },
      ),
    );
}
