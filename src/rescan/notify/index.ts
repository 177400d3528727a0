/**
 * Telling people what a rescan found changed: a signed JSON webhook, a Slack message, GitHub
 * issues. Each notifier is independent: one failing is reported and the others still send.
 */
import { describeError } from "../../errors.js";
import type { RescanChanges } from "../types.js";
import { envNamesOf, type NotifierConfig, type NotifyConfig } from "./config.js";
import { fileGithubIssues } from "./github.js";
import { NotifyHttp } from "./http.js";
import { sendSlack } from "./slack.js";
import { hasNews, redactor } from "./summary.js";
import { type NotifierContext, sendWebhook } from "./webhook.js";

export {
  type GithubNotifierConfig,
  missingNotifyEnv,
  type NotifierConfig,
  type NotifyConfig,
  parseNotifyConfig,
  type SlackNotifierConfig,
  type WebhookNotifierConfig,
} from "./config.js";
export { hasNews } from "./summary.js";

export interface NotifyResult {
  notifier: string;
  ok: boolean;
  problem?: string;
}

export interface NotifyOptions {
  env: NodeJS.ProcessEnv;
  /** Progress and retries, one line each; never given a secret. */
  onNote?: (message: string) => void;
  /**
   * A rescan told to stop: once aborted, failed requests are not tried again (no backoff or
   * Retry-After is waited out), but every notifier still sends once, so what the stopped rescan
   * found is still told.
   */
  signal?: AbortSignal;
  /** The longest rate-limit wait honoured before a notifier gives up (default: a minute). */
  maxWaitMs?: number;
}

function send(notifier: NotifierConfig, changes: RescanChanges, context: NotifierContext): Promise<void> {
  switch (notifier.kind) {
    case "webhook":
      return sendWebhook(changes, notifier, context);
    case "slack":
      return sendSlack(changes, notifier, context);
    case "github":
      return fileGithubIssues(changes, notifier, context);
  }
}

/**
 * Sends a rescan's changes to every configured notifier at once and says how each went. When
 * nothing changed (no changed image, no moved or gone tag, nothing that failed), only webhooks
 * and Slack set to `sendWhenUnchanged` send; GitHub files issues only for new findings.
 */
export async function notifyAll(
  changes: RescanChanges,
  config: NotifyConfig,
  options: NotifyOptions,
): Promise<NotifyResult[]> {
  // Every value a notifier reads from the environment is a secret (a Slack URL is one too).
  const secrets = config.notifiers.flatMap(envNamesOf).map((name) => options.env[name]);
  const redact = redactor(secrets);
  const note = (message: string) => options.onNote?.(redact(message));
  const news = hasNews(changes);
  const http = new NotifyHttp({
    env: options.env,
    timeoutMs: config.timeoutSeconds * 1000,
    retries: config.retries,
    maxWaitMs: options.maxWaitMs ?? 60_000,
    onRetry: note,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  try {
    return await Promise.all(
      config.notifiers.map(async (notifier): Promise<NotifyResult> => {
        if (!news && (notifier.kind === "github" || !notifier.sendWhenUnchanged)) {
          note(`${notifier.name}: nothing changed; not sent`);
          return { notifier: notifier.name, ok: true };
        }
        try {
          await send(notifier, changes, { http, env: options.env, note });
          return { notifier: notifier.name, ok: true };
        } catch (error) {
          // Problems name their notifier already in their messages; the result names it once.
          const message = describeError(error);
          const prefix = `${notifier.name}: `;
          const problem = redact(message.startsWith(prefix) ? message.slice(prefix.length) : message);
          note(`${notifier.name}: failed: ${problem}`);
          return { notifier: notifier.name, ok: false, problem };
        }
      }),
    );
  } finally {
    await http.close();
  }
}
