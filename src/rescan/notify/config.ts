/**
 * The config file's `notify:` section. Secrets (a webhook's signing key, a Slack webhook URL,
 * which is itself a secret, a GitHub token) are never in the file: it names the environment
 * variables that hold them, and the values are read only when a notification is sent.
 */
import { InputError } from "../../errors.js";
import { severityLevels } from "../../match/types.js";
import type { FindingSeverity } from "./summary.js";

export interface WebhookNotifierConfig {
  kind: "webhook";
  /** How results and notes name it ("webhook hooks.example.com"); never the URL's path or query. */
  name: string;
  /** The URL as written in the file, or the variable that holds it. */
  url?: string;
  urlEnv?: string;
  /** The variable holding the HMAC-SHA256 key; without one, deliveries are not signed. */
  secretEnv?: string;
  /** Deliver even when a rescan found nothing new (a heartbeat). */
  sendWhenUnchanged: boolean;
}

export interface SlackNotifierConfig {
  kind: "slack";
  name: string;
  urlEnv: string;
  /** The least severe new finding listed by name (the rest are counted). */
  minSeverity: FindingSeverity;
  sendWhenUnchanged: boolean;
}

export interface GithubNotifierConfig {
  kind: "github";
  name: string;
  /** "owner/name": where the issues are filed. */
  repository: string;
  /** "https://api.github.com", or a GitHub Enterprise Server's "https://ghe.example/api/v3". */
  apiUrl: string;
  tokenEnv: string;
  /** Put on every issue it files; it finds its open issues by them. */
  labels: string[];
  /** An image gets an issue when it has a new finding at least this severe. */
  minSeverity: FindingSeverity;
}

export type NotifierConfig = WebhookNotifierConfig | SlackNotifierConfig | GithubNotifierConfig;

export interface NotifyConfig {
  notifiers: NotifierConfig[];
  /** Per HTTP request: how long to wait for an answer, and how many times to try again. */
  timeoutSeconds: number;
  retries: number;
}

export const DEFAULT_GITHUB_API_URL = "https://api.github.com";
export const DEFAULT_GITHUB_LABEL = "layerwatch";

type Raw = Record<string, unknown>;

/**
 * Capitals only, as environment variables are by convention: a token or URL pasted where a name
 * belongs (ghp_..., xoxb-..., https://...) then fails here, before any message could repeat it.
 */
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads one YAML mapping, refusing keys it does not know (a typo would silently do nothing). */
class Fields {
  constructor(
    private readonly raw: Raw,
    readonly where: string,
    known: readonly string[],
  ) {
    for (const key of Object.keys(raw)) {
      if (!known.includes(key)) {
        throw new InputError(`${where}: unknown field "${key}" (known: ${known.join(", ")})`);
      }
    }
  }

  private fail(key: string, problem: string): never {
    throw new InputError(`${this.where}.${key}: ${problem}`);
  }

  string(key: string): string | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" || value.trim() === "") this.fail(key, "must be a non-empty string");
    return value.trim();
  }

  /** The name of an environment variable. A value that is not one is never repeated: it may be the secret itself. */
  envName(key: string): string | undefined {
    const value = this.string(key);
    if (value !== undefined && !ENV_NAME.test(value)) {
      this.fail(
        key,
        "must name an environment variable (capital letters, digits and _), not hold the secret itself",
      );
    }
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "boolean") this.fail(key, "must be true or false");
    return value;
  }

  number(key: string, fallback: number, min: number, max: number): number {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.fail(key, `must be a whole number from ${min} to ${max}`);
    }
    return value;
  }

  severity(key: string, fallback: FindingSeverity): FindingSeverity {
    const value = this.string(key)?.toLowerCase();
    if (value === undefined) return fallback;
    if (!(severityLevels as readonly string[]).includes(value)) {
      this.fail(key, `must be one of ${severityLevels.join(", ")}`);
    }
    return value as FindingSeverity;
  }

  /** An http(s) URL; a bad one is not repeated, since a webhook URL may carry a token. */
  url(key: string): URL | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      this.fail(key, "not a URL");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") this.fail(key, "must be an http or https URL");
    if (url.username || url.password) this.fail(key, "must not hold a user or password; use the environment");
    return url;
  }

  stringList(key: string, fallback: string[]): string[] {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    const list = typeof value === "string" ? [value] : value;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((item) => typeof item !== "string" || item.trim() === "")
    ) {
      this.fail(key, "must be a non-empty list of non-empty strings");
    }
    return (list as string[]).map((item) => item.trim());
  }
}

/** A notifier kind's entries: one mapping or a list of them. */
function entries(value: unknown, where: string): Array<{ raw: Raw; where: string }> {
  if (isObject(value)) return [{ raw: value, where }];
  if (Array.isArray(value)) {
    return value.map((item, index) => {
      if (!isObject(item)) throw new InputError(`${where}[${index}]: must be a mapping`);
      return { raw: item, where: `${where}[${index}]` };
    });
  }
  throw new InputError(`${where}: must be a mapping or a list of mappings`);
}

function parseWebhook(raw: Raw, where: string): WebhookNotifierConfig {
  const fields = new Fields(raw, where, ["name", "url", "urlEnv", "secretEnv", "sendWhenUnchanged"]);
  const url = fields.url("url");
  const urlEnv = fields.envName("urlEnv");
  if ((url === undefined) === (urlEnv === undefined)) {
    throw new InputError(`${where}: give either url or urlEnv (the variable holding the URL)`);
  }
  const secretEnv = fields.envName("secretEnv");
  return {
    kind: "webhook",
    name: fields.string("name") ?? (url ? `webhook ${url.host}` : `webhook $${urlEnv}`),
    ...(url ? { url: url.href } : {}),
    ...(urlEnv ? { urlEnv } : {}),
    ...(secretEnv ? { secretEnv } : {}),
    sendWhenUnchanged: fields.boolean("sendWhenUnchanged", false),
  };
}

function parseSlack(raw: Raw, where: string): SlackNotifierConfig {
  if (raw.url !== undefined) {
    throw new InputError(
      `${where}.url: a Slack webhook URL is a secret; put it in an environment variable and name it in urlEnv`,
    );
  }
  const fields = new Fields(raw, where, ["name", "urlEnv", "minSeverity", "sendWhenUnchanged"]);
  const urlEnv = fields.envName("urlEnv");
  if (urlEnv === undefined)
    throw new InputError(`${where}.urlEnv: missing (the variable holding the webhook URL)`);
  return {
    kind: "slack",
    name: fields.string("name") ?? "slack",
    urlEnv,
    minSeverity: fields.severity("minSeverity", "high"),
    sendWhenUnchanged: fields.boolean("sendWhenUnchanged", false),
  };
}

function parseGithub(raw: Raw, where: string): GithubNotifierConfig {
  const fields = new Fields(raw, where, [
    "name",
    "repository",
    "apiUrl",
    "tokenEnv",
    "labels",
    "minSeverity",
  ]);
  const repository = fields.string("repository");
  if (repository === undefined || !/^[\w.-]+\/[\w.-]+$/.test(repository)) {
    throw new InputError(`${where}.repository: must be "owner/name"`);
  }
  const tokenEnv = fields.envName("tokenEnv");
  if (tokenEnv === undefined)
    throw new InputError(`${where}.tokenEnv: missing (the variable holding the token)`);
  const parsedApiUrl = fields.url("apiUrl");
  // The token goes with every request: over plain HTTP only to this machine itself.
  if (
    parsedApiUrl?.protocol === "http:" &&
    !["127.0.0.1", "[::1]", "localhost"].includes(parsedApiUrl.hostname)
  ) {
    throw new InputError(`${where}.apiUrl: must be https (the token would cross the network unencrypted)`);
  }
  const apiUrl = parsedApiUrl?.href ?? DEFAULT_GITHUB_API_URL;
  const labels = fields.stringList("labels", [DEFAULT_GITHUB_LABEL]);
  if (labels.some((label) => label.includes(","))) {
    throw new InputError(
      `${where}.labels: a label cannot hold a comma (the issues API lists labels with commas)`,
    );
  }
  return {
    kind: "github",
    name: fields.string("name") ?? `github ${repository}`,
    repository,
    apiUrl: apiUrl.replace(/\/+$/, ""),
    tokenEnv,
    labels,
    minSeverity: fields.severity("minSeverity", "high"),
  };
}

const kinds = {
  webhook: parseWebhook,
  slack: parseSlack,
  github: parseGithub,
} as const;

/**
 * Validates the config file's `notify:` section (`where` names it in errors: "layerwatch.yaml:
 * notify"). An absent or empty section configures no notifier.
 */
export function parseNotifyConfig(raw: unknown, where: string): NotifyConfig {
  if (raw === undefined || raw === null) return { notifiers: [], timeoutSeconds: 30, retries: 3 };
  if (!isObject(raw)) throw new InputError(`${where}: must be a mapping (webhook:, slack:, github:)`);
  const fields = new Fields(raw, where, [...Object.keys(kinds), "timeoutSeconds", "retries"]);
  const notifiers: NotifierConfig[] = [];
  for (const [kind, parse] of Object.entries(kinds)) {
    if (raw[kind] === undefined || raw[kind] === null) continue;
    for (const entry of entries(raw[kind], `${where}.${kind}`)) notifiers.push(parse(entry.raw, entry.where));
  }
  const names = new Set<string>();
  for (const notifier of notifiers) {
    if (names.has(notifier.name)) {
      throw new InputError(`${where}: two notifiers are named "${notifier.name}"; give each its own name`);
    }
    names.add(notifier.name);
  }
  return {
    notifiers,
    timeoutSeconds: fields.number("timeoutSeconds", 30, 1, 600),
    retries: fields.number("retries", 3, 0, 10),
  };
}

/** The environment variables a notifier reads. */
export function envNamesOf(notifier: NotifierConfig): string[] {
  switch (notifier.kind) {
    case "webhook":
      return [notifier.urlEnv, notifier.secretEnv].filter((name): name is string => name !== undefined);
    case "slack":
      return [notifier.urlEnv];
    case "github":
      return [notifier.tokenEnv];
  }
}

/** The environment variables a config needs that are unset or empty, so a daemon can refuse to start. */
export function missingNotifyEnv(config: NotifyConfig, env: NodeJS.ProcessEnv): string[] {
  const needed = config.notifiers.flatMap(envNamesOf);
  return [...new Set(needed.filter((name) => !env[name]))];
}
