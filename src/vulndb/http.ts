import { createWriteStream } from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Dispatcher, request } from "undici";
import { InputError } from "../errors.js";
import {
  createDispatcher,
  headerValue,
  type RetryOptions,
  retryAfterMs,
  TransientError,
  withRetries,
} from "../http.js";
import { toolVersion } from "../version.js";

export interface FeedClientOptions extends RetryOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

export interface FeedRequest {
  /** How the request is named in messages (never holds a secret). */
  what: string;
  headers?: Record<string, string>;
  /** GET unless said otherwise; a POST sends `body` (the OSV API's querybatch). */
  method?: "GET" | "POST";
  body?: string;
  /** Statuses besides 429 and 5xx that mean "slow down and try again" (NVD answers 403). */
  alsoTransient?: readonly number[];
  /** The wait after such a status when the server sends no Retry-After. */
  defaultRetryAfterMs?: number;
  /** Awaited before every attempt, retries included (a rate limiter). */
  beforeAttempt?: () => Promise<void>;
}

export type DownloadResult =
  | { status: 200; bytes: number; etag?: string; lastModified?: string }
  | { status: 304 }
  | { status: 404 };

const MAX_REDIRECTS = 5;

/**
 * GETs for the advisory feeds (OSV's bucket, the NVD API) on the shared HTTP layer: proxies,
 * timeouts, redirects, and retries of 429, 5xx and lost connections with backoff and Retry-After.
 */
export class FeedClient {
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: FeedClientOptions) {
    this.dispatcher = createDispatcher({ env: options.env, timeoutMs: options.timeoutMs });
  }

  /** One attempt: follows redirects, turns a transient status into a TransientError. */
  private async once(url: string, request_: FeedRequest): Promise<Dispatcher.ResponseData> {
    await request_.beforeAttempt?.();
    let target = new URL(url);
    let method = request_.method ?? "GET";
    let body = request_.body;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const response = await request(target, {
        dispatcher: this.dispatcher,
        method,
        headers: { "user-agent": `layerwatch/${toolVersion}`, ...request_.headers },
        ...(body !== undefined ? { body } : {}),
      });
      const status = response.statusCode;
      const location = headerValue(response.headers, "location");
      if (status >= 300 && status < 400 && status !== 304 && location) {
        await response.body.dump();
        target = new URL(location, target);
        // Only 307 and 308 repeat the request as it was; the other redirects turn it into a GET.
        if (status !== 307 && status !== 308) {
          method = "GET";
          body = undefined;
        }
        continue;
      }
      if (status === 429 || status >= 500 || request_.alsoTransient?.includes(status)) {
        await response.body.dump();
        throw new TransientError(
          `HTTP ${status}`,
          retryAfterMs(response.headers["retry-after"]) ?? request_.defaultRetryAfterMs,
        );
      }
      return response;
    }
    throw new InputError(`${request_.what}: more than ${MAX_REDIRECTS} redirects`);
  }

  /**
   * A request (a GET unless `method` says otherwise) whose answer is read whole, retried as a whole. Returns the status and the body for
   * anything but a transient failure; the caller decides what a 404 means.
   */
  async getText(url: string, request_: FeedRequest): Promise<{ status: number; text: string }> {
    return withRetries(
      request_.what,
      async () => {
        const response = await this.once(url, request_);
        return { status: response.statusCode, text: await response.body.text() };
      },
      this.options,
    );
  }

  /**
   * Streams a GET's body into a file (never into memory), retried from the start when the
   * connection breaks off. 304 and 404 are answers, not failures.
   */
  async download(
    url: string,
    destination: string,
    request_: FeedRequest & { onBytes?: (received: number, total: number | undefined) => void },
  ): Promise<DownloadResult> {
    return withRetries(
      request_.what,
      async (): Promise<DownloadResult> => {
        const response = await this.once(url, request_);
        const status = response.statusCode;
        if (status === 304 || status === 404) {
          await response.body.dump();
          return { status };
        }
        if (status !== 200) {
          await response.body.dump();
          throw new InputError(`${request_.what}: HTTP ${status}`);
        }
        const length = Number(headerValue(response.headers, "content-length"));
        const total = Number.isFinite(length) ? length : undefined;
        let received = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            received += chunk.length;
            request_.onBytes?.(received, total);
            done(null, chunk);
          },
        });
        await pipeline(response.body, counter, createWriteStream(destination));
        const etag = headerValue(response.headers, "etag");
        const lastModified = headerValue(response.headers, "last-modified");
        return {
          status: 200,
          bytes: received,
          ...(etag ? { etag } : {}),
          ...(lastModified ? { lastModified } : {}),
        };
      },
      this.options,
    );
  }

  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }
}
