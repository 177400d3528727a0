/**
 * GitHub issues through the REST API (github.com, or GitHub Enterprise Server at
 * https://HOST/api/v3): one open issue per image (repository and digest) with new findings at or
 * above the configured severity.
 *
 * Filing is idempotent: every issue it files carries the configured labels and, in its body, a
 * marker naming the image (`<!-- layerwatch:image repository=... digest=... -->`). Before filing,
 * it lists the repository's open issues with those labels (every page, by the Link header), and
 * when the image has one it updates that one instead of filing another: the body's list of open
 * findings (kept, as JSON, in a second comment line of the body) is brought up to date with a
 * PATCH, and a comment names what is new and what is gone, which notifies the issue's watchers.
 *
 * GitHub's rate limits: 429, or 403 with `x-ratelimit-remaining: 0` or a Retry-After, is waited
 * out (Retry-After, else until `x-ratelimit-reset`, else a minute), unless that is longer than the
 * wait allowed, which fails this notifier with the time it could go on.
 */
import { InputError } from "../../errors.js";
import { advisoryUrl } from "../../report/findings.js";
import type { FindingState, ImageChange, RescanChanges } from "../types.js";
import type { GithubNotifierConfig } from "./config.js";
import {
  answerDetail,
  headerValue,
  type NotifyResponse,
  RateLimitedError,
  type ResponseHeaders,
} from "./http.js";
import { atOrAbove, bySeverity, imagesByUrgency, shortDigest } from "./summary.js";
import type { NotifierContext } from "./webhook.js";

/** GitHub refuses an issue or comment body over 65,536 characters. */
const MAX_BODY = 60_000;
/** Findings an issue lists and keeps track of (the rest are counted), so a body stays within GitHub's limit. */
const MAX_ROWS = 150;
/** A label list that pages on past this is a server that never stops. */
const MAX_PAGES = 200;

interface GithubIssue {
  number: number;
  html_url?: string;
  body?: string | null;
  pull_request?: unknown;
}

/** The line that ties an issue to an image; repository names and digests hold no space or "--". */
export function imageMarker(repository: string, digest: string): string {
  return `<!-- layerwatch:image repository=${repository} digest=${digest} -->`;
}

/** What an issue's body remembers of the findings it lists, to keep the list current. */
type TrackedFinding = Pick<
  FindingState,
  "id" | "severity" | "packageName" | "installedVersion" | "fixedVersion" | "summary"
>;

const FINDINGS_MARKER = /<!-- layerwatch:findings (\[[\s\S]*?\]) -->/;

/** The findings an issue's body lists, as a comment GitHub does not show; "--" is escaped to keep the comment whole. */
function findingsComment(findings: readonly TrackedFinding[]): string {
  return `<!-- layerwatch:findings ${JSON.stringify(findings).replace(/--/g, "-\\u002d")} -->`;
}

function trackedFindings(body: string): TrackedFinding[] | undefined {
  const json = FINDINGS_MARKER.exec(body)?.[1];
  if (json === undefined) return undefined;
  try {
    const parsed = JSON.parse(json) as unknown;
    if (!Array.isArray(parsed)) return undefined;
    return parsed.filter(
      (item): item is TrackedFinding =>
        typeof item === "object" &&
        item !== null &&
        typeof item.id === "string" &&
        typeof item.severity === "string" &&
        typeof item.packageName === "string" &&
        typeof item.installedVersion === "string",
    );
  } catch {
    return undefined;
  }
}

const findingKey = (finding: TrackedFinding) =>
  `${finding.id}\u0000${finding.packageName}\u0000${finding.installedVersion}`;

function tracked(finding: TrackedFinding): TrackedFinding {
  return {
    id: finding.id,
    severity: finding.severity,
    packageName: finding.packageName,
    installedVersion: finding.installedVersion,
    ...(finding.fixedVersion ? { fixedVersion: finding.fixedVersion } : {}),
    ...(finding.summary ? { summary: finding.summary.slice(0, 160) } : {}),
  };
}

/** The findings still open: those listed before, less the gone, plus the new, most severe first. */
function currentFindings(
  before: readonly TrackedFinding[],
  added: readonly FindingState[],
  gone: readonly FindingState[],
): TrackedFinding[] {
  const goneKeys = new Set(gone.map(findingKey));
  const current = new Map<string, TrackedFinding>();
  for (const finding of [...before, ...added]) {
    if (!goneKeys.has(findingKey(finding))) current.set(findingKey(finding), tracked(finding));
  }
  return bySeverity([...current.values()]).slice(0, MAX_ROWS);
}

/** The `next` URL of a Link header (`<https://...?page=2>; rel="next", <...>; rel="last"`). */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;(.*)$/.exec(part.trim());
    if (match && /\brel="?([^";]*\s)?next(\s[^";]*)?"?/.test(match[2] ?? "")) return match[1];
  }
  return undefined;
}

/**
 * How long GitHub asks to wait, for a 403 or 429 that is a rate limit (GitHub's docs: Retry-After
 * first, then x-ratelimit-reset when x-ratelimit-remaining is 0, else at least a minute for a
 * secondary limit); undefined for a 403 that is a refusal.
 */
export function githubSlowDown(
  status: number,
  headers: ResponseHeaders,
  now = Date.now(),
): number | undefined {
  if (status !== 403 && status !== 429) return undefined;
  const retryAfter = headerValue(headers, "retry-after");
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  }
  if (headerValue(headers, "x-ratelimit-remaining") === "0") {
    const reset = Number(headerValue(headers, "x-ratelimit-reset"));
    if (Number.isFinite(reset)) return Math.max(0, reset * 1000 - now) + 1000;
  }
  return status === 429 ? 60_000 : undefined;
}

/** Text from advisories in a table cell: no line breaks, no column breaks, and no HTML (a "<!--" would hide the rest). */
function cell(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\|/g, "\\|")
    .replace(/[\r\n]+/g, " ");
}

function findingsTable(findings: readonly TrackedFinding[]): string {
  const sorted = bySeverity(findings);
  const rows = sorted
    .slice(0, MAX_ROWS)
    .map(
      (finding) =>
        `| ${finding.severity} | [${cell(finding.id)}](${advisoryUrl(finding.id)}) | ${cell(finding.packageName)} | ${cell(finding.installedVersion)} | ${cell(finding.fixedVersion ?? "no fix")} | ${cell((finding.summary ?? "").slice(0, 160))} |`,
    );
  const more = sorted.length > MAX_ROWS ? `\n\n…and ${sorted.length - MAX_ROWS} more.` : "";
  return [
    "| Severity | Advisory | Package | Installed | Fixed in | Summary |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  ]
    .join("\n")
    .concat(more);
}

function imageLine(image: ImageChange): string {
  const tags = image.tags.length > 0 ? `; tags ${image.tags.map((tag) => `\`${tag}\``).join(", ")}` : "";
  const platform = image.platform ? ` (${image.platform})` : "";
  return `\`${image.repository}@${image.digest}\`${platform}${tags}`;
}

function bounded(body: string): string {
  return body.length <= MAX_BODY ? body : `${body.slice(0, MAX_BODY)}\n\n…(cut: GitHub's size limit)`;
}

function issueTitle(image: ImageChange, minSeverity: string): string {
  const tag = image.tags[0] ? `:${image.tags[0]}` : "";
  return `Vulnerabilities (${minSeverity} or above) in ${image.repository}${tag} (${shortDigest(image.digest)})`;
}

/** The issue's body: the image, and the findings at or above the threshold still in it. */
function issueBody(
  image: ImageChange,
  current: readonly TrackedFinding[],
  changes: RescanChanges,
  minSeverity: string,
): string {
  const count = `${current.length} vulnerabilit${current.length === 1 ? "y" : "ies"}`;
  const summary =
    current.length > 0
      ? `As of layerwatch's rescan of ${changes.finishedAt}, ${imageLine(image)} has ${count} at ${minSeverity} or above:`
      : `As of layerwatch's rescan of ${changes.finishedAt}, ${imageLine(image)} has no vulnerability at ${minSeverity} or above left: this issue can be closed.`;
  return bounded(
    [
      `${imageMarker(image.repository, image.digest)}\n${findingsComment(current)}`,
      summary,
      ...(current.length > 0 ? [findingsTable(current)] : []),
      `Findings below ${minSeverity} are not listed. layerwatch keeps this list current and comments when later rescans find more in this image or find some gone; it files no other issue for this image while this one is open.`,
    ].join("\n\n"),
  );
}

function updateComment(
  image: ImageChange,
  relevant: FindingState[],
  gone: FindingState[],
  changes: RescanChanges,
) {
  const parts = [`layerwatch's rescan of ${changes.finishedAt}, ${imageLine(image)}:`];
  if (relevant.length > 0) parts.push(`**${relevant.length} new:**`, findingsTable(relevant));
  if (gone.length > 0) {
    parts.push(
      `**No longer found (${gone.length}):** ${bySeverity(gone)
        .map((finding) => `${finding.id} (${finding.packageName})`)
        .join(", ")}`,
    );
  }
  return bounded(parts.join("\n\n"));
}

export async function fileGithubIssues(
  changes: RescanChanges,
  config: GithubNotifierConfig,
  context: NotifierContext,
): Promise<void> {
  const token = context.env[config.tokenEnv];
  if (!token) throw new InputError(`${config.name}: environment variable ${config.tokenEnv} is not set`);
  const images = imagesByUrgency(changes.images)
    .map((image) => ({
      image,
      relevant: atOrAbove(image.newFindings, config.minSeverity),
      gone: atOrAbove(image.goneFindings, config.minSeverity),
    }))
    .filter(({ relevant, gone }) => relevant.length > 0 || gone.length > 0);
  if (images.length === 0) {
    context.note(`${config.name}: no new findings at ${config.minSeverity} or above; nothing to file`);
    return;
  }

  const apiUrl = new URL(`${config.apiUrl}/`);
  const repoUrl = new URL(`repos/${config.repository}/`, apiUrl);
  const headers = {
    authorization: `Bearer ${token}`,
    accept: "application/vnd.github+json",
    "x-github-api-version": "2022-11-28",
  };
  const call = async (what: string, url: URL, method: "GET" | "POST" | "PATCH", payload?: unknown) => {
    const response: NotifyResponse = await context.http.send({
      what: `${config.name}: ${what}`,
      url: url.href,
      method,
      headers: payload === undefined ? headers : { ...headers, "content-type": "application/json" },
      ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
      slowDown: githubSlowDown,
    });
    if (response.status < 200 || response.status >= 300) {
      throw new InputError(`${config.name}: ${what}: HTTP ${response.status}${answerDetail(response.text)}`);
    }
    return response;
  };
  const parse = <T>(what: string, text: string): T => {
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new InputError(`${config.name}: ${what}: the answer is not JSON`);
    }
  };

  // The open issues it filed before, by the marker in their bodies.
  const open = new Map<string, GithubIssue>();
  const listUrl = new URL("issues", repoUrl);
  listUrl.search = new URLSearchParams({
    state: "open",
    labels: config.labels.join(","),
    per_page: "100",
  }).toString();
  let next: URL | undefined = listUrl;
  for (let page = 1; next; page++) {
    if (page > MAX_PAGES)
      throw new InputError(`${config.name}: listing issues: more than ${MAX_PAGES} pages`);
    const response = await call("listing open issues", next, "GET");
    const issues = parse<GithubIssue[]>("listing open issues", response.text);
    if (!Array.isArray(issues)) throw new InputError(`${config.name}: listing open issues: not a list`);
    for (const issue of issues) {
      if (issue.pull_request !== undefined || typeof issue.body !== "string") continue;
      const marker = /<!-- layerwatch:image repository=(\S+) digest=(\S+) -->/.exec(issue.body);
      if (marker) open.set(imageMarker(marker[1] ?? "", marker[2] ?? ""), issue);
    }
    const link = nextLink(headerValue(response.headers, "link"));
    next = link ? new URL(link, next) : undefined;
    // The token goes only where the API is: a next page elsewhere is refused, not followed.
    if (next && next.origin !== apiUrl.origin) {
      throw new InputError(`${config.name}: listing open issues: the next page is on another host`);
    }
  }

  let filed = 0;
  let commented = 0;
  const problems: string[] = [];
  for (const { image, relevant, gone } of images) {
    const marker = imageMarker(image.repository, image.digest);
    const existing = open.get(marker);
    const subject = `${image.repository}@${shortDigest(image.digest)}`;
    try {
      if (existing) {
        // The body's list is brought up to date (an issue filed by hand with the marker has none:
        // it is left as written), then a comment says what changed, which notifies its watchers.
        const before = trackedFindings(existing.body ?? "");
        if (before !== undefined) {
          const body = issueBody(image, currentFindings(before, relevant, gone), changes, config.minSeverity);
          await call(`updating #${existing.number}`, new URL(`issues/${existing.number}`, repoUrl), "PATCH", {
            body,
          });
          existing.body = body;
        }
        await call(
          `commenting on #${existing.number}`,
          new URL(`issues/${existing.number}/comments`, repoUrl),
          "POST",
          {
            body: updateComment(image, relevant, gone, changes),
          },
        );
        commented++;
        context.note(`${config.name}: commented on #${existing.number} for ${subject}`);
      } else if (relevant.length > 0) {
        const response = await call(`filing an issue for ${subject}`, new URL("issues", repoUrl), "POST", {
          title: issueTitle(image, config.minSeverity),
          body: issueBody(image, currentFindings([], relevant, []), changes, config.minSeverity),
          labels: config.labels,
        });
        const issue = parse<GithubIssue>("filing an issue", response.text);
        open.set(marker, issue);
        filed++;
        context.note(`${config.name}: filed #${issue.number} for ${subject}`);
      }
    } catch (error) {
      // A rate limit that outlasts the wait stops the rest too; any other failure is this image's.
      if (error instanceof RateLimitedError) throw error;
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  context.note(`${config.name}: ${filed} issues filed, ${commented} updated`);
  if (problems.length > 0) {
    throw new InputError(
      `${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more images failed)` : ""}`,
    );
  }
}
