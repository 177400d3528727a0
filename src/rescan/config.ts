/**
 * The rescan's config file (`layerwatch rescan --config layerwatch.yaml`): which registries and
 * repositories to watch, which of their tags, where the state lives, when the daemon runs, and
 * whom to notify. Every field is checked here; a bad one is one error line naming the file and
 * the field (exit code 2).
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { describeError, InputError } from "../errors.js";
import { checkSchedule } from "./daemon.js";
import { type NotifyConfig, parseNotifyConfig } from "./notify/index.js";

/** Which of a repository's tags are rescanned; the filters apply in this order. */
export interface TagSelection {
  /** Tags whose whole name matches (anchored by the user: the regex is used as written). */
  regex?: RegExp;
  /** Only the newest N by semver of those (tags that are not versions are left out). */
  newest?: number;
  /** Only images whose config says they were created at most this long ago. */
  maxAgeMs?: number;
}

export interface RepositoryConfig {
  /** The repository path in its registry ("team/app"). */
  name: string;
  tags: TagSelection;
  /** Platforms read from a multi-platform tag ("linux/amd64"). */
  platforms: string[];
}

export interface RegistryConfig {
  /** host[:port], as in an image reference ("registry.example.com", "127.0.0.1:5000"). */
  registry: string;
  insecure: boolean;
  caFile?: string;
  username?: string;
  /** From passwordEnv; never logged. */
  password?: string;
  /** Requests (HEADs, pulls) at once to this registry. */
  concurrency: number;
  /** Entries asked per page of /v2/_catalog and tags/list (`?n=`). */
  pageSize: number;
  timeoutMs?: number;
  retries?: number;
  /** The repositories to rescan; undefined: every repository the catalog lists. */
  repositories?: RepositoryConfig[];
  /** The selection and platforms of repositories that do not name their own (and of the catalog's). */
  tags: TagSelection;
  platforms: string[];
}

export type StateConfig =
  | { kind: "sqlite" /** Undefined: the default file in the cache directory. */; path?: string }
  | { kind: "postgres" /** A connection URL with its password: never logged. */; url: string };

export interface RescanConfig {
  /** The config file, for messages. */
  path: string;
  registries: RegistryConfig[];
  state: StateConfig;
  /** The advisory store, when the file names one (--db overrides it). */
  db?: string;
  /** A cron expression for `--daemon`. */
  schedule?: string;
  /** The IANA time zone the schedule is read in (the machine's own when absent). */
  timezone?: string;
  /** Whom to tell what changed (no notifier when the file has no `notify` section). */
  notify: NotifyConfig;
}

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_PAGE_SIZE = 1000;
export const DEFAULT_PLATFORMS = ["linux/amd64"];

type Raw = Record<string, unknown>;

class ConfigReader {
  constructor(
    readonly path: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  fail(field: string, problem: string): never {
    throw new InputError(`${this.path}: ${field || "the file"}: ${problem}`);
  }

  object(value: unknown, field: string, allowed: string[]): Raw {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      this.fail(field, "must be a mapping");
    for (const key of Object.keys(value))
      if (!allowed.includes(key))
        this.fail(`${field}.${key}`.replace(/^\./, ""), `unknown field (known: ${allowed.join(", ")})`);
    return value as Raw;
  }

  string(value: unknown, field: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" || value.trim() === "") this.fail(field, "must be a non-empty string");
    return value;
  }

  boolean(value: unknown, field: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "boolean") this.fail(field, "must be true or false");
    return value;
  }

  positiveInteger(value: unknown, field: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1)
      this.fail(field, "must be a positive whole number");
    return value;
  }

  /** A path, relative to the config file's folder. */
  filePath(value: unknown, field: string): string | undefined {
    const text = this.string(value, field);
    return text === undefined ? undefined : resolve(dirname(this.path), text);
  }

  /** A secret named by an environment variable (`passwordEnv: REGISTRY_PASSWORD`). */
  fromEnv(value: unknown, field: string): string | undefined {
    const name = this.string(value, field);
    if (name === undefined) return undefined;
    const secret = this.env[name];
    if (secret === undefined || secret === "")
      this.fail(field, `the environment variable ${name} is not set`);
    return secret;
  }
}

const durationUnits: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** "90d", "12h", "2w", "30m", "45s". */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (durationUnits[match[2] as string] as number);
}

function readPlatforms(reader: ConfigReader, value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) reader.fail(field, "must be a list of os/arch[/variant]");
  return list.map((entry, i) => {
    if (typeof entry !== "string" || !/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/.test(entry))
      reader.fail(`${field}[${i}]`, `'${String(entry)}' is not os/arch or os/arch/variant (linux/arm64/v8)`);
    return entry;
  });
}

function readTags(reader: ConfigReader, value: unknown, field: string): TagSelection | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === "all") return {};
  const raw = reader.object(value, field, ["all", "regex", "newest", "maxAge"]);
  const all = reader.boolean(raw.all, `${field}.all`);
  const selection: TagSelection = {};
  const regex = reader.string(raw.regex, `${field}.regex`);
  if (regex !== undefined) {
    try {
      selection.regex = new RegExp(regex);
    } catch (error) {
      reader.fail(`${field}.regex`, `not a regular expression (${describeError(error)})`);
    }
  }
  const newest = reader.positiveInteger(raw.newest, `${field}.newest`);
  if (newest !== undefined) selection.newest = newest;
  if (raw.maxAge !== undefined && raw.maxAge !== null) {
    const text = typeof raw.maxAge === "number" ? `${raw.maxAge}d` : raw.maxAge;
    const ms = typeof text === "string" ? parseDuration(text) : undefined;
    if (ms === undefined || ms <= 0)
      reader.fail(`${field}.maxAge`, "must be a duration such as 90d, 12h or 2w");
    selection.maxAgeMs = ms;
  }
  if (all === true && Object.keys(selection).length > 0)
    reader.fail(`${field}.all`, "cannot be combined with regex, newest or maxAge");
  return selection;
}

function readRepository(
  reader: ConfigReader,
  value: unknown,
  field: string,
  defaults: { tags: TagSelection; platforms: string[] },
): RepositoryConfig {
  const checkName = (name: string, where: string) => {
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(name))
      reader.fail(where, `'${name}' is not a repository name (lower-case path, no tag)`);
    return name;
  };
  if (typeof value === "string") return { name: checkName(value, field), ...defaults };
  const raw = reader.object(value, field, ["name", "tags", "platforms"]);
  const name = reader.string(raw.name, `${field}.name`) ?? reader.fail(`${field}.name`, "is required");
  return {
    name: checkName(name, `${field}.name`),
    tags: readTags(reader, raw.tags, `${field}.tags`) ?? defaults.tags,
    platforms: readPlatforms(reader, raw.platforms, `${field}.platforms`) ?? defaults.platforms,
  };
}

function readRegistry(reader: ConfigReader, value: unknown, field: string): RegistryConfig {
  const raw = reader.object(value, field, [
    "registry",
    "insecure",
    "caFile",
    "username",
    "passwordEnv",
    "concurrency",
    "pageSize",
    "timeoutSeconds",
    "retries",
    "repositories",
    "tags",
    "platforms",
  ]);
  const registry =
    reader.string(raw.registry, `${field}.registry`) ?? reader.fail(`${field}.registry`, "is required");
  if (!/^[A-Za-z0-9.-]+(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/.test(registry))
    reader.fail(`${field}.registry`, `'${registry}' is not host[:port] (no scheme, no path)`);
  const username = reader.string(raw.username, `${field}.username`);
  const password = reader.fromEnv(raw.passwordEnv, `${field}.passwordEnv`);
  if ((username === undefined) !== (password === undefined))
    reader.fail(
      `${field}.${username === undefined ? "username" : "passwordEnv"}`,
      "give both username and passwordEnv",
    );
  const tags = readTags(reader, raw.tags, `${field}.tags`) ?? {};
  const platforms = readPlatforms(reader, raw.platforms, `${field}.platforms`) ?? DEFAULT_PLATFORMS;
  let repositories: RepositoryConfig[] | undefined;
  if (raw.repositories !== undefined && raw.repositories !== null) {
    if (!Array.isArray(raw.repositories) || raw.repositories.length === 0)
      reader.fail(
        `${field}.repositories`,
        "must be a list of repository names (leave it out to read the catalog)",
      );
    repositories = raw.repositories.map((entry, i) =>
      readRepository(reader, entry, `${field}.repositories[${i}]`, { tags, platforms }),
    );
  }
  const timeoutSeconds = reader.positiveInteger(raw.timeoutSeconds, `${field}.timeoutSeconds`);
  let retries: number | undefined;
  if (raw.retries !== undefined && raw.retries !== null) {
    if (typeof raw.retries !== "number" || !Number.isInteger(raw.retries) || raw.retries < 0)
      reader.fail(`${field}.retries`, "must be a whole number, 0 or more");
    retries = raw.retries;
  }
  const caFile = reader.filePath(raw.caFile, `${field}.caFile`);
  return {
    registry,
    insecure: reader.boolean(raw.insecure, `${field}.insecure`) ?? false,
    ...(caFile !== undefined ? { caFile } : {}),
    ...(username !== undefined && password !== undefined ? { username, password } : {}),
    concurrency: reader.positiveInteger(raw.concurrency, `${field}.concurrency`) ?? DEFAULT_CONCURRENCY,
    pageSize: reader.positiveInteger(raw.pageSize, `${field}.pageSize`) ?? DEFAULT_PAGE_SIZE,
    ...(timeoutSeconds !== undefined ? { timeoutMs: timeoutSeconds * 1000 } : {}),
    ...(retries !== undefined ? { retries } : {}),
    ...(repositories ? { repositories } : {}),
    tags,
    platforms,
  };
}

function readState(reader: ConfigReader, value: unknown): StateConfig {
  if (value === undefined || value === null) return { kind: "sqlite" };
  const raw = reader.object(value, "state", ["sqlite", "postgres"]);
  if (raw.sqlite !== undefined && raw.postgres !== undefined)
    reader.fail("state", "name either sqlite or postgres, not both");
  if (raw.postgres !== undefined) {
    const postgres = reader.object(raw.postgres, "state.postgres", ["url", "urlEnv"]);
    if ((postgres.url === undefined) === (postgres.urlEnv === undefined))
      reader.fail("state.postgres", "give either url or urlEnv");
    const url =
      reader.string(postgres.url, "state.postgres.url") ??
      reader.fromEnv(postgres.urlEnv, "state.postgres.urlEnv");
    if (url === undefined || !/^postgres(?:ql)?:\/\//.test(url))
      reader.fail(
        postgres.url !== undefined ? "state.postgres.url" : "state.postgres.urlEnv",
        "is not a postgres:// URL",
      );
    return { kind: "postgres", url };
  }
  const path = reader.filePath(raw.sqlite, "state.sqlite");
  return { kind: "sqlite", ...(path !== undefined ? { path } : {}) };
}

/** Checks a config already parsed from YAML (or built in code); `path` names it in messages. */
export function parseRescanConfig(
  value: unknown,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): RescanConfig {
  const reader: ConfigReader = new ConfigReader(path, env);
  if (value === null || value === undefined) reader.fail("registries", "is required (the file is empty)");
  const raw = reader.object(value, "", ["registries", "state", "db", "schedule", "timezone", "notify"]);
  if (!Array.isArray(raw.registries) || raw.registries.length === 0)
    reader.fail("registries", "must be a list of at least one registry");
  const registries = raw.registries.map((entry, i) => readRegistry(reader, entry, `registries[${i}]`));
  const db = reader.filePath(raw.db, "db");
  const schedule = reader.string(raw.schedule, "schedule");
  const timezone = reader.string(raw.timezone, "timezone");
  if (timezone !== undefined && schedule === undefined) reader.fail("timezone", "applies only with schedule");
  if (schedule !== undefined) {
    try {
      checkSchedule(schedule, timezone);
    } catch (error) {
      reader.fail(timezone !== undefined ? "schedule/timezone" : "schedule", describeError(error));
    }
  }
  return {
    path,
    registries,
    state: readState(reader, raw.state),
    ...(db !== undefined ? { db } : {}),
    ...(schedule !== undefined ? { schedule } : {}),
    ...(timezone !== undefined ? { timezone } : {}),
    notify: parseNotifyConfig(raw.notify, `${path}: notify`),
  };
}

/** Reads and checks the config file. Secrets named by `...Env` fields are read from `env` now. */
export async function loadRescanConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RescanConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(`${path}: cannot read the config file (${describeError(error)})`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new InputError(`${path}: not valid YAML (${describeError(error).split("\n")[0]})`);
  }
  return parseRescanConfig(value, path, env);
}
