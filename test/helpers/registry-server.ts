/**
 * Starts a real OCI registry (the CNCF distribution registry, Debian package docker-registry) on
 * 127.0.0.1 for tests: anonymous, htpasswd Basic auth (over HTTP or TLS with a CA made by openssl
 * at test time), or Docker token auth backed by a small token server in this process.
 *
 *   const registry = await startRegistry({ auth: "htpasswd", tls: true });
 *   await registry.request("/v2/_catalog", { scope: "registry:catalog:*" });
 *   await registry.stop();
 *
 * Everything lives in one temp dir (config, storage, certificates, logs) that stop() removes.
 * The access log (Apache combined format, which the registry writes to stdout) is captured to a
 * file so a test can count the requests a client made.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes, sign, X509Certificate } from "node:crypto";
import { closeSync, openSync, rmSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  basicAuth,
  findTool,
  type HttpRequestOptions,
  type HttpResponse,
  httpRequest,
  run,
  type Tool,
} from "./tools.js";

export { missingTools, skipUnlessTools, type Tool } from "./tools.js";

/** The programs each registry variant needs: openssl for TLS and token keys, htpasswd for Basic auth. */
export function registryTools(options: RegistryOptions = {}): Tool[] {
  const tools: Tool[] = ["docker-registry"];
  if (options.tls || options.auth === "token") tools.push("openssl");
  if (options.auth === "htpasswd") tools.push("htpasswd");
  return tools;
}

export interface Credentials {
  username: string;
  password: string;
}

export type RegistryAuth = "none" | "htpasswd" | "token";

/** A user of the token server and the actions it may be granted (all requested ones by default). */
export interface TokenUser extends Credentials {
  actions?: string[];
}

export interface RegistryOptions {
  /** Default "none" (anonymous push and pull). */
  auth?: RegistryAuth;
  /**
   * Accept manifests whose layers name URLs (foreign, non-distributable layers, as Windows base
   * images have); the registry refuses them unless its config allows the URLs.
   */
  allowForeignLayerUrls?: boolean;
  /** Serve HTTPS with a certificate for 127.0.0.1/localhost from a CA made for this registry. */
  tls?: boolean;
  /** The user for htpasswd and token auth; default layerwatch with a random password. */
  credentials?: Credentials;
  /** Token auth only. */
  token?: {
    /** Grant "pull" to requests without credentials (as Docker Hub does for public images). */
    anonymousPull?: boolean;
    /** Lifetime of issued tokens; default 300 s. Short lifetimes let tests exercise refresh. */
    ttlSeconds?: number;
    /** More users besides `credentials`, e.g. a pull-only one. */
    users?: TokenUser[];
  };
}

export interface TokenRequestRecord {
  /** GET (Docker token protocol) or POST (OAuth2 password grant). */
  method: "GET" | "POST";
  account: string | undefined;
  scopes: string[];
  granted: AccessEntry[];
  status: number;
}

export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenServer {
  /** Base URL of the token server. */
  url: string;
  /** The realm the registry advertises in WWW-Authenticate. */
  realm: string;
  service: string;
  issuer: string;
  /** Every token request seen, in order (for asserting how often a client asked). */
  requests: TokenRequestRecord[];
  /** Asks the token server for a token over HTTP, as a client would. */
  token(scopes: string[], credentials?: Credentials): Promise<string>;
  stop(): Promise<void>;
}

export interface RegistryServer {
  /** e.g. http://127.0.0.1:41234 (https:// with tls). */
  url: string;
  /** Always 127.0.0.1. */
  host: string;
  port: number;
  /** host:port, the registry part of an image reference (127.0.0.1:41234/repo:tag). */
  address: string;
  auth: RegistryAuth;
  tls: boolean;
  /** With tls: the CA certificate (PEM) file, and a directory holding only it (skopeo's --cert-dir). */
  caFile?: string;
  certDir?: string;
  /** With tls: the CA certificate PEM, for node's `ca` option. */
  ca?: string;
  /** With htpasswd or token auth: the user that may push and pull. */
  credentials?: Credentials;
  /** With token auth. */
  tokenServer?: TokenServer;
  /** The registry's filesystem storage root. */
  storageDir: string;
  /** The registry's own log (stderr), for diagnosing a failed test. */
  logFile: string;
  /** Access log lines (Apache combined format), once the log has stopped growing. */
  accessLog(): Promise<string[]>;
  /** Access log entries whose method and path match, e.g. countRequests("GET", /\/blobs\//). */
  countRequests(method: string, path: RegExp): Promise<number>;
  /** The Authorization header for `scope` ("repository:NAME:pull,push"), or none when open. */
  authorization(scope?: string, credentials?: Credentials): Promise<Record<string, string>>;
  /** A request to PATH on the registry with the CA and the right credentials for `scope`. */
  request(path: string, options?: HttpRequestOptions & { scope?: string }): Promise<HttpResponse>;
  /** Uploads one blob (POST then PUT) and returns its digest. */
  pushBlob(repository: string, bytes: Buffer): Promise<string>;
  /** Kills the registry and the token server and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Processes and temp dirs still alive, cleaned up if the test process exits without stop(). */
const live = new Set<{ child: ChildProcess; dir: string }>();
process.once("exit", () => {
  for (const entry of live) {
    entry.child.kill("SIGKILL");
    rmSync(entry.dir, { recursive: true, force: true });
  }
});

/** A port that was free a moment ago. The registry may lose a race for it; startRegistry retries. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export interface TestCa {
  /** The CA certificate, PEM, alone in certDir (skopeo treats every *.crt there as a CA). */
  caFile: string;
  certDir: string;
  ca: string;
  /** A server certificate and key for 127.0.0.1 and localhost, signed by the CA. */
  certFile: string;
  keyFile: string;
}

/** Makes a throwaway CA and a server certificate for 127.0.0.1/localhost with openssl. */
export async function makeTestCa(dir: string): Promise<TestCa> {
  const certDir = join(dir, "ca");
  const serverDir = join(dir, "server");
  await mkdir(certDir, { recursive: true });
  await mkdir(serverDir, { recursive: true });
  const caFile = join(certDir, "ca.crt");
  const caKey = join(serverDir, "ca.key");
  const keyFile = join(serverDir, "server.key");
  const csrFile = join(serverDir, "server.csr");
  const certFile = join(serverDir, "server.crt");
  const extFile = join(serverDir, "server.ext");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    caKey,
    "-out",
    caFile,
    "-days",
    "2",
    "-subj",
    "/CN=layerwatch test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run("openssl", [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    csrFile,
    "-subj",
    "/CN=127.0.0.1",
  ]);
  // Clients match the host against subjectAltName only (the CN is ignored), so both the IP and
  // the name must be there; serverAuth keeps Go's and Node's verifiers happy.
  await writeFile(
    extFile,
    [
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "",
    ].join("\n"),
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csrFile,
    "-CA",
    caFile,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-out",
    certFile,
    "-days",
    "2",
    "-extfile",
    extFile,
  ]);
  return { caFile, certDir, ca: await readFile(caFile, "utf8"), certFile, keyFile };
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

/** Parses "repository:library/foo:pull,push" (the name may itself hold colons, e.g. a port). */
export function parseScope(scope: string): AccessEntry | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(",")
      .filter((action) => action !== ""),
  };
}

interface TokenServerOptions {
  dir: string;
  service: string;
  users: TokenUser[];
  anonymousPull: boolean;
  ttlSeconds: number;
  tls?: TestCa;
}

/**
 * The Docker token protocol's auth server: GET /token?service=S&scope=T:N:A answers
 * {token, access_token, expires_in, issued_at} with an RS256 JWT the registry verifies against
 * its rootcertbundle. The signing certificate goes in the JWT header as x5c, which is how the
 * registry finds the key (it is self-signed and is itself the whole bundle).
 */
async function startTokenServer(options: TokenServerOptions): Promise<TokenServer & { certFile: string }> {
  const keyFile = join(options.dir, "token-signer.key");
  const certFile = join(options.dir, "token-signer.crt");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=layerwatch token issuer",
  ]);
  const privateKey = await readFile(keyFile, "utf8");
  const certDer = new X509Certificate(await readFile(certFile)).raw;
  const issuer = "layerwatch-test-token-issuer";
  const requests: TokenRequestRecord[] = [];

  const issue = (account: string | undefined, access: AccessEntry[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "RS256", x5c: [certDer.toString("base64")] };
    const claims = {
      iss: issuer,
      sub: account ?? "",
      // A single string: distribution 2.8 accepts a string audience; newer versions accept both.
      aud: options.service,
      exp: now + options.ttlSeconds,
      // A little slack for clock granularity between this process and the registry.
      nbf: now - 5,
      iat: now,
      jti: randomBytes(16).toString("hex"),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    // sha256 with an RSA key is RSASSA-PKCS1-v1_5, i.e. JWS "RS256".
    const signature = sign("sha256", Buffer.from(signingInput), privateKey);
    return `${signingInput}.${base64url(signature)}`;
  };

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const reply = (status: number, body: object, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? "/", "http://token");
    const method = req.method === "POST" ? "POST" : "GET";
    if (url.pathname !== "/token" || (req.method !== "GET" && req.method !== "POST")) {
      reply(404, { errors: [{ code: "NOT_FOUND", message: "only GET and POST /token are served" }] });
      return;
    }
    let scopes: string[];
    let presented: Credentials | undefined;
    if (method === "POST") {
      // The OAuth2 password grant, which containerd-style clients try before GET: credentials
      // and scopes come as form fields rather than Basic auth and query parameters.
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      if (form.get("grant_type") !== "password") {
        reply(400, { error: "unsupported_grant_type" });
        return;
      }
      scopes = form.getAll("scope").flatMap((scope) => scope.split(" "));
      presented = { username: form.get("username") ?? "", password: form.get("password") ?? "" };
    } else {
      scopes = url.searchParams.getAll("scope").flatMap((scope) => scope.split(" "));
      const authorization = req.headers.authorization;
      if (authorization !== undefined) {
        const match = /^Basic\s+(.+)$/i.exec(authorization);
        const decoded = match ? Buffer.from(match[1] as string, "base64").toString("utf8") : "";
        const colon = decoded.indexOf(":");
        // A malformed header is treated as wrong credentials, not as anonymous.
        presented =
          colon < 0
            ? { username: "", password: "" }
            : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
      }
    }
    let user: TokenUser | undefined;
    if (presented) {
      const { username, password } = presented;
      user = options.users.find((u) => u.username === username && u.password === password);
      if (user === undefined) {
        requests.push({ method, account: username || undefined, scopes, granted: [], status: 401 });
        reply(
          401,
          { errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] },
          { "www-authenticate": 'Basic realm="layerwatch-token"' },
        );
        return;
      }
    }
    // Grant each scope the intersection of what it asks and what the caller may do. An empty
    // grant is still a token (the registry then answers 401/403), as real token servers do.
    const granted: AccessEntry[] = [];
    for (const scope of scopes) {
      const asked = parseScope(scope);
      if (!asked) continue;
      const allowed =
        user === undefined ? (options.anonymousPull ? ["pull"] : []) : (user.actions ?? asked.actions);
      const actions = asked.actions.filter((action) => allowed.includes(action) || allowed.includes("*"));
      if (actions.length > 0) granted.push({ ...asked, actions });
    }
    requests.push({ method, account: user?.username, scopes, granted, status: 200 });
    const token = issue(user?.username, granted);
    reply(200, {
      token,
      access_token: token,
      expires_in: options.ttlSeconds,
      issued_at: new Date().toISOString(),
    });
  };

  const serve = (req: IncomingMessage, res: ServerResponse) => {
    handler(req, res).catch(() => res.destroy());
  };
  const server: Server = options.tls
    ? createHttpsServer(
        { key: await readFile(options.tls.keyFile), cert: await readFile(options.tls.certFile) },
        serve,
      )
    : createHttpServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("token server has no port");
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${address.port}`;
  const realm = `${url}/token`;

  return {
    url,
    realm,
    service: options.service,
    issuer,
    requests,
    certFile,
    async token(scopes, credentials) {
      const query = new URLSearchParams({ service: options.service });
      for (const scope of scopes) query.append("scope", scope);
      const response = await httpRequest(`${realm}?${query}`, {
        headers: credentials ? { authorization: basicAuth(credentials.username, credentials.password) } : {},
        ...(options.tls ? { ca: options.tls.ca } : {}),
      });
      if (response.status !== 200) throw new Error(`token server answered ${response.status}`);
      return (JSON.parse(response.body.toString("utf8")) as { token: string }).token;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Parses one Apache combined-format line: `IP - user [date] "METHOD PATH PROTO" STATUS SIZE ...`. */
export function parseAccessLine(line: string): { method: string; path: string; status: number } | undefined {
  const match = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) /.exec(line);
  if (!match) return undefined;
  return { method: match[1] as string, path: match[2] as string, status: Number(match[3]) };
}

/** Starts a registry and waits until GET /v2/ answers 200 or 401. */
export async function startRegistry(options: RegistryOptions = {}): Promise<RegistryServer> {
  const binary = findTool("docker-registry");
  if (!binary) throw new Error("docker-registry not found (apt-get install docker-registry)");
  const auth = options.auth ?? "none";
  const tls = options.tls ?? false;
  const dir = await mkdtemp(join(tmpdir(), "layerwatch-test-registry-"));
  const storageDir = join(dir, "storage");
  await mkdir(storageDir);
  const credentials =
    auth === "none"
      ? undefined
      : (options.credentials ?? { username: "layerwatch", password: randomBytes(9).toString("base64url") });

  let tokenServer: (TokenServer & { certFile: string }) | undefined;
  try {
    const testCa = tls ? await makeTestCa(join(dir, "tls")) : undefined;

    const authConfig: Record<string, unknown> = {};
    if (auth === "htpasswd" && credentials) {
      // bcrypt is the only scheme the registry accepts; htpasswd -B makes it.
      const { stdout } = await run("htpasswd", ["-Bbn", credentials.username, credentials.password]);
      const htpasswdFile = join(dir, "htpasswd");
      await writeFile(htpasswdFile, `${stdout.trim()}\n`);
      authConfig.htpasswd = { realm: "layerwatch-test", path: htpasswdFile };
    } else if (auth === "token" && credentials) {
      const service = "layerwatch-test-registry";
      tokenServer = await startTokenServer({
        dir,
        service,
        users: [credentials, ...(options.token?.users ?? [])],
        anonymousPull: options.token?.anonymousPull ?? false,
        ttlSeconds: options.token?.ttlSeconds ?? 300,
        ...(testCa ? { tls: testCa } : {}),
      });
      authConfig.token = {
        realm: tokenServer.realm,
        service,
        issuer: tokenServer.issuer,
        rootcertbundle: tokenServer.certFile,
      };
    }

    // The port is picked before the registry binds it, so another process can take it in
    // between; a bind failure is retried with a new port rather than failing the test.
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      try {
        return await launch({
          binary,
          dir,
          storageDir,
          port,
          auth,
          tls,
          testCa,
          credentials,
          tokenServer,
          authConfig,
          allowForeignLayerUrls: options.allowForeignLayerUrls ?? false,
        });
      } catch (error) {
        lastError = error as Error;
        if (!/address already in use/i.test(lastError.message)) break;
      }
    }
    throw lastError ?? new Error("registry did not start");
  } catch (error) {
    await tokenServer?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

interface LaunchOptions {
  allowForeignLayerUrls: boolean;
  binary: string;
  dir: string;
  storageDir: string;
  port: number;
  auth: RegistryAuth;
  tls: boolean;
  testCa: TestCa | undefined;
  credentials: Credentials | undefined;
  tokenServer: TokenServer | undefined;
  /** The registry config's `auth` section; empty for an open registry. */
  authConfig: Record<string, unknown>;
}

async function launch(options: LaunchOptions): Promise<RegistryServer> {
  const { dir, port, testCa, credentials, tokenServer } = options;
  const config = {
    version: 0.1,
    log: { level: "info", formatter: "text", accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: options.storageDir },
      delete: { enabled: true },
      // Upload purging runs a background sweep tests do not want.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      // A fixed secret silences the "no secret" warning and keeps upload state signatures stable.
      secret: randomBytes(16).toString("hex"),
      headers: { "X-Content-Type-Options": ["nosniff"] },
      ...(testCa ? { tls: { certificate: testCa.certFile, key: testCa.keyFile } } : {}),
    },
    ...(Object.keys(options.authConfig).length > 0 ? { auth: options.authConfig } : {}),
    health: { storagedriver: { enabled: false } },
    ...(options.allowForeignLayerUrls
      ? { validation: { manifests: { urls: { allow: ["^https?://"] } } } }
      : {}),
  };
  const configFile = join(dir, `config-${port}.yml`);
  // JSON is a subset of YAML, so the registry's YAML parser reads this without quoting pitfalls.
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);

  const accessLogFile = join(dir, "access.log");
  const logFile = join(dir, "registry.log");
  // The registry writes access logs to stdout and its own log to stderr; files keep both even
  // when nobody reads them, and survive for post-mortems until stop().
  const outFd = openSync(accessLogFile, "a");
  const errFd = openSync(logFile, "a");
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("REGISTRY_")),
  ) as NodeJS.ProcessEnv;
  const child = spawn(options.binary, ["serve", configFile], { stdio: ["ignore", outFd, errFd], env });
  closeSync(outFd);
  closeSync(errFd);
  const entry = { child, dir };
  live.add(entry);

  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const ca = testCa?.ca;

  // Ready when /v2/ answers at all with 200 (open) or 401 (auth): both mean the API is up.
  const deadline = Date.now() + 20_000;
  let ready = false;
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  while (!ready && Date.now() < deadline && exitCode === undefined) {
    try {
      const response = await httpRequest(`${url}/v2/`, { ...(ca ? { ca } : {}), timeoutMs: 2_000 });
      ready = response.status === 200 || response.status === 401;
    } catch {
      // not listening yet
    }
    if (!ready) await sleep(100);
  }
  if (!ready) {
    child.kill("SIGKILL");
    await exited;
    live.delete(entry);
    const log = await readFile(logFile, "utf8").catch(() => "");
    throw new Error(
      `docker-registry did not become ready on ${url} (exit ${exitCode ?? "none"}):\n${log.slice(-2000)}`,
    );
  }

  let stopped = false;
  const readAccessLog = async (): Promise<string[]> => {
    // The registry logs a request after answering it, so a client can see the response before
    // the line is written; wait until the file stops growing for a moment.
    let size = -1;
    for (let i = 0; i < 40; i++) {
      const now = statSync(accessLogFile, { throwIfNoEntry: false })?.size ?? 0;
      if (now === size) break;
      size = now;
      await sleep(30);
    }
    const text = await readFile(accessLogFile, "utf8");
    return text.split("\n").filter((line) => parseAccessLine(line) !== undefined);
  };

  const authorization = async (
    scope?: string,
    who: Credentials | undefined = credentials,
  ): Promise<Record<string, string>> => {
    if (options.auth === "htpasswd" && who) return { authorization: basicAuth(who.username, who.password) };
    if (options.auth === "token" && tokenServer) {
      const token = await tokenServer.token(scope ? [scope] : [], who);
      return { authorization: `Bearer ${token}` };
    }
    return {};
  };

  const request = async (
    path: string,
    requestOptions: HttpRequestOptions & { scope?: string } = {},
  ): Promise<HttpResponse> => {
    const { scope, ...rest } = requestOptions;
    return httpRequest(new URL(path, url), {
      ...rest,
      headers: { ...(await authorization(scope)), ...rest.headers },
      ...(ca ? { ca } : {}),
    });
  };

  return {
    url,
    host: "127.0.0.1",
    port,
    address: `127.0.0.1:${port}`,
    auth: options.auth,
    tls: options.tls,
    ...(testCa ? { caFile: testCa.caFile, certDir: testCa.certDir, ca: testCa.ca } : {}),
    ...(credentials ? { credentials } : {}),
    ...(tokenServer ? { tokenServer } : {}),
    storageDir: options.storageDir,
    logFile,
    accessLog: readAccessLog,
    async countRequests(method, path) {
      const lines = await readAccessLog();
      return lines.filter((line) => {
        const parsed = parseAccessLine(line);
        return parsed !== undefined && parsed.method === method && path.test(parsed.path);
      }).length;
    },
    authorization,
    request,
    async pushBlob(repository, bytes) {
      const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
      const scope = `repository:${repository}:pull,push`;
      const started = await request(`/v2/${repository}/blobs/uploads/`, { method: "POST", scope });
      const location = started.headers.location;
      if (started.status !== 202 || location === undefined) {
        throw new Error(`blob upload start answered ${started.status}: ${started.body.toString("utf8")}`);
      }
      const target = new URL(location, url);
      target.searchParams.set("digest", digest);
      const finished = await request(target.toString(), {
        method: "PUT",
        scope,
        body: bytes,
        headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) },
      });
      if (finished.status !== 201) {
        throw new Error(`blob upload answered ${finished.status}: ${finished.body.toString("utf8")}`);
      }
      return digest;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (exitCode === undefined) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      live.delete(entry);
      await tokenServer?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
