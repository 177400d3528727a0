/**
 * `docker:NAME` and `podman:NAME`: an image held by a Docker daemon, or by podman's
 * Docker-compatible API service. The image is exported (GET /images/{name}/get, what `docker save`
 * does) and the archive is read as it arrives; nothing is written to disk.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import Docker from "dockerode";
import { describeError, ImageNotFoundError, InputError } from "../errors.js";
import { loadTarStream } from "./tar-archive.js";
import type { ImageReadOptions, ImageSourceRef, LayerProcessor, LoadedImage } from "./types.js";

/** How long the daemon has to answer `_ping` before it counts as unreachable. */
const PING_TIMEOUT_MS = 10_000;

type Engine = "docker" | "podman";

interface Endpoint {
  /** Where the daemon is, for messages; never carries credentials. */
  label: string;
  options: Docker.DockerOptions;
}

interface EngineFacts {
  /** What to call the daemon in messages. */
  name: string;
  /** The variable that points at another daemon. */
  hostVariable: string;
  /** What to suggest when the daemon does not answer. */
  hint: string;
}

const engines: Record<Engine, EngineFacts> = {
  docker: {
    name: "the Docker daemon",
    hostVariable: "DOCKER_HOST",
    hint: "is the Docker daemon running? (set DOCKER_HOST to use another)",
  },
  podman: {
    name: "the Podman API service",
    hostVariable: "CONTAINER_HOST",
    hint: "is 'podman system service' running? (set CONTAINER_HOST to use another)",
  },
};

/** A name, name:tag, name@digest or image ID: nothing that could change the request's path or query. */
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

export async function loadDaemonImage<T>(
  source: ImageSourceRef,
  processLayer: LayerProcessor<T>,
  options: ImageReadOptions,
): Promise<LoadedImage<T>> {
  const engine: Engine = source.kind === "podman" ? "podman" : "docker";
  const facts = engines[engine];
  // The image name as given (after `docker:`, or the whole of a bare name).
  const name = source.path;
  if (!IMAGE_NAME.test(name) || name.includes("..")) {
    throw new InputError(`${source.text}: '${name}' is not an image name, name:tag, name@digest or image ID`);
  }
  const env = options.env ?? process.env;
  const endpoint = engine === "docker" ? await dockerEndpoint(env) : podmanEndpoint(env);

  let client: Docker;
  try {
    // docker-modem also reads DOCKER_HOST from process.env; every connection setting is given here
    // so that only the endpoint chosen above is used.
    client = new Docker({
      host: undefined,
      port: undefined,
      socketPath: undefined,
      protocol: undefined,
      ca: undefined,
      cert: undefined,
      key: undefined,
      timeout: undefined,
      ...endpoint.options,
    });
  } catch (error) {
    throw new InputError(
      `${source.text}: cannot use ${facts.name} at ${endpoint.label}: ${describeError(error)}`,
    );
  }

  await ping(client, source, facts, endpoint);

  let tar: Readable;
  try {
    tar = (await client.getImage(name).get()) as Readable;
  } catch (error) {
    const status = statusOf(error);
    if (status === 404) {
      throw new ImageNotFoundError(
        `${source.text}: no such image ${name} in ${facts.name} at ${endpoint.label}`,
      );
    }
    if (status !== undefined) {
      throw new InputError(
        `${source.text}: ${facts.name} at ${endpoint.label} could not export ${name}: HTTP ${status}${apiDetail(error)}`,
      );
    }
    throw unreachable(source, facts, endpoint, error);
  }

  try {
    // The export is a `docker save` archive; read it as one, naming it as the user did.
    const archive: ImageSourceRef = { kind: "docker-archive", path: name, text: source.text };
    const loaded = await loadTarStream(archive, tar, processLayer, options);
    return { ...loaded, source };
  } finally {
    // Frees the connection when reading stopped early (a corrupt layer, a layer over the limit).
    tar.destroy();
  }
}

async function ping(client: Docker, source: ImageSourceRef, facts: EngineFacts, endpoint: Endpoint) {
  try {
    await new Promise<void>((resolve, reject) => {
      client.modem.dial(
        {
          path: "/_ping",
          method: "GET",
          statusCodes: { 200: true },
          abortSignal: AbortSignal.timeout(PING_TIMEOUT_MS),
        },
        (error) => (error ? reject(error) : resolve()),
      );
    });
  } catch (error) {
    throw unreachable(source, facts, endpoint, error);
  }
}

function unreachable(
  source: ImageSourceRef,
  facts: EngineFacts,
  endpoint: Endpoint,
  error: unknown,
): InputError {
  return new ImageNotFoundError(
    `${source.text}: cannot reach ${facts.name} at ${endpoint.label} (${connectionProblem(error)}); ${facts.hint}`,
    { cause: error },
  );
}

function connectionProblem(error: unknown): string {
  const status = statusOf(error);
  if (status !== undefined) return `it answered _ping with HTTP ${status}`;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const errorName = (error as Error | undefined)?.name;
  if (code === "ENOENT") return "no such socket";
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "EACCES") return "permission denied";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "unknown host";
  if (code === "ECONNRESET") return "connection reset";
  if (code === "ETIMEDOUT" || errorName === "AbortError" || errorName === "TimeoutError") {
    return `no answer within ${PING_TIMEOUT_MS / 1000}s`;
  }
  return describeError(error);
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** The daemon's own message from a docker-modem error: "(HTTP code 500) server error - MESSAGE ". */
function apiDetail(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  const detail = / - (.*)$/s.exec(message)?.[1]?.replace(/\s+/g, " ").trim();
  return detail ? ` (${detail})` : "";
}

/** DOCKER_HOST (unix:// or tcp://, with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), else /var/run/docker.sock. */
async function dockerEndpoint(env: NodeJS.ProcessEnv): Promise<Endpoint> {
  const host = env.DOCKER_HOST;
  if (!host) return unixEndpoint("/var/run/docker.sock");
  // As the docker CLI does: any non-empty DOCKER_TLS_VERIFY turns verified TLS on.
  const tls = Boolean(env.DOCKER_TLS_VERIFY);
  const endpoint = parseHost(host, "DOCKER_HOST", tls ? 2376 : 2375);
  if (!tls || endpoint.options.socketPath !== undefined) return endpoint;
  const certDir = env.DOCKER_CERT_PATH || join(env.HOME || homedir(), ".docker");
  const read = async (file: string): Promise<Buffer> => {
    try {
      return await readFile(join(certDir, file));
    } catch (error) {
      throw new InputError(
        `DOCKER_TLS_VERIFY is set but ${join(certDir, file)} cannot be read: ${describeError(error)}`,
      );
    }
  };
  return {
    label: endpoint.label.replace(/^tcp:/, "tcp+tls:"),
    options: {
      ...endpoint.options,
      protocol: "https",
      ca: await read("ca.pem"),
      cert: await read("cert.pem"),
      key: await read("key.pem"),
    },
  };
}

/**
 * CONTAINER_HOST, else the rootless socket ($XDG_RUNTIME_DIR/podman/podman.sock) when it exists,
 * else the rootful one (/run/podman/podman.sock).
 */
function podmanEndpoint(env: NodeJS.ProcessEnv): Endpoint {
  if (env.CONTAINER_HOST) return parseHost(env.CONTAINER_HOST, "CONTAINER_HOST", 8080);
  const rootful = "/run/podman/podman.sock";
  if (env.XDG_RUNTIME_DIR) {
    const rootless = join(env.XDG_RUNTIME_DIR, "podman", "podman.sock");
    if (existsSync(rootless)) return unixEndpoint(rootless);
    if (!existsSync(rootful)) {
      return { ...unixEndpoint(rootful), label: `unix://${rootless} or unix://${rootful}` };
    }
  }
  return unixEndpoint(rootful);
}

function unixEndpoint(path: string): Endpoint {
  return { label: `unix://${path}`, options: { socketPath: path } };
}

function parseHost(value: string, variable: string, defaultPort: number): Endpoint {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === "unix") {
    const path = value.slice("unix://".length);
    if (path === "") throw new InputError(`${variable}=unix://: no socket path`);
    return unixEndpoint(path);
  }
  if (scheme === "tcp") {
    let url: URL;
    try {
      url = new URL(`http://${value.slice("tcp://".length)}`);
    } catch {
      throw new InputError(`${variable}: '${redact(value)}' is not a tcp://HOST:PORT address`);
    }
    const port = url.port ? Number(url.port) : defaultPort;
    // IPv6 literals come back from URL in brackets; the socket wants them bare.
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    return { label: `tcp://${url.hostname}:${port}`, options: { host: hostname, port, protocol: "http" } };
  }
  throw new InputError(
    `${variable}=${redact(value)}: only unix:///path/to.sock and tcp://HOST:PORT are supported`,
  );
}

/** The address without any user name or password in it. */
function redact(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}
