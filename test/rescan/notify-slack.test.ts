import { afterEach, describe, expect, it } from "vitest";
import { notifyAll, parseNotifyConfig } from "../../src/rescan/notify/index.js";
import { type SlackBlock, type SlackMessage, slackMessage } from "../../src/rescan/notify/slack.js";
import type { FindingState } from "../../src/rescan/types.js";
import {
  finding,
  imageChange,
  type Receiver,
  rescanChanges,
  startReceiver,
} from "../helpers/notify-receivers.js";

const SLACK_PATH = "/services/T0LW0TEST/B0LW0TEST/xoxwebhooksecretpart0001";

function blockText(block: SlackBlock): string {
  return "text" in block ? block.text.text : block.elements.map((element) => element.text).join("");
}

/** Slack's documented limits, checked on every message (a message over them is refused with a 400). */
function expectWithinSlackLimits(message: SlackMessage): void {
  expect(message.blocks.length).toBeLessThanOrEqual(50);
  expect(message.text.length).toBeLessThanOrEqual(3000);
  for (const block of message.blocks) {
    if (block.type === "header") expect(block.text.text.length).toBeLessThanOrEqual(150);
    if (block.type === "section") expect(block.text.text.length).toBeLessThanOrEqual(3000);
  }
  expect(message.blocks.reduce((sum, block) => sum + blockText(block).length, 0)).toBeLessThanOrEqual(12_000);
}

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe("Slack notifier", () => {
  const changes = rescanChanges(
    [
      imageChange(
        "registry.example/team/web",
        "c",
        ["2.0"],
        [
          finding("CVE-2024-45337", "critical", "golang.org/x/crypto", "0.27.0", "0.31.0"),
          finding("CVE-2023-5678", "low", "openssl", "3.0.11-1"),
        ],
      ),
      imageChange(
        "registry.example/team/api",
        "d",
        ["1.4", "latest"],
        [finding("CVE-2023-4911", "high", "glibc", "2.36-9", "2.36-9+deb12u3")],
        [finding("CVE-2023-0286", "high", "openssl", "3.0.8-1", "3.0.9-1")],
      ),
    ],
    {
      tagsMoved: [
        {
          repository: "registry.example/team/api",
          tag: "latest",
          from: `sha256:${"e".repeat(64)}`,
          to: `sha256:${"d".repeat(64)}`,
        },
      ],
      errors: [{ subject: "registry.example/team/old", problem: "HTTP 401 <unauthorized> & more" }],
    },
  );

  it("posts text plus blocks: a summary, each image with its new critical/high findings and counts, tags moved", async () => {
    receiver = await startReceiver(() => ({ status: 200, body: "ok" }));
    const config = parseNotifyConfig({ slack: { urlEnv: "LW_TEST_SLACK_URL" } }, "test.yaml: notify");
    const notes: string[] = [];
    const results = await notifyAll(changes, config, {
      env: { LW_TEST_SLACK_URL: `${receiver.url}${SLACK_PATH}` },
      onNote: (m) => notes.push(m),
    });
    expect(results).toEqual([{ notifier: "slack", ok: true }]);
    expect(receiver.requests).toHaveLength(1);
    const request = receiver.requests[0]!;
    expect(request.url).toBe(SLACK_PATH);
    expect(request.headers["content-type"]).toBe("application/json");
    const message = JSON.parse(request.body.toString("utf8")) as SlackMessage;
    expectWithinSlackLimits(message);

    expect(message.text).toBe(
      "layerwatch rescan: 2 changed images; new findings: 1 critical, 1 high, 1 low; gone: 1; 1 tag moved; 1 could not be read",
    );
    expect(message.blocks.map((block) => block.type)).toEqual([
      "header",
      "section",
      "section",
      "section",
      "section",
      "section",
    ]);
    const texts = message.blocks.map(blockText);
    // The critical image comes first; the low finding is counted, not named.
    expect(texts[2]).toContain("*registry.example/team/web* `sha256:cccccccccccc`");
    expect(texts[2]).toContain("New: 1 critical, 1 low");
    expect(texts[2]).toContain(
      "<https://osv.dev/vulnerability/CVE-2024-45337|CVE-2024-45337> golang.org/x/crypto 0.27.0 → 0.31.0",
    );
    expect(texts[2]).not.toContain("CVE-2023-5678");
    expect(texts[3]).toContain("*registry.example/team/api*");
    expect(texts[3]).toContain("tags `1.4`, `latest`");
    expect(texts[3]).toContain("New: 1 high · gone: 1 high");
    expect(texts[4]).toBe(
      "*Tags moved*\n• `registry.example/team/api:latest` sha256:eeeeeeeeeeee → sha256:dddddddddddd",
    );
    // mrkdwn's three special characters are escaped in text from outside.
    expect(texts[5]).toBe(
      "*Could not be read*\n• registry.example/team/old: HTTP 401 &lt;unauthorized&gt; &amp; more",
    );
    expect(notes.join("\n")).not.toContain("xoxwebhooksecretpart0001");
  });

  it("stays within Slack's limits with 200 findings in one image, and counts what it leaves out", () => {
    const severities: FindingState["severity"][] = ["critical", "high", "medium", "low"];
    const many = Array.from({ length: 200 }, (_, index) =>
      finding(
        `CVE-2024-${String(10000 + index)}`,
        severities[index % 4]!,
        `libexample${index}`,
        `1.${index}.0-1`,
        `1.${index}.1-1`,
      ),
    );
    const message = slackMessage(
      rescanChanges([imageChange("registry.example/big", "f", ["latest"], many)]),
      {
        minSeverity: "high",
      },
    );
    expectWithinSlackLimits(message);
    const section = blockText(message.blocks[2]!);
    expect(section).toContain("New: 50 critical, 50 high, 50 medium, 50 low");
    const named = section.split("\n").filter((line) => line.startsWith("• "));
    const hidden = Number(/…and (\d+) more at high or above/.exec(section)?.[1]);
    // 100 findings are critical or high: each one is either named or counted as left out.
    expect(named.length).toBeGreaterThan(0);
    expect(named.length + hidden).toBe(100);
    expect(named.every((line) => /^• \*(critical|high)\*/.test(line))).toBe(true);
    expect(named[0]).toContain("*critical*");
  });

  it("stays within 50 blocks with 200 findings over 80 images, and says how many images it left out", () => {
    const images = Array.from({ length: 80 }, (_, index) =>
      imageChange(
        `registry.example/team/svc-${String(index).padStart(2, "0")}`,
        (index % 16).toString(16),
        [`v${index}`],
        [
          finding(`CVE-2025-${20000 + index}`, index < 10 ? "critical" : "high", "zlib", "1.2.13", "1.3.1"),
          ...(index < 40 ? [finding(`CVE-2025-${30000 + index}`, "medium", "curl", "7.88.1")] : []),
        ],
      ),
    );
    expect(images.reduce((sum, image) => sum + image.newFindings.length, 0)).toBe(120);
    const extra = Array.from({ length: 80 }, (_, index) =>
      finding(`GHSA-x${index}`, "high", "lodash", "4.17.20", "4.17.21"),
    );
    images[79]!.newFindings.push(...extra);
    const tagsMoved = Array.from({ length: 40 }, (_, index) => ({
      repository: "registry.example/team/moving",
      tag: `t${index}`,
      from: `sha256:${"1".repeat(64)}`,
      to: `sha256:${"2".repeat(64)}`,
    }));
    const message = slackMessage(rescanChanges(images, { tagsMoved }), { minSeverity: "high" });
    expectWithinSlackLimits(message);
    const imageBlocks = message.blocks.filter((block) =>
      blockText(block).startsWith("*registry.example/team/svc-"),
    );
    const overflow = message.blocks.at(-1)!;
    expect(overflow.type).toBe("context");
    const left = Number(/…and (\d+) more changed images/.exec(blockText(overflow))?.[1]);
    expect(imageBlocks.length + left).toBe(80);
    // The ten images with a critical finding come first.
    expect(blockText(imageBlocks[0]!)).toContain("svc-0");
    expect(imageBlocks.slice(0, 10).every((block) => blockText(block).includes("critical"))).toBe(true);
    const moved = message.blocks.find((block) => blockText(block).startsWith("*Tags moved*"))!;
    expect(
      blockText(moved)
        .split("\n")
        .filter((line) => line.startsWith("• ")),
    ).toHaveLength(15);
    expect(blockText(moved)).toContain("…and 25 more");
  });

  it("reports Slack's refusal, and a literal URL in the config is refused before anything is sent", async () => {
    receiver = await startReceiver(() => ({ status: 400, body: "invalid_blocks" }));
    const config = parseNotifyConfig({ slack: { urlEnv: "LW_TEST_SLACK_URL" } }, "test.yaml: notify");
    const results = await notifyAll(changes, config, {
      env: { LW_TEST_SLACK_URL: `${receiver.url}${SLACK_PATH}` },
    });
    expect(results).toEqual([{ notifier: "slack", ok: false, problem: "HTTP 400: invalid_blocks" }]);
    expect(() =>
      parseNotifyConfig({ slack: { url: `https://hooks.slack.com${SLACK_PATH}` } }, "test.yaml: notify"),
    ).toThrow(
      "test.yaml: notify.slack.url: a Slack webhook URL is a secret; put it in an environment variable and name it in urlEnv",
    );
  });
});
