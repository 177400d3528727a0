/**
 * A Slack incoming-webhook message (also taken by Mattermost and Rocket.Chat): `text` for the
 * notification and for clients without blocks, then Block Kit blocks: a summary, one section per
 * changed image (its new findings at or above the configured severity by name, the rest counted),
 * the tags that moved or went, and what could not be read.
 *
 * Slack refuses a message over its limits rather than cutting it (HTTP 400 invalid_blocks), so
 * the message is bounded here: at most 50 blocks, 3,000 characters in a section, 150 in the
 * header, and about 12,000 characters of block text in all; whatever does not fit is counted
 * in a last line.
 */
import { InputError } from "../../errors.js";
import { advisoryUrl } from "../../report/findings.js";
import type { FindingState, ImageChange, RescanChanges } from "../types.js";
import type { SlackNotifierConfig } from "./config.js";
import { answerDetail } from "./http.js";
import {
  atOrAbove,
  bySeverity,
  countBySeverity,
  describeCounts,
  imagesByUrgency,
  shortDigest,
} from "./summary.js";
import { type NotifierContext, urlFromEnv } from "./webhook.js";

export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  headerText: 150,
  /** Slack answers msg_blocks_too_long well below 50 full sections; this stays under what it takes. */
  blocksText: 12_000,
  text: 3000,
  /** Findings named per image; the rest are counted. */
  findingsPerImage: 10,
  /** Lines in the tags-moved, tags-gone and errors sections. */
  linesPerList: 15,
} as const;

interface TextObject {
  type: "mrkdwn" | "plain_text";
  text: string;
}

export type SlackBlock =
  | { type: "header"; text: TextObject }
  | { type: "section"; text: TextObject }
  | { type: "context"; elements: TextObject[] };

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/** Slack's mrkdwn reads &, < and > as markup; everything else is shown as is. */
function mrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function findingLine(finding: FindingState): string {
  const fix = finding.fixedVersion ? ` → ${mrkdwn(finding.fixedVersion)}` : " (no fix)";
  const summary = finding.summary ? `: ${mrkdwn(truncate(finding.summary, 120))}` : "";
  return `• *${finding.severity}* <${advisoryUrl(finding.id)}|${mrkdwn(finding.id)}> ${mrkdwn(finding.packageName)} ${mrkdwn(finding.installedVersion)}${fix}${summary}`;
}

/**
 * Joins lines while they fit in `max` characters; the lines left out, and `alreadyHidden` more,
 * are counted in a last line (`more`), for which room is always kept.
 */
function boundedLines(
  lines: readonly string[],
  max: number,
  alreadyHidden: number,
  more: (hidden: number) => string,
): string {
  const kept: string[] = [];
  let length = 0;
  for (const [index, line] of lines.entries()) {
    const hiddenAfter = lines.length - index - 1 + alreadyHidden;
    const room = hiddenAfter > 0 ? more(hiddenAfter).length + 1 : 0;
    const added = (kept.length > 0 ? 1 : 0) + line.length;
    if (length + added + room > max) {
      kept.push(more(hiddenAfter + 1));
      return kept.join("\n");
    }
    kept.push(line);
    length += added;
  }
  if (alreadyHidden > 0) kept.push(more(alreadyHidden));
  return kept.join("\n");
}

function imageSection(image: ImageChange, minSeverity: SlackNotifierConfig["minSeverity"]): string {
  const tags =
    image.tags.length > 0 ? ` tags ${image.tags.map((tag) => `\`${mrkdwn(tag)}\``).join(", ")}` : "";
  const platform = image.platform ? ` (${mrkdwn(image.platform)})` : "";
  const firstSeen = image.firstSeen ? ", new image" : "";
  const head = truncate(
    `*${mrkdwn(image.repository)}* \`${shortDigest(image.digest)}\`${platform}${firstSeen}${tags}`,
    500,
  );
  const gone =
    image.goneFindings.length > 0 ? ` · gone: ${describeCounts(countBySeverity(image.goneFindings))}` : "";
  const counts = `New: ${describeCounts(countBySeverity(image.newFindings))}${gone}`;
  const named = bySeverity(atOrAbove(image.newFindings, minSeverity));
  const shown = named.slice(0, SLACK_LIMITS.findingsPerImage).map(findingLine);
  const findings = boundedLines(
    shown,
    SLACK_LIMITS.sectionText - head.length - counts.length - 2,
    named.length - shown.length,
    (hidden) => `…and ${hidden} more at ${minSeverity} or above`,
  );
  return [head, counts, ...(findings ? [findings] : [])].join("\n");
}

function listSection(title: string, lines: readonly string[]): string {
  const shown = lines.slice(0, SLACK_LIMITS.linesPerList);
  const body = boundedLines(
    shown,
    SLACK_LIMITS.sectionText - title.length - 3,
    lines.length - shown.length,
    (hidden) => `…and ${hidden} more`,
  );
  return `*${title}*\n${body}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function summaryLine(changes: RescanChanges): string {
  const newFindings = changes.images.flatMap((image) => image.newFindings);
  const goneFindings = changes.images.flatMap((image) => image.goneFindings);
  const parts = [plural(changes.images.length, "changed image")];
  if (newFindings.length > 0) parts.push(`new findings: ${describeCounts(countBySeverity(newFindings))}`);
  if (goneFindings.length > 0) parts.push(`gone: ${goneFindings.length}`);
  if (changes.tagsMoved.length > 0) parts.push(`${plural(changes.tagsMoved.length, "tag")} moved`);
  if (changes.tagsGone.length > 0) parts.push(`${plural(changes.tagsGone.length, "tag")} gone`);
  if (changes.errors.length > 0) parts.push(`${changes.errors.length} could not be read`);
  return parts.join("; ");
}

/** The message for a rescan's changes, within Slack's limits. */
export function slackMessage(
  changes: RescanChanges,
  config: Pick<SlackNotifierConfig, "minSeverity">,
): SlackMessage {
  const { counts } = changes;
  const summary = summaryLine(changes);
  const text = truncate(`layerwatch rescan: ${summary}`, SLACK_LIMITS.text);
  const scope =
    `Rescanned ${counts.repositories} repositories, ${counts.tags} tags (${counts.pulled} pulled, ` +
    `${counts.rematched} re-matched, ${counts.failed} failed), ${changes.startedAt} to ${changes.finishedAt}.`;

  const head: SlackBlock[] = [
    {
      type: "header",
      text: { type: "plain_text", text: truncate("layerwatch rescan", SLACK_LIMITS.headerText) },
    },
    {
      type: "section",
      text: { type: "mrkdwn", text: truncate(`${mrkdwn(summary)}\n${scope}`, SLACK_LIMITS.sectionText) },
    },
  ];
  const tail: SlackBlock[] = [];
  const section = (text: string): SlackBlock => ({ type: "section", text: { type: "mrkdwn", text } });
  if (changes.tagsMoved.length > 0) {
    const lines = changes.tagsMoved.map(
      (move) =>
        `• \`${mrkdwn(move.repository)}:${mrkdwn(move.tag)}\` ${shortDigest(move.from)} → ${shortDigest(move.to)}`,
    );
    tail.push(section(listSection("Tags moved", lines)));
  }
  if (changes.tagsGone.length > 0) {
    const lines = changes.tagsGone.map(
      (gone) => `• \`${mrkdwn(gone.repository)}:${mrkdwn(gone.tag)}\` was ${shortDigest(gone.digest)}`,
    );
    tail.push(section(listSection("Tags gone", lines)));
  }
  if (changes.errors.length > 0) {
    const lines = changes.errors.map(
      (error) => `• ${mrkdwn(error.subject)}: ${mrkdwn(truncate(error.problem, 300))}`,
    );
    tail.push(section(listSection("Could not be read", lines)));
  }

  const size = (blocks: readonly SlackBlock[]) =>
    blocks.reduce(
      (sum, block) =>
        sum +
        ("text" in block ? block.text.text.length : block.elements.reduce((s, e) => s + e.text.length, 0)),
      0,
    );
  // One block is kept for the line that counts the images left out.
  const roomForImages = SLACK_LIMITS.blocks - head.length - tail.length - 1;
  let textLeft = SLACK_LIMITS.blocksText - size(head) - size(tail) - 200;
  const images: SlackBlock[] = [];
  const ordered = imagesByUrgency(changes.images);
  for (const image of ordered) {
    if (images.length >= roomForImages) break;
    const text = imageSection(image, config.minSeverity);
    if (text.length > textLeft) break;
    textLeft -= text.length;
    images.push(section(text));
  }
  const left = ordered.length - images.length;
  const overflow: SlackBlock[] =
    left > 0
      ? [
          {
            type: "context",
            elements: [
              {
                type: "mrkdwn",
                text: `…and ${left} more changed image${left === 1 ? "" : "s"}, not shown (Slack's message size limits); the webhook or the rescan's JSON lists them all.`,
              },
            ],
          },
        ]
      : [];
  return { text, blocks: [...head, ...images, ...tail, ...overflow] };
}

export async function sendSlack(
  changes: RescanChanges,
  config: SlackNotifierConfig,
  context: NotifierContext,
): Promise<void> {
  const url = urlFromEnv(config.urlEnv, context.env, config.name);
  const message = slackMessage(changes, config);
  const response = await context.http.send({
    what: config.name,
    url: url.href,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(message),
  });
  if (response.status < 200 || response.status >= 300) {
    throw new InputError(`${config.name}: HTTP ${response.status}${answerDetail(response.text)}`);
  }
  context.note(`${config.name}: posted (${message.blocks.length} blocks)`);
}
