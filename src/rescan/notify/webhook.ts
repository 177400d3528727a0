/**
 * A generic webhook: the rescan's changes POSTed as JSON, signed the way GitHub signs its
 * webhooks, so a receiver can reuse code that verifies those:
 *
 *   X-Layerwatch-Signature-256: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by the secret>
 *
 * Only the body is signed. It holds `deliveryId` and `sentAt`, so both are covered: a receiver
 * rejects a body whose `sentAt` is too old and a `deliveryId` it has seen (a replay). The
 * X-Layerwatch-Delivery and X-Layerwatch-Timestamp headers repeat them for logs and routing
 * without parsing the body; on their own they prove nothing. A retry sends the same bytes.
 */
import { createHmac, randomUUID } from "node:crypto";
import { InputError } from "../../errors.js";
import { toolVersion } from "../../version.js";
import type { RescanChanges } from "../types.js";
import type { WebhookNotifierConfig } from "./config.js";
import { answerDetail, type NotifyHttp } from "./http.js";

export const SIGNATURE_HEADER = "X-Layerwatch-Signature-256";
export const DELIVERY_HEADER = "X-Layerwatch-Delivery";
export const TIMESTAMP_HEADER = "X-Layerwatch-Timestamp";
export const EVENT_HEADER = "X-Layerwatch-Event";

/** What a webhook receives. `version` changes only when a field changes meaning or goes away. */
export interface WebhookPayload {
  event: "rescan";
  version: 1;
  deliveryId: string;
  /** When the delivery was first attempted (ISO 8601, UTC). */
  sentAt: string;
  tool: { name: "layerwatch"; version: string };
  changes: RescanChanges;
}

/** The signature header's value for a body. */
export function signBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface NotifierContext {
  http: NotifyHttp;
  env: NodeJS.ProcessEnv;
  note: (message: string) => void;
}

/** Reads a URL from the environment; a bad value is not repeated (it may be the secret). */
export function urlFromEnv(name: string, env: NodeJS.ProcessEnv, notifier: string): URL {
  const value = env[name];
  if (!value) throw new InputError(`${notifier}: environment variable ${name} is not set`);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new InputError(`${notifier}: environment variable ${name} does not hold a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InputError(`${notifier}: environment variable ${name} does not hold an http or https URL`);
  }
  return url;
}

export async function sendWebhook(
  changes: RescanChanges,
  config: WebhookNotifierConfig,
  context: NotifierContext,
): Promise<void> {
  const url = config.url ? new URL(config.url) : urlFromEnv(config.urlEnv ?? "", context.env, config.name);
  let secret: string | undefined;
  if (config.secretEnv) {
    secret = context.env[config.secretEnv];
    if (!secret) throw new InputError(`${config.name}: environment variable ${config.secretEnv} is not set`);
  }
  const sentAt = new Date();
  const payload: WebhookPayload = {
    event: "rescan",
    version: 1,
    deliveryId: randomUUID(),
    sentAt: sentAt.toISOString(),
    tool: { name: "layerwatch", version: toolVersion },
    changes,
  };
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    [EVENT_HEADER]: payload.event,
    [DELIVERY_HEADER]: payload.deliveryId,
    [TIMESTAMP_HEADER]: String(Math.floor(sentAt.getTime() / 1000)),
    ...(secret ? { [SIGNATURE_HEADER]: signBody(body, secret) } : {}),
  };
  const response = await context.http.send({
    what: config.name,
    url: url.href,
    method: "POST",
    headers,
    body,
  });
  if (response.status < 200 || response.status >= 300) {
    throw new InputError(`${config.name}: HTTP ${response.status}${answerDetail(response.text)}`);
  }
  context.note(
    `${config.name}: delivered ${payload.deliveryId} (${changes.images.length} changed images, HTTP ${response.status})`,
  );
}
