import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { InputError } from "../../src/errors.js";
import { missingNotifyEnv, parseNotifyConfig } from "../../src/rescan/notify/index.js";

const WHERE = "/etc/layerwatch/layerwatch.yaml: notify";

function notifySection(yamlText: string): unknown {
  return (parse(yamlText) as { notify?: unknown }).notify;
}

function problem(yamlText: string): string {
  try {
    parseNotifyConfig(notifySection(yamlText), WHERE);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  throw new Error("no error");
}

describe("the notify: section", () => {
  it("reads every notifier kind, one or a list of each, with defaults", () => {
    const config = parseNotifyConfig(
      notifySection(`
notify:
  timeoutSeconds: 20
  webhook:
    - url: https://hooks.example.com/layerwatch
      secretEnv: LAYERWATCH_WEBHOOK_SECRET
    - name: audit
      urlEnv: AUDIT_HOOK_URL
      sendWhenUnchanged: true
  slack:
    urlEnv: LAYERWATCH_SLACK_WEBHOOK_URL
    minSeverity: Critical
  github:
    repository: acme/security
    apiUrl: https://ghe.example/api/v3/
    tokenEnv: LAYERWATCH_GITHUB_TOKEN
`),
      WHERE,
    );
    expect(config).toEqual({
      timeoutSeconds: 20,
      retries: 3,
      notifiers: [
        {
          kind: "webhook",
          name: "webhook hooks.example.com",
          url: "https://hooks.example.com/layerwatch",
          secretEnv: "LAYERWATCH_WEBHOOK_SECRET",
          sendWhenUnchanged: false,
        },
        { kind: "webhook", name: "audit", urlEnv: "AUDIT_HOOK_URL", sendWhenUnchanged: true },
        {
          kind: "slack",
          name: "slack",
          urlEnv: "LAYERWATCH_SLACK_WEBHOOK_URL",
          minSeverity: "critical",
          sendWhenUnchanged: false,
        },
        {
          kind: "github",
          name: "github acme/security",
          repository: "acme/security",
          apiUrl: "https://ghe.example/api/v3",
          tokenEnv: "LAYERWATCH_GITHUB_TOKEN",
          labels: ["layerwatch"],
          minSeverity: "high",
        },
      ],
    });
    expect(missingNotifyEnv(config, { LAYERWATCH_GITHUB_TOKEN: "t", AUDIT_HOOK_URL: "" })).toEqual([
      "LAYERWATCH_WEBHOOK_SECRET",
      "AUDIT_HOOK_URL",
      "LAYERWATCH_SLACK_WEBHOOK_URL",
    ]);
    expect(parseNotifyConfig(undefined, WHERE)).toEqual({ notifiers: [], timeoutSeconds: 30, retries: 3 });
  });

  it("names the file, the field and the problem", () => {
    expect(problem("notify:\n  slak:\n    urlEnv: X\n")).toBe(
      `${WHERE}: unknown field "slak" (known: webhook, slack, github, timeoutSeconds, retries)`,
    );
    expect(problem("notify:\n  webhook:\n    - url: https://a.example\n      secret: abc\n")).toBe(
      `${WHERE}.webhook[0]: unknown field "secret" (known: name, url, urlEnv, secretEnv, sendWhenUnchanged)`,
    );
    expect(problem("notify:\n  webhook:\n    url: ftp://a.example/x\n")).toBe(
      `${WHERE}.webhook.url: must be an http or https URL`,
    );
    expect(problem("notify:\n  webhook:\n    secretEnv: S\n")).toBe(
      `${WHERE}.webhook: give either url or urlEnv (the variable holding the URL)`,
    );
    expect(problem("notify:\n  github:\n    repository: security\n    tokenEnv: T\n")).toBe(
      `${WHERE}.github.repository: must be "owner/name"`,
    );
    expect(problem("notify:\n  github:\n    repository: a/b\n")).toBe(
      `${WHERE}.github.tokenEnv: missing (the variable holding the token)`,
    );
    expect(problem("notify:\n  slack:\n    urlEnv: S\n    minSeverity: severe\n")).toBe(
      `${WHERE}.slack.minSeverity: must be one of unknown, low, medium, high, critical`,
    );
    expect(
      problem(
        "notify:\n  github:\n    repository: a/b\n    tokenEnv: T\n    apiUrl: http://ghe.example/api/v3\n",
      ),
    ).toBe(`${WHERE}.github.apiUrl: must be https (the token would cross the network unencrypted)`);
    expect(problem("notify:\n  retries: 50\n")).toBe(`${WHERE}.retries: must be a whole number from 0 to 10`);
    expect(
      problem("notify:\n  webhook:\n    - url: https://a.example\n    - url: https://a.example/other\n"),
    ).toBe(`${WHERE}: two notifiers are named "webhook a.example"; give each its own name`);
    expect(problem("notify: [1]\n")).toBe(`${WHERE}: must be a mapping (webhook:, slack:, github:)`);
  });

  it("never repeats a value that may be the secret itself, put where a variable's name belongs", () => {
    const slackUrl = "https://hooks.slack.com/services/T000/B000/abcdefSECRETpart";
    const message = problem(`notify:\n  slack:\n    urlEnv: ${slackUrl}\n`);
    expect(message).toBe(
      `${WHERE}.slack.urlEnv: must name an environment variable (capital letters, digits and _), not hold the secret itself`,
    );
    expect(message).not.toContain("SECRETpart");
    const token = "ghp_0123456789abcdefTOKEN";
    expect(problem(`notify:\n  github:\n    repository: a/b\n    tokenEnv: "${token} "\n`)).not.toContain(
      token,
    );
    expect(problem("notify:\n  webhook:\n    url: https://user:hunter2secret@hooks.example/x\n")).toBe(
      `${WHERE}.webhook.url: must not hold a user or password; use the environment`,
    );
  });
});
