import { FeedClient } from "./http.js";
import { importRecordBodies, type SkippedRecord } from "./import.js";
import { OsvApiClient, type OsvPackageQuery } from "./sources/osv-api.js";
import { mapConcurrently } from "./sources/osv-export.js";
import { AdvisoryStore } from "./store.js";

/**
 * `scan --online`: the advisories come from osv.dev's API instead of a local store. The scan's
 * questions (the matcher's own, see advisoryQuestions in match/matcher.ts) go to querybatch; each
 * record it lists is fetched once; the records are validated as an import validates them and put
 * in a store of their own, in memory, which the matcher then reads as it reads a local store. So
 * an online scan finds what a scan against a local store holding the same records finds.
 */

export interface OnlineOptions {
  /** The API's base URL (DEFAULT_OSV_API_URL). */
  apiUrl: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  retries?: number;
  /** Told what was asked and fetched, and about each retry (shown with --debug). */
  onNote?: (message: string) => void;
}

export interface OnlineWarning {
  subject: string;
  problem: string;
}

export interface OnlineAdvisories {
  /** The fetched records, in memory; the caller closes it. */
  store: AdvisoryStore;
  warnings: OnlineWarning[];
  /** Distinct questions asked, querybatch requests sent, records listed and records kept. */
  questions: number;
  requests: number;
  listed: number;
  imported: number;
}

/** Records fetched at the same time: enough to hide the round trips, few enough not to be throttled. */
const FETCH_CONCURRENCY = 8;
/** Ids named in a warning before the rest is only counted. */
const NAMED_IN_WARNING = 5;

function records(count: number): string {
  return count === 1 ? "1 record" : `${count} records`;
}

function someOf(items: string[]): string {
  const named = items.slice(0, NAMED_IN_WARNING).join("; ");
  return items.length > NAMED_IN_WARNING ? `${named}; and ${items.length - NAMED_IN_WARNING} more` : named;
}

/**
 * Asks osv.dev about every question, fetches every record it lists (each distinct id once), and
 * returns them in an in-memory store. A record that is not valid OSV is skipped, and so is one
 * the API lists but does not have; each kind is one warning with its count. Failures of the API
 * itself (after retries) are InputErrors naming the URL and the status.
 */
export async function fetchOnlineAdvisories(
  questions: readonly OsvPackageQuery[],
  options: OnlineOptions,
): Promise<OnlineAdvisories> {
  const http = new FeedClient({
    env: options.env,
    timeoutMs: options.timeoutMs ?? 60_000,
    retries: options.retries ?? 4,
    ...(options.onNote ? { onRetry: options.onNote } : {}),
  });
  const api = new OsvApiClient(http, options.apiUrl);
  const store = await AdvisoryStore.open(":memory:", { create: true });
  try {
    const answers = await api.queryBatch(questions);
    const ids = [...new Set(answers.flat())].sort();
    const missing: string[] = [];
    const bodies = await mapConcurrently(ids, FETCH_CONCURRENCY, async (id) => {
      const fetched = await api.fetchRecord(id);
      if (fetched.status === "missing") {
        missing.push(id);
        return undefined;
      }
      return { where: id, bytes: Buffer.from(fetched.text, "utf8") };
    });
    const skipped: SkippedRecord[] = [];
    const result = importRecordBodies(
      store,
      bodies.filter((body) => body !== undefined),
      { onSkip: (record) => skipped.push(record) },
    );
    const subject = `OSV API ${api.baseUrl}`;
    const warnings: OnlineWarning[] = [];
    if (skipped.length > 0) {
      const reasons = skipped.map(({ where, reason }) =>
        reason.startsWith(`${where}:`) ? reason : `${where}: ${reason}`,
      );
      warnings.push({
        subject,
        problem: `skipped ${records(skipped.length)} of the ${ids.length} fetched: not valid OSV (${someOf(reasons)})`,
      });
    }
    if (missing.length > 0) {
      warnings.push({
        subject,
        problem: `skipped ${records(missing.length)} that querybatch listed but that are not there (HTTP 404): ${someOf(missing.sort())}`,
      });
    }
    options.onNote?.(
      `${subject}: ${questions.length} questions in ${api.requests} querybatch requests; ${ids.length} records listed, ${result.imported} kept`,
    );
    return {
      store,
      warnings,
      questions: questions.length,
      requests: api.requests,
      listed: ids.length,
      imported: result.imported,
    };
  } catch (error) {
    store.close();
    throw error;
  } finally {
    await http.close();
  }
}
