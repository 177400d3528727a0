/**
 * Distributed rescans end to end: a real PostgreSQL (initdb'd by the test), the CNCF registry
 * holding five images under six tags, `enqueueRescan` queueing one job per digest, and three
 * worker processes (`node --import tsx`, each its own OS process) sharing the jobs. One worker is
 * killed with SIGKILL after it pulled an image and before it stored it; its job must come back
 * after expiring, be done by another worker, and every digest must end up stored once, with the
 * right findings, each layer fetched once (twice for the killed job's image: the lost pull and
 * the retry).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { gzipSync } from "node:zlib";
import PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRescanConfig, type RescanConfig } from "../../src/rescan/config.js";
import {
  enqueueRescan,
  IMAGE_QUEUE,
  type ImageJobOutput,
  type RescanTarget,
  runWorker,
} from "../../src/rescan/distributed.js";
import type { OsvRecord } from "../../src/vulndb/osv.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";
import { cli } from "../helpers/cli.js";
import { buildImage, sha256 } from "../helpers/image-builder.js";
import { startReceiver } from "../helpers/notify-receivers.js";
import { type PostgresServer, skipUnlessPostgres, startPostgres } from "../helpers/postgres.js";
import { missingTools, type RegistryServer, startRegistry } from "../helpers/registry-server.js";

const missingRegistry = missingTools(["docker-registry"]);
if (missingRegistry) console.warn(`skipping the distributed rescan test: ${missingRegistry.message}`);
const skip = skipUnlessPostgres("the distributed rescan test") || missingRegistry !== undefined;

const workerScript = join(import.meta.dirname, "../helpers/rescan-worker-process.ts");

/** A made-up npm package, so that which images the record affects is known from the versions alone. */
const PACKAGE = "lwtest-widget";
const record: OsvRecord = {
  id: "LWTEST-2026-0001",
  modified: "2026-11-01T00:00:00Z",
  published: "2026-11-01T00:00:00Z",
  aliases: ["CVE-2026-99991"],
  summary: "lwtest-widget: prototype pollution in merge()",
  affected: [
    {
      package: { ecosystem: "npm", name: PACKAGE },
      ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "1.5.0" }] }],
    },
  ],
} as OsvRecord;

/** Five images, one layer each (no layer shared, so a blob's GETs are one image's pulls). */
const images = [
  { repository: "team/app", tags: ["1.0", "stable"], version: "1.0.0", affected: true },
  { repository: "team/app", tags: ["1.4"], version: "1.4.9", affected: true },
  { repository: "team/app", tags: ["1.5"], version: "1.5.0", affected: false },
  { repository: "team/tools", tags: ["0.9"], version: "0.9.3", affected: true },
  { repository: "team/tools", tags: ["2.0"], version: "2.0.0", affected: false },
];

interface Pushed {
  manifestDigest: string;
  layerDigest: string;
  version: string;
  affected: boolean;
}

async function pushImage(registry: RegistryServer, repository: string, tags: string[], version: string) {
  const built = await buildImage([
    {
      createdBy: `npm install ${PACKAGE}@${version}`,
      files: [
        { path: "app", type: "directory" },
        { path: "app/node_modules", type: "directory" },
        { path: `app/node_modules/${PACKAGE}`, type: "directory" },
        {
          path: `app/node_modules/${PACKAGE}/package.json`,
          type: "file",
          content: Buffer.from(JSON.stringify({ name: PACKAGE, version })),
        },
      ],
    },
  ]);
  const layer = gzipSync(built.layerTars[0] as Buffer);
  const layerDigest = await registry.pushBlob(repository, layer);
  await registry.pushBlob(repository, built.config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: built.configDigest,
        size: built.config.length,
      },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layerDigest, size: layer.length },
      ],
    }),
  );
  for (const tag of tags) {
    const put = await registry.request(`/v2/${repository}/manifests/${tag}`, {
      method: "PUT",
      body: manifest,
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
      scope: `repository:${repository}:pull,push`,
    });
    expect(put.status).toBe(201);
  }
  return { manifestDigest: sha256(manifest), layerDigest };
}

interface WorkerProcess {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  /** Resolves with the first event that `match` accepts. */
  waitFor(
    match: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  stderr(): string;
}

function startWorker(env: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", workerScript], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    match: (event: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }> = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    events.push(event);
    for (const waiter of waiters.splice(0)) {
      if (waiter.match(event)) waiter.resolve(event);
      else waiters.push(waiter);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    events,
    exited,
    stderr: () => stderr,
    waitFor(match, timeoutMs = 120_000) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`worker ${child.pid}: no such event in ${timeoutMs} ms; stderr:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (event) => {
            clearTimeout(timer);
            resolve(event);
          },
        });
      });
    },
  };
}

describe.skipIf(skip)("distributed rescan: enqueue and three worker processes on PostgreSQL", () => {
  let work: string;
  let server: PostgresServer;
  let registry: RegistryServer;
  let url: string;
  let dbPath: string;
  let configPath: string;
  let config: RescanConfig;
  let targets: RescanTarget[];
  const pushed: Pushed[] = [];
  const workers: WorkerProcess[] = [];
  /** Jobs expire 15 s after a worker took them: ample for a pull here, short for the test. */
  const queue = { expireInSeconds: 15, retryLimit: 2, retryDelaySeconds: 0, maintenanceIntervalSeconds: 1 };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-distributed-"));
    [server, registry] = await Promise.all([startPostgres(), startRegistry()]);
    url = await server.createDatabase("distributed");
    for (const image of images) {
      const { manifestDigest, layerDigest } = await pushImage(
        registry,
        image.repository,
        image.tags,
        image.version,
      );
      pushed.push({ manifestDigest, layerDigest, version: image.version, affected: image.affected });
    }
    dbPath = join(work, "advisories.sqlite");
    const store = await AdvisoryStore.open(dbPath, { create: true });
    store.putRecords([record]);
    store.close();
    configPath = join(work, "layerwatch.yaml");
    await writeFile(
      configPath,
      [
        "registries:",
        `  - registry: "${registry.address}"`,
        "    repositories: [team/app, team/tools]",
        "state:",
        "  postgres:",
        `    url: "${url}"`,
        "",
      ].join("\n"),
    );
    config = await loadRescanConfig(configPath);
    targets = images.flatMap((image) =>
      image.tags.map((tag) => ({
        registry: registry.address,
        repository: image.repository,
        tag,
        platforms: ["linux/amd64"],
      })),
    );
  });

  afterAll(async () => {
    for (const worker of workers) worker.child.kill("SIGKILL");
    await registry?.stop();
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const jobs = () =>
    server.query<{
      id: string;
      state: string;
      retry_count: number;
      singleton_key: string;
      output: ImageJobOutput | null;
    }>(
      "SELECT id, state, retry_count, singleton_key, output FROM layerwatch_queue.job WHERE name = $1 ORDER BY singleton_key",
      [IMAGE_QUEUE],
      "distributed",
    );

  it("queues one job per digest, and none again while they wait", async () => {
    const first = await enqueueRescan(config, targets, { url, ...queue });
    expect(first).toEqual({ tags: 6, images: 5, enqueued: 5, alreadyQueued: 0, tagsMoved: [], errors: [] });
    const again = await enqueueRescan(config, targets, { url, ...queue });
    expect(again).toEqual({ tags: 6, images: 5, enqueued: 0, alreadyQueued: 5, tagsMoved: [], errors: [] });
    const queued = await jobs();
    expect(queued.map((job) => job.singleton_key)).toEqual(pushed.map((p) => p.manifestDigest).sort());
    expect(queued.every((job) => job.state === "created")).toBe(true);
    // The tags are recorded: "1.0" and "stable" name the same manifest.
    const tags = await server.query<{ repository: string; tag: string; digest: string }>(
      "SELECT repository, tag, digest FROM layerwatch.tags ORDER BY repository, tag",
      [],
      "distributed",
    );
    expect(tags).toHaveLength(6);
    const app = `${registry.address}/team/app`;
    const digestOf = (tag: string) => tags.find((row) => row.repository === app && row.tag === tag)?.digest;
    expect(digestOf("1.0")).toBe(pushed[0]?.manifestDigest);
    expect(digestOf("stable")).toBe(pushed[0]?.manifestDigest);
  });

  it("survives a worker killed while it holds a job: retried elsewhere, nothing lost or stored twice", async () => {
    const common = { LAYERWATCH_TEST_CONFIG: configPath, LAYERWATCH_TEST_DB: dbPath };
    // Worker 1 pauses after its first pull, far longer than a job may stay taken.
    const doomed = startWorker({ ...common, LAYERWATCH_TEST_PAUSE_MS: "600000" });
    workers.push(doomed);
    const pulled = await doomed.waitFor((event) => event.type === "pulled");
    const lostJob = String(pulled.jobId);
    const lostDigest = String(pulled.digest);
    const tookAt = Number((await doomed.waitFor((event) => event.type === "job")).at);
    const held = (await jobs()).find((job) => job.id === lostJob);
    expect(held?.state).toBe("active");
    // Killed at once: left alone, pg-boss would give up on its handler when the job expires and
    // the same worker could take the job again.
    doomed.child.kill("SIGKILL");
    expect(await doomed.exited).toBe(null);
    // Two more workers; each job keeps them busy 3 s, so both get some of the four left.
    const others = [1, 2].map(() => startWorker({ ...common, LAYERWATCH_TEST_PAUSE_MS: "3000" }));
    workers.push(...others);

    const codes = await Promise.all(others.map((worker) => worker.exited));
    expect(codes, others.map((worker) => worker.stderr()).join("\n")).toEqual([0, 0]);
    const otherEvents = others.flatMap((worker) => worker.events);
    const retried = otherEvents.find((event) => event.type === "job" && event.jobId === lostJob);
    expect(retried, "the lost job was taken by another worker").toMatchObject({ retry: 1 });
    expect(otherEvents.some((event) => event.type === "done" && event.jobId === lostJob)).toBe(true);
    // Not before it expired, 15 s after worker 1 took it (less a second: the job's start time is
    // the database's, a moment before worker 1 said so).
    expect(Number(retried?.at)).toBeGreaterThanOrEqual(tookAt + queue.expireInSeconds * 1000 - 1000);

    // pg-boss's record: every job completed, the lost one on its second attempt, by another worker.
    const finished = await jobs();
    expect(finished.map((job) => job.state)).toEqual([
      "completed",
      "completed",
      "completed",
      "completed",
      "completed",
    ]);
    for (const job of finished) {
      expect(job.output?.digest).toBe(job.singleton_key);
      expect(job.output?.pulled).toBe(true);
      const story = otherEvents.filter((event) => event.jobId === job.id);
      expect(job.retry_count, JSON.stringify(story)).toBe(job.id === lostJob ? 1 : 0);
    }
    const doomedName = String(doomed.events.find((event) => event.type === "started")?.worker);
    expect(finished.every((job) => job.output?.worker !== doomedName)).toBe(true);
    const workersThatFinished = new Set(finished.map((job) => job.output?.worker));
    expect(workersThatFinished.size).toBe(2);

    // The state: each digest once, with exactly the findings its widget version calls for.
    const rows = await server.query<{ digest: string; n: string }>(
      "SELECT digest, count(*) AS n FROM layerwatch.images GROUP BY digest ORDER BY digest",
      [],
      "distributed",
    );
    expect(rows).toEqual(
      pushed
        .map((p) => ({ digest: p.manifestDigest, n: "1" }))
        .sort((a, b) => a.digest.localeCompare(b.digest)),
    );
    const rowsFound = await server.query<{
      digest: string;
      advisory_id: string;
      aliases: string[];
      package_name: string;
      installed_version: string;
      fixed_version: string | null;
    }>(
      "SELECT digest, advisory_id, aliases, package_name, installed_version, fixed_version FROM layerwatch.findings ORDER BY digest",
      [],
      "distributed",
    );
    // The finding is listed under one id of the record's alias group (the matcher prefers the
    // CVE); the other ids are its aliases.
    const findings = rowsFound.map(({ advisory_id, aliases, ...rest }) => ({
      ...rest,
      ids: [advisory_id, ...aliases].sort(),
    }));
    const expected = pushed
      .filter((p) => p.affected)
      .map((p) => ({
        digest: p.manifestDigest,
        ids: [record.id, ...(record.aliases ?? [])].sort(),
        package_name: PACKAGE,
        installed_version: p.version,
        fixed_version: "1.5.0",
      }))
      .sort((a, b) => a.digest.localeCompare(b.digest));
    expect(findings).toEqual(expected);

    // The registry's access log: each image's manifest (by digest) and layer fetched once, the
    // lost job's twice (the killed pull and the retry).
    for (const image of pushed) {
      const times = image.manifestDigest === lostDigest ? 2 : 1;
      const manifestGets = await registry.countRequests(
        "GET",
        new RegExp(`/manifests/${image.manifestDigest}`),
      );
      expect(manifestGets, `${image.version}: GETs of its manifest`).toBe(times);
      const layerGets = await registry.countRequests("GET", new RegExp(`/blobs/${image.layerDigest}`));
      expect(layerGets, `${image.version}: GETs of its layer`).toBe(times);
    }
  }, 240_000);

  it("matches stored digests again on the next rescan without pulling them", async () => {
    const layerGets = async () =>
      Promise.all(pushed.map((p) => registry.countRequests("GET", new RegExp(`/blobs/${p.layerDigest}`))));
    const before = await layerGets();
    const second = await enqueueRescan(config, targets, { url, ...queue });
    expect(second).toMatchObject({ images: 5, enqueued: 5, alreadyQueued: 0 });
    const advisories = await AdvisoryStore.open(dbPath);
    try {
      const summary = await runWorker({
        url,
        ...queue,
        config,
        advisories,
        untilEmpty: true,
        pollingIntervalSeconds: 0.5,
      });
      expect(summary).toEqual({ done: 5, failed: 0 });
    } finally {
      advisories.close();
    }
    expect(await layerGets()).toEqual(before);
    const outputs = (await jobs()).filter((job) => job.retry_count === 0 && job.output?.pulled === false);
    expect(outputs).toHaveLength(5);
    const images = await server.query<{ n: string }>(
      "SELECT count(*) AS n FROM layerwatch.images",
      [],
      "distributed",
    );
    expect(images[0]?.n).toBe("5");
  }, 120_000);

  it("queues the tags it can resolve and names the one it cannot", async () => {
    const withMissing = [
      ...targets,
      { registry: registry.address, repository: "team/app", tag: "9.9", platforms: ["linux/amd64"] },
    ];
    const result = await enqueueRescan(config, withMissing, { url, ...queue });
    expect(result).toMatchObject({ tags: 6, images: 5, enqueued: 5 });
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.subject).toBe(`${registry.address}/team/app:9.9`);
    expect(result.errors[0]?.problem).toMatch(/not found/);
  });

  it("does the same through the CLI: rescan --enqueue, then rescan --worker --until-empty, each new finding sent to the webhook", async () => {
    const cliUrl = await server.createDatabase("through_cli");
    const cliConfig = join(work, "layerwatch-cli.yaml");
    const webhook = await startReceiver(() => ({ status: 204 }));
    const secret = "distributed-test-secret";
    await writeFile(
      cliConfig,
      [
        "registries:",
        `  - registry: "${registry.address}"`,
        "    repositories: [team/app, team/tools]",
        "state:",
        "  postgres:",
        "    urlEnv: LAYERWATCH_TEST_STATE_URL",
        "notify:",
        "  webhook:",
        `    url: "${webhook.url}/hook"`,
        "    secretEnv: LAYERWATCH_TEST_WEBHOOK_SECRET",
        "",
      ].join("\n"),
    );
    const env = {
      LAYERWATCH_TEST_STATE_URL: cliUrl,
      LAYERWATCH_TEST_WEBHOOK_SECRET: secret,
      XDG_CACHE_HOME: join(work, "cache"),
    };
    const layerGets = async () =>
      Promise.all(pushed.map((p) => registry.countRequests("GET", new RegExp(`/blobs/${p.layerDigest}`))));
    const before = await layerGets();
    const enqueued = await cli(
      ["--db", dbPath, "rescan", "--config", cliConfig, "--enqueue", "--format", "json"],
      env,
    );
    expect(enqueued.stderr).toBe("");
    expect(enqueued.code).toBe(0);
    expect(JSON.parse(enqueued.stdout)).toMatchObject({ tags: 6, images: 5, enqueued: 5, alreadyQueued: 0 });
    const worked = await cli(
      ["--db", dbPath, "rescan", "--config", cliConfig, "--worker", "--until-empty", "--no-cache"],
      env,
    );
    expect(worked.stderr).toBe("");
    expect(worked.code).toBe(0);
    expect(worked.stdout).toBe("worker stopped: 5 images done, 0 failed\n");
    // Each layer pulled once more (this database held nothing), and stored once.
    expect(await layerGets()).toEqual(before.map((count) => count + 1));
    const stored = await server.query<{ digest: string; findings: string }>(
      `SELECT i.digest, count(f.digest) AS findings FROM layerwatch.images i
       LEFT JOIN layerwatch.findings f ON f.digest = i.digest GROUP BY i.digest ORDER BY i.digest`,
      [],
      "through_cli",
    );
    expect(stored).toEqual(
      pushed
        .map((p) => ({ digest: p.manifestDigest, findings: p.affected ? "1" : "0" }))
        .sort((a, b) => a.digest.localeCompare(b.digest)),
    );
    // The queue mode notifies per job: one signed delivery for each image the record affects,
    // naming its tags and the new finding (by its CVE alias, as reports name it); none for the
    // images with nothing new.
    try {
      const deliveries = webhook.requests.map((request) => {
        const signature = String(request.headers["x-layerwatch-signature-256"]);
        expect(signature).toBe(`sha256=${createHmac("sha256", secret).update(request.body).digest("hex")}`);
        return JSON.parse(request.body.toString("utf8")) as {
          changes: { images: Array<{ digest: string; tags: string[]; newFindings: Array<{ id: string }> }> };
        };
      });
      const told = deliveries
        .flatMap((delivery) => delivery.changes.images)
        .map((image) => ({
          digest: image.digest,
          tags: [...image.tags].sort(),
          ids: image.newFindings.map((f) => f.id),
        }))
        .sort((a, b) => a.digest.localeCompare(b.digest));
      expect(told).toEqual(
        images
          .map((image, index) => ({ image, digest: pushed[index]?.manifestDigest ?? "" }))
          .filter(({ image }) => image.affected)
          .map(({ image, digest }) => ({ digest, tags: [...image.tags].sort(), ids: ["CVE-2026-99991"] }))
          .sort((a, b) => a.digest.localeCompare(b.digest)),
      );
    } finally {
      await webhook.close();
    }
  }, 120_000);

  it("tries a job that keeps failing retryLimit more times, then leaves it failed, storing nothing", async () => {
    const failingUrl = await server.createDatabase("failing");
    // A digest the registry does not hold: every pull fails with "not found".
    const missing = `sha256:${"0".repeat(64)}`;
    const boss = new PgBoss({ connectionString: failingUrl, schema: "layerwatch_queue" });
    boss.on("error", () => undefined);
    await boss.start();
    try {
      await boss.createQueue(IMAGE_QUEUE, { name: IMAGE_QUEUE, policy: "short" });
      await boss.send(
        IMAGE_QUEUE,
        { repository: `${registry.address}/team/app`, digest: missing },
        { singletonKey: missing, retryLimit: 1, retryDelay: 0, expireInSeconds: 60 },
      );
    } finally {
      await boss.stop({ graceful: false });
    }
    const advisories = await AdvisoryStore.open(dbPath);
    const failures: string[] = [];
    try {
      const summary = await runWorker({
        url: failingUrl,
        config,
        advisories,
        untilEmpty: true,
        pollingIntervalSeconds: 0.5,
        onEvent: (event) => {
          if (event.type === "failed") failures.push(event.problem);
        },
      });
      expect(summary).toEqual({ done: 0, failed: 2 });
    } finally {
      advisories.close();
    }
    expect(failures).toHaveLength(2);
    for (const problem of failures) expect(problem).toMatch(/not found/);
    const [job] = await server.query<{ state: string; retry_count: number }>(
      "SELECT state, retry_count FROM layerwatch_queue.job WHERE name = $1",
      [IMAGE_QUEUE],
      "failing",
    );
    expect(job).toEqual({ state: "failed", retry_count: 1 });
    expect(await server.query("SELECT digest FROM layerwatch.images", [], "failing")).toEqual([]);
  }, 120_000);
});
