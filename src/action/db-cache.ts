import * as cache from "@actions/cache";
import { describeError } from "../errors.js";
import { STORE_SCHEMA_VERSION } from "../vulndb/store.js";

/**
 * The vulnerability store kept between workflow runs in GitHub's Actions cache: one entry per
 * UTC day, so the first run of a day starts from the newest earlier entry (the restore key) and
 * `db update` fetches only what changed since; later runs that day restore it as it is. The
 * store's schema version is part of the key: a layerwatch that changes the schema never restores
 * a store it cannot open.
 */

const KEY_PREFIX = `layerwatch-db-${STORE_SCHEMA_VERSION}-`;

export interface CacheKeys {
  /** Today's entry. */
  primary: string;
  /** Any earlier day's entry, newest first (the cache service picks the newest match). */
  restore: string[];
}

export function storeCacheKeys(now: Date): CacheKeys {
  return { primary: `${KEY_PREFIX}${now.toISOString().slice(0, 10)}`, restore: [KEY_PREFIX] };
}

export interface CacheLog {
  info(message: string): void;
  warning(message: string): void;
}

export type RestoreResult =
  | { state: "unavailable" }
  | { state: "miss" }
  | { state: "hit"; key: string; exact: boolean };

/**
 * Restores the newest store entry to `storeFile` (the file alone: a store beside other files, as
 * in the workspace, never takes them into the cache). Where the cache service is not there (a
 * runner without ACTIONS_CACHE_URL or ACTIONS_RESULTS_URL, as outside GitHub), or fails, the
 * Action goes on without: a cache only saves time.
 */
export async function restoreStore(
  storeFile: string,
  keys: CacheKeys,
  log: CacheLog,
): Promise<RestoreResult> {
  if (!cache.isFeatureAvailable()) {
    log.warning(
      "db-cache: the Actions cache service is not available on this runner; the vulnerability store is neither restored nor saved",
    );
    return { state: "unavailable" };
  }
  try {
    const key = await cache.restoreCache([storeFile], keys.primary, keys.restore);
    if (key === undefined) {
      log.info(`db-cache: no cached store (${keys.primary} or earlier)`);
      return { state: "miss" };
    }
    log.info(`db-cache: restored ${key}`);
    return { state: "hit", key, exact: key === keys.primary };
  } catch (error) {
    log.warning(`db-cache: could not restore the store (${describeError(error)}); going on without it`);
    return { state: "miss" };
  }
}

/** Saves the store as today's entry, unless today's entry was the one restored. */
export async function saveStore(
  storeFile: string,
  keys: CacheKeys,
  restored: RestoreResult,
  log: CacheLog,
): Promise<void> {
  if (restored.state === "unavailable" || (restored.state === "hit" && restored.exact)) return;
  try {
    // -1: not saved; the cache library has said why (another job saving the same key, a limit).
    if ((await cache.saveCache([storeFile], keys.primary)) !== -1)
      log.info(`db-cache: saved ${keys.primary}`);
  } catch (error) {
    // Another job of the same run may have saved today's entry first: that one serves as well.
    log.warning(`db-cache: could not save the store as ${keys.primary} (${describeError(error)})`);
  }
}
