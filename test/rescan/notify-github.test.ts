import { afterEach, describe, expect, it } from "vitest";
import { githubSlowDown, nextLink } from "../../src/rescan/notify/github.js";
import { type NotifyConfig, notifyAll, parseNotifyConfig } from "../../src/rescan/notify/index.js";
import {
  type FakeIssue,
  finding,
  type GithubServer,
  imageChange,
  rescanChanges,
  startGithubServer,
} from "../helpers/notify-receivers.js";

const TOKEN = "ghp_LwTestToken0123456789abcdefABCDEF0123";
const REPOSITORY = "acme/security";
const env = { LW_TEST_GITHUB_TOKEN: TOKEN };

function config(apiUrl: string, extra: Record<string, unknown> = {}): NotifyConfig {
  return parseNotifyConfig(
    { github: { repository: REPOSITORY, apiUrl, tokenEnv: "LW_TEST_GITHUB_TOKEN", ...extra }, retries: 2 },
    "test.yaml: notify",
  );
}

const digestOf = (byte: string) => `sha256:${byte.repeat(64)}`;
const marker = (repository: string, byte: string) =>
  `<!-- layerwatch:image repository=${repository} digest=${digestOf(byte)} -->`;

/** Issues and pull requests others filed under the same label, enough for three pages of 100. */
function seedOthers(server: GithubServer): void {
  for (let index = 0; index < 230; index++) {
    server.issues.push({
      number: server.issues.length + 1,
      title: `Someone else's issue ${index}`,
      body: index === 7 ? "mentions layerwatch:image but is no marker" : `body ${index}`,
      labels: ["layerwatch"],
      state: "open",
      comments: [],
      ...(index % 50 === 0 ? { pull_request: { url: "https://example/pr" } } : {}),
    });
  }
}

let server: GithubServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("GitHub issues notifier", () => {
  const api = "registry.example/team/api";
  const web = "registry.example/team/web";
  const worker = "registry.example/team/worker";
  const firstRescan = rescanChanges([
    imageChange(
      api,
      "a",
      ["1.4", "latest"],
      [
        finding("CVE-2023-0286", "high", "openssl", "3.0.8-1", "3.0.9-1"),
        finding("CVE-2023-38545", "critical", "curl", "7.88.1-10", "7.88.1-10+deb12u3"),
        finding("CVE-2023-5678", "low", "openssl", "3.0.8-1", "3.0.13-1"),
      ],
    ),
    imageChange(web, "b", ["2.0"], [finding("CVE-2023-4911", "high", "glibc", "2.36-9", "2.36-9+deb12u3")]),
    imageChange(
      worker,
      "c",
      ["5"],
      [
        finding("CVE-2023-50495", "medium", "ncurses", "6.4-4"),
        finding("CVE-2024-2511", "low", "openssl", "3.0.11-1"),
      ],
    ),
  ]);

  it("files one issue per image with new critical/high findings, then updates it instead of filing another (GHE path prefix)", async () => {
    server = await startGithubServer({ token: TOKEN, prefix: "/api/v3", repository: REPOSITORY });
    seedOthers(server);
    // A closed issue for the same image is history: a new one is filed.
    server.issues.push({
      number: server.issues.length + 1,
      title: "old",
      body: `${marker(api, "a")}\nfixed last year`,
      labels: ["layerwatch"],
      state: "closed",
      comments: [],
    });
    const before = server.issues.length;
    const notes: string[] = [];
    const results = await notifyAll(firstRescan, config(server.apiUrl), {
      env,
      onNote: (m) => notes.push(m),
    });
    expect(results).toEqual([{ notifier: `github ${REPOSITORY}`, ok: true }]);

    const filed = server.issues.slice(before);
    expect(filed).toHaveLength(2);
    const apiIssue = filed.find((issue) => issue.body.includes(marker(api, "a")))!;
    const webIssue = filed.find((issue) => issue.body.includes(marker(web, "b")))!;
    expect(apiIssue).toBeDefined();
    expect(webIssue).toBeDefined();
    expect(apiIssue.labels).toEqual(["layerwatch"]);
    expect(apiIssue.title).toBe(`Vulnerabilities (high or above) in ${api}:1.4 (sha256:aaaaaaaaaaaa)`);
    expect(apiIssue.body).toContain(
      "| critical | [CVE-2023-38545](https://osv.dev/vulnerability/CVE-2023-38545) | curl | 7.88.1-10 | 7.88.1-10+deb12u3 |",
    );
    expect(apiIssue.body).toContain("| high | [CVE-2023-0286]");
    expect(apiIssue.body.indexOf("CVE-2023-38545")).toBeLessThan(apiIssue.body.indexOf("CVE-2023-0286"));
    expect(apiIssue.body).not.toContain("CVE-2023-5678");
    expect(apiIssue.body).toContain(
      `As of layerwatch's rescan of ${firstRescan.finishedAt}, \`${api}@${digestOf("a")}\`; tags \`1.4\`, \`latest\` has 2 vulnerabilities at high or above:`,
    );
    // A bare "--" would end the HTML comment the list is kept in.
    expect(apiIssue.body).toContain("<!-- layerwatch:findings [");
    expect(apiIssue.body.match(/<!--[\s\S]*?-->/g)).toHaveLength(2);
    expect(server.issues.some((issue) => issue.body.includes(worker))).toBe(false);

    // Every request went under the prefix with GitHub's headers; the listing followed the Link pages.
    for (const request of server.requests) {
      expect(request.url.startsWith(`/api/v3/repos/${REPOSITORY}/issues`)).toBe(true);
      expect(request.headers.accept).toBe("application/vnd.github+json");
      expect(request.headers["x-github-api-version"]).toBe("2022-11-28");
      expect(request.headers["user-agent"]).toMatch(/^layerwatch\//);
    }
    const listings = server.requests.filter((request) => request.method === "GET");
    expect(listings.map((request) => new URL(request.url, server!.url).searchParams.get("page"))).toEqual([
      null,
      "2",
      "3",
    ]);
    expect(new URL(listings[0]!.url, server.url).searchParams.get("labels")).toBe("layerwatch");
    expect(new URL(listings[0]!.url, server.url).searchParams.get("state")).toBe("open");

    // The second rescan: one more critical finding in the api image, and its high one gone.
    const requestsBefore = server.requests.length;
    const secondRescan = rescanChanges([
      imageChange(
        api,
        "a",
        ["1.4", "latest"],
        [
          {
            ...finding("CVE-2024-6119", "critical", "openssl", "3.0.8-1", "3.0.14-1"),
            // Advisory text that would end, or open, an HTML comment if written as is.
            summary: "X.509 name checks --> read past the end <!-- of a buffer | really",
          },
        ],
        [finding("CVE-2023-0286", "high", "openssl", "3.0.8-1", "3.0.9-1")],
      ),
    ]);
    const again = await notifyAll(secondRescan, config(server.apiUrl), { env, onNote: (m) => notes.push(m) });
    expect(again).toEqual([{ notifier: `github ${REPOSITORY}`, ok: true }]);
    expect(server.issues).toHaveLength(before + 2);
    expect(apiIssue.comments).toHaveLength(1);
    expect(apiIssue.comments[0]).toContain("**1 new:**");
    expect(apiIssue.comments[0]).toContain("[CVE-2024-6119](https://osv.dev/vulnerability/CVE-2024-6119)");
    expect(apiIssue.comments[0]).toContain("**No longer found (1):** CVE-2023-0286 (openssl)");
    expect(webIssue.comments).toHaveLength(0);
    // The body's list is brought up to date: the gone finding out, the new one in, the rest kept.
    const sent = server.requests.slice(requestsBefore).filter((request) => request.method !== "GET");
    expect(sent.map((request) => `${request.method} ${request.url}`)).toEqual([
      `PATCH /api/v3/repos/${REPOSITORY}/issues/${apiIssue.number}`,
      `POST /api/v3/repos/${REPOSITORY}/issues/${apiIssue.number}/comments`,
    ]);
    const rows = apiIssue.body.split("\n").filter((line) => /^\| (critical|high) \|/.test(line));
    expect(rows.map((row) => /\[([^\]]+)\]/.exec(row)?.[1])).toEqual(["CVE-2023-38545", "CVE-2024-6119"]);
    expect(apiIssue.body).toContain("has 2 vulnerabilities at high or above:");
    expect(apiIssue.body).toContain(`As of layerwatch's rescan of ${secondRescan.finishedAt}`);
    expect(apiIssue.body.startsWith(marker(api, "a"))).toBe(true);
    expect(apiIssue.body.match(/<!--[\s\S]*?-->/g)).toHaveLength(2);
    expect(apiIssue.body).toContain(
      "X.509 name checks --&gt; read past the end &lt;!-- of a buffer \\| really |",
    );

    // Both gone a rescan later: the list says so, and the issue is left for people to close.
    const thirdRescan = rescanChanges(
      [
        imageChange(
          api,
          "a",
          ["1.4"],
          [],
          [
            finding("CVE-2023-38545", "critical", "curl", "7.88.1-10", "7.88.1-10+deb12u3"),
            finding("CVE-2024-6119", "critical", "openssl", "3.0.8-1", "3.0.14-1"),
          ],
        ),
      ],
      { finishedAt: "2026-11-28T06:01:00.000Z" },
    );
    expect(await notifyAll(thirdRescan, config(server.apiUrl), { env })).toEqual([
      { notifier: `github ${REPOSITORY}`, ok: true },
    ]);
    expect(apiIssue.body).toContain("has no vulnerability at high or above left: this issue can be closed.");
    expect(apiIssue.body).not.toContain("| critical |");
    expect(apiIssue.state).toBe("open");
    expect(apiIssue.comments[1]).toContain(
      "**No longer found (2):** CVE-2023-38545 (curl), CVE-2024-6119 (openssl)",
    );
    expect(server.issues).toHaveLength(before + 2);

    // Only low and medium findings: nothing is asked of GitHub at all.
    const requestsBeforeLow = server.requests.length;
    const low = rescanChanges([
      imageChange(
        worker,
        "c",
        ["5"],
        [finding("CVE-2024-0727", "medium", "openssl", "3.0.11-1", "3.0.13-1")],
      ),
    ]);
    expect(await notifyAll(low, config(server.apiUrl), { env, onNote: (m) => notes.push(m) })).toEqual([
      { notifier: `github ${REPOSITORY}`, ok: true },
    ]);
    expect(server.requests.length).toBe(requestsBeforeLow);
    expect(notes).toContain(`github ${REPOSITORY}: no new findings at high or above; nothing to file`);

    expect(notes.join("\n")).not.toContain(TOKEN);
  });

  it("works at the API's root too, with other labels, and a medium threshold files for medium findings", async () => {
    server = await startGithubServer({ token: TOKEN, prefix: "", repository: REPOSITORY });
    const results = await notifyAll(
      firstRescan,
      config(`${server.url}/`, { labels: ["security", "rescan"], minSeverity: "medium" }),
      {
        env,
      },
    );
    expect(results).toEqual([{ notifier: `github ${REPOSITORY}`, ok: true }]);
    expect(server.issues.map((issue: FakeIssue) => issue.labels)).toEqual([
      ["security", "rescan"],
      ["security", "rescan"],
      ["security", "rescan"],
    ]);
    expect(new URL(server.requests[0]!.url, server.url).pathname).toBe(`/repos/${REPOSITORY}/issues`);
    expect(new URL(server.requests[0]!.url, server.url).searchParams.get("labels")).toBe("security,rescan");
  });

  it("waits out a primary rate limit until x-ratelimit-reset, and gives up on one an hour away", async () => {
    server = await startGithubServer({ token: TOKEN, prefix: "/api/v3", repository: REPOSITORY });
    server.rateLimitNext(1, 2);
    const started = Date.now();
    const notes: string[] = [];
    const results = await notifyAll(firstRescan, config(server.apiUrl), {
      env,
      onNote: (m) => notes.push(m),
    });
    expect(results).toEqual([{ notifier: `github ${REPOSITORY}`, ok: true }]);
    expect(server.issues).toHaveLength(2);
    // x-ratelimit-reset is whole seconds: the wait ends a second after it, so at least ~2 s.
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(1500);
    expect(notes.some((note) => note.includes("HTTP 403; retrying in"))).toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);

    server.rateLimitNext(1, 3600);
    const requestsBefore = server.requests.length;
    const limited = await notifyAll(firstRescan, config(server.apiUrl), { env });
    expect(limited[0]!.ok).toBe(false);
    expect(limited[0]!.problem).toMatch(
      /^listing open issues: HTTP 403, rate limited until \d{4}-\d\d-\d\dT/,
    );
    expect(server.requests.length).toBe(requestsBefore + 1);
  });

  it("never lets the token out: bad credentials, and a server that repeats the Authorization header", async () => {
    server = await startGithubServer({
      token: "another-token-entirely",
      prefix: "/api/v3",
      repository: REPOSITORY,
    });
    const notes: string[] = [];
    const denied = await notifyAll(firstRescan, config(server.apiUrl), { env, onNote: (m) => notes.push(m) });
    expect(denied).toEqual([
      {
        notifier: `github ${REPOSITORY}`,
        ok: false,
        problem: "listing open issues: HTTP 401: Bad credentials",
      },
    ]);
    await server.close();

    server = await startGithubServer({
      token: TOKEN,
      prefix: "/api/v3",
      repository: REPOSITORY,
      echoAuthorizationOnCreate: true,
    });
    const echoed = await notifyAll(firstRescan, config(server.apiUrl), { env, onNote: (m) => notes.push(m) });
    expect(echoed[0]!.ok).toBe(false);
    expect(echoed[0]!.problem).toContain("HTTP 422: Validation Failed for request with Bearer [redacted]");
    expect(echoed[0]!.problem).toContain("(and 1 more images failed)");
    expect(JSON.stringify(echoed)).not.toContain(TOKEN);
    expect(notes.join("\n")).not.toContain(TOKEN);
    expect(notes.length).toBeGreaterThan(0);
  });

  it("reads Link headers and GitHub's rate-limit answers as documented", () => {
    expect(
      nextLink(
        '<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last"',
      ),
    ).toBe("https://api.github.com/repositories/1/issues?page=2");
    expect(
      nextLink('<https://x/issues?page=1>; rel="prev", <https://x/issues?page=1>; rel="first"'),
    ).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
    const now = 1_800_000_000_000;
    expect(
      githubSlowDown(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1800000030" }, now),
    ).toBe(31_000);
    expect(githubSlowDown(403, { "retry-after": "7" }, now)).toBe(7000);
    expect(githubSlowDown(429, {}, now)).toBe(60_000);
    // A 403 without rate-limit headers is a refusal (no permission), not a reason to wait.
    expect(githubSlowDown(403, { "x-ratelimit-remaining": "4999" }, now)).toBeUndefined();
    expect(githubSlowDown(404, { "retry-after": "7" }, now)).toBeUndefined();
  });
});
