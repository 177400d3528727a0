import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { type Dispatcher, request } from "undici";
import { describeError, ImageNotFoundError, InputError } from "../../errors.js";
import {
  createDispatcher,
  headerValue as header,
  retryAfterMs,
  TransientError,
  withRetries,
} from "../../http.js";
import { type Challenge, parseChallenge } from "./challenge.js";
import type { Credentials } from "./credentials.js";
import { apiHost } from "./reference.js";

export interface RegistryClientOptions {
  /** Skip TLS verification and allow plain HTTP (for registries with self-made certificates). */
  insecure?: boolean;
  /** Extra CA certificates (PEM) to trust. */
  caFile?: string;
  /** How long to wait for response headers, and between body chunks. */
  timeoutMs: number;
  /** Retries after a 5xx, a 429, a reset or a timeout. */
  retries: number;
  credentials?: Credentials;
  env: NodeJS.ProcessEnv;
  /** Told about each retry (for --debug and progress lines); never given a secret. */
  onRetry?: (message: string) => void;
}

export const manifestAccept = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

const MAX_REDIRECTS = 5;

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** The `errors` of a registry's JSON error body, as "CODE: message". */
async function errorDetail(body: Dispatcher.ResponseData["body"]): Promise<string> {
  try {
    const text = await body.text();
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    const first = parsed.errors?.[0];
    return first ? `${first.code ?? "ERROR"}${first.message ? `: ${first.message}` : ""}` : "";
  } catch {
    return "";
  }
}

/** The TLS handshake got a plain-HTTP answer (OpenSSL: "wrong version number", "packet length too long"). */
function speaksPlainHttp(error: unknown): boolean {
  const text = `${(error as { code?: string } | null)?.code ?? ""} ${describeError(error)} ${describeError((error as { cause?: unknown } | null)?.cause)}`;
  return /WRONG_VERSION_NUMBER|wrong version number|packet length too long|EPROTO/i.test(text);
}

/**
 * A client of one registry's Distribution API (/v2/), on undici: proxies from HTTPS_PROXY and
 * NO_PROXY, TLS verified unless told otherwise, the Bearer token flow from the registry's
 * challenge, Basic auth, retries with backoff, and Retry-After on 429.
 */
export class RegistryClient {
  private readonly dispatcher: Dispatcher;
  private scheme: "https" | "http" | undefined;
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, string>();
  readonly host: string;

  constructor(
    readonly registry: string,
    private readonly options: RegistryClientOptions,
  ) {
    this.host = apiHost(registry);
    let ca: string | undefined;
    if (options.caFile) {
      try {
        ca = readFileSync(options.caFile, "utf8");
      } catch (error) {
        throw new InputError(`--ca-file ${options.caFile}: ${describeError(error)}`);
      }
    }
    const tls = { rejectUnauthorized: !options.insecure, ...(ca ? { ca } : {}) };
    this.dispatcher = createDispatcher({ env: options.env, timeoutMs: options.timeoutMs, tls });
  }

  private where(repository?: string): string {
    return repository ? `${this.registry}/${repository}` : this.registry;
  }

  /**
   * Finds how to talk to the registry: HTTPS, or plain HTTP for a loopback registry (as Docker
   * allows) or under --insecure; and what it asks for (its WWW-Authenticate challenge).
   */
  private async ping(): Promise<void> {
    if (this.scheme) return;
    const schemes: Array<"https" | "http"> =
      isLoopback(this.host) || this.options.insecure ? ["https", "http"] : ["https"];
    let lastError: unknown;
    for (const scheme of schemes) {
      try {
        const response = await this.withRetries(`${this.registry}: /v2/`, () =>
          request(`${scheme}://${this.host}/v2/`, { dispatcher: this.dispatcher, method: "GET" }).then(
            async (r) => {
              await r.body.dump();
              if (r.statusCode >= 500) throw new TransientError(`HTTP ${r.statusCode}`);
              if (r.statusCode === 429)
                throw new TransientError("HTTP 429", retryAfterMs(r.headers["retry-after"]));
              return r;
            },
          ),
        );
        this.scheme = scheme;
        if (response.statusCode === 401)
          this.challenge = parseChallenge(header(response.headers, "www-authenticate"));
        return;
      } catch (error) {
        lastError = error;
        // Only a server that answered the TLS handshake in plain HTTP is tried over HTTP: a
        // certificate that does not verify is a reason to stop, not to drop TLS.
        if (error instanceof InputError || !speaksPlainHttp(error)) break;
      }
    }
    const detail = describeError(lastError);
    const tlsHint = /certificate|self.signed|CERT_|unable to verify/i.test(detail)
      ? " (use --ca-file with the registry's CA, or --insecure)"
      : "";
    throw new ImageNotFoundError(`registry ${this.registry}: cannot connect (${detail})${tlsHint}`);
  }

  private async authorization(
    repository: string,
    scope = `repository:${repository}:pull`,
  ): Promise<string | undefined> {
    const challenge = this.challenge;
    const credentials = this.options.credentials;
    if (!challenge) return undefined;
    if (challenge.scheme === "basic") {
      if (!credentials?.username) {
        throw new InputError(
          `registry ${this.registry} asks for a user name and password (--username/--password or docker login)`,
        );
      }
      return `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ""}`).toString("base64")}`;
    }
    if (challenge.scheme !== "bearer")
      throw new InputError(`registry ${this.registry}: unsupported auth scheme '${challenge.scheme}'`);
    const cached = this.tokens.get(scope);
    if (cached) return `Bearer ${cached}`;
    const token = await this.fetchToken(challenge, scope);
    this.tokens.set(scope, token);
    return `Bearer ${token}`;
  }

  /** The Bearer token flow: ask the realm for a token for the scope, with credentials when we have them. */
  private async fetchToken(challenge: Challenge, scope: string): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new InputError(`registry ${this.registry}: its Bearer challenge names no realm`);
    const url = new URL(realm);
    if (
      url.protocol !== "https:" &&
      !(url.protocol === "http:" && (isLoopback(url.host) || this.options.insecure))
    ) {
      throw new InputError(
        `registry ${this.registry}: refusing to send credentials to a token server over ${url.protocol}`,
      );
    }
    const credentials = this.options.credentials;
    const service = challenge.params.service;
    const where = `registry ${this.registry}: token server ${url.origin}`;
    const response = await this.withRetries(where, async () => {
      let result: Dispatcher.ResponseData;
      if (credentials?.identityToken) {
        const form = new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: credentials.identityToken,
          client_id: "layerwatch",
          scope,
          ...(service ? { service } : {}),
        });
        result = await request(url, {
          dispatcher: this.dispatcher,
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
        });
      } else {
        if (service) url.searchParams.set("service", service);
        url.searchParams.set("scope", scope);
        const headers: Record<string, string> = {};
        if (credentials?.username) {
          headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ""}`).toString("base64")}`;
        }
        result = await request(url, { dispatcher: this.dispatcher, method: "GET", headers });
      }
      if (result.statusCode >= 500) {
        await result.body.dump();
        throw new TransientError(`HTTP ${result.statusCode}`);
      }
      if (result.statusCode === 429) {
        await result.body.dump();
        throw new TransientError("HTTP 429", retryAfterMs(result.headers["retry-after"]));
      }
      return result;
    });
    if (response.statusCode === 401 || response.statusCode === 403) {
      await response.body.dump();
      throw new InputError(
        `${where}: authentication failed (HTTP ${response.statusCode})${credentials ? ` with credentials from ${credentials.origin}` : "; no credentials were found"}`,
      );
    }
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new InputError(`${where}: HTTP ${response.statusCode}`);
    }
    let answer: { token?: string; access_token?: string };
    try {
      answer = (await response.body.json()) as { token?: string; access_token?: string };
    } catch {
      throw new InputError(`${where}: the answer is not JSON`);
    }
    const token = answer.token ?? answer.access_token;
    if (!token) throw new InputError(`${where}: the answer holds no token`);
    return token;
  }

  private withRetries<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    return withRetries(what, attempt, this.options);
  }

  /**
   * One GET or HEAD on the registry, authenticated, following redirects (dropping the
   * Authorization header when a redirect leaves the registry's host, as a blob store's
   * signed URL must not receive it), and retried when the failure is transient.
   */
  private async send(
    method: "GET" | "HEAD",
    repository: string,
    path: string,
    accept: string | undefined,
    /** The token scope, when not pulling from `repository` (the catalog's "registry:catalog:*"). */
    scope?: string,
  ): Promise<Dispatcher.ResponseData> {
    await this.ping();
    const what = `${this.where(repository)}${path.replace(/^\/v2\/.*?\/(manifests|blobs)\//, " $1 ")}`;
    return this.withRetries(what, async () => {
      let url = new URL(`${this.scheme}://${this.host}${path}`);
      let authorization = await this.authorization(repository, scope);
      let reauthenticated = false;
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        const headers: Record<string, string> = { "user-agent": "layerwatch" };
        if (accept) headers.accept = accept;
        if (authorization) headers.authorization = authorization;
        const response = await request(url, { dispatcher: this.dispatcher, method, headers });
        const status = response.statusCode;
        if (status >= 300 && status < 400 && response.headers.location) {
          await response.body.dump();
          const next = new URL(String(header(response.headers, "location")), url);
          if (next.host !== url.host) authorization = undefined;
          url = next;
          continue;
        }
        if (status === 401 && !reauthenticated && url.host === this.host) {
          // A token may have expired, or the registry wants a challenge we have not seen.
          await response.body.dump();
          this.challenge = parseChallenge(header(response.headers, "www-authenticate")) ?? this.challenge;
          this.tokens.clear();
          authorization = await this.authorization(repository, scope);
          reauthenticated = true;
          hop--;
          continue;
        }
        if (status === 429) {
          await response.body.dump();
          throw new TransientError(
            `HTTP 429 Too Many Requests`,
            retryAfterMs(response.headers["retry-after"]),
          );
        }
        if (status >= 500) {
          await response.body.dump();
          throw new TransientError(`HTTP ${status}`);
        }
        if (status >= 400) {
          let detail = "";
          if (method === "GET") detail = await errorDetail(response.body);
          else await response.body.dump();
          const reason =
            status === 404
              ? "not found"
              : status === 401
                ? `authentication required${this.options.credentials ? ` (credentials from ${this.options.credentials.origin} were refused)` : " (no credentials found)"}`
                : status === 403
                  ? "access denied"
                  : `HTTP ${status}`;
          // Not there, or not for us: a bare image name goes on to the next place to look.
          const ErrorClass =
            status === 404 || status === 401 || status === 403 ? ImageNotFoundError : InputError;
          throw new ErrorClass(`${what}: ${reason}${detail ? ` (${detail})` : ""}`);
        }
        return response;
      }
      throw new InputError(`${what}: more than ${MAX_REDIRECTS} redirects`);
    });
  }

  /** A manifest or index by tag or digest, checked against the digest when one was asked for. */
  async getManifest(
    repository: string,
    reference: string,
  ): Promise<{ body: Buffer; mediaType: string; digest: string }> {
    const response = await this.send(
      "GET",
      repository,
      `/v2/${repository}/manifests/${reference}`,
      manifestAccept,
    );
    const body = Buffer.from(await response.body.arrayBuffer());
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    if (reference.includes(":") && reference !== digest) {
      throw new InputError(
        `${this.where(repository)}@${reference}: digest mismatch: the manifest hashes to ${digest}`,
      );
    }
    const mediaType =
      String(header(response.headers, "content-type") ?? "")
        .split(";")[0]
        ?.trim() ?? "";
    return { body, mediaType, digest };
  }

  /** The digest a tag points at, from a HEAD request (no manifest body is fetched). */
  async headManifest(repository: string, reference: string): Promise<string | undefined> {
    const response = await this.send(
      "HEAD",
      repository,
      `/v2/${repository}/manifests/${reference}`,
      manifestAccept,
    );
    await response.body.dump();
    return header(response.headers, "docker-content-digest");
  }

  /**
   * A GET of another API path that answers JSON (/v2/_catalog, /v2/NAME/tags/list), with the
   * Link header that names its next page; `repository` is "" for the catalog.
   */
  async getApiPage(
    repository: string,
    path: string,
    scope: string,
  ): Promise<{ body: Buffer; link: string | undefined }> {
    const response = await this.send("GET", repository, path, "application/json", scope);
    return { body: Buffer.from(await response.body.arrayBuffer()), link: header(response.headers, "link") };
  }

  /** A blob's bytes as a stream; the caller verifies the digest while it reads. */
  async openBlob(repository: string, digest: string): Promise<Readable> {
    const response = await this.send("GET", repository, `/v2/${repository}/blobs/${digest}`, undefined);
    return response.body;
  }

  /**
   * Ends every connection. destroy, not close: after a failed layer, another layer's download may
   * still be under way, and close would wait for it to finish.
   */
  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }
}
