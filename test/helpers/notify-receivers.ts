/**
 * Real HTTP receivers on 127.0.0.1 for the rescan notifiers' tests: a recorder that answers with
 * scripted statuses (a webhook endpoint, a Slack incoming webhook), and a GitHub issues API
 * (list with state/labels and Link pagination, create, update, comment; Bearer auth; primary
 * rate-limit answers) mounted under a path prefix like GitHub Enterprise Server's /api/v3.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { FindingState, ImageChange, RescanChanges } from "../../src/rescan/types.js";

export interface ReceivedRequest {
  method: string;
  /** The path and query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The body's exact bytes, as a signature covers them. */
  body: Buffer;
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

function reply(response: ServerResponse, answer: Answer): void {
  response.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
  response.end(answer.body ?? "");
}

/** Records every request and answers the n-th (0-based) with `answer(request, n)`. */
export async function startReceiver(
  answer: (request: ReceivedRequest, index: number) => Answer,
): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const received: ReceivedRequest = {
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      requests.push(received);
      reply(response, answer(received, requests.length - 1));
    });
  });
  return { url: await listen(server), requests, close: closer(server) };
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  state: "open" | "closed";
  comments: string[];
  /** Set on pull requests, which GitHub's issues list returns too. */
  pull_request?: { url: string };
}

export interface GithubServer extends Receiver {
  /** The API's base URL, prefix included ("http://127.0.0.1:PORT/api/v3"). */
  apiUrl: string;
  issues: FakeIssue[];
  /** Answer the next `count` requests with a primary rate-limit 403 resetting `resetInSeconds` from then. */
  rateLimitNext(count: number, resetInSeconds: number): void;
}

/**
 * GitHub's issues endpoints for one repository, as documented: GET .../issues with `state`,
 * `labels` (all of them must be on the issue) and `per_page` (at most `maxPerPage` here, 100 at
 * GitHub), answered page by page with a Link header; POST .../issues; PATCH .../issues/N;
 * POST .../issues/N/comments. Every request needs `Authorization: Bearer <token>`.
 */
export async function startGithubServer(options: {
  token: string;
  prefix: string;
  repository: string;
  maxPerPage?: number;
  /** An error message that repeats the Authorization header, as a careless proxy might. */
  echoAuthorizationOnCreate?: boolean;
}): Promise<GithubServer> {
  const issues: FakeIssue[] = [];
  const requests: ReceivedRequest[] = [];
  let rateLimited = 0;
  let resetIn = 0;
  const base = `${options.prefix}/repos/${options.repository}`;
  const maxPerPage = options.maxPerPage ?? 100;
  const json = (status: number, value: unknown, headers: Record<string, string> = {}): Answer => ({
    status,
    headers,
    body: JSON.stringify(value),
  });

  const handle = (request: ReceivedRequest, origin: string): Answer => {
    if (rateLimited > 0) {
      rateLimited--;
      return json(
        403,
        { message: "API rate limit exceeded" },
        {
          "x-ratelimit-limit": "5000",
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000 + resetIn)),
        },
      );
    }
    if (request.headers.authorization !== `Bearer ${options.token}`) {
      return json(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
    }
    const url = new URL(request.url, origin);
    const body =
      request.body.length > 0 ? (JSON.parse(request.body.toString("utf8")) as Record<string, unknown>) : {};
    if (url.pathname === `${base}/issues` && request.method === "GET") {
      const state = url.searchParams.get("state") ?? "open";
      const labels = (url.searchParams.get("labels") ?? "").split(",").filter((label) => label !== "");
      const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 30), maxPerPage);
      const page = Number(url.searchParams.get("page") ?? 1);
      const matching = issues.filter(
        (issue) =>
          (state === "all" || issue.state === state) && labels.every((label) => issue.labels.includes(label)),
      );
      const pages = Math.max(1, Math.ceil(matching.length / perPage));
      const headers: Record<string, string> = {};
      if (page < pages) {
        const next = new URL(url);
        next.searchParams.set("page", String(page + 1));
        const last = new URL(url);
        last.searchParams.set("page", String(pages));
        headers.link = `<${next.href}>; rel="next", <${last.href}>; rel="last"`;
      }
      const items = matching.slice((page - 1) * perPage, page * perPage);
      return json(
        200,
        items.map((issue) => ({
          ...issue,
          labels: issue.labels.map((name) => ({ name })),
          comments: issue.comments.length,
        })),
        headers,
      );
    }
    if (url.pathname === `${base}/issues` && request.method === "POST") {
      if (options.echoAuthorizationOnCreate) {
        return json(422, { message: `Validation Failed for request with ${request.headers.authorization}` });
      }
      if (typeof body.title !== "string" || body.title === "")
        return json(422, { message: "title is missing" });
      const issue: FakeIssue = {
        number: issues.length + 1,
        title: body.title,
        body: typeof body.body === "string" ? body.body : "",
        labels: Array.isArray(body.labels) ? (body.labels as string[]) : [],
        state: "open",
        comments: [],
      };
      issues.push(issue);
      return json(201, { ...issue, html_url: `${origin}/issues/${issue.number}` });
    }
    const single = new RegExp(`^${base}/issues/(\\d+)(/comments)?$`).exec(url.pathname);
    const issue = single ? issues.find((candidate) => candidate.number === Number(single[1])) : undefined;
    if (single && !issue) return json(404, { message: "Not Found" });
    if (issue && single?.[2] && request.method === "POST") {
      if (typeof body.body !== "string" || body.body === "") return json(422, { message: "body is missing" });
      issue.comments.push(body.body);
      return json(201, { id: issue.comments.length, body: body.body });
    }
    if (issue && !single?.[2] && request.method === "PATCH") {
      if (typeof body.body === "string") issue.body = body.body;
      if (typeof body.title === "string") issue.title = body.title;
      if (body.state === "open" || body.state === "closed") issue.state = body.state;
      return json(200, issue);
    }
    return json(404, { message: "Not Found" });
  };

  let origin = "";
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const received: ReceivedRequest = {
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      requests.push(received);
      reply(response, handle(received, origin));
    });
  });
  origin = await listen(server);
  return {
    url: origin,
    apiUrl: `${origin}${options.prefix}`,
    requests,
    issues,
    rateLimitNext(count, resetInSeconds) {
      rateLimited = count;
      resetIn = resetInSeconds;
    },
    close: closer(server),
  };
}

/** A finding as the rescan remembers it, with the fields every notifier shows. */
export function finding(
  id: string,
  severity: FindingState["severity"],
  packageName: string,
  installedVersion: string,
  fixedVersion?: string,
): FindingState {
  return {
    id,
    aliases: [],
    purl: `pkg:deb/debian/${packageName}@${installedVersion}?distro=debian-12`,
    packageName,
    installedVersion,
    ...(fixedVersion ? { fixedVersion } : {}),
    severity,
    summary: `${packageName}: a flaw fixed in ${fixedVersion ?? "no release yet"}`,
  };
}

export function imageChange(
  repository: string,
  digestByte: string,
  tags: string[],
  newFindings: FindingState[],
  goneFindings: FindingState[] = [],
): ImageChange {
  return {
    repository,
    tags,
    digest: `sha256:${digestByte.repeat(64).slice(0, 64)}`,
    firstSeen: false,
    newFindings,
    goneFindings,
  };
}

export function rescanChanges(images: ImageChange[], more: Partial<RescanChanges> = {}): RescanChanges {
  return {
    startedAt: "2026-11-27T06:00:00.000Z",
    finishedAt: "2026-11-27T06:02:13.000Z",
    images,
    tagsMoved: [],
    tagsGone: [],
    counts: { repositories: 3, tags: 7, pulled: 1, rematched: 6, failed: 0 },
    errors: [],
    ...more,
  };
}
