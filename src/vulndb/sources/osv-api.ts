import { InputError } from "../../errors.js";
import type { FeedClient } from "../http.js";

/**
 * osv.dev's query API (https://google.github.io/osv.dev/api/), for `scan --online`:
 * - `POST /v1/querybatch`: up to 1,000 questions `{package: {name, ecosystem}, version}` at once;
 *   the answer lists, per question and in their order, the ids (and `modified`) of the records
 *   that affect it. A long list comes in pages: the question's result carries `next_page_token`,
 *   and the question is asked again with it as `page_token`.
 * - `GET /v1/vulns/{id}`: one whole record.
 */

export const DEFAULT_OSV_API_URL = "https://api.osv.dev";

/** osv.dev refuses a querybatch with more questions than this. */
export const MAX_BATCH_QUERIES = 1000;

/** More pages than this for one question is a server that never stops paging. */
const MAX_PAGES = 1000;

/** One package version in its OSV ecosystem, as the matcher looks records up by it. */
export interface OsvPackageQuery {
  ecosystem: string;
  name: string;
  version: string;
}

interface WireQuery {
  package: { name: string; ecosystem: string };
  version: string;
  page_token?: string;
}

interface PendingQuery {
  /** Index into the caller's list of questions. */
  index: number;
  query: OsvPackageQuery;
  pageToken?: string;
  pages: number;
}

export type FetchedRecord = { status: "found"; text: string } | { status: "missing" };

/** What osv.dev said was wrong, from its error body (`{"code": 3, "message": "..."}`), if it said. */
function errorDetail(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown } | null)?.message;
    if (typeof message === "string" && message.trim() !== "") return `: ${message.trim().slice(0, 200)}`;
  } catch {
    // Not JSON: the status says it all.
  }
  return "";
}

export class OsvApiClient {
  readonly baseUrl: string;
  /** How many querybatch requests were sent (first pages and later ones). */
  requests = 0;

  constructor(
    private readonly http: FeedClient,
    baseUrl: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  get querybatchUrl(): string {
    return `${this.baseUrl}/v1/querybatch`;
  }

  /** The record's URL; AlmaLinux ids hold ':', so the id is encoded. */
  vulnUrl(id: string): string {
    return `${this.baseUrl}/v1/vulns/${encodeURIComponent(id)}`;
  }

  /**
   * The ids of the records osv.dev lists for each question, in the questions' order, with every
   * page of each answer. Questions go in batches of at most MAX_BATCH_QUERIES; a question whose
   * answer has another page is asked again, with its page token, in the next round.
   */
  async queryBatch(queries: readonly OsvPackageQuery[]): Promise<string[][]> {
    const ids = queries.map(() => new Set<string>());
    let pending: PendingQuery[] = queries.map((query, index) => ({ index, query, pages: 0 }));
    while (pending.length > 0) {
      const next: PendingQuery[] = [];
      for (let start = 0; start < pending.length; start += MAX_BATCH_QUERIES) {
        const batch = pending.slice(start, start + MAX_BATCH_QUERIES);
        const results = await this.postBatch(batch);
        results.forEach((result, i) => {
          const item = batch[i] as PendingQuery;
          for (const id of result.ids) ids[item.index]?.add(id);
          if (result.nextPageToken === undefined) return;
          const { ecosystem, name, version } = item.query;
          if (result.nextPageToken === item.pageToken || item.pages + 1 >= MAX_PAGES) {
            throw new InputError(
              `OSV API ${this.querybatchUrl}: the answer for ${ecosystem} ${name} ${version} does not stop paging`,
            );
          }
          next.push({ ...item, pageToken: result.nextPageToken, pages: item.pages + 1 });
        });
      }
      pending = next;
    }
    return ids.map((set) => [...set]);
  }

  private async postBatch(
    batch: readonly PendingQuery[],
  ): Promise<Array<{ ids: string[]; nextPageToken?: string }>> {
    const url = this.querybatchUrl;
    const queries: WireQuery[] = batch.map(({ query, pageToken }) => ({
      package: { name: query.name, ecosystem: query.ecosystem },
      version: query.version,
      ...(pageToken !== undefined ? { page_token: pageToken } : {}),
    }));
    this.requests++;
    const answer = await this.http.getText(url, {
      what: `OSV API ${url}`,
      method: "POST",
      body: JSON.stringify({ queries }),
      headers: { "content-type": "application/json", accept: "application/json" },
    });
    if (answer.status !== 200)
      throw new InputError(`OSV API ${url}: HTTP ${answer.status}${errorDetail(answer.text)}`);
    const malformed = (why: string) => new InputError(`OSV API ${url}: a querybatch answer ${why}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      throw malformed("that is not JSON");
    }
    const results = (parsed as { results?: unknown } | null)?.results;
    // osv.dev leaves `results` out when no question has an answer.
    const list = results === undefined ? batch.map(() => ({})) : results;
    if (!Array.isArray(list) || list.length !== batch.length)
      throw malformed(`without one result for each of its ${batch.length} questions`);
    return list.map((result: unknown) => {
      if (result === null || typeof result !== "object") throw malformed("with a result that is no object");
      const { vulns, next_page_token: token } = result as { vulns?: unknown; next_page_token?: unknown };
      if (vulns !== undefined && !Array.isArray(vulns)) throw malformed("whose vulns is not a list");
      const ids = (vulns ?? []).map((vuln: unknown) => {
        const id = (vuln as { id?: unknown } | null)?.id;
        if (typeof id !== "string" || id === "") throw malformed("with a vulnerability without an id");
        return id;
      });
      return { ids, ...(typeof token === "string" && token !== "" ? { nextPageToken: token } : {}) };
    });
  }

  /** One record's JSON text, or "missing" when osv.dev has no record of that id (404). */
  async fetchRecord(id: string): Promise<FetchedRecord> {
    const url = this.vulnUrl(id);
    const answer = await this.http.getText(url, {
      what: `OSV API ${url}`,
      headers: { accept: "application/json" },
    });
    if (answer.status === 404) return { status: "missing" };
    if (answer.status !== 200)
      throw new InputError(`OSV API ${url}: HTTP ${answer.status}${errorDetail(answer.text)}`);
    return { status: "found", text: answer.text };
  }
}
