import { createReadStream } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import yauzl from "yauzl";
import { type Handler, TestHttpServer } from "./osv-server.js";

/**
 * A stand-in for api.osv.dev on 127.0.0.1, for `scan --online`, built from real data:
 * - `POST /v1/querybatch` answers each question (ecosystem, name, version) with osv.dev's own
 *   answer to it, from osv-scanner's recorded cassettes (../shared/data/api, README there); a
 *   question that was never recorded is answered with no vulnerabilities and noted in
 *   `unrecorded`. Answers longer than `pageSize` come in pages with `next_page_token`, as
 *   osv.dev pages long answers; the token is only good for the question it was given for.
 * - `GET /v1/vulns/{id}` serves the record `<id>.json` from the OSV zips given (yauzl reads each
 *   member when it is asked for); an id in none of them is a 404, as osv.dev answers one it
 *   does not have.
 * Every request is recorded on `server.requests`, every querybatch's questions on `batches`.
 */

export interface RecordedVuln {
  id: string;
  modified: string;
}

export interface RecordedQuestion {
  ecosystem: string;
  name: string;
  version: string;
  vulns: RecordedVuln[];
}

export function questionKey(question: { ecosystem: string; name: string; version: string }): string {
  return `${question.ecosystem}\u0000${question.name}\u0000${question.version}`;
}

/**
 * The package questions of the recordings (commit questions are left out), one per distinct
 * question: a question asked twice got the same answer both times, which is checked.
 */
export async function readRecordedQuestions(path: string): Promise<Map<string, RecordedQuestion>> {
  const questions = new Map<string, RecordedQuestion>();
  const lines = createInterface({ input: createReadStream(path).pipe(createGunzip()) });
  for await (const line of lines) {
    const interaction = JSON.parse(line) as {
      url: string;
      request: { queries: Array<{ package?: { ecosystem?: string; name?: string }; version?: string }> };
      response: { results: Array<{ vulns?: RecordedVuln[] }> };
    };
    if (!interaction.url.endsWith("/v1/querybatch")) continue;
    interaction.request.queries.forEach((query, i) => {
      const { ecosystem, name } = query.package ?? {};
      if (!ecosystem || !name || query.version === undefined) return;
      const question = {
        ecosystem,
        name,
        version: query.version,
        vulns: interaction.response.results[i]?.vulns ?? [],
      };
      const key = questionKey(question);
      const earlier = questions.get(key);
      const ids = (q: RecordedQuestion) => JSON.stringify(q.vulns.map((v) => v.id).sort());
      if (earlier && ids(earlier) !== ids(question))
        throw new Error(`${path}: two different answers to ${key.replaceAll("\u0000", " ")}`);
      questions.set(key, question);
    });
  }
  return questions;
}

interface ZipEntryRef {
  zip: yauzl.ZipFile;
  entry: yauzl.Entry;
}

/** Opens a zip and lists its `<ID>.json` members without reading them; the zip stays open. */
function indexZip(path: string, into: Map<string, ZipEntryRef>): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (error, zip) => {
      if (error) return reject(error);
      zip.on("error", reject);
      zip.on("end", () => resolve(zip));
      zip.on("entry", (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith(".json") && !entry.fileName.includes("/")) {
          const id = entry.fileName.slice(0, -".json".length);
          if (into.has(id)) return reject(new Error(`${path}: ${id} is in two zips`));
          into.set(id, { zip, entry });
        }
        zip.readEntry();
      });
      zip.readEntry();
    });
  });
}

function readEntry({ zip, entry }: ZipEntryRef): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => {
      if (error) return reject(error);
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("end", () => resolve(Buffer.concat(chunks)));
    });
  });
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** osv.dev's limit on questions in one querybatch. */
const MAX_QUERIES = 1000;

export interface QuerybatchRequest {
  /** The questions' keys (questionKey), in order. */
  keys: string[];
  /** How many of them carried a page_token. */
  paged: number;
}

interface WireQuery {
  package?: { name?: unknown; ecosystem?: unknown; purl?: unknown };
  version?: unknown;
  page_token?: unknown;
}

export class OsvApiEmulator {
  readonly batches: QuerybatchRequest[] = [];
  readonly unrecorded = new Set<string>();
  /** The handlers the emulator serves with, for tests that wrap one in a fault (failFirst). */
  readonly querybatch: Handler;

  private constructor(
    readonly server: TestHttpServer,
    private readonly questions: Map<string, RecordedQuestion>,
    private readonly records: Map<string, ZipEntryRef>,
    private readonly zips: yauzl.ZipFile[],
    private readonly pageSize: number,
  ) {
    this.querybatch = (request, response) => {
      void this.answerBatch(request).then(({ status, body }) =>
        response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body)),
      );
    };
    server.route("/v1/querybatch", this.querybatch);
    for (const id of records.keys()) server.route(this.vulnPath(id), this.vulnHandler(id));
  }

  /** `pageSize`: the most vulnerabilities one result lists before it pages (osv.dev: far more). */
  static async start(options: {
    questions: Map<string, RecordedQuestion>;
    zips: string[];
    pageSize?: number;
  }): Promise<OsvApiEmulator> {
    const records = new Map<string, ZipEntryRef>();
    const zips: yauzl.ZipFile[] = [];
    for (const path of options.zips) zips.push(await indexZip(path, records));
    const server = await TestHttpServer.start();
    return new OsvApiEmulator(server, options.questions, records, zips, options.pageSize ?? 1000);
  }

  get url(): string {
    return this.server.url;
  }

  /** The ids the zips hold. */
  hasRecord(id: string): boolean {
    return this.records.has(id);
  }

  /** A record's bytes as the zips hold them and the emulator serves them. */
  recordBytes(id: string): Promise<Buffer> {
    const ref = this.records.get(id);
    if (!ref) throw new Error(`no record ${id} in the zips`);
    return readEntry(ref);
  }

  vulnPath(id: string): string {
    return `/v1/vulns/${encodeURIComponent(id)}`;
  }

  /** GET requests for one record. */
  vulnRequests(id: string): number {
    return this.server.requestsTo(this.vulnPath(id)).length;
  }

  /** Every record id asked for, with how often. */
  vulnRequestCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const request of this.server.requests) {
      if (!request.path.startsWith("/v1/vulns/")) continue;
      const id = decodeURIComponent(request.path.slice("/v1/vulns/".length));
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  /** Serves `path` with `handler` instead (undefined: back to the emulator's own). */
  override(path: string, handler: Handler | undefined): void {
    if (handler) this.server.route(path, handler);
    else if (path === "/v1/querybatch") this.server.route(path, this.querybatch);
    else {
      const id = decodeURIComponent(path.slice("/v1/vulns/".length));
      this.server.route(path, this.records.has(id) ? this.vulnHandler(id) : undefined);
    }
  }

  /** Forgets what was asked so far (between scans against one emulator). */
  reset(): void {
    this.server.requests.length = 0;
    this.batches.length = 0;
    this.unrecorded.clear();
  }

  async close(): Promise<void> {
    await this.server.close();
    for (const zip of this.zips) zip.close();
  }

  private vulnHandler(id: string): Handler {
    const ref = this.records.get(id) as ZipEntryRef;
    return (_request, response) => {
      readEntry(ref).then(
        (bytes) => response.writeHead(200, { "content-type": "application/json" }).end(bytes),
        (error: unknown) => response.writeHead(500).end(String(error)),
      );
    };
  }

  private pageToken(key: string, offset: number): string {
    return Buffer.from(JSON.stringify([key, offset])).toString("base64url");
  }

  private async answerBatch(request: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const invalid = (message: string) => ({ status: 400, body: { code: 3, message } });
    if (request.method !== "POST") return { status: 405, body: { code: 12, message: "Method Not Allowed" } };
    let parsed: { queries?: unknown };
    try {
      parsed = JSON.parse(await readBody(request)) as { queries?: unknown };
    } catch {
      return invalid("Invalid JSON payload.");
    }
    const queries = parsed?.queries;
    if (!Array.isArray(queries)) return invalid("No queries.");
    if (queries.length > MAX_QUERIES) return invalid(`Too many queries: ${queries.length} > ${MAX_QUERIES}.`);
    const keys: string[] = [];
    let paged = 0;
    const results: unknown[] = [];
    for (const query of queries as WireQuery[]) {
      const { name, ecosystem } = query.package ?? {};
      if (typeof name !== "string" || typeof ecosystem !== "string" || typeof query.version !== "string")
        return invalid("Only {package: {name, ecosystem}, version} questions are emulated.");
      const key = questionKey({ ecosystem, name, version: query.version });
      keys.push(key);
      let offset = 0;
      if (query.page_token !== undefined) {
        paged++;
        let token: unknown;
        try {
          token = JSON.parse(Buffer.from(String(query.page_token), "base64url").toString("utf8"));
        } catch {
          token = undefined;
        }
        if (!Array.isArray(token) || token[0] !== key || typeof token[1] !== "number")
          return invalid("Invalid page token.");
        offset = token[1];
      }
      const recorded = this.questions.get(key);
      if (!recorded) this.unrecorded.add(key);
      const all = recorded?.vulns ?? [];
      const page = all.slice(offset, offset + this.pageSize);
      const more = offset + this.pageSize < all.length;
      results.push(
        page.length === 0
          ? {}
          : {
              vulns: page,
              ...(more ? { next_page_token: this.pageToken(key, offset + this.pageSize) } : {}),
            },
      );
    }
    this.batches.push({ keys, paged });
    return { status: 200, body: { results } };
  }
}
