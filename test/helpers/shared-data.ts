import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * The real data beside the project (LAYERWATCH_SHARED_DATA, else ../shared/data). Tests read it
 * in place and are skipped, with a message saying so, where it is absent.
 */
export const sharedDataRoot = resolve(
  process.env.LAYERWATCH_SHARED_DATA ?? join(import.meta.dirname, "../../../shared/data"),
);

export function sharedData(relativePath: string): string | undefined {
  const path = join(sharedDataRoot, relativePath);
  if (existsSync(path)) return path;
  console.warn(`skipping: ${path} is absent (set LAYERWATCH_SHARED_DATA to the shared data directory)`);
  return undefined;
}

/** Reads a version-ordering vector file: one `a OP b` comparison per line, `#` and `//` comments. */
export function parseVersionVectors(
  text: string,
): Array<{ a: string; op: "<" | "=" | ">"; b: string; line: number }> {
  const vectors: Array<{ a: string; op: "<" | "=" | ">"; b: string; line: number }> = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("//")) return;
    const match = /^(\S+)\s+([<=>])\s+(\S+)$/.exec(line);
    if (!match) throw new Error(`line ${index + 1}: not a comparison: ${line}`);
    vectors.push({
      a: match[1] as string,
      op: match[2] as "<" | "=" | ">",
      b: match[3] as string,
      line: index + 1,
    });
  });
  return vectors;
}
