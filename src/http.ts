/**
 * HTTP on undici for everything layerwatch fetches (registries, OSV exports, the NVD API):
 * proxies from HTTP_PROXY/HTTPS_PROXY and NO_PROXY, timeouts, and retries with backoff that
 * honour Retry-After.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Dispatcher, EnvHttpProxyAgent, errors as undiciErrors } from "undici";
import { describeError, InputError } from "./errors.js";

/** A failure worth trying again: the server or the network, not the request. */
export class TransientError extends Error {
  override readonly name = "TransientError";
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const MAX_RETRY_AFTER_MS = 60_000;

/** Retry-After as milliseconds to wait (seconds or an HTTP date), capped at a minute. */
export function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : undefined;
}

export function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const networkErrorCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

export function isTransient(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  const code = (error as { code?: string } | null)?.code;
  return (code !== undefined && networkErrorCodes.has(code)) || error instanceof undiciErrors.SocketError;
}

export interface DispatcherOptions {
  env: NodeJS.ProcessEnv;
  /** How long to wait for response headers, and between body chunks. */
  timeoutMs: number;
  tls?: { rejectUnauthorized: boolean; ca?: string };
}

/** An undici dispatcher that goes through the proxies the environment names. */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const env = options.env;
  const proxy = {
    httpProxy: env.HTTP_PROXY ?? env.http_proxy,
    httpsProxy: env.HTTPS_PROXY ?? env.https_proxy,
    noProxy: env.NO_PROXY ?? env.no_proxy,
  };
  return new EnvHttpProxyAgent({
    ...Object.fromEntries(Object.entries(proxy).filter(([, value]) => value !== undefined && value !== "")),
    ...(options.tls ? { connect: options.tls, requestTls: options.tls } : {}),
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
}

export interface RetryOptions {
  /** Retries after a transient failure (so attempts = retries + 1). */
  retries: number;
  /** Told about each retry (for --debug and progress lines); never given a secret. */
  onRetry?: (message: string) => void;
}

/**
 * Runs `attempt` until it succeeds, fails with something that is not transient, or has been
 * retried `retries` times; the last failure becomes one InputError naming `what`.
 */
export async function withRetries<T>(
  what: string,
  attempt: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (tries >= options.retries) {
        const attempts = tries > 0 ? ` (after ${tries + 1} attempts)` : "";
        throw new InputError(`${what}: ${describeError(error)}${attempts}`, { cause: error });
      }
      const hinted = error instanceof TransientError ? error.retryAfterMs : undefined;
      // Exponential backoff with jitter: 0.5 s, 1 s, 2 s, ... capped at 10 s.
      const delay = hinted ?? Math.min(500 * 2 ** tries, 10_000) * (0.75 + Math.random() / 2);
      options.onRetry?.(`${what}: ${describeError(error)}; retrying in ${Math.round(delay)} ms`);
      await sleep(delay);
    }
  }
}
