/**
 * The notifiers' HTTP: one request at a time on the shared layer (src/http.ts: proxies, timeouts,
 * retries of 429, 5xx and lost connections with backoff and Retry-After). Answers other than
 * those come back to the notifier, which decides what a 404 or a 403 means.
 */
import { type Dispatcher, request } from "undici";
import { describeError, InputError } from "../../errors.js";
import {
  createDispatcher,
  headerValue,
  isTransient,
  retryAfterMs,
  TransientError,
  withRetries,
} from "../../http.js";
import { toolVersion } from "../../version.js";

/** The server asks to wait longer than allowed: the notifier stops rather than sleep that long. */
export class RateLimitedError extends InputError {
  override readonly name = "RateLimitedError";
}

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface NotifyRequest {
  /** How the request is named in messages: never a URL that may hold a secret, never a token. */
  what: string;
  url: string;
  method: "GET" | "POST" | "PATCH";
  headers?: Record<string, string>;
  body?: string;
  /**
   * Reads an answer that says "slow down" beyond 429 (GitHub answers 403 with its rate-limit
   * headers): milliseconds to wait before trying again, or undefined when it is not such an answer.
   */
  slowDown?: (status: number, headers: ResponseHeaders) => number | undefined;
}

export interface NotifyResponse {
  status: number;
  headers: ResponseHeaders;
  text: string;
}

export interface NotifyHttpOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  retries: number;
  /** A wait longer than this (a rate limit that resets in an hour) fails instead of waiting. */
  maxWaitMs: number;
  onRetry?: (message: string) => void;
  /**
   * Once aborted (a rescan told to stop), a failure is no longer tried again, so nothing waits out
   * a backoff or a Retry-After; a request under way is let finish, so a stopping rescan still
   * tells what it found.
   */
  signal?: AbortSignal;
}

export class NotifyHttp {
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: NotifyHttpOptions) {
    this.dispatcher = createDispatcher({ env: options.env, timeoutMs: options.timeoutMs });
  }

  /** Sends the request, again after a transient failure, and returns the first other answer. */
  async send(request_: NotifyRequest): Promise<NotifyResponse> {
    return withRetries(request_.what, () => this.once(request_), {
      retries: this.options.retries,
      ...(this.options.onRetry ? { onRetry: this.options.onRetry } : {}),
    });
  }

  private async once(request_: NotifyRequest): Promise<NotifyResponse> {
    try {
      return await this.attempt(request_);
    } catch (error) {
      if (isTransient(error) && this.options.signal?.aborted) {
        throw new InputError(`${request_.what}: ${describeError(error)}; not tried again: stopping`);
      }
      throw error;
    }
  }

  private async attempt(request_: NotifyRequest): Promise<NotifyResponse> {
    // Redirects are not followed: they would carry the Authorization header to another place.
    const response = await request(request_.url, {
      dispatcher: this.dispatcher,
      method: request_.method,
      headers: { "user-agent": `layerwatch/${toolVersion}`, ...request_.headers },
      ...(request_.body !== undefined ? { body: request_.body } : {}),
    });
    const status = response.statusCode;
    const headers = response.headers;
    const slowDownMs =
      status === 429 || status >= 500
        ? (retryAfterMs(headers["retry-after"]) ?? request_.slowDown?.(status, headers))
        : request_.slowDown?.(status, headers);
    if (status === 429 || status >= 500 || slowDownMs !== undefined) {
      await response.body.dump();
      if (slowDownMs !== undefined && slowDownMs > this.options.maxWaitMs) {
        const until = new Date(Date.now() + slowDownMs).toISOString();
        throw new RateLimitedError(`${request_.what}: HTTP ${status}, rate limited until ${until}`);
      }
      throw new TransientError(`HTTP ${status}`, slowDownMs);
    }
    return { status, headers, text: await response.body.text() };
  }

  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }
}

/** What a failed answer's body says, shortened, for a one-line problem (GitHub's `message`, Slack's text). */
export function answerDetail(text: string): string {
  let detail = text;
  try {
    const message = (JSON.parse(text) as { message?: unknown } | null)?.message;
    if (typeof message === "string") detail = message;
  } catch {
    // Not JSON: the text itself (Slack answers "invalid_blocks", "no_service").
  }
  detail = detail.replace(/\s+/g, " ").trim();
  return detail === "" ? "" : `: ${detail.length > 200 ? `${detail.slice(0, 200)}…` : detail}`;
}

export { headerValue };
