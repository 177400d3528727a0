import type { Readable } from "node:stream";
import Docker from "dockerode";
import { describeError, ImageNotFoundError, InputError } from "../errors.js";
import {
  daemonEndpoint,
  daemonImageName,
  type Endpoint,
  type Engine,
  type EngineFacts,
  engines,
} from "./daemon-endpoint.js";
import { loadTarStream } from "./tar-archive.js";
import type { ImageReadOptions, ImageSourceRef, LayerProcessor, LoadedImage } from "./types.js";

/** How long the daemon has to answer `_ping` before it counts as unreachable. */
const PING_TIMEOUT_MS = 10_000;

export async function loadDaemonImage<T>(
  source: ImageSourceRef,
  processLayer: LayerProcessor<T>,
  options: ImageReadOptions,
): Promise<LoadedImage<T>> {
  const engine: Engine = source.kind === "podman" ? "podman" : "docker";
  const facts = engines[engine];
  // The image name as given (after `docker:`, or the whole of a bare name).
  const name = daemonImageName(source);
  const env = options.env ?? process.env;
  const endpoint = await daemonEndpoint(engine, env);

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
