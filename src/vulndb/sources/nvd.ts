import { setTimeout as sleep } from "node:timers/promises";
import { describeError, InputError } from "../../errors.js";
import type { FeedClient } from "../http.js";
import type { AdvisoryStore, NvdEntry } from "../store.js";
import type { UpdateReporter } from "../update.js";

/**
 * NVD's CVE API 2.0 (`/rest/json/cves/2.0`): a CVSS rating and the CWE ids of every CVE, kept in
 * the store's nvd table as the matcher's last fallback for advisories that rate nothing.
 *
 * What is fetched: the API cannot be asked for a list of ids (only one `cveId` per request, at 6 s
 * a request without a key), so covering the few thousand CVEs a store references means paging
 * through all of NVD anyway. The first update therefore pages through every CVE (2000 a page)
 * and keeps every one, compacted to one row (about 120 bytes: 300,000 CVEs are some 40 MB);
 * records imported later need no NVD request of their own. Each later update asks only for the
 * CVEs modified since the previous one started (lastModStartDate/lastModEndDate, in windows of
 * at most 120 days, the API's limit), by NVD's own clock.
 *
 * Which CVSS metric rates a CVE: v3.1, else v3.0, else v4.0, and v2 only when there is nothing
 * else; within a version NVD's own analysis ("Primary") before a CNA's ("Secondary"). v3.x
 * first because that is what NVD itself scores (its v4.0 metrics come from CNAs) and what
 * severity thresholds are usually written against.
 */

export const DEFAULT_NVD_URL = "https://services.nvd.nist.gov";
export const NVD_MAX_PAGE_SIZE = 2000;

/** Requests allowed in a rolling window: NVD's public limits. */
export interface RateLimit {
  requests: number;
  windowMs: number;
}
export const nvdRateLimits = {
  anonymous: { requests: 5, windowMs: 30_000 },
  withKey: { requests: 50, windowMs: 30_000 },
} as const;

/** The API refuses a lastMod range over 120 days; a day less keeps clear of how it counts the edge. */
const WINDOW_MS = 119 * 24 * 3600 * 1000;

/** What the store keeps about NVD between updates (meta `update:nvd`). */
export interface NvdState {
  checked: string;
  /** NVD's clock when the last complete update started: the next asks for changes since then. */
  since?: string;
}

export interface NvdUpdateResult {
  how: "full" | "changes";
  /** CVEs written to the store. */
  cves: number;
  /** CVE entries in NVD's answers that could not be read. */
  skipped: number;
  requests: number;
}

export interface NvdUpdateContext {
  http: FeedClient;
  baseUrl: string;
  apiKey?: string;
  reporter: UpdateReporter;
  now: () => Date;
  /** Page size (default and maximum 2000). */
  pageSize?: number;
  /** Default: NVD's limits, with or without a key. */
  rateLimit?: RateLimit;
}

const STATE_KEY = "update:nvd";

export function readNvdState(store: AdvisoryStore): NvdState | undefined {
  const text = store.getMeta(STATE_KEY);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as NvdState;
  } catch {
    return undefined;
  }
}

/** Holds requests back so that no more than `requests` start in any `windowMs`. */
export class SlidingWindowLimiter {
  private readonly started: number[] = [];

  constructor(private readonly limit: RateLimit) {}

  async wait(): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.started.length > 0 && (this.started[0] as number) <= now - this.limit.windowMs)
        this.started.shift();
      if (this.started.length < this.limit.requests) {
        this.started.push(now);
        return;
      }
      await sleep((this.started[0] as number) + this.limit.windowMs - now + 1);
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const metricOrder: Array<[key: string, version: string]> = [
  ["cvssMetricV31", "3.1"],
  ["cvssMetricV30", "3.0"],
  ["cvssMetricV40", "4.0"],
  ["cvssMetricV2", "2.0"],
];

/** The metric a CVE is rated by (see the top of this file), as score, vector and rating. */
function chooseMetric(
  metrics: unknown,
): Pick<NvdEntry, "cvssVersion" | "score" | "vector" | "severity"> | undefined {
  if (!isObject(metrics)) return undefined;
  for (const [key, version] of metricOrder) {
    const list = metrics[key];
    if (!Array.isArray(list)) continue;
    const usable = list.filter(
      (metric): metric is Record<string, unknown> & { cvssData: Record<string, unknown> } =>
        isObject(metric) &&
        isObject(metric.cvssData) &&
        typeof metric.cvssData.baseScore === "number" &&
        metric.cvssData.baseScore >= 0 &&
        metric.cvssData.baseScore <= 10 &&
        typeof metric.cvssData.vectorString === "string",
    );
    const metric = usable.find((m) => m.type === "Primary") ?? usable[0];
    if (!metric) continue;
    // v3 and v4 rate inside cvssData; v2 beside it.
    const rating = metric.cvssData.baseSeverity ?? metric.baseSeverity;
    return {
      cvssVersion: version,
      score: metric.cvssData.baseScore as number,
      vector: metric.cvssData.vectorString as string,
      ...(typeof rating === "string" ? { severity: rating.toLowerCase() } : {}),
    };
  }
  return undefined;
}

function cweIds(weaknesses: unknown): string[] {
  const ids = new Set<string>();
  if (!Array.isArray(weaknesses)) return [];
  for (const weakness of weaknesses) {
    if (!isObject(weakness) || !Array.isArray(weakness.description)) continue;
    for (const description of weakness.description) {
      if (
        isObject(description) &&
        typeof description.value === "string" &&
        /^CWE-\d+$/.test(description.value)
      )
        ids.add(description.value);
    }
  }
  return [...ids];
}

/** One `vulnerabilities[]` item of an NVD answer as a store entry; throws saying what is wrong. */
export function nvdEntryFromVulnerability(item: unknown): NvdEntry {
  const cve = isObject(item) ? item.cve : undefined;
  if (!isObject(cve)) throw new Error("no 'cve' object");
  if (typeof cve.id !== "string" || !/^CVE-\d{4}-\d{4,}$/.test(cve.id)) throw new Error("no CVE id");
  if (typeof cve.lastModified !== "string") throw new Error(`${cve.id}: no lastModified`);
  return {
    cveId: cve.id,
    lastModified: cve.lastModified,
    ...chooseMetric(cve.metrics),
    cwes: cweIds(cve.weaknesses),
  };
}

/** NVD writes UTC times without a zone ("2026-08-22T00:00:00.000"). */
function parseNvdTime(value: unknown): Date | undefined {
  if (typeof value !== "string") return undefined;
  const time = Date.parse(/(?:Z|[+-]\d\d:\d\d)$/i.test(value) ? value : `${value}Z`);
  return Number.isFinite(time) ? new Date(time) : undefined;
}

/** The API's date format: extended ISO 8601 with an explicit offset. */
function nvdDate(date: Date): string {
  return date.toISOString().replace(/Z$/, "+00:00");
}

/** lastMod windows from `since` to `until`, none longer than the API allows. */
export function modifiedWindows(since: Date, until: Date): Array<{ start: Date; end: Date }> {
  const windows: Array<{ start: Date; end: Date }> = [];
  for (let start = since.getTime(); start < until.getTime(); start += WINDOW_MS) {
    windows.push({ start: new Date(start), end: new Date(Math.min(start + WINDOW_MS, until.getTime())) });
  }
  return windows;
}

class NvdPager {
  requests = 0;
  cves = 0;
  skipped = 0;
  /** NVD's clock at the first answer of this run. */
  firstTimestamp: Date | undefined;
  private readonly limiter: SlidingWindowLimiter;
  private readonly pageSize: number;
  private readonly endpoint: string;

  constructor(
    private readonly store: AdvisoryStore,
    private readonly context: NvdUpdateContext,
  ) {
    this.limiter = new SlidingWindowLimiter(
      context.rateLimit ?? (context.apiKey ? nvdRateLimits.withKey : nvdRateLimits.anonymous),
    );
    this.pageSize = Math.min(Math.max(1, context.pageSize ?? NVD_MAX_PAGE_SIZE), NVD_MAX_PAGE_SIZE);
    this.endpoint = `${context.baseUrl.replace(/\/+$/, "")}/rest/json/cves/2.0`;
  }

  /** Every page of one query, each stored as it arrives. */
  async all(filter: Record<string, string>, label: string): Promise<void> {
    for (let startIndex = 0; ; ) {
      const params = new URLSearchParams({
        ...filter,
        resultsPerPage: String(this.pageSize),
        startIndex: String(startIndex),
      });
      const url = `${this.endpoint}?${params}`;
      const page = await this.page(url);
      const entries: NvdEntry[] = [];
      for (const item of page.vulnerabilities) {
        try {
          entries.push(nvdEntryFromVulnerability(item));
        } catch (error) {
          this.skipped++;
          this.context.reporter.line(`warning: NVD ${url}: a CVE entry skipped: ${describeError(error)}`);
        }
      }
      this.store.putNvdEntries(entries);
      this.cves += entries.length;
      startIndex += page.vulnerabilities.length;
      this.context.reporter.progress(label, "records", startIndex, page.totalResults);
      if (startIndex >= page.totalResults) return;
      if (page.vulnerabilities.length === 0)
        throw new InputError(`NVD ${url}: an empty page before the end (${page.totalResults} results)`);
    }
  }

  private async page(url: string): Promise<{ vulnerabilities: unknown[]; totalResults: number }> {
    const what = `NVD ${url}`;
    const limit = this.context.rateLimit ?? nvdRateLimits.anonymous;
    const answer = await this.context.http.getText(url, {
      what,
      // The key goes in a header, never in the URL that messages show.
      ...(this.context.apiKey ? { headers: { apiKey: this.context.apiKey } } : {}),
      // NVD answers 403 (and 503) when a client goes over its rate limit.
      alsoTransient: [403, 503],
      defaultRetryAfterMs: limit.windowMs / limit.requests,
      beforeAttempt: () => this.limiter.wait().then(() => void this.requests++),
    });
    if (answer.status !== 200) {
      const hint = answer.status === 404 && this.context.apiKey ? " (is the API key valid?)" : "";
      throw new InputError(`${what}: HTTP ${answer.status}${hint}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch (error) {
      throw new InputError(`${what}: the answer is not JSON (${describeError(error)})`);
    }
    if (!isObject(body) || !Array.isArray(body.vulnerabilities) || typeof body.totalResults !== "number")
      throw new InputError(`${what}: not a CVE API answer (no vulnerabilities and totalResults)`);
    this.firstTimestamp ??= parseNvdTime(body.timestamp) ?? this.context.now();
    return { vulnerabilities: body.vulnerabilities, totalResults: body.totalResults };
  }
}

/** Brings the store's NVD table up to date: everything the first time, then what changed since. */
export async function updateNvd(store: AdvisoryStore, context: NvdUpdateContext): Promise<NvdUpdateResult> {
  const state = readNvdState(store);
  const since = state?.since ? parseNvdTime(state.since) : undefined;
  const startedAt = context.now();
  const pager = new NvdPager(store, context);
  if (since) {
    const windows = modifiedWindows(since, startedAt);
    for (const [index, window] of windows.entries()) {
      await pager.all(
        { lastModStartDate: nvdDate(window.start), lastModEndDate: nvdDate(window.end) },
        windows.length > 1 ? `NVD changes (${index + 1}/${windows.length})` : "NVD changes",
      );
    }
  } else {
    context.reporter.line(
      "NVD: first update: reading every CVE (this takes a while; an API key makes it ten times faster)",
    );
    await pager.all({}, "NVD");
  }
  // The earlier of NVD's clock and ours: a change made while this update ran is asked for again
  // next time rather than missed, whichever clock is ahead.
  const nextSince =
    pager.firstTimestamp && pager.firstTimestamp < startedAt ? pager.firstTimestamp : startedAt;
  const next: NvdState = { checked: startedAt.toISOString(), since: nextSince.toISOString() };
  store.setMeta(STATE_KEY, JSON.stringify(next));
  return {
    how: since ? "changes" : "full",
    cves: pager.cves,
    skipped: pager.skipped,
    requests: pager.requests,
  };
}
