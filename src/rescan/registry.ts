/**
 * A rescan config's registry entry as the registry client and the pipeline take it: shared by
 * the rescan loop (rescan.ts) and the queue's enqueuer and workers (distributed.ts).
 */
import { RegistryClient } from "../image/registry/client.js";
import { type Credentials, resolveCredentials } from "../image/registry/credentials.js";
import type { PipelineOptions } from "../pipeline.js";
import type { RegistryConfig } from "./config.js";

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_RETRIES = 4;

/**
 * The entry's credentials: its username and password (from passwordEnv) when it has them, named
 * after the config file in messages; else docker's config and credential helpers.
 */
async function credentialsFor(
  config: RegistryConfig,
  env: NodeJS.ProcessEnv,
  configPath: string,
): Promise<Credentials | undefined> {
  if (config.username !== undefined)
    return {
      username: config.username,
      password: config.password ?? "",
      origin: `${configPath} (${config.registry})`,
    };
  return resolveCredentials(config.registry, { env });
}

/** A client for the entry's registry: its TLS settings, credentials, timeout and retries. */
export async function openRegistryClient(
  config: RegistryConfig,
  options: { env: NodeJS.ProcessEnv; configPath: string; onNote?: (message: string) => void },
): Promise<RegistryClient> {
  const credentials = await credentialsFor(config, options.env, options.configPath);
  return new RegistryClient(config.registry, {
    ...(config.insecure ? { insecure: true } : {}),
    ...(config.caFile !== undefined ? { caFile: config.caFile } : {}),
    timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries: config.retries ?? DEFAULT_RETRIES,
    ...(credentials ? { credentials } : {}),
    env: options.env,
    ...(options.onNote ? { onRetry: options.onNote } : {}),
  });
}

/** The pipeline's registry options for the entry, for pulling its images. */
export function pipelineRegistryOptions(config: RegistryConfig): NonNullable<PipelineOptions["registry"]> {
  return {
    ...(config.insecure ? { insecure: true } : {}),
    ...(config.caFile !== undefined ? { caFile: config.caFile } : {}),
    ...(config.username !== undefined ? { username: config.username, password: config.password ?? "" } : {}),
    timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries: config.retries ?? DEFAULT_RETRIES,
  };
}

export type Limit = <T>(task: () => Promise<T>) => Promise<T>;

/** Runs at most `size` tasks at once; the others wait their turn, in order. */
export function limiter(size: number): Limit {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active < size) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The slot passes straight to the next task, so none can slip in between.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
