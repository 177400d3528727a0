/**
 * Real `docker build`s for the hygiene tests: the Debian test image (debian-image.ts) is loaded
 * into a test dockerd (dockerd.ts), and Dockerfiles are built on it by the docker CLI with the
 * legacy builder and no network, as a CI job without BuildKit would build them. RUN steps start
 * real containers (runc), so a `RUN rm` leaves a real whiteout in its layer.
 */
import { createReadStream } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Docker from "dockerode";
import { pack } from "tar-stream";
import { dockerdMissing, type TestDaemon } from "./dockerd.js";
import { findTool, run } from "./tools.js";

/** Why real builds cannot run here (dockerd, root, or the docker CLI missing), or undefined. */
export function dockerBuildMissing(): string | undefined {
  const problems: string[] = [];
  const daemon = dockerdMissing();
  if (daemon) problems.push(daemon);
  if (findTool("docker") === undefined)
    problems.push("docker (the CLI) not found (apt-get install docker.io)");
  return problems.length > 0 ? problems.join("; ") : undefined;
}

interface OciDescriptor {
  digest: string;
}

function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, "blobs", "sha256", digest.slice("sha256:".length));
}

/**
 * Loads the first image of an OCI layout into the daemon under `repoTag`. Docker 20.10's `docker
 * load` reads only docker-archives, so the layout's blobs are streamed into one as they are: a
 * manifest.json naming the config and the gzip layers, which `docker load` inflates itself.
 */
export async function loadOciLayout(daemon: TestDaemon, layoutDir: string, repoTag: string): Promise<void> {
  const index = JSON.parse(await readFile(join(layoutDir, "index.json"), "utf8")) as {
    manifests: OciDescriptor[];
  };
  const manifestDescriptor = index.manifests[0];
  if (!manifestDescriptor) throw new Error(`${layoutDir}/index.json names no manifest`);
  const manifest = JSON.parse(await readFile(blobPath(layoutDir, manifestDescriptor.digest), "utf8")) as {
    config: OciDescriptor;
    layers: OciDescriptor[];
  };
  const inArchive = (digest: string) => `blobs/sha256/${digest.slice("sha256:".length)}`;
  const dockerManifest = [
    {
      Config: inArchive(manifest.config.digest),
      RepoTags: [repoTag],
      Layers: manifest.layers.map((layer) => inArchive(layer.digest)),
    },
  ];

  const archive = pack();
  const client = new Docker({ socketPath: daemon.socket });
  // The daemon reads the archive while it is written; its answer comes once the upload ends.
  const answer = client.loadImage(archive as unknown as NodeJS.ReadableStream, { quiet: true });
  const addFile = async (name: string, path: string) => {
    const { size } = await stat(path);
    await new Promise<void>((resolve, reject) => {
      const entry = archive.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (error) =>
        error ? reject(error) : resolve(),
      );
      const source = createReadStream(path);
      source.on("error", reject);
      source.pipe(entry as unknown as NodeJS.WritableStream);
    });
  };
  const writing = (async () => {
    try {
      for (const digest of [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)]) {
        await addFile(inArchive(digest), blobPath(layoutDir, digest));
      }
      const manifestJson = Buffer.from(JSON.stringify(dockerManifest));
      archive.entry({ name: "manifest.json", size: manifestJson.length, mtime: new Date(0) }, manifestJson);
      archive.finalize();
    } catch (error) {
      archive.destroy();
      throw error;
    }
  })();
  // Either side failing ends the wait: a daemon that stops reading would leave the writer stuck.
  const [stream] = await Promise.all([answer, writing]);
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  if (/"error(Detail)?"\s*:/.test(text))
    throw new Error(`loading ${layoutDir} as ${repoTag} failed: ${text}`);
}

/**
 * Copies a build context (a fixtures/builds/ directory) into a temp directory, writing `extra`
 * files into it (key material made at test time, never committed) and replacing `@NAME@` in the
 * Dockerfile with `substitutions.NAME` (a token made at test time). Returns the copy's path.
 */
export async function prepareContext(
  fixtureDir: string,
  extra: Record<string, string | Buffer> = {},
  substitutions: Record<string, string> = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "layerwatch-build-"));
  await cp(fixtureDir, dir, { recursive: true });
  for (const [path, content] of Object.entries(extra)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const dockerfile = join(dir, "Dockerfile");
  let text = await readFile(dockerfile, "utf8");
  for (const [name, value] of Object.entries(substitutions)) text = text.replaceAll(`@${name}@`, value);
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`${fixtureDir}/Dockerfile: no value given for ${left[0]}`);
  await writeFile(dockerfile, text);
  return dir;
}

export interface DockerBuildOptions {
  /** `--build-arg NAME=VALUE` for each entry. */
  buildArgs?: Record<string, string>;
}

export interface DockerBuiltImage {
  tag: string;
  /** The image ID (sha256 of its config). */
  id: string;
  /** RootFS.Layers as the daemon reports them: one diff id per layer, base image's first. */
  diffIds: string[];
  /** Config.User and Config.Env as the daemon reports them. */
  user: string;
  env: string[];
  /** The build's output (steps, RUN output). */
  output: string;
  durationMs: number;
}

/**
 * `DOCKER_BUILDKIT=0 docker build --network none -t TAG CONTEXT` against the test daemon, with a
 * docker config directory of its own so the host's CLI settings and credentials stay out of it.
 */
export async function dockerBuild(
  daemon: TestDaemon,
  contextDir: string,
  tag: string,
  options: DockerBuildOptions = {},
): Promise<DockerBuiltImage> {
  const configDir = await mkdtemp(join(tmpdir(), "layerwatch-docker-config-"));
  const args = ["build", "--network", "none", "-t", tag];
  for (const [name, value] of Object.entries(options.buildArgs ?? {}))
    args.push("--build-arg", `${name}=${value}`);
  args.push(contextDir);
  const started = Date.now();
  let output: string;
  try {
    const result = await run("docker", args, {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DOCKER_HOST: daemon.host,
        DOCKER_BUILDKIT: "0",
        DOCKER_CONFIG: configDir,
      },
      timeoutMs: 5 * 60_000,
    });
    output = result.stdout;
  } catch (error) {
    throw new Error(`${(error as Error).message}\ndaemon log:\n${daemon.logTail()}`);
  } finally {
    await rm(configDir, { recursive: true, force: true });
  }
  const durationMs = Date.now() - started;
  const inspected = await new Docker({ socketPath: daemon.socket }).getImage(tag).inspect();
  return {
    tag,
    id: inspected.Id,
    diffIds: inspected.RootFS.Layers ?? [],
    user: inspected.Config.User,
    env: inspected.Config.Env ?? [],
    output,
    durationMs,
  };
}
