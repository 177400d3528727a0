/**
 * Where a Docker daemon or podman's API service listens, from the environment as the docker and
 * podman CLIs read it. Kept apart from dockerode so that finding out there is no daemon costs
 * nothing at start-up.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { describeError, ImageNotFoundError, InputError } from "../errors.js";
import type { ImageSourceRef } from "./types.js";

export type Engine = "docker" | "podman";

export interface Endpoint {
  /** Where the daemon is, for messages; never carries credentials. */
  label: string;
  /** Connection options in dockerode's shape. */
  options: {
    socketPath?: string;
    host?: string;
    port?: number;
    protocol?: "http" | "https";
    ca?: Buffer;
    cert?: Buffer;
    key?: Buffer;
  };
}

export interface EngineFacts {
  /** What to call the daemon in messages. */
  name: string;
  /** The variable that points at another daemon. */
  hostVariable: string;
  /** What to suggest when the daemon does not answer. */
  hint: string;
}

export const engines: Record<Engine, EngineFacts> = {
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

/** DOCKER_HOST (unix:// or tcp://, with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), else /var/run/docker.sock. */
export async function dockerEndpoint(env: NodeJS.ProcessEnv): Promise<Endpoint> {
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
export function podmanEndpoint(env: NodeJS.ProcessEnv): Endpoint {
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
export function redact(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

export async function daemonEndpoint(engine: Engine, env: NodeJS.ProcessEnv): Promise<Endpoint> {
  return engine === "docker" ? dockerEndpoint(env) : podmanEndpoint(env);
}

/**
 * Fails fast, as "not here", when the daemon's unix socket does not exist: a bare image name
 * then goes on to the next place without loading the Docker client at all.
 */
export async function assertDaemonSocket(source: ImageSourceRef, env: NodeJS.ProcessEnv): Promise<void> {
  daemonImageName(source);
  const engine: Engine = source.kind === "podman" ? "podman" : "docker";
  const endpoint = await daemonEndpoint(engine, env);
  const socket = endpoint.options.socketPath;
  if (socket !== undefined && !existsSync(socket)) {
    const facts = engines[engine];
    throw new ImageNotFoundError(
      `${source.text}: cannot reach ${facts.name} at ${endpoint.label} (no such socket); ${facts.hint}`,
    );
  }
}

/** A name, name:tag, name@digest or image ID: nothing that could change the request's path or query. */
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

export function daemonImageName(source: ImageSourceRef): string {
  const name = source.path;
  if (!IMAGE_NAME.test(name) || name.includes("..")) {
    throw new InputError(`${source.text}: '${name}' is not an image name, name:tag, name@digest or image ID`);
  }
  return name;
}
