import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { type NotifyConfig, notifyAll, parseNotifyConfig } from "../../src/rescan/notify/index.js";
import type { WebhookPayload } from "../../src/rescan/notify/webhook.js";
import {
  finding,
  imageChange,
  type Receiver,
  rescanChanges,
  startReceiver,
} from "../helpers/notify-receivers.js";

const SECRET = "whsec-3f9a1c0d7e5b4a2f8c6d";

/**
 * What a receiver does, written from the documented scheme and not from the code under test:
 * HMAC-SHA256 of the raw body bytes with the shared secret, hex, after "sha256=", compared in
 * constant time.
 */
function verifies(body: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== "string" || !header.startsWith("sha256=")) return false;
  const expected = Buffer.from(createHmac("sha256", secret).update(body).digest("hex"), "utf8");
  const given = Buffer.from(header.slice("sha256=".length), "utf8");
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The receiver's check as README.md shows it, taken from the README and run as written. */
function readmeVerifier(): (rawBody: Buffer, header: unknown, secret: string) => WebhookPayload | undefined {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const snippet =
    /```js\n((?: {2})?import \{ createHmac, timingSafeEqual \} from "node:crypto";\n[\s\S]*?function verifyLayerwatch[\s\S]*?)\s*```/.exec(
      readme,
    )?.[1];
  if (!snippet) throw new Error("README.md has no verifyLayerwatch snippet");
  const body = snippet.replace(/^\s*import .*\n/, "").replace(/^ {2}/gm, "");
  return new Function("createHmac", "timingSafeEqual", `${body}\nreturn verifyLayerwatch;`)(
    createHmac,
    timingSafeEqual,
  ) as ReturnType<typeof readmeVerifier>;
}

const changes = rescanChanges(
  [
    imageChange(
      "127.0.0.1:5000/team/api",
      "a",
      ["1.4", "latest"],
      [
        finding("CVE-2023-0286", "high", "openssl", "3.0.8-1", "3.0.9-1"),
        finding("CVE-2023-4911", "high", "glibc", "2.36-9", "2.36-9+deb12u3"),
      ],
    ),
  ],
  {
    tagsMoved: [
      {
        repository: "127.0.0.1:5000/team/api",
        tag: "latest",
        from: `sha256:${"b".repeat(64)}`,
        to: `sha256:${"a".repeat(64)}`,
      },
    ],
  },
);

function webhookConfig(url: string, extra: Record<string, unknown> = {}): NotifyConfig {
  return parseNotifyConfig(
    { webhook: { url, secretEnv: "LW_TEST_WEBHOOK_SECRET", ...extra }, retries: 2 },
    "test.yaml: notify",
  );
}

const env = { LW_TEST_WEBHOOK_SECRET: SECRET };
let receiver: Receiver | undefined;

afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe("webhook notifier", () => {
  it("POSTs the changes as JSON whose signature verifies with the secret and not with another", async () => {
    receiver = await startReceiver(() => ({ status: 204 }));
    const notes: string[] = [];
    const results = await notifyAll(changes, webhookConfig(`${receiver.url}/hooks/layerwatch?team=a`), {
      env,
      onNote: (message) => notes.push(message),
    });
    expect(results).toEqual([{ notifier: `webhook 127.0.0.1:${new URL(receiver.url).port}`, ok: true }]);
    expect(receiver.requests).toHaveLength(1);
    const request = receiver.requests[0]!;
    expect(request.method).toBe("POST");
    expect(request.url).toBe("/hooks/layerwatch?team=a");
    expect(request.headers["content-type"]).toBe("application/json");

    const signature = request.headers["x-layerwatch-signature-256"];
    expect(verifies(request.body, signature, SECRET)).toBe(true);
    expect(verifies(request.body, signature, "another-secret-of-some-length")).toBe(false);
    // One changed byte in the body and the signature no longer verifies.
    const tampered = Buffer.from(request.body);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 2) ^ 1, tampered.length - 2);
    expect(verifies(tampered, signature, SECRET)).toBe(false);

    // The README's receiver code accepts it, and refuses another secret or a tampered body.
    const readmeCheck = readmeVerifier();
    expect(readmeCheck(request.body, signature, SECRET)?.deliveryId).toBe(
      request.headers["x-layerwatch-delivery"],
    );
    expect(readmeCheck(request.body, signature, "another-secret-of-some-length")).toBeUndefined();
    expect(readmeCheck(tampered, signature, SECRET)).toBeUndefined();

    const payload = JSON.parse(request.body.toString("utf8")) as WebhookPayload;
    expect(payload.event).toBe("rescan");
    expect(payload.version).toBe(1);
    expect(payload.changes).toEqual(changes);
    // The delivery id and time are in the signed body; the headers repeat them.
    expect(request.headers["x-layerwatch-delivery"]).toBe(payload.deliveryId);
    expect(payload.deliveryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(request.headers["x-layerwatch-timestamp"])).toBe(
      Math.floor(Date.parse(payload.sentAt) / 1000),
    );
    expect(Math.abs(Date.parse(payload.sentAt) - Date.now())).toBeLessThan(60_000);
    expect(notes.join("\n")).not.toContain(SECRET);
  });

  it("tries again after a 500 and delivers the same bytes with the same delivery id", async () => {
    receiver = await startReceiver((_request, index) =>
      index === 0 ? { status: 500, body: "upstream down" } : { status: 200, body: "ok" },
    );
    const notes: string[] = [];
    const results = await notifyAll(changes, webhookConfig(receiver.url), {
      env,
      onNote: (m) => notes.push(m),
    });
    expect(results[0]).toMatchObject({ ok: true });
    expect(receiver.requests).toHaveLength(2);
    const [first, second] = receiver.requests;
    expect(second!.body.equals(first!.body)).toBe(true);
    expect(second!.headers["x-layerwatch-delivery"]).toBe(first!.headers["x-layerwatch-delivery"]);
    expect(verifies(second!.body, second!.headers["x-layerwatch-signature-256"], SECRET)).toBe(true);
    expect(notes.some((note) => /HTTP 500; retrying in \d+ ms/.test(note))).toBe(true);
  });

  it("waits as long as a 429's Retry-After says", async () => {
    receiver = await startReceiver((_request, index) =>
      index === 0 ? { status: 429, headers: { "retry-after": "2" } } : { status: 202 },
    );
    const results = await notifyAll(changes, webhookConfig(receiver.url), { env });
    expect(results[0]).toMatchObject({ ok: true });
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(1900);
  });

  it("gives up after its retries with the status in the problem, and other notifiers still send", async () => {
    receiver = await startReceiver(() => ({ status: 503, headers: { "retry-after": "0" } }));
    const other = await startReceiver(() => ({ status: 200 }));
    try {
      const config = parseNotifyConfig(
        {
          webhook: [
            { name: "failing", url: receiver.url, secretEnv: "LW_TEST_WEBHOOK_SECRET" },
            { name: "working", url: other.url },
          ],
          retries: 1,
        },
        "test.yaml: notify",
      );
      const results = await notifyAll(changes, config, { env });
      expect(results).toEqual([
        { notifier: "failing", ok: false, problem: "HTTP 503 (after 2 attempts)" },
        { notifier: "working", ok: true },
      ]);
      expect(receiver.requests).toHaveLength(2);
      expect(other.requests).toHaveLength(1);
      // Without a secret, a delivery is not signed.
      expect(other.requests[0]!.headers["x-layerwatch-signature-256"]).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it("still sends once for a rescan told to stop, but tries nothing again", async () => {
    receiver = await startReceiver((_request, index) =>
      index === 0 ? { status: 200 } : { status: 503, headers: { "retry-after": "30" } },
    );
    const stopped = new AbortController();
    stopped.abort(new Error("stopped by SIGTERM"));
    const delivered = await notifyAll(changes, webhookConfig(receiver.url), { env, signal: stopped.signal });
    expect(delivered).toEqual([{ notifier: expect.any(String), ok: true }]);
    expect(receiver.requests).toHaveLength(1);
    const started = Date.now();
    const refused = await notifyAll(changes, webhookConfig(receiver.url), { env, signal: stopped.signal });
    expect(refused).toEqual([
      { notifier: expect.any(String), ok: false, problem: "HTTP 503; not tried again: stopping" },
    ]);
    expect(receiver.requests).toHaveLength(2);
    // The 30 s Retry-After was not waited out.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("sends nothing when nothing changed, unless sendWhenUnchanged", async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    const quiet = rescanChanges([]);
    const notes: string[] = [];
    expect(
      await notifyAll(quiet, webhookConfig(receiver.url), { env, onNote: (m) => notes.push(m) }),
    ).toEqual([{ notifier: expect.stringMatching(/^webhook /), ok: true }]);
    expect(receiver.requests).toHaveLength(0);
    expect(notes.join("\n")).toMatch(/nothing changed; not sent/);
    await notifyAll(quiet, webhookConfig(receiver.url, { sendWhenUnchanged: true }), { env });
    expect(receiver.requests).toHaveLength(1);
    expect((JSON.parse(receiver.requests[0]!.body.toString()) as WebhookPayload).changes.images).toEqual([]);
  });

  it("says which variable is unset, and reads the URL from the environment without ever writing it", async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    const missing = await notifyAll(changes, webhookConfig(receiver.url), { env: {} });
    expect(missing).toEqual([
      {
        notifier: expect.any(String),
        ok: false,
        problem: "environment variable LW_TEST_WEBHOOK_SECRET is not set",
      },
    ]);
    const hookUrl = `${receiver.url}/T000/B000/s3cr3t-path-token`;
    const config = parseNotifyConfig(
      { webhook: { urlEnv: "LW_TEST_HOOK_URL", secretEnv: "LW_TEST_WEBHOOK_SECRET" } },
      "x",
    );
    const notes: string[] = [];
    const results = await notifyAll(changes, config, {
      env: { ...env, LW_TEST_HOOK_URL: hookUrl },
      onNote: (m) => notes.push(m),
    });
    expect(results).toEqual([{ notifier: "webhook $LW_TEST_HOOK_URL", ok: true }]);
    expect(receiver.requests.at(-1)!.url).toBe("/T000/B000/s3cr3t-path-token");
    expect(notes.join("\n")).not.toContain("s3cr3t-path-token");
  });
});
