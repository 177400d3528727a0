/**
 * dist/index.js is committed (GitHub runs an Action from its repository as it is), so it must be
 * what `npm run bundle` builds from the sources: this test builds the bundle again and compares
 * bytes. When it fails, run `npm run bundle` and commit dist/index.js.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleAction, committedBundle } from "../../scripts/bundle.js";

const root = join(import.meta.dirname, "../..");
let work: string;
const builtinNames = new Set(
  builtinModules.map((name) => name.replace(/^node:/, "").split("/")[0] as string),
);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-bundle-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("the Action's bundle", () => {
  it("dist/index.js is byte for byte what npm run bundle builds now", async () => {
    expect(existsSync(committedBundle), "dist/index.js is missing: run npm run bundle").toBe(true);
    const rebuilt = join(work, "index.js");
    await writeFile(rebuilt, await bundleAction());
    const [fresh, committed] = await Promise.all([readFile(rebuilt), readFile(committedBundle)]);
    // Compared as bytes; on a mismatch, say where, not the 7 MB of both.
    const firstDifference = fresh.findIndex((byte, index) => committed[index] !== byte);
    expect(
      { length: committed.length, firstDifference: fresh.equals(committed) ? -1 : firstDifference },
      "dist/index.js is stale: run npm run bundle and commit it",
    ).toEqual({ length: fresh.length, firstDifference: -1 });
  });

  it("depends on no checkout path, and loads only node's modules and the optional natives it was told to leave out", async () => {
    const text = await bundleAction();
    expect(text).not.toContain(root);
    // Every static import, import() and require() of a module the bundle leaves for Node to resolve.
    const bare = new Set<string>();
    const relative = new Set<string>();
    const loads = /(?:^import [^;]*? from |(?<![\w$])(?:__)?require\(|(?<![\w$])import\()"([^"]+)"/gm;
    for (const match of text.matchAll(loads)) {
      const name = match[1] as string;
      if (name.startsWith(".")) relative.add(name);
      else if (!name.startsWith("node:") && !builtinNames.has(name.split("/")[0] as string)) bare.add(name);
    }
    expect([...bare].sort()).toEqual(["better-sqlite3", "cpu-features"]);
    expect([...relative]).toEqual(["./crypto/build/Release/sshcrypto.node"]);
  });
});
