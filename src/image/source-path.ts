import { stat } from "node:fs/promises";
import { describeError, InputError } from "../errors.js";
import type { ImageSourceRef } from "./types.js";

/** Fails with one line naming the source when its path is missing or not the kind the source reads. */
export async function assertSourcePath(source: ImageSourceRef, kind: "file" | "directory"): Promise<void> {
  let isKind: boolean;
  try {
    const info = await stat(source.path);
    isKind = kind === "file" ? info.isFile() : info.isDirectory();
  } catch (error) {
    throw new InputError(`${source.text}: ${describeError(error)}`);
  }
  if (!isKind) throw new InputError(`${source.text}: not a ${kind}`);
}
