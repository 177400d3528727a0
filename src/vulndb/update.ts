import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeError, InputError } from "../errors.js";
import { ecosystemBase } from "./ecosystem.js";
import { FeedClient } from "./http.js";
import { DEFAULT_NVD_URL, type NvdUpdateResult, type RateLimit, updateNvd } from "./sources/nvd.js";
import {
  DEFAULT_OSV_URL,
  type OsvEcosystemResult,
  readOsvStates,
  updateOsvEcosystem,
} from "./sources/osv-export.js";
import { AdvisoryStore, type StoreSummary } from "./store.js";

/**
 * `layerwatch db update`: OSV's per-ecosystem exports, then NVD's CVSS ratings, into the store.
 *
 * Which ecosystems, when none is named: every ecosystem an update fetched before, every
 * ecosystem the store holds advisories for, and every ecosystem a scan against this store found
 * packages of. A scan records its ecosystems in the store's meta table (`scan_ecosystems`) on
 * its way out, if the store is writable; that is all it writes.
 */

/** How an update shows what it does: lines that stay, and a progress bar where there is a terminal. */
export interface UpdateReporter {
  line(text: string): void;
  progress(label: string, unit: "bytes" | "records", done: number, total: number | undefined): void;
}

export interface UpdateOptions {
  /** Ecosystems to update; empty: the defaults above. */
  ecosystems: string[];
  osvUrl?: string;
  nvdUrl?: string;
  /** NVD API key (sent as the apiKey header; never printed). */
  nvdApiKey?: string;
  nvd: boolean;
  env: NodeJS.ProcessEnv;
  reporter: UpdateReporter;
  timeoutMs?: number;
  retries?: number;
  /** For tests: NVD page size and rate limit. */
  nvdPageSize?: number;
  nvdRateLimit?: RateLimit;
  now?: () => Date;
}

export interface UpdateFailure {
  /** The ecosystem, or "NVD". */
  source: string;
  message: string;
}

export interface UpdateResult {
  ecosystems: string[];
  osv: OsvEcosystemResult[];
  nvd?: NvdUpdateResult;
  /** Sources that could not be updated (each told to the reporter as it failed); the others were. */
  failures: UpdateFailure[];
}

const SCAN_ECOSYSTEMS_KEY = "scan_ecosystems";
/** A scan warns when the store's newest update or import is older than this. */
export const STALE_AFTER_DAYS = 3;

function scanEcosystems(store: AdvisoryStore): Record<string, string> {
  try {
    const value = JSON.parse(store.getMeta(SCAN_ECOSYSTEMS_KEY) ?? "{}") as unknown;
    return value !== null && typeof value === "object" ? (value as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Remembers the ecosystems a scan needed (base names, with the day it last needed each). */
export function noteScanEcosystems(store: AdvisoryStore, ecosystems: Iterable<string>, now: Date): void {
  const seen = scanEcosystems(store);
  let changed = false;
  const day = now.toISOString().slice(0, 10);
  for (const ecosystem of ecosystems) {
    const base = ecosystemBase(ecosystem);
    if (base === "" || seen[base] === day) continue;
    seen[base] = day;
    changed = true;
  }
  if (changed) store.setMeta(SCAN_ECOSYSTEMS_KEY, JSON.stringify(seen));
}

/**
 * After a scan: notes its ecosystems in the store at `storePath`, opened for writing just for
 * this. Best effort: a store on a read-only cache is left as it is, and `onNote` hears why.
 */
export async function recordScanEcosystems(
  storePath: string,
  ecosystems: Iterable<string>,
  now: Date,
  onNote: (message: string) => void = () => undefined,
): Promise<void> {
  const wanted = [...ecosystems];
  if (wanted.length === 0) return;
  try {
    const store = await AdvisoryStore.open(storePath, { create: true });
    try {
      noteScanEcosystems(store, wanted, now);
    } finally {
      store.close();
    }
  } catch (error) {
    onNote(
      `vulnerability store ${storePath}: the scan's ecosystems were not recorded (${describeError(error)})`,
    );
  }
}

/** The ecosystems `db update` fetches when none is named (see the top of this file). */
export function defaultEcosystems(store: AdvisoryStore): string[] {
  const names = new Set<string>([
    ...Object.keys(readOsvStates(store)),
    ...Object.keys(store.summary().byEcosystem),
    ...Object.keys(scanEcosystems(store)),
  ]);
  names.delete("");
  return [...names].sort((a, b) => a.localeCompare(b));
}

/** The store's newest update or import, when there is one. */
export function lastRefreshed(summary: StoreSummary): Date | undefined {
  const times = [summary.lastImport, summary.lastUpdate]
    .map((value) => (value ? Date.parse(value) : Number.NaN))
    .filter(Number.isFinite);
  return times.length > 0 ? new Date(Math.max(...times)) : undefined;
}

/** The scan's warning when the store has not been refreshed for STALE_AFTER_DAYS, else undefined. */
export function stalenessWarning(summary: StoreSummary, now: Date): string | undefined {
  const refreshed = lastRefreshed(summary);
  if (!refreshed) return undefined;
  const days = Math.floor((now.getTime() - refreshed.getTime()) / (24 * 3600 * 1000));
  if (days < STALE_AFTER_DAYS) return undefined;
  return `last updated ${days} days ago (${refreshed.toISOString()}); advisories published since are missing: run 'layerwatch db update'`;
}

/**
 * Updates the store from OSV (each ecosystem on its own: one that fails is reported and the
 * others go on) and then from NVD. Throws only for what stops everything.
 */
export async function updateStore(store: AdvisoryStore, options: UpdateOptions): Promise<UpdateResult> {
  const now = options.now ?? (() => new Date());
  const named = [...new Set(options.ecosystems.map((ecosystem) => ecosystemBase(ecosystem.trim())))].filter(
    (ecosystem) => ecosystem !== "",
  );
  const ecosystems = named.length > 0 ? named : defaultEcosystems(store);
  if (ecosystems.length === 0) {
    throw new InputError(
      "no ecosystems to update: name them with --ecosystem (Debian, npm, PyPI, ...), or import OSV data first",
    );
  }
  const http = new FeedClient({
    env: options.env,
    timeoutMs: options.timeoutMs ?? 120_000,
    retries: options.retries ?? 4,
    onRetry: (message) => options.reporter.line(message),
  });
  const workDir = await mkdtemp(join(tmpdir(), "layerwatch-update-"));
  const result: UpdateResult = { ecosystems, osv: [], failures: [] };
  let checked = 0;
  try {
    for (const ecosystem of ecosystems) {
      try {
        result.osv.push(
          await updateOsvEcosystem(store, ecosystem, {
            http,
            baseUrl: options.osvUrl ?? DEFAULT_OSV_URL,
            reporter: options.reporter,
            workDir,
            now,
          }),
        );
        checked++;
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        result.failures.push({ source: ecosystem, message: error.message });
        options.reporter.line(`error: ${error.message}`);
      }
    }
    if (options.nvd) {
      try {
        result.nvd = await updateNvd(store, {
          http,
          baseUrl: options.nvdUrl ?? DEFAULT_NVD_URL,
          ...(options.nvdApiKey ? { apiKey: options.nvdApiKey } : {}),
          reporter: options.reporter,
          now,
          ...(options.nvdPageSize ? { pageSize: options.nvdPageSize } : {}),
          ...(options.nvdRateLimit ? { rateLimit: options.nvdRateLimit } : {}),
        });
        checked++;
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        result.failures.push({ source: "NVD", message: error.message });
        options.reporter.line(`error: ${error.message}`);
      }
    }
    if (checked > 0) store.setMeta("last_update", now().toISOString());
  } finally {
    await http.close();
    await rm(workDir, { recursive: true, force: true });
  }
  return result;
}
