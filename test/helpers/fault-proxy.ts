/**
 * An HTTP proxy on 127.0.0.1 in front of a (plain http) registry that forwards everything and
 * misbehaves on request: the faults a registry client must survive or report, made repeatable.
 *
 *   const proxy = await startFaultProxy(registry.url);
 *   proxy.addRule({ path: /\/blobs\/sha256:/, fault: { kind: "status", status: 429, retryAfter: 1 }, times: 2 });
 *   // ... point the client at proxy.url, then:
 *   expect(proxy.count(/\/blobs\//, "GET")).toBe(3);
 *
 * The Host header is forwarded unchanged, so the registry builds its Location headers (upload
 * URLs) with the proxy's address and a client keeps talking through the proxy.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";

export type Fault =
  /** Answer STATUS without asking the registry (429 and 503 may carry Retry-After: seconds). */
  | { kind: "status"; status: number; retryAfter?: number; body?: string }
  /** Forward, but flip (XOR 0xff) `length` body bytes from `offset` (defaults 0 and 1). */
  | { kind: "corrupt"; offset?: number; length?: number }
  /** Forward headers (Content-Length unchanged) and `afterBytes` of the body, then close the socket. */
  | { kind: "truncate"; afterBytes?: number }
  /** Wait `ms` before forwarding the request (a slow server: late first byte). */
  | { kind: "delay"; ms: number }
  /** Forward the body at about `bytesPerSecond` (a slow transfer). */
  | { kind: "throttle"; bytesPerSecond: number }
  /** Reset the TCP connection (RST) without answering. */
  | { kind: "reset" };

export interface FaultRule {
  /** Matched against the request's path and query; a string matches as a substring. */
  path: RegExp | string;
  /** Only requests with this method (GET, HEAD, PUT...); default any. */
  method?: string;
  fault: Fault;
  /** Apply to the first `times` matching requests, then step aside; default every request. */
  times?: number;
}

export interface RuleHandle {
  /** How many requests this rule has faulted so far. */
  readonly hits: number;
  remove(): void;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** The status the client got (0 when the connection was reset before any answer). */
  status: number;
  /** The fault applied, if any. */
  fault?: Fault["kind"];
}

export interface FaultProxy {
  url: string;
  host: string;
  port: number;
  /** host:port, for image references through the proxy. */
  address: string;
  addRule(rule: FaultRule): RuleHandle;
  clearRules(): void;
  /** Every request seen, in arrival order (status filled in when the answer starts). */
  readonly requests: readonly ProxiedRequest[];
  /** Requests whose path (and method) match. */
  count(path: RegExp | string, method?: string): number;
  /** Forgets the request log (rules stay). */
  resetCounters(): void;
  stop(): Promise<void>;
}

interface ActiveRule extends FaultRule {
  hits: number;
}

/** Headers that describe one connection, not the message, and must not be passed along. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function matches(pattern: RegExp | string, path: string): boolean {
  if (typeof pattern === "string") return path.includes(pattern);
  // A /g or /y pattern remembers where it last matched; every request must start afresh.
  pattern.lastIndex = 0;
  return pattern.test(path);
}

/** XORs the bytes at [offset, offset+length) of the whole body, whatever chunks they fall in. */
async function* corrupt(source: AsyncIterable<Buffer>, offset: number, length: number) {
  let position = 0;
  for await (const chunk of source) {
    const start = Math.max(offset - position, 0);
    const end = Math.min(offset + length - position, chunk.length);
    if (start < end) {
      const copy = Buffer.from(chunk);
      for (let i = start; i < end; i++) copy[i] = (copy[i] as number) ^ 0xff;
      yield copy;
    } else yield chunk;
    position += chunk.length;
  }
}

async function* throttle(source: AsyncIterable<Buffer>, bytesPerSecond: number) {
  // Ten slices a second keeps the pace smooth without a timer per byte.
  const step = Math.max(1, Math.floor(bytesPerSecond / 10));
  for await (const chunk of source) {
    for (let i = 0; i < chunk.length; i += step) {
      const slice = chunk.subarray(i, i + step);
      yield slice;
      await sleep((slice.length * 1000) / bytesPerSecond);
    }
  }
}

/** Starts the proxy in front of `upstream` (an http:// URL). */
export async function startFaultProxy(
  upstream: string,
  options: { rules?: FaultRule[] } = {},
): Promise<FaultProxy> {
  const target = new URL(upstream);
  if (target.protocol !== "http:") throw new Error(`fault proxy forwards to http only, not ${upstream}`);
  const rules: ActiveRule[] = [];
  let requests: ProxiedRequest[] = [];
  // Keep-alive to the registry, so proxy overhead does not distort timing-sensitive tests.
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();

  const pick = (method: string, path: string): ActiveRule | undefined =>
    rules.find(
      (rule) =>
        (rule.method === undefined || rule.method.toUpperCase() === method) &&
        matches(rule.path, path) &&
        (rule.times === undefined || rule.hits < rule.times),
    );

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const record: ProxiedRequest = { method, path, status: 0 };
    requests.push(record);
    const rule = pick(method, path);
    const fault = rule?.fault;
    if (rule && fault) {
      rule.hits++;
      record.fault = fault.kind;
    }

    if (fault?.kind === "reset") {
      // RST rather than FIN: the client sees ECONNRESET, as with a crashed load balancer.
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === "status") {
      req.resume();
      record.status = fault.status;
      const body =
        fault.body ??
        JSON.stringify({
          errors: [
            {
              code: fault.status === 429 ? "TOOMANYREQUESTS" : "UNKNOWN",
              message: `fault proxy: injected ${fault.status}`,
            },
          ],
        });
      res.writeHead(fault.status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        ...(fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {}),
      });
      res.end(body);
      return;
    }
    if (fault?.kind === "delay") await sleep(fault.ms);

    const upstreamReq = httpRequest({
      host: target.hostname,
      port: target.port,
      method,
      path,
      headers: endToEnd(req.headers),
      agent,
    });
    upstreamReq.on("error", (error) => {
      if (!res.headersSent) {
        record.status = 502;
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`fault proxy: upstream error: ${error.message}`);
      } else res.destroy();
    });
    req.pipe(upstreamReq);
    upstreamReq.on("response", (up) => {
      record.status = up.statusCode ?? 0;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, endToEnd(up.headers));

      if (fault?.kind === "truncate") {
        const length = Number(up.headers["content-length"] ?? Number.NaN);
        const limit = fault.afterBytes ?? (Number.isFinite(length) ? Math.floor(length / 2) : 1024);
        let sent = 0;
        let cut = false;
        const cutHere = () => {
          cut = true;
          up.destroy();
          // End the socket once the partial body is flushed: the client sees the connection
          // close with fewer bytes than Content-Length promised.
          const socket = res.socket;
          if (socket) socket.destroySoon();
        };
        up.on("data", (chunk: Buffer) => {
          if (cut) return;
          const room = limit - sent;
          if (chunk.length < room) {
            sent += chunk.length;
            res.write(chunk);
          } else {
            sent += room;
            if (room > 0) res.write(chunk.subarray(0, room), cutHere);
            else cutHere();
          }
        });
        up.on("end", () => {
          // The body was shorter than the cut point: cut at the end, still without finishing.
          if (!cut) cutHere();
        });
        return;
      }

      const body =
        fault?.kind === "corrupt"
          ? corrupt(up, fault.offset ?? 0, fault.length ?? 1)
          : fault?.kind === "throttle"
            ? throttle(up, fault.bytesPerSecond)
            : up;
      pipeline(body, res).catch(() => {
        // The client went away or the proxy is stopping; nothing to report to anyone.
        res.destroy();
      });
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fault proxy has no port");
  const port = address.port;

  for (const rule of options.rules ?? []) rules.push({ ...rule, hits: 0 });

  let stopped = false;
  return {
    url: `http://127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    address: `127.0.0.1:${port}`,
    addRule(rule) {
      const active: ActiveRule = { ...rule, hits: 0 };
      rules.push(active);
      return {
        get hits() {
          return active.hits;
        },
        remove() {
          const index = rules.indexOf(active);
          if (index >= 0) rules.splice(index, 1);
        },
      };
    },
    clearRules() {
      rules.length = 0;
    },
    get requests() {
      return requests;
    },
    count(path, method) {
      return requests.filter(
        (r) => matches(path, r.path) && (method === undefined || r.method === method.toUpperCase()),
      ).length;
    },
    resetCounters() {
      requests = [];
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await closed;
    },
  };
}
