import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import yauzl from "yauzl";

/**
 * The test HTTP server for `db update`: a node:http server on 127.0.0.1 that serves OSV's export
 * layout and NVD's CVE API from real data, and records every request it gets.
 */

export interface RecordedRequest {
  method: string;
  /** The path as sent, still percent-encoded ("/osv/GitHub%20Actions/all.zip"). */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** performance.now() when it arrived. */
  at: number;
}

export type Handler = (request: IncomingMessage, response: ServerResponse, url: URL) => void;

export class TestHttpServer {
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, Handler>();
  private constructor(private readonly server: ReturnType<typeof createServer>) {}

  static async start(): Promise<TestHttpServer> {
    let instance: TestHttpServer | undefined;
    const server = createServer((request, response) => instance?.handle(request, response));
    instance = new TestHttpServer(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return instance;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Serves `path` (as sent, percent-encoded) with `handler`; undefined removes it (404). */
  route(path: string, handler: Handler | undefined): void {
    if (handler) this.routes.set(path, handler);
    else this.routes.delete(path);
  }

  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((request) => request.path === path);
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", this.url);
    this.requests.push({
      method: request.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      at: performance.now(),
    });
    const handler = this.routes.get(url.pathname);
    if (!handler) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    handler(request, response, url);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A static file the way a bucket serves one: ETag (the content's hash) and Last-Modified, and 304
 * to a matching If-None-Match.
 */
export function fileHandler(content: Buffer, contentType = "application/octet-stream"): Handler {
  const etag = `"${createHash("md5").update(content).digest("hex")}"`;
  const lastModified = "Tue, 01 Sep 2026 10:00:00 GMT";
  return (request, response) => {
    if (request.headers["if-none-match"] === etag) {
      response.writeHead(304, { etag, "last-modified": lastModified }).end();
      return;
    }
    response
      .writeHead(200, {
        "content-type": contentType,
        "content-length": content.length,
        etag,
        "last-modified": lastModified,
      })
      .end(content);
  };
}

/** Answers the first `times` requests with `status` (and headers), then hands over to `then`. */
export function failFirst(
  times: number,
  status: number,
  headers: Record<string, string>,
  then: Handler,
): Handler {
  let failed = 0;
  return (request, response, url) => {
    if (failed < times) {
      failed++;
      response.writeHead(status, { "content-type": "text/plain", ...headers }).end(`HTTP ${status}\n`);
      return;
    }
    then(request, response, url);
  };
}

export interface ZipRecord {
  /** The member's name ("GHSA-xxxx.json"). */
  name: string;
  bytes: Buffer;
}

/** Every member of a zip, read with yauzl directly (not with layerwatch's own zip reader). */
export function readZipMembers(path: string): Promise<ZipRecord[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      const members: ZipRecord[] = [];
      zip.on("error", reject);
      zip.on("end", () => resolve(members));
      zip.on("entry", (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith("/")) return zip.readEntry();
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError) return reject(streamError);
          const chunks: Buffer[] = [];
          stream.on("data", (chunk: Buffer) => chunks.push(chunk));
          stream.on("error", reject);
          stream.on("end", () => {
            members.push({ name: entry.fileName, bytes: Buffer.concat(chunks) });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** OSV's modified_id.csv for these records: `<modified>,<id>` lines, newest first. */
export function modifiedIdCsv(records: Array<{ id: string; modified: string }>): string {
  return `${[...records]
    .sort((a, b) => Date.parse(b.modified) - Date.parse(a.modified))
    .map((record) => `${record.modified},${record.id}`)
    .join("\n")}\n`;
}

export interface NvdSlice {
  vulnerabilities: Array<{ cve: { id: string; lastModified: string } }>;
}

/** NVD writes UTC times without a zone. */
function nvdTime(value: string): number {
  return Date.parse(/(?:Z|[+-]\d\d:\d\d)$/.test(value) ? value : `${value}Z`);
}

/**
 * NVD's CVE API 2.0 over a slice of its answers: startIndex/resultsPerPage paging,
 * lastModStartDate/lastModEndDate filtering (both or neither, at most 120 days apart, as NVD
 * insists), and, when `apiKey` is given, a 404 to a request without that key in its apiKey header
 * (NVD's answer to a bad key).
 */
export function nvdHandler(slice: NvdSlice, options: { apiKey?: string } = {}): Handler {
  return (request, response, url) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      response
        .writeHead(status, { "content-type": "application/json", ...headers })
        .end(JSON.stringify(body));
    if (options.apiKey !== undefined && request.headers.apikey !== options.apiKey) {
      reply(404, {}, { message: "Invalid apiKey" });
      return;
    }
    const query = url.searchParams;
    const startIndex = Number(query.get("startIndex") ?? "0");
    const resultsPerPage = Number(query.get("resultsPerPage") ?? "2000");
    if (!Number.isInteger(startIndex) || !Number.isInteger(resultsPerPage) || resultsPerPage > 2000) {
      reply(400, {}, { message: "Invalid paging" });
      return;
    }
    let matching = slice.vulnerabilities;
    const start = query.get("lastModStartDate");
    const end = query.get("lastModEndDate");
    if (start !== null || end !== null) {
      const from = Date.parse(start ?? "");
      const to = Date.parse(end ?? "");
      if (!Number.isFinite(from) || !Number.isFinite(to) || to - from > 120 * 24 * 3600 * 1000) {
        reply(400, {}, { message: "Invalid lastMod date range" });
        return;
      }
      matching = matching.filter((item) => {
        const modified = nvdTime(item.cve.lastModified);
        return modified >= from && modified <= to;
      });
    }
    reply(200, {
      resultsPerPage,
      startIndex,
      totalResults: matching.length,
      format: "NVD_CVE",
      version: "2.0",
      timestamp: new Date().toISOString().replace(/Z$/, ""),
      vulnerabilities: matching.slice(startIndex, startIndex + resultsPerPage),
    });
  };
}
