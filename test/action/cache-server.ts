/**
 * A stand-in for the Actions cache service, as @actions/cache speaks to it when a runner sets
 * ACTIONS_CACHE_URL (the REST protocol under `_apis/artifactcache/`), on 127.0.0.1:
 *
 * - GET  cache?keys=K1,K2&version=V: the entry whose key is K1, else the newest whose key starts
 *   with one of the keys, in their order (GitHub's documented matching), with the same version
 *   (a hash of the cached paths and the compression); 204 when none;
 * - POST caches {key, version}: reserves an id (409 when the key and version exist already);
 * - PATCH caches/ID with Content-Range: one chunk of the archive;
 * - POST caches/ID {size}: commits it;
 * - GET  archives/ID: the archive bytes (the archiveLocation the lookup answers with).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface CacheEntry {
  id: number;
  key: string;
  version: string;
  archive: Buffer;
  committed: boolean;
  /** Order of creation: the newest prefix match wins. */
  created: number;
}

export interface FakeCacheService {
  /** ACTIONS_CACHE_URL: the base URL, with the trailing slash the client expects. */
  url: string;
  entries: CacheEntry[];
  /** "METHOD path?query" of every request, in order. */
  requests: string[];
  close(): Promise<void>;
}

function body(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function json(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(value));
}

export async function startCacheService(): Promise<FakeCacheService> {
  const entries: CacheEntry[] = [];
  const requests: string[] = [];
  let nextId = 1;
  let base = "";
  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? "/", base);
      requests.push(`${request.method} ${url.pathname}${url.search}`);
      const bytes = await body(request);
      const api = "/_apis/artifactcache/";
      const path = url.pathname.startsWith(api) ? url.pathname.slice(api.length) : url.pathname;
      if (request.method === "GET" && path === "cache") {
        const keys = (url.searchParams.get("keys") ?? "").split(",");
        const version = url.searchParams.get("version");
        const usable = entries.filter((entry) => entry.committed && entry.version === version);
        const newest = (matches: CacheEntry[]) => matches.sort((a, b) => b.created - a.created)[0];
        const found =
          usable.find((entry) => entry.key === keys[0]) ??
          keys.map((key) => newest(usable.filter((entry) => entry.key.startsWith(key)))).find(Boolean);
        if (!found) {
          response.writeHead(204).end();
          return;
        }
        json(response, 200, {
          cacheKey: found.key,
          scope: "refs/heads/main",
          archiveLocation: `${base}archives/${found.id}`,
        });
        return;
      }
      if (request.method === "GET" && path.startsWith("/archives/")) {
        const entry = entries.find((e) => e.id === Number(path.slice("/archives/".length)));
        if (!entry) {
          response.writeHead(404).end();
          return;
        }
        response.writeHead(200, { "content-length": entry.archive.length }).end(entry.archive);
        return;
      }
      if (request.method === "POST" && path === "caches") {
        const { key, version } = JSON.parse(bytes.toString("utf8")) as { key: string; version: string };
        if (entries.some((entry) => entry.key === key && entry.version === version)) {
          json(response, 409, { message: `cache entry ${key} exists` });
          return;
        }
        const entry = { id: nextId++, key, version, archive: Buffer.alloc(0), committed: false, created: 0 };
        entries.push(entry);
        json(response, 201, { cacheId: entry.id });
        return;
      }
      const entry = entries.find((e) => path === `caches/${e.id}`);
      if (entry && request.method === "PATCH") {
        const range = /^bytes (\d+)-(\d+)\/\*$/.exec(request.headers["content-range"] ?? "");
        if (!range) {
          response.writeHead(400).end();
          return;
        }
        const start = Number(range[1]);
        const archive = Buffer.alloc(Math.max(entry.archive.length, start + bytes.length));
        entry.archive.copy(archive);
        bytes.copy(archive, start);
        entry.archive = archive;
        response.writeHead(204).end();
        return;
      }
      if (entry && request.method === "POST") {
        const { size } = JSON.parse(bytes.toString("utf8")) as { size: number };
        if (size !== entry.archive.length) {
          json(response, 400, { message: `size ${size} is not the ${entry.archive.length} bytes uploaded` });
          return;
        }
        entry.committed = true;
        entry.created = nextId++;
        response.writeHead(204).end();
        return;
      }
      response.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url: base,
    entries,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
