import { rm } from "node:fs/promises";
import { join } from "node:path";
import { describeError, InputError } from "../../errors.js";
import type { FeedClient } from "../http.js";
import { type ImportResult, importOsv, importRecordBodies, type SkippedRecord } from "../import.js";
import { compareOsvTimestamps } from "../osv.js";
import type { AdvisoryStore } from "../store.js";
import type { UpdateReporter } from "../update.js";

/**
 * OSV's public exports, one folder per ecosystem in a bucket:
 * - `<Ecosystem>/all.zip`: every record, `<ID>.json` at the zip's root;
 * - `<Ecosystem>/modified_id.csv`: one `<RFC 3339 modified>,<ID>` line per record, newest first;
 * - `<Ecosystem>/<ID>.json`: each record on its own.
 *
 * The first update of an ecosystem downloads all.zip. Later ones read modified_id.csv and fetch
 * only the records changed since (and not already held at that `modified`); when the list is not
 * there, or names more records than all.zip is worth, all.zip is asked for again with its ETag
 * and Last-Modified, and a 304 leaves the store as it is.
 */

export const DEFAULT_OSV_URL = "https://osv-vulnerabilities.storage.googleapis.com";

/** What the store keeps about one ecosystem's export between updates (meta `update:osv`). */
export interface OsvExportState {
  /** When an update last checked the ecosystem. */
  checked: string;
  /** The newest `modified` imported from it: the next update asks for what changed after. */
  newestModified?: string;
  /** all.zip's validators, for a conditional GET. */
  etag?: string;
  lastModified?: string;
}

export interface OsvEcosystemResult {
  ecosystem: string;
  /** full: all.zip imported; incremental: changed records fetched; unchanged: nothing new. */
  how: "full" | "incremental" | "unchanged";
  imported: number;
  skipped: SkippedRecord[];
  /** all.zip's size (full), or how many records were fetched one by one (incremental). */
  downloadedBytes: number;
  fetchedRecords: number;
}

/** OSV has no export for the ecosystem (404 on all.zip). */
export class OsvExportMissing extends InputError {
  override readonly name = "OsvExportMissing";
}

export interface OsvUpdateContext {
  http: FeedClient;
  baseUrl: string;
  reporter: UpdateReporter;
  /** A private temporary directory for downloads. */
  workDir: string;
  now: () => Date;
}

const STATE_KEY = "update:osv";
/** More changed records than this and all.zip is the cheaper download. */
const MAX_RECORD_FETCHES = 1000;
const FETCH_CONCURRENCY = 8;
/**
 * modified_id.csv lines this much older than the newest record held are looked at too: a record
 * can reach OSV's bucket after a newer one did. Lines for records already held at that
 * `modified` cost nothing.
 */
const OVERLAP_MS = 3 * 24 * 3600 * 1000;

export function readOsvStates(store: AdvisoryStore): Record<string, OsvExportState> {
  const text = store.getMeta(STATE_KEY);
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === "object" ? (value as Record<string, OsvExportState>) : {};
  } catch {
    return {};
  }
}

function writeOsvState(store: AdvisoryStore, ecosystem: string, state: OsvExportState): void {
  store.setMeta(STATE_KEY, JSON.stringify({ ...readOsvStates(store), [ecosystem]: state }));
}

function newer(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareOsvTimestamps(a, b) >= 0 ? a : b;
}

/** The URL of a file in an ecosystem's folder; the name is encoded ("GitHub Actions"). */
export function exportUrl(baseUrl: string, ecosystem: string, file: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/${encodeURIComponent(ecosystem)}/${file}`;
}

interface ChangedRecord {
  modified: string;
  id: string;
}

/** Parses modified_id.csv; undefined when the text is not such a list at all. */
function parseModifiedList(text: string): { entries: ChangedRecord[]; badLines: number } | undefined {
  const entries: ChangedRecord[] = [];
  let badLines = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const comma = line.indexOf(",");
    const modified = line.slice(0, comma).trim();
    const id = line.slice(comma + 1).trim();
    // A time that does not parse sorts before every real one.
    if (
      comma <= 0 ||
      id === "" ||
      /[\s/]/.test(id) ||
      compareOsvTimestamps(modified, "1970-01-01T00:00:00Z") < 0
    )
      badLines++;
    else entries.push({ modified, id });
  }
  return entries.length === 0 && badLines > 0 ? undefined : { entries, badLines };
}

/** Runs `work` on every item, at most `limit` at a time; the results come in the items' order. */
export async function mapConcurrently<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The incremental path: the records modified_id.csv lists as changed since the store's newest,
 * fetched one by one. Undefined when the list is missing or too long to be worth it: the caller
 * falls back to all.zip.
 */
async function updateFromChangeList(
  store: AdvisoryStore,
  ecosystem: string,
  state: OsvExportState & { newestModified: string },
  context: OsvUpdateContext,
): Promise<OsvEcosystemResult | undefined> {
  const listUrl = exportUrl(context.baseUrl, ecosystem, "modified_id.csv");
  const list = await context.http.getText(listUrl, { what: `${ecosystem}: ${listUrl}` });
  if (list.status !== 200) {
    context.reporter.line(`${ecosystem}: no modified_id.csv (HTTP ${list.status}); checking all.zip`);
    return undefined;
  }
  const parsed = parseModifiedList(list.text);
  if (!parsed) {
    context.reporter.line(`${ecosystem}: modified_id.csv is not a list of records; checking all.zip`);
    return undefined;
  }
  if (parsed.badLines > 0)
    context.reporter.line(`${ecosystem}: modified_id.csv: ${parsed.badLines} malformed lines skipped`);
  const cutoffMs = Date.parse(state.newestModified) - OVERLAP_MS;
  const cutoff = Number.isFinite(cutoffMs) ? new Date(cutoffMs).toISOString() : state.newestModified;
  const changed = parsed.entries.filter((entry) => {
    if (compareOsvTimestamps(entry.modified, cutoff) <= 0) return false;
    const held = store.modifiedOf(entry.id);
    return held === undefined || compareOsvTimestamps(entry.modified, held) > 0;
  });
  if (changed.length > MAX_RECORD_FETCHES) {
    context.reporter.line(`${ecosystem}: ${changed.length} records changed; downloading all.zip instead`);
    return undefined;
  }
  const newestListed = parsed.entries.reduce<string | undefined>((a, e) => newer(a, e.modified), undefined);
  const skipped: SkippedRecord[] = [];
  let fetched = 0;
  const bodies = await mapConcurrently(changed, FETCH_CONCURRENCY, async (entry) => {
    const url = exportUrl(context.baseUrl, ecosystem, `${encodeURIComponent(entry.id)}.json`);
    const answer = await context.http.getText(url, { what: `${ecosystem}: ${url}` });
    context.reporter.progress(ecosystem, "records", ++fetched, changed.length);
    if (answer.status === 404) {
      skipped.push({ where: url, reason: "listed in modified_id.csv, but not there (404)" });
      return undefined;
    }
    if (answer.status !== 200) throw new InputError(`${ecosystem}: ${url}: HTTP ${answer.status}`);
    return { where: url, bytes: Buffer.from(answer.text, "utf8") };
  });
  for (const gone of skipped) context.reporter.line(`warning: ${gone.where}: skipped: ${gone.reason}`);
  const result = importRecordBodies(
    store,
    bodies.filter((body) => body !== undefined),
    { onSkip: (record) => context.reporter.line(`warning: ${record.where}: skipped: ${record.reason}`) },
  );
  writeOsvState(store, ecosystem, {
    ...state,
    checked: context.now().toISOString(),
    newestModified: newer(state.newestModified, newer(newestListed, result.newestModified)) as string,
  });
  return {
    ecosystem,
    how: changed.length === 0 ? "unchanged" : "incremental",
    imported: result.imported,
    skipped: [...skipped, ...result.skipped],
    downloadedBytes: 0,
    fetchedRecords: changed.length,
  };
}

/** all.zip, conditionally when the store holds an earlier copy: streamed to disk, then imported. */
async function updateFromZip(
  store: AdvisoryStore,
  ecosystem: string,
  state: OsvExportState | undefined,
  context: OsvUpdateContext,
): Promise<OsvEcosystemResult> {
  const url = exportUrl(context.baseUrl, ecosystem, "all.zip");
  const headers: Record<string, string> = {};
  if (state?.etag) headers["if-none-match"] = state.etag;
  if (state?.lastModified) headers["if-modified-since"] = state.lastModified;
  const zipPath = join(context.workDir, `${encodeURIComponent(ecosystem)}.zip`);
  const conditional = Object.keys(headers).length > 0;
  context.reporter.line(`${ecosystem}: ${conditional ? "checking" : "downloading"} ${url}`);
  try {
    const answer = await context.http.download(url, zipPath, {
      what: `${ecosystem}: ${url}`,
      headers,
      onBytes: (received, total) => context.reporter.progress(ecosystem, "bytes", received, total),
    });
    if (answer.status === 404) {
      throw new OsvExportMissing(`ecosystem '${ecosystem}': OSV has no export at ${url} (HTTP 404)`);
    }
    const checked = context.now().toISOString();
    if (answer.status === 304) {
      writeOsvState(store, ecosystem, { ...state, checked });
      return {
        ecosystem,
        how: "unchanged",
        imported: 0,
        skipped: [],
        downloadedBytes: 0,
        fetchedRecords: 0,
      };
    }
    let result: ImportResult;
    try {
      result = await importOsv(
        store,
        zipPath,
        (record) =>
          context.reporter.line(`warning: ${record.where.replace(zipPath, url)}: skipped: ${record.reason}`),
        { onProgress: (records) => context.reporter.progress(ecosystem, "records", records, undefined) },
      );
    } catch (error) {
      throw new InputError(`${ecosystem}: ${url}: ${describeError(error).replace(zipPath, "all.zip")}`);
    }
    const newestModified = newer(state?.newestModified, result.newestModified);
    writeOsvState(store, ecosystem, {
      checked,
      ...(newestModified ? { newestModified } : {}),
      ...(answer.etag ? { etag: answer.etag } : {}),
      ...(answer.lastModified ? { lastModified: answer.lastModified } : {}),
    });
    return {
      ecosystem,
      how: "full",
      imported: result.imported,
      skipped: result.skipped.map((record) => ({ ...record, where: record.where.replace(zipPath, url) })),
      downloadedBytes: answer.bytes,
      fetchedRecords: 0,
    };
  } finally {
    await rm(zipPath, { force: true });
  }
}

/** Brings one ecosystem up to date from OSV's export: incrementally where it can, else all.zip. */
export async function updateOsvEcosystem(
  store: AdvisoryStore,
  ecosystem: string,
  context: OsvUpdateContext,
): Promise<OsvEcosystemResult> {
  const state = readOsvStates(store)[ecosystem];
  if (state?.newestModified) {
    const incremental = await updateFromChangeList(
      store,
      ecosystem,
      { ...state, newestModified: state.newestModified },
      context,
    );
    if (incremental) return incremental;
  }
  return updateFromZip(store, ecosystem, state, context);
}
