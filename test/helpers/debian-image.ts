/**
 * A real Debian image for registry tests, built without a container daemon:
 *
 *   layer 0  `debootstrap --variant=minbase SUITE` (a genuine dpkg database, ~90 packages)
 *   layer 1  app/node_modules (lodash 4.17.11, minimist 1.2.0) and a whiteout of etc/motd
 *
 * written as an OCI image layout with gzip layers, a config with diff_ids and history, and an
 * index.json naming the tag. debootstrap takes about a minute and needs the Debian mirror, so the
 * rootfs and the finished layout are cached (LAYERWATCH_TEST_CACHE, else <repo>/.cache/test-images)
 * under a key derived from the recipe; a second run reuses both.
 *
 * pushWithSkopeo() copies the layout into a registry as a real client would.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { createGzip, gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { type LayerFile, sha256, tarOf } from "./image-builder.js";
import type { Credentials } from "./registry-server.js";
import { run } from "./tools.js";

export interface DebianImageRecipe {
  /** Debian suite; default "bookworm". */
  suite?: string;
  /** Extra packages for debootstrap --include, e.g. ["openssl", "curl", "ca-certificates"]. */
  include?: string[];
  /** Default http://deb.debian.org/debian. */
  mirror?: string;
  /** The tag recorded in index.json (org.opencontainers.image.ref.name); default the suite. */
  refName?: string;
  /**
   * Leave out what official Debian images leave out: apt lists, downloaded .debs, and the host's
   * resolv.conf/hostname that debootstrap copies in. Default true (a smaller, realistic layer).
   */
  slim?: boolean;
}

export interface LayerDescriptor {
  mediaType: string;
  /** Digest of the gzip blob. */
  digest: string;
  size: number;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  createdBy: string;
}

export interface DebianImage {
  /** The OCI image layout directory (cached; treat as read-only). */
  layoutDir: string;
  /** The tag in index.json: use `oci:${layoutDir}:${refName}`. */
  refName: string;
  /** The debootstrapped root filesystem (cached; read-only), e.g. for the expected dpkg list. */
  rootfsDir: string;
  manifestDigest: string;
  configDigest: string;
  layers: LayerDescriptor[];
  /** The whiteout in layer 1 and the layer-0 path it deletes. */
  whiteout: { path: string; deletes: string };
  /** The npm packages layer 1 adds. */
  npmPackages: Array<{ name: string; version: string; path: string }>;
  /** Which parts came from the cache, and how long the parts built now took. */
  cache: {
    key: string;
    rootfsCached: boolean;
    layoutCached: boolean;
    debootstrapMs?: number;
    layoutMs?: number;
  };
}

/** Bump when the layout this file writes changes, so stale cached layouts are not reused. */
const LAYOUT_FORMAT = 1;

const NPM_PACKAGES = [
  { name: "lodash", version: "4.17.11" },
  { name: "minimist", version: "1.2.0" },
];

/** base-files installs etc/motd in every Debian release, so layer 1 can always delete it. */
const WHITEOUT = { path: "etc/.wh.motd", deletes: "etc/motd" };

export function testCacheDir(): string {
  return resolve(process.env.LAYERWATCH_TEST_CACHE ?? join(import.meta.dirname, "../../.cache/test-images"));
}

function debianArch(): string {
  const arches: Record<string, string> = { x64: "amd64", arm64: "arm64", ia32: "i386", ppc64: "ppc64el" };
  return arches[process.arch] ?? process.arch;
}

function keyOf(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}

/**
 * Serialises builders of the same cache entry across processes (vitest runs test files in
 * parallel workers): an mkdir lock holding the owner's pid, taken over when that pid is dead.
 */
async function withLock<T>(lockDir: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, "pid"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(await readFile(join(lockDir, "pid"), "utf8").catch(() => "NaN"));
      let alive = true;
      if (Number.isInteger(owner)) {
        try {
          process.kill(owner, 0);
        } catch {
          alive = false;
        }
      }
      if (!alive) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir}`);
      await sleep(500);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

/**
 * Unmounts anything debootstrap left mounted under `dir` (it mounts proc and sys in the target
 * and may leave them behind when it fails), so removing a failed target cannot reach the host.
 */
async function unmountBelow(dir: string): Promise<void> {
  const mounts = await readFile("/proc/mounts", "utf8").catch(() => "");
  const targets = mounts
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((target) => target === dir || target.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of targets) await run("umount", ["-l", target]).catch(() => undefined);
}

async function debootstrap(recipe: Required<DebianImageRecipe>, target: string): Promise<void> {
  const args = ["--variant=minbase", `--arch=${debianArch()}`];
  if (recipe.include.length > 0) args.push(`--include=${recipe.include.join(",")}`);
  args.push(recipe.suite, target, recipe.mirror);
  // debootstrap runs chroot, mount and friends from the sbin directories.
  const env = { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/local/sbin:/usr/sbin:/sbin` };
  try {
    await run("debootstrap", args, { env, timeoutMs: 9 * 60_000 });
  } catch (error) {
    const log = await readFile(join(target, "debootstrap/debootstrap.log"), "utf8").catch(() => "");
    throw new Error(`${(error as Error).message}\n--- debootstrap.log (tail)\n${log.slice(-3000)}`);
  }
}

/** Paths the slim image leaves out (relative, no leading slash). */
const SLIM_EXCLUDES = [
  /^var\/lib\/apt\/lists\/(?!partial$|lock$|auxfiles$)[^/]+$/,
  /^var\/cache\/apt\/archives\/[^/]+\.deb$/,
  /^var\/cache\/apt\/[^/]+\.bin$/,
  /^etc\/(resolv\.conf|hostname)$/,
];

export interface WrittenBlob {
  digest: string;
  size: number;
  diffId: string;
}

/**
 * Writes a directory tree as a gzip-compressed layer blob into `blobsDir`, streaming (the rootfs is
 * ~130 MB). Keeps modes, uid/gid, mtimes and symlinks; a file with several names is written once
 * and its other names as hard links; sockets and device nodes are skipped (an image cannot carry
 * them usefully). Entry names are relative, directories end in "/", as `docker save` writes them.
 */
export async function writeDirectoryLayer(
  root: string,
  blobsDir: string,
  options: { exclude?: (path: string) => boolean } = {},
): Promise<WrittenBlob> {
  const archive = pack();
  const diffHash = createHash("sha256");
  const blobHash = createHash("sha256");
  let size = 0;
  const tmpFile = join(blobsDir, `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const measureTar = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      diffHash.update(chunk);
      callback(null, chunk);
    },
  });
  const measureBlob = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      blobHash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  // tar-stream's pack is a streamx Readable, which pipeline() consumes as an async iterable.
  const written = pipeline(
    archive,
    measureTar,
    createGzip({ level: 6 }),
    measureBlob,
    createWriteStream(tmpFile),
  );

  const firstNameOfInode = new Map<string, string>();
  const add = (header: Parameters<typeof archive.entry>[0], content?: Buffer) =>
    new Promise<void>((resolveEntry, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolveEntry());
      // Waiting for each entry's callback gives backpressure: it fires only once the packed
      // bytes have been taken by the gzip stream, so memory stays at about one file.
      if (content) archive.entry(header, content, callback);
      else archive.entry(header, callback);
    });

  const walk = async (dir: string, prefix: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const path = `${prefix}${name}`;
      if (options.exclude?.(path)) continue;
      const full = join(dir, name);
      const info = await lstat(full);
      const base = {
        mode: info.mode & 0o7777,
        uid: info.uid,
        gid: info.gid,
        mtime: new Date(Math.floor(info.mtimeMs / 1000) * 1000),
      };
      if (info.isDirectory()) {
        await add({ ...base, name: `${path}/`, type: "directory" });
        await walk(full, `${path}/`);
      } else if (info.isSymbolicLink()) {
        await add({ ...base, name: path, type: "symlink", linkname: await readlink(full) });
      } else if (info.isFile()) {
        const inode = `${info.dev}:${info.ino}`;
        const first = info.nlink > 1 ? firstNameOfInode.get(inode) : undefined;
        if (first !== undefined) {
          await add({ ...base, name: path, type: "link", linkname: first, size: 0 });
        } else {
          if (info.nlink > 1) firstNameOfInode.set(inode, path);
          const content = await readFile(full);
          await add({ ...base, name: path, type: "file", size: content.length }, content);
        }
      } else if (info.isFIFO()) {
        await add({ ...base, name: path, type: "fifo" });
      }
      // sockets, character and block devices: skipped on purpose.
    }
  };

  try {
    await walk(root, "");
    archive.finalize();
    await written;
  } catch (error) {
    archive.destroy();
    await written.catch(() => undefined);
    await rm(tmpFile, { force: true });
    throw error;
  }
  const digest = `sha256:${blobHash.digest("hex")}`;
  await rename(tmpFile, join(blobsDir, digest.slice("sha256:".length)));
  return { digest, size, diffId: `sha256:${diffHash.digest("hex")}` };
}

async function writeBlob(blobsDir: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  await writeFile(join(blobsDir, digest.slice("sha256:".length)), bytes);
  return digest;
}

/** Layer 1: a node_modules tree and a whiteout that deletes a file of layer 0. */
function appLayerFiles(): LayerFile[] {
  const json = (value: object) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  const files: LayerFile[] = [
    { path: "app", type: "directory" },
    {
      path: "app/package.json",
      type: "file",
      content: json({
        name: "layerwatch-test-app",
        version: "1.0.0",
        private: true,
        dependencies: Object.fromEntries(NPM_PACKAGES.map((p) => [p.name, p.version])),
      }),
    },
    { path: "app/node_modules", type: "directory" },
  ];
  for (const npm of NPM_PACKAGES) {
    files.push(
      { path: `app/node_modules/${npm.name}`, type: "directory" },
      {
        path: `app/node_modules/${npm.name}/package.json`,
        type: "file",
        content: json({ name: npm.name, version: npm.version, license: "MIT", main: "index.js" }),
      },
    );
  }
  // The whiteout's parent directory is in the layer too, as a layer made by a build tool has it.
  files.push(
    { path: "etc", type: "directory" },
    { path: WHITEOUT.path, type: "file", content: Buffer.alloc(0) },
  );
  return files;
}

async function writeLayout(
  recipe: Required<DebianImageRecipe>,
  rootfsDir: string,
  layoutDir: string,
): Promise<Omit<DebianImage, "rootfsDir" | "layoutDir" | "cache">> {
  const blobsDir = join(layoutDir, "blobs", "sha256");
  await mkdir(blobsDir, { recursive: true });
  const gzipMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";

  const base = await writeDirectoryLayer(rootfsDir, blobsDir, {
    exclude: recipe.slim ? (path) => SLIM_EXCLUDES.some((pattern) => pattern.test(path)) : undefined,
  });
  const appTar = await tarOf(appLayerFiles());
  const appBlob = gzipSync(appTar);
  const appDigest = await writeBlob(blobsDir, appBlob);

  const include = recipe.include.length > 0 ? ` --include=${recipe.include.join(",")}` : "";
  const layers: LayerDescriptor[] = [
    {
      mediaType: gzipMediaType,
      ...base,
      createdBy: `debootstrap --variant=minbase${include} ${recipe.suite} / ${recipe.mirror}`,
    },
    {
      mediaType: gzipMediaType,
      digest: appDigest,
      size: appBlob.length,
      diffId: sha256(appTar),
      createdBy: "COPY app/ /app/ && rm /etc/motd",
    },
  ];

  const created = "2024-01-01T00:00:00Z";
  const config = Buffer.from(
    JSON.stringify({
      architecture: debianArch(),
      os: "linux",
      created,
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        Cmd: ["bash"],
        WorkingDir: "/app",
      },
      rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
      history: layers.map((layer) => ({ created, created_by: layer.createdBy })),
    }),
  );
  const configDigest = await writeBlob(blobsDir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: layers.map((layer) => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size })),
    }),
  );
  const manifestDigest = await writeBlob(blobsDir, manifest);
  await writeFile(
    join(layoutDir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: manifestDigest,
          size: manifest.length,
          annotations: { "org.opencontainers.image.ref.name": recipe.refName },
        },
      ],
    }),
  );
  await writeFile(join(layoutDir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  return {
    refName: recipe.refName,
    manifestDigest,
    configDigest,
    layers,
    whiteout: WHITEOUT,
    npmPackages: NPM_PACKAGES.map((p) => ({ ...p, path: `app/node_modules/${p.name}/package.json` })),
  };
}

/**
 * Builds (or takes from the cache) the Debian test image. Safe to call from parallel test files:
 * builders of one recipe wait for each other, and a cache entry appears only once complete.
 */
export async function buildDebianImage(options: DebianImageRecipe = {}): Promise<DebianImage> {
  const suite = options.suite ?? "bookworm";
  const recipe: Required<DebianImageRecipe> = {
    suite,
    include: [...(options.include ?? [])].sort(),
    mirror: options.mirror ?? "http://deb.debian.org/debian",
    refName: options.refName ?? suite,
    slim: options.slim ?? true,
  };
  const rootfsKey = keyOf({ variant: "minbase", arch: debianArch(), ...recipe, refName: null, slim: null });
  const entryDir = join(testCacheDir(), `debian-${suite}-${rootfsKey}`);
  const rootfsDir = join(entryDir, "rootfs");
  const layoutKey = keyOf({ rootfsKey, refName: recipe.refName, slim: recipe.slim, format: LAYOUT_FORMAT });
  const layoutDir = join(entryDir, `layout-${layoutKey}`);
  // The summary sits beside the layout, not in it, so the layout holds only what the spec lists.
  const summaryFile = join(entryDir, `layout-${layoutKey}.json`);
  await mkdir(entryDir, { recursive: true });

  return withLock(join(entryDir, "lock"), async () => {
    const cache: DebianImage["cache"] = {
      key: `${rootfsKey}/${layoutKey}`,
      rootfsCached: true,
      layoutCached: true,
    };

    // The rootfs appears under its final name only after debootstrap succeeded, so a crash or
    // a network failure never leaves a half-made rootfs that a later run would trust.
    if (!existsSync(rootfsDir)) {
      cache.rootfsCached = false;
      const target = join(entryDir, `rootfs.tmp-${process.pid}`);
      await unmountBelow(target);
      await rm(target, { recursive: true, force: true });
      const started = Date.now();
      try {
        await debootstrap(recipe, target);
      } catch (error) {
        await unmountBelow(target);
        await rm(target, { recursive: true, force: true });
        throw error;
      }
      await unmountBelow(target);
      await rename(target, rootfsDir);
      cache.debootstrapMs = Date.now() - started;
    }

    // Same for the layout: built under a temp name, renamed, and only then its summary file
    // written, which is what marks the entry complete.
    if (!existsSync(summaryFile)) {
      cache.layoutCached = false;
      const started = Date.now();
      const tmpLayout = join(entryDir, `layout.tmp-${process.pid}`);
      await rm(tmpLayout, { recursive: true, force: true });
      await rm(layoutDir, { recursive: true, force: true });
      try {
        const summary = await writeLayout(recipe, rootfsDir, tmpLayout);
        await rename(tmpLayout, layoutDir);
        await writeFile(summaryFile, JSON.stringify(summary, null, 2));
      } catch (error) {
        await rm(tmpLayout, { recursive: true, force: true });
        throw error;
      }
      cache.layoutMs = Date.now() - started;
    }

    const summary = JSON.parse(await readFile(summaryFile, "utf8")) as Omit<
      DebianImage,
      "rootfsDir" | "layoutDir" | "cache"
    >;
    return { ...summary, layoutDir, rootfsDir, cache };
  });
}

export interface DpkgPackage {
  name: string;
  version: string;
  architecture: string;
  /** The source package, which Debian advisories name (defaults to the binary name). */
  source: string;
  sourceVersion: string;
}

/**
 * The installed packages of a rootfs, read from var/lib/dpkg/status (only "install ok installed"
 * stanzas), for comparing with what a scanner reports. Sorted by name.
 */
export async function listDpkgPackages(rootfsDir: string): Promise<DpkgPackage[]> {
  const text = await readFile(join(rootfsDir, "var/lib/dpkg/status"), "utf8");
  const packages: DpkgPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split("\n")) {
      const match = /^([A-Za-z][\w-]*):\s*(.*)$/.exec(line);
      if (match) fields.set((match[1] as string).toLowerCase(), (match[2] as string).trim());
    }
    const name = fields.get("package");
    const version = fields.get("version");
    if (!name || !version || fields.get("status") !== "install ok installed") continue;
    // "Source: openssl (3.0.11-1~deb12u1)" names the source and, when it differs, its version.
    const source = /^(\S+)(?:\s+\((\S+)\))?$/.exec(fields.get("source") ?? "");
    packages.push({
      name,
      version,
      architecture: fields.get("architecture") ?? "",
      source: source?.[1] ?? name,
      sourceVersion: source?.[2] ?? version,
    });
  }
  return packages.sort((a, b) => a.name.localeCompare(b.name));
}

export interface SkopeoPushOptions {
  /** Verify the registry's certificate; default true for https URLs, false for http. */
  tlsVerify?: boolean;
  /** A directory of CA certificates (*.crt) to trust, e.g. RegistryServer.certDir. */
  certDir?: string;
  creds?: Credentials;
  /** Manifest format in the registry: "oci" (default, as in the layout) or Docker's "v2s2". */
  format?: "oci" | "v2s2";
  /** The tag to copy from the layout; default the first ref name in index.json. */
  sourceRef?: string;
}

/**
 * Pushes an OCI layout to a registry with skopeo (`ref` is "name:tag", `registryUrl` is
 * http(s)://host:port) and returns the digest of the manifest the registry now holds.
 */
export async function pushWithSkopeo(
  layoutDir: string,
  ref: string,
  registryUrl: string,
  options: SkopeoPushOptions = {},
): Promise<{ digest: string; durationMs: number }> {
  const url = new URL(registryUrl);
  let sourceRef = options.sourceRef;
  if (sourceRef === undefined) {
    const index = JSON.parse(await readFile(join(layoutDir, "index.json"), "utf8")) as {
      manifests: Array<{ annotations?: Record<string, string> }>;
    };
    sourceRef = index.manifests[0]?.annotations?.["org.opencontainers.image.ref.name"];
    if (sourceRef === undefined) throw new Error(`${layoutDir}/index.json names no ref`);
  }
  const tlsVerify = options.tlsVerify ?? url.protocol === "https:";
  const digestFile = join(
    tmpdir(),
    `layerwatch-skopeo-digest-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  const args = [
    "copy",
    // The host's /etc/containers/policy.json is not ours to depend on.
    "--insecure-policy",
    "--quiet",
    `--dest-tls-verify=${tlsVerify}`,
    "--digestfile",
    digestFile,
  ];
  if (options.certDir) args.push("--dest-cert-dir", options.certDir);
  // Explicit credentials, or explicitly none: never whatever auth.json the host has.
  if (options.creds) args.push("--dest-creds", `${options.creds.username}:${options.creds.password}`);
  else args.push("--dest-no-creds");
  if (options.format) args.push("--format", options.format);
  args.push(`oci:${layoutDir}:${sourceRef}`, `docker://${url.host}/${ref}`);
  const started = Date.now();
  try {
    await run("skopeo", args, { timeoutMs: 5 * 60_000 });
    const digest = (await readFile(digestFile, "utf8")).trim();
    return { digest, durationMs: Date.now() - started };
  } finally {
    await rm(digestFile, { force: true });
  }
}

/** Total bytes of the blobs in a layout (for benchmarks and sanity checks). */
export async function layoutSize(layoutDir: string): Promise<number> {
  const blobsDir = join(layoutDir, "blobs", "sha256");
  let total = 0;
  for (const name of await readdir(blobsDir)) total += (await stat(join(blobsDir, name))).size;
  return total;
}
