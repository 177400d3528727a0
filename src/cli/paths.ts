import { homedir } from "node:os";
import { join } from "node:path";

/** The user cache directory (XDG_CACHE_HOME, else ~/.cache) with layerwatch's folder in it. */
export function cacheDirectory(env: NodeJS.ProcessEnv): string {
  const base =
    env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== "" ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "layerwatch");
}

/** The advisory store: --db, else LAYERWATCH_DB, else the cache directory. */
export function defaultStorePath(env: NodeJS.ProcessEnv): string {
  return env.LAYERWATCH_DB && env.LAYERWATCH_DB !== ""
    ? env.LAYERWATCH_DB
    : join(cacheDirectory(env), "vulndb.sqlite");
}
