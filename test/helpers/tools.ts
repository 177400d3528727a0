/**
 * Small shared pieces for the tests that drive real external programs (the CNCF registry, skopeo,
 * openssl, debootstrap): finding the programs, running them, and a minimal HTTP(S) client.
 *
 * The HTTP client is node:http/https on purpose: global fetch cannot be told to trust a test CA
 * without a direct undici dependency, and tests need the raw status, headers and body bytes.
 */
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { request as httpRequestRaw, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequestRaw } from "node:https";
import { delimiter, join } from "node:path";

/** The programs the registry tests may need, each with the Debian package that provides it. */
export const toolPackages = {
  "docker-registry": "docker-registry",
  skopeo: "skopeo",
  openssl: "openssl",
  htpasswd: "apache2-utils",
  debootstrap: "debootstrap",
} as const;

export type Tool = keyof typeof toolPackages;

/**
 * Finds a program on PATH. The sbin directories are searched too because debootstrap lives in
 * /usr/sbin, which is not on every user's PATH even when the tests run as root.
 */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export interface MissingTools {
  /** Programs that were not found. */
  tools: string[];
  /** The Debian packages to install for them (or other requirements, such as running as root). */
  packages: string[];
  /** One line for the test log, naming what is missing and how to get it. */
  message: string;
}

/**
 * Says which of `tools` are absent (undefined when none is). debootstrap also needs root, which
 * is reported the same way so a test can skip with one clear reason.
 */
export function missingTools(tools: readonly Tool[]): MissingTools | undefined {
  const absent = tools.filter((tool) => findTool(tool) === undefined);
  const packages = [...new Set(absent.map((tool) => toolPackages[tool]))];
  const needsRoot = tools.includes("debootstrap") && process.getuid?.() !== 0;
  if (absent.length === 0 && !needsRoot) return undefined;
  const parts: string[] = [];
  if (absent.length > 0) {
    parts.push(`${absent.join(", ")} not found (apt-get install ${packages.join(" ")})`);
  }
  if (needsRoot) parts.push("debootstrap needs root");
  return { tools: absent, packages, message: parts.join("; ") };
}

/**
 * For `describe.skipIf(skipUnlessTools([...]))`: true (and one warning line in the log) when
 * something is missing, so a skipped suite always says why.
 */
export function skipUnlessTools(tools: readonly Tool[], what = "registry tests"): boolean {
  const missing = missingTools(tools);
  if (missing) console.warn(`skipping ${what}: ${missing.message}`);
  return missing !== undefined;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion and rejects with its stderr in the message when it fails, so a
 * failed openssl/skopeo/debootstrap call explains itself in the test output.
 */
export function run(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      findTool(file) ?? file,
      args,
      {
        env: options.env ?? process.env,
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) {
          const tail = `${stderr}`.trim().split("\n").slice(-20).join("\n");
          reject(new Error(`${file} ${args.join(" ")} failed: ${error.message}\n${tail}`));
        } else resolve({ stdout: `${stdout}`, stderr: `${stderr}` });
      },
    );
  });
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** PEM of a CA to trust for https URLs (the test registry's self-signed CA). */
  ca?: string | Buffer;
  timeoutMs?: number;
}

/**
 * One HTTP(S) request, body read fully. Rejects on a network error (reset, truncated body), which
 * is what the fault-proxy tests look for; an HTTP error status is a normal response.
 */
export function httpRequest(url: string | URL, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequestRaw : httpRequestRaw;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: options.method ?? "GET",
        headers: options.headers,
        // A fresh connection per request: keep-alive reuse would blur per-request fault rules.
        agent: false,
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          // Node emits "end" even for a body cut short when the socket closes cleanly; compare
          // with Content-Length so a truncated body is reported as an error, as a client would.
          const body = Buffer.concat(chunks);
          const expected = res.headers["content-length"];
          if (
            res.complete === false ||
            (options.method !== "HEAD" && expected !== undefined && Number(expected) !== body.length)
          ) {
            reject(new Error(`truncated body: ${body.length} of ${expected ?? "?"} bytes`));
          } else resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on("error", reject);
        res.on("aborted", () => reject(new Error("response aborted")));
      },
    );
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(options.body);
  });
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}
