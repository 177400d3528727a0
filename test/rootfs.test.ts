/**
 * `rootfs:DIR`: the fixture image unpacked into a directory (its layers applied in order, whiteouts
 * included) scans to the same packages and findings as the image, as one layer.
 */
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { chmod, chown, cp, link, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLayer } from "../src/fs/layer-reader.js";
import type { LayerContents } from "../src/fs/types.js";
import { ociArchitecture } from "../src/image/rootfs.js";
import { loadImage, parseImageSource } from "../src/image/source.js";
import type { JsonReport } from "../src/report/model.js";
import { cli } from "./helpers/cli.js";
import { imageFromFixture, writeDockerArchive } from "./helpers/image-builder.js";
import { zipFixtureEcosystem } from "./helpers/osv-zip.js";
import { expectOneErrorLine, layerlessFindingRows, withReport } from "./helpers/report.js";
import { applyLayerDirectory } from "./helpers/unpack.js";

const fixtureImage = join(import.meta.dirname, "../fixtures/images/debian-app");
const fixtureOsv = join(import.meta.dirname, "../fixtures/osv");

let work: string;
let db: string;
let rootfs: string;
let reference: JsonReport;

async function scanJson(source: string, extra: string[] = []) {
  const run = await cli(["--db", db, "scan", source, "--format", "json", ...extra]);
  return withReport(run);
}

/** What identifies a package, whichever layer it came from. */
function packageRows(report: JsonReport) {
  return report.packages
    .map((p) => ({ type: p.type, name: p.name, version: p.version, purl: p.purl, location: p.location }))
    .sort((a, b) => `${a.purl} ${a.location}`.localeCompare(`${b.purl} ${b.location}`));
}

/** What a finding says, without the layer (a directory is one layer), by id and package. */
function findingRows(report: JsonReport) {
  return layerlessFindingRows(report).sort((a, b) => `${a.id} ${a.pkg}`.localeCompare(`${b.id} ${b.pkg}`));
}

/** Reads a rootfs through the loader, keeping every entry's metadata and the contents of `wanted`. */
async function loadEntries(dir: string, wanted: string[] = []) {
  const image = await loadImage(parseImageSource(`rootfs:${dir}`), (tar, context) =>
    readLayer(tar, context.label, { wants: (path) => wanted.includes(path), maxFileBytes: 1 << 20 }),
  );
  const contents = image.layers[0]?.result as LayerContents;
  return { image, entries: new Map(contents.entries.map((entry) => [entry.path, entry])) };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-rootfs-"));
  db = join(work, "db.sqlite");
  const osv = join(work, "osv");
  await zipFixtureEcosystem(join(fixtureOsv, "npm"), osv, "npm");
  await zipFixtureEcosystem(join(fixtureOsv, "Debian"), osv, "Debian");
  expect((await cli(["--db", db, "db", "import", osv])).code).toBe(0);
  const archive = join(work, "image.tar");
  await writeDockerArchive(await imageFromFixture(fixtureImage), archive);
  const scanned = await scanJson(`docker-archive:${archive}`);
  expect(scanned.code).toBe(0);
  reference = scanned.report as JsonReport;
  rootfs = join(work, "rootfs");
  for (const layer of (await readdir(fixtureImage)).sort())
    await applyLayerDirectory(join(fixtureImage, layer), rootfs);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("rootfs:DIR", () => {
  it("finds the same packages and findings as the image it was unpacked from, all in layer 0", async () => {
    const { code, stderr, report } = await scanJson(`rootfs:${rootfs}`);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const result = report as JsonReport;
    expect(result.packages).toHaveLength(15);
    expect(packageRows(result)).toEqual(packageRows(reference));
    expect(findingRows(result)).toHaveLength(7);
    expect(findingRows(result)).toEqual(findingRows(reference));
    expect(new Set(result.packages.map((p) => p.layer.index))).toEqual(new Set([0]));
    expect(new Set(result.findings.map((f) => f.layer.index))).toEqual(new Set([0]));
    expect(result.os).toEqual(reference.os);
    expect(result.image.layers).toHaveLength(1);
    expect(result.image.layers[0]).toMatchObject({
      index: 0,
      diffId: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
  });

  it("synthesizes a config for one layer whose diff id is the tar it streamed", async () => {
    const first = await loadEntries(rootfs);
    const again = await loadEntries(rootfs);
    const { config, configDigest, layers } = first.image;
    expect(config).toEqual({
      architecture: ociArchitecture(process.arch),
      os: "linux",
      rootfs: { type: "layers", diff_ids: [layers[0]?.diffId] },
      history: [{ created_by: `rootfs ${rootfs}` }],
    });
    expect(configDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(layers[0]?.createdBy).toBe(`rootfs ${rootfs}`);
    // The same tree streams to the same tar.
    expect(again.image.layers[0]?.diffId).toBe(layers[0]?.diffId);
    expect(again.image.configDigest).toBe(configDigest);
    expect(ociArchitecture("x64")).toBe("amd64");
    expect(ociArchitecture("arm64")).toBe("arm64");
    expect(ociArchitecture("ia32")).toBe("386");
  });

  it("names a directory that is not there, in one line", async () => {
    expectOneErrorLine(
      await cli(["--db", db, "scan", "rootfs:/no/such/dir"]),
      /^layerwatch: error: rootfs:\/no\/such\/dir: no such file or directory$/,
    );
    const file = join(work, "a-file");
    await writeFile(file, "not a directory");
    expectOneErrorLine(
      await cli(["--db", db, "scan", `rootfs:${file}`]),
      /^layerwatch: error: rootfs:.*a-file: not a directory$/,
    );
  });

  it("stops a tree larger than --max-layer-size", async () => {
    expectOneErrorLine(
      await cli(["--db", db, "scan", `rootfs:${rootfs}`, "--max-layer-size", "4KiB"]),
      /^layerwatch: error: rootfs:.*: inflates past the limit of 4096 bytes \(--max-layer-size\)$/,
    );
  });

  it("resolves symlinks that point out of the directory inside the image root, never on the host", async () => {
    // etc/os-release -> /usr/lib/os-release: the image's file, not the host's (a Debian one).
    const inside = join(work, "rootfs-absolute-link");
    await cp(rootfs, inside, { recursive: true, verbatimSymlinks: true });
    await rm(join(inside, "etc/os-release"));
    await writeFile(
      join(inside, "usr/lib/os-release"),
      'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="layerwatch rootfs test root"\n',
    );
    await symlink("/usr/lib/os-release", join(inside, "etc/os-release"));
    const linked = await scanJson(`rootfs:${inside}`);
    expect(linked.code).toBe(0);
    expect(linked.report?.os).toMatchObject({ id: "debian", prettyName: "layerwatch rootfs test root" });

    // Links to the host's own os-release files: inside the image they point at themselves.
    const outside = join(work, "rootfs-host-links");
    await cp(rootfs, outside, { recursive: true, verbatimSymlinks: true });
    for (const path of ["etc/os-release", "usr/lib/os-release", "etc/debian_version"])
      await rm(join(outside, path), { force: true });
    await symlink("/etc/os-release", join(outside, "etc/os-release"));
    await symlink("../../../../../../usr/lib/os-release", join(outside, "usr/lib/os-release"));
    const { entries } = await loadEntries(outside, ["etc/os-release", "usr/lib/os-release"]);
    expect(entries.get("etc/os-release")).toMatchObject({ type: "symlink", linkTarget: "/etc/os-release" });
    expect(entries.get("etc/os-release")?.content).toBeUndefined();
    expect(entries.get("usr/lib/os-release")).toMatchObject({ type: "symlink" });
    const scan = await scanJson(`rootfs:${outside}`);
    expect(scan.code).toBe(0);
    expect(scan.report?.os).toBeNull();
    expect(scan.stderr).toContain("no OS release found");
  });

  it("reports a file it cannot read as bad input, not as a crash", async () => {
    // Root reads any file: drop to nobody where the tests run as root.
    const asRoot = process.getuid?.() === 0;
    if (asRoot && spawnSync("setpriv", ["--version"]).status !== 0) {
      console.warn("skipping the unreadable-file check: running as root without setpriv (util-linux)");
      return;
    }
    const lib = join(import.meta.dirname, "../lib");
    expect(existsSync(join(lib, "image/rootfs.js")), "lib/ is out of date: run npm run build").toBe(true);
    const dir = join(work, "unreadable");
    await cp(rootfs, dir, { recursive: true, verbatimSymlinks: true });
    await chmod(work, 0o755);
    await chmod(join(dir, "var/lib/dpkg/status"), 0o000);
    const script = `
      import { loadImage, parseImageSource } from ${JSON.stringify(pathToFileURL(join(lib, "image/source.js")).href)};
      import { readLayer } from ${JSON.stringify(pathToFileURL(join(lib, "fs/layer-reader.js")).href)};
      try {
        await loadImage(parseImageSource(process.argv[1]), (tar, context) =>
          readLayer(tar, context.label, { wants: () => true, maxFileBytes: 1 << 20 }));
        console.log("loaded");
      } catch (error) {
        console.log(\`\${error.name}: \${error.message}\`);
      }`;
    const node = [process.execPath, "--input-type=module", "-e", script, `rootfs:${dir}`];
    const command = asRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...node] : node;
    const run = spawnSync(command[0] as string, command.slice(1), { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      `InputError: rootfs:${dir}: cannot read var/lib/dpkg/status (permission denied)\n`,
    );
  });

  it("keeps modes, owners, symlinks and hard links, and leaves out sockets and FIFOs", async () => {
    const dir = join(work, "special");
    await mkdir(join(dir, "bin"), { recursive: true });
    await writeFile(join(dir, "bin/tool"), "#!/bin/sh\n");
    const asRoot = process.getuid?.() === 0;
    // Owner first: chown clears the set-user-id bit.
    if (asRoot) await chown(join(dir, "bin/tool"), 1234, 5678);
    await chmod(join(dir, "bin/tool"), 0o4755);
    await link(join(dir, "bin/tool"), join(dir, "bin/tool-hardlink"));
    await symlink("tool", join(dir, "bin/tool-symlink"));
    await symlink("/nonexistent/anywhere", join(dir, "bin/dangling"));
    await mkdir(join(dir, "empty"));
    await writeFile(join(dir, "empty-file"), "");
    const fifo = spawnSync("mkfifo", [join(dir, "pipe")]).status === 0;
    const server = createServer();
    server.listen(join(dir, "socket"));
    await once(server, "listening");
    try {
      const { entries } = await loadEntries(dir, ["bin/tool", "bin/tool-hardlink"]);
      expect([...entries.keys()].sort()).toEqual([
        "bin",
        "bin/dangling",
        "bin/tool",
        "bin/tool-hardlink",
        "bin/tool-symlink",
        "empty",
        "empty-file",
      ]);
      expect(entries.get("bin/tool")).toMatchObject({
        type: "file",
        mode: 0o4755,
        size: 10,
        ...(asRoot ? { uid: 1234, gid: 5678 } : {}),
      });
      expect(entries.get("bin/tool")?.content?.toString()).toBe("#!/bin/sh\n");
      expect(entries.get("bin/tool-hardlink")?.content?.toString()).toBe("#!/bin/sh\n");
      expect(entries.get("bin/tool-symlink")).toMatchObject({ type: "symlink", linkTarget: "tool" });
      expect(entries.get("bin/dangling")).toMatchObject({
        type: "symlink",
        linkTarget: "/nonexistent/anywhere",
      });
      expect(entries.get("empty")).toMatchObject({ type: "directory" });
      expect(entries.get("empty-file")).toMatchObject({ type: "file", size: 0 });
      expect(fifo).toBe(true);
    } finally {
      server.close();
    }
  });
});
