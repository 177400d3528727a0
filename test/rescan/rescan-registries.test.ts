/**
 * Rescans against registries that ask for credentials, answer 429, serve multi-platform tags,
 * and hold tags that a selection (regex, newest by version, maximum age) leaves out: the real
 * CNCF registry each time, with images the test pushes.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStateStore } from "../../src/rescan/state/sqlite.js";
import type { RescanChanges } from "../../src/rescan/types.js";
import { cli } from "../helpers/cli.js";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import { type BuiltImage, imageFromFixture } from "../helpers/image-builder.js";
import {
  missingTools,
  parseAccessLine,
  type RegistryServer,
  startRegistry,
} from "../helpers/registry-server.js";
import { startCountingFront } from "./registry-front.js";
import { pushImage, pushIndex, withCreated } from "./registry-push.js";

const missing = missingTools(["docker-registry", "htpasswd", "openssl"]);
if (missing) console.warn(`skipping rescan registry tests: ${missing.message}`);

const fixtures = join(import.meta.dirname, "../../fixtures");

let work: string;
let db: string;
let app: BuiltImage;

async function rescan(config: string, state: string, env: NodeJS.ProcessEnv = {}) {
  const run = await cli(["--db", db, "rescan", "--config", config, "--state", state, "--format", "json"], {
    XDG_CACHE_HOME: join(work, "cache"),
    DOCKER_CONFIG: join(work, "no-docker-config"),
    ...env,
  });
  const changes = run.stdout.startsWith("{") ? (JSON.parse(run.stdout) as RescanChanges) : undefined;
  return { ...run, changes };
}

async function writeConfig(name: string, lines: string[]): Promise<string> {
  const path = join(work, name);
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

async function requests(registry: RegistryServer, method: string, path: RegExp, from = 0) {
  return (await registry.accessLog())
    .slice(from)
    .map(parseAccessLine)
    .filter((entry) => entry !== undefined && entry.method === method && path.test(entry.path)).length;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-rescan-registries-"));
  db = join(work, "db.sqlite");
  expect((await cli(["--db", db, "db", "import", join(fixtures, "osv")])).code).toBe(0);
  app = await imageFromFixture(join(fixtures, "images/debian-app"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)("rescan of registries", () => {
  let open: RegistryServer;
  let basic: RegistryServer;

  beforeAll(async () => {
    [open, basic] = await Promise.all([startRegistry(), startRegistry({ auth: "htpasswd" })]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([open?.stop(), basic?.stop()]);
  });

  it("authenticates with htpasswd credentials from the config, and never prints the password", async () => {
    await pushImage(basic, "secure/app", "1", app);
    const password = basic.credentials?.password as string;
    const config = await writeConfig("basic.yaml", [
      "registries:",
      `  - registry: ${basic.address}`,
      `    username: ${basic.credentials?.username}`,
      "    passwordEnv: TEST_RESCAN_PASSWORD",
    ]);
    const run = await rescan(config, join(work, "basic.sqlite"), { TEST_RESCAN_PASSWORD: password });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.changes?.counts).toMatchObject({ repositories: 1, tags: 1, pulled: 1, failed: 0 });
    expect(run.changes?.images[0]?.newFindings).toHaveLength(7);
    expect(run.stdout).not.toContain(password);

    // The same registry with a wrong password: an error entry, and the open registry beside it
    // is rescanned all the same.
    await pushImage(open, "team/app", "1", app);
    const both = await writeConfig("both.yaml", [
      "registries:",
      `  - registry: ${basic.address}`,
      `    username: ${basic.credentials?.username}`,
      "    passwordEnv: TEST_RESCAN_PASSWORD",
      `  - registry: ${open.address}`,
      "    repositories: [team/app]",
    ]);
    const refused = await rescan(both, join(work, "both.sqlite"), { TEST_RESCAN_PASSWORD: "wrong-password" });
    expect(refused.code).toBe(0);
    expect(refused.changes?.errors).toHaveLength(1);
    expect(refused.changes?.errors[0]?.subject).toBe(`registry ${basic.address} catalog`);
    expect(refused.changes?.errors[0]?.problem).toMatch(
      /authentication required \(credentials from .* were refused\)/,
    );
    expect(refused.changes?.counts).toMatchObject({ repositories: 1, tags: 1, pulled: 1 });
    expect(refused.stderr).not.toContain("wrong-password");

    // Nothing could be read at all: exit code 2.
    const none = await writeConfig("none.yaml", [
      "registries:",
      `  - registry: ${basic.address}`,
      `    username: ${basic.credentials?.username}`,
      "    passwordEnv: TEST_RESCAN_PASSWORD",
    ]);
    const failed = await rescan(none, join(work, "none.sqlite"), { TEST_RESCAN_PASSWORD: "wrong-password" });
    expect(failed.code).toBe(2);
  });

  it("asks a token server for the catalog's scope, then each repository's", async () => {
    const token = await startRegistry({ auth: "token" });
    try {
      await pushImage(token, "team/tokened", "1", app);
      const config = await writeConfig("token.yaml", [
        "registries:",
        `  - registry: ${token.address}`,
        `    username: ${token.credentials?.username}`,
        "    passwordEnv: TEST_RESCAN_PASSWORD",
      ]);
      const run = await rescan(config, join(work, "token.sqlite"), {
        TEST_RESCAN_PASSWORD: token.credentials?.password as string,
      });
      expect(run.stderr).toBe("");
      expect(run.changes?.counts).toMatchObject({ repositories: 1, tags: 1, pulled: 1, failed: 0 });
      const scopes = token.tokenServer?.requests.flatMap((request) => request.scopes) ?? [];
      expect(scopes).toContain("registry:catalog:*");
      expect(scopes).toContain("repository:team/tokened:pull");
      expect(token.tokenServer?.requests.every((request) => request.status === 200)).toBe(true);
    } finally {
      await token.stop();
    }
  });

  it("selects tags by regex and newest version, and skips images older than the maximum age without pulling them again", async () => {
    const fresh = withCreated(app, new Date(Date.now() - 2 * 86_400_000).toISOString());
    // app is "created": "2024-01-01T00:00:00Z", far older than 30 days.
    for (const tag of ["1.0.0", "1.2.0", "1.10.0", "latest"]) await pushImage(open, "sel/app", tag, fresh);
    await pushImage(open, "sel/age", "old", app);
    await pushImage(open, "sel/age", "fresh", fresh);
    const config = await writeConfig("selection.yaml", [
      "registries:",
      `  - registry: ${open.address}`,
      "    repositories:",
      "      - name: sel/app",
      "        tags: { regex: '^\\d', newest: 2 }",
      "      - name: sel/age",
      "        tags: { maxAge: 30d }",
    ]);
    const state = join(work, "selection.sqlite");
    const from = (await open.accessLog()).length;
    const run = await rescan(config, state);
    expect(run.code).toBe(0);
    expect(run.changes?.counts).toMatchObject({ repositories: 2, tags: 4, pulled: 1, failed: 0 });
    const store = await openSqliteStateStore(state);
    try {
      expect((await store.getTags(`${open.address}/sel/app`)).map((tag) => tag.tag)).toEqual([
        "1.10.0",
        "1.2.0",
      ]);
      const age = await store.getTags(`${open.address}/sel/age`);
      // The old tag is remembered with no image: it is not scanned while it names the same digest.
      expect(age.map((tag) => [tag.tag, tag.images.length])).toEqual([
        ["fresh", 1],
        ["old", 0],
      ]);
      expect(await store.imageDigests()).toHaveLength(1);
    } finally {
      await store.close();
    }
    // Of the old image only its config was read, to learn its age; the fresh one's config too
    // (its layers, the same as the old one's, came from the layer cache an earlier test filled).
    const blobs = (await open.accessLog())
      .slice(from)
      .map(parseAccessLine)
      .filter((entry) => entry?.method === "GET" && entry.path.startsWith("/v2/sel/age/blobs/"))
      .map((entry) => entry?.path.replace("/v2/sel/age/blobs/", ""));
    expect(blobs.sort()).toEqual([app.configDigest, fresh.configDigest].sort());
    const next = (await open.accessLog()).length;
    const again = await rescan(config, state);
    expect(again.changes?.counts).toMatchObject({ tags: 4, pulled: 0, rematched: 1 });
    expect(await requests(open, "GET", /\/blobs\//, next)).toBe(0);
    expect(await requests(open, "GET", /\/manifests\//, next)).toBe(0);
  });

  it("reads the configured platform of a multi-platform tag, and needs no GET while the index is unchanged", async () => {
    const arm = withCreated(app, "2026-01-02T00:00:00Z");
    const armConfig = { ...JSON.parse(arm.config.toString("utf8")), architecture: "arm64" };
    const armImage = { ...arm, config: Buffer.from(JSON.stringify(armConfig)) };
    armImage.configDigest = `sha256:${createHash("sha256").update(armImage.config).digest("hex")}`;
    const pushed = await pushIndex(open, "multi/app", "1", [
      { image: app, platform: { os: "linux", architecture: "amd64" } },
      { image: armImage, platform: { os: "linux", architecture: "arm64" } },
    ]);
    const config = await writeConfig("multi.yaml", [
      "registries:",
      `  - registry: ${open.address}`,
      "    repositories: [multi/app]",
      "    platforms: [linux/arm64]",
    ]);
    const state = join(work, "multi.sqlite");
    const run = await rescan(config, state);
    expect(run.code).toBe(0);
    expect(run.changes?.counts).toMatchObject({ tags: 1, pulled: 1 });
    expect(run.changes?.images.map((image) => [image.digest, image.platform])).toEqual([
      [pushed.manifests["linux/arm64"], "linux/arm64"],
    ]);
    const store = await openSqliteStateStore(state);
    try {
      const [tag] = await store.getTags(`${open.address}/multi/app`);
      expect(tag).toMatchObject({
        digest: pushed.indexDigest,
        images: [{ digest: pushed.manifests["linux/arm64"], platform: "linux/arm64" }],
      });
    } finally {
      await store.close();
    }
    const from = (await open.accessLog()).length;
    const again = await rescan(config, state);
    expect(again.changes?.counts).toMatchObject({ pulled: 0, rematched: 1 });
    expect(await requests(open, "GET", /\/manifests\//, from)).toBe(0);
    expect(await requests(open, "GET", /\/blobs\//, from)).toBe(0);
  });

  it("follows tags list pages, and never has more requests under way than the concurrency limit", async () => {
    const tags = ["1", "2", "3", "4", "5", "6", "7"];
    for (const tag of tags) await pushImage(open, "paged/app", tag, app);
    const front = await startCountingFront(open, { delayMs: 150 });
    try {
      const config = await writeConfig("paged.yaml", [
        "registries:",
        `  - registry: ${front.address}`,
        "    repositories: [paged/app]",
        "    pageSize: 3",
        "    concurrency: 2",
      ]);
      const run = await rescan(config, join(work, "paged.sqlite"));
      expect(run.code).toBe(0);
      expect(run.changes?.errors).toEqual([]);
      expect(run.changes?.counts).toMatchObject({ tags: 7, pulled: 1 });
      // Seven tags, three a page: three pages, the later ones where each Link led.
      expect(front.paths.filter((path) => path.startsWith("/v2/paged/app/tags/list"))).toEqual([
        "/v2/paged/app/tags/list?n=3",
        "/v2/paged/app/tags/list?n=3&last=3",
        "/v2/paged/app/tags/list?n=3&last=6",
      ]);
      // Seven HEADs, each held 150 ms: two at a time, never more.
      expect(front.maxInFlight).toBe(2);
    } finally {
      await front.stop();
    }
  });

  it("waits as a 429's Retry-After says, then goes on", async () => {
    const proxy = await startFaultProxy(open.url);
    try {
      await pushImage(open, "limited/app", "1", app);
      await pushImage(open, "limited/app", "2", app);
      proxy.addRule({
        path: /\/manifests\//,
        method: "HEAD",
        fault: { kind: "status", status: 429, retryAfter: 1 },
        times: 2,
      });
      const config = await writeConfig("limited.yaml", [
        "registries:",
        `  - registry: ${proxy.address}`,
        "    repositories: [limited/app]",
        "    concurrency: 1",
      ]);
      const started = Date.now();
      const run = await rescan(config, join(work, "limited.sqlite"));
      expect(run.code).toBe(0);
      expect(run.changes?.errors).toEqual([]);
      expect(run.changes?.counts).toMatchObject({ tags: 2, pulled: 1 });
      // Two answered 429, each retried: four HEADs for two tags, a second's wait after each 429.
      expect(proxy.count(/\/manifests\//, "HEAD")).toBe(4);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    } finally {
      await proxy.stop();
    }
  });
});
