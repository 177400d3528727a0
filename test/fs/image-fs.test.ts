import { describe, expect, it } from "vitest";
import { ImageFilesystem } from "../../src/fs/image-fs.js";
import { normalizeEntryPath, readLayer } from "../../src/fs/layer-reader.js";
import type { LayerContents } from "../../src/fs/types.js";
import { type LayerFile, tarOf } from "../helpers/image-builder.js";

async function layer(
  files: LayerFile[],
  wants: (path: string) => boolean = () => true,
): Promise<LayerContents> {
  const { Readable } = await import("node:stream");
  return readLayer(Readable.from([await tarOf(files)]), "test layer", { wants, maxFileBytes: 1024 });
}

const file = (path: string, text = path): LayerFile => ({ path, type: "file", content: Buffer.from(text) });

describe("reading a layer", () => {
  it("keeps only wanted contents and records every entry", async () => {
    const contents = await layer(
      [file("etc/os-release", "ID=debian"), file("usr/bin/tool", "binary")],
      (p) => p === "etc/os-release",
    );
    expect(contents.entries.map((e) => [e.path, e.content?.toString()])).toEqual([
      ["etc/os-release", "ID=debian"],
      ["usr/bin/tool", undefined],
    ]);
  });

  it("refuses entries that climb out of the root and roots absolute names", async () => {
    const contents = await layer([
      file("../../etc/passwd"),
      file("/etc/shadow"),
      file("a/../../b"),
      file("./a/./b/../c"),
    ]);
    expect(contents.entries.map((e) => e.path)).toEqual(["etc/shadow", "a/c"]);
    expect(contents.warnings).toEqual([
      { path: "../../etc/passwd", problem: "escapes the image root; ignored" },
      { path: "a/../../b", problem: "escapes the image root; ignored" },
    ]);
    expect(normalizeEntryPath("/")).toBe("");
  });

  it("does not read a wanted file past the size limit, and says so", async () => {
    const contents = await layer([file("var/lib/dpkg/status", "x".repeat(2048))]);
    expect(contents.entries[0]?.content).toBeUndefined();
    expect(contents.warnings[0]?.problem).toMatch(/2048 bytes is over the 1024-byte limit/);
  });

  it("fails with the layer named when the tar is corrupt", async () => {
    const { Readable } = await import("node:stream");
    const tar = await tarOf([file("a", "hello")]);
    tar.write("garbage!", 148); // breaks the header checksum
    await expect(
      readLayer(Readable.from([tar]), "layer 3 (abc)", { wants: () => true, maxFileBytes: 10 }),
    ).rejects.toThrow(/^layer 3 \(abc\): corrupt layer tar/);
  });
});

describe("applying layers", () => {
  it("applies whiteouts and opaque directories only to the layers below", async () => {
    const fs = ImageFilesystem.fromLayers([
      await layer([file("tmp/junk"), file("opt/old/a"), file("opt/old/sub/b"), file("keep/x")]),
      await layer([
        file("tmp/.wh.junk"),
        file("opt/old/.wh..wh..opq"),
        file("opt/old/new"),
        // A whiteout and a new file of the same name in one layer: the new file stays.
        file("keep/.wh.x"),
        file("keep/x", "again"),
      ]),
    ]);
    const paths = [...fs.files()].map((f) => f.path).sort();
    // Parent directories have no tar entries here, so only files are listed.
    expect(paths).toEqual(["keep/x", "opt/old/new"]);
    expect(fs.file("keep/x")).toMatchObject({ layer: 1, content: Buffer.from("again") });
  });

  it("keeps earlier versions of a file and knows which layer wrote the current one", async () => {
    const fs = ImageFilesystem.fromLayers([
      await layer([file("f", "one")]),
      await layer([]),
      await layer([file("f", "three")]),
    ]);
    expect(fs.versions("f").map((v) => [v.layer, v.content?.toString()])).toEqual([
      [0, "one"],
      [2, "three"],
    ]);
  });

  it("resolves symlinks inside the root, whatever the link says", async () => {
    const fs = ImageFilesystem.fromLayers([
      await layer([
        file("usr/lib/os-release", "ID=debian"),
        { path: "etc/os-release", type: "symlink", linkname: "../usr/lib/os-release" },
        { path: "etc/escape", type: "symlink", linkname: "../../../../usr/lib/os-release" },
        { path: "etc/absolute", type: "symlink", linkname: "/usr/lib/os-release" },
        { path: "loop/a", type: "symlink", linkname: "b" },
        { path: "loop/b", type: "symlink", linkname: "a" },
        { path: "lib", type: "symlink", linkname: "usr/lib" },
      ]),
    ]);
    for (const path of ["etc/os-release", "etc/escape", "etc/absolute", "lib/os-release"]) {
      expect(fs.file(path)?.content?.toString(), path).toBe("ID=debian");
    }
    expect(fs.resolvePath("etc/escape")).toBe("usr/lib/os-release");
    expect(fs.file("loop/a")).toBeUndefined();
  });

  it("reads a hard link's content from its target", async () => {
    const fs = ImageFilesystem.fromLayers([
      await layer([file("a/status", "Package: x"), { path: "b/status", type: "link", linkname: "a/status" }]),
    ]);
    expect(fs.file("b/status")?.content?.toString()).toBe("Package: x");
  });
});
