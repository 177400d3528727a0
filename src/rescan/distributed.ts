/**
 * Rescans shared by several machines, on PostgreSQL: `rescan --enqueue` resolves the tags and
 * queues one job per image digest (pg-boss), and any number of `rescan --worker` processes take
 * those jobs, each pulling (or only re-matching) its digest and storing the result in the shared
 * state store (state/postgres.ts).
 *
 * Each digest is worked on once: the enqueuer sends one job per digest with the digest as the
 * job's singletonKey in a "short" queue, so a digest behind several tags, or enqueued again while
 * its job still waits to be taken, is queued once; a queued job goes to one worker only. A worker that dies
 * holding a job leaves it "active" until it expires (expireInSeconds); pg-boss's maintenance then
 * puts it back as "retry" and another worker takes it. The store's writes are upserts keyed on the
 * digest, so a job retried after its worker stored the image but before it said so records it
 * once. Registry credentials stay in each machine's config file: jobs carry no secret.
 */
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import PgBoss from "pg-boss";
import { describeError, InputError } from "../errors.js";
import { type Platform, selectManifest } from "../image/manifest.js";
import type { RegistryClient } from "../image/registry/client.js";
import type { AdvisorySource } from "../match/matcher.js";
import type { PipelineOptions } from "../pipeline.js";
import type { RegistryConfig, RescanConfig } from "./config.js";
import { diffFindings, imageStateVersion, matchImageState, pullImageState } from "./image-state.js";
import { notifyAll } from "./notify/index.js";
import { limiter, openRegistryClient, pipelineRegistryOptions } from "./registry.js";
import { DEFAULT_POSTGRES_SCHEMA, openPostgresStateStore, redactUrl } from "./state/postgres.js";
import type { FindingState, RescanChanges, RescanStateStore, TagMove, TagState } from "./types.js";

/** The pg-boss queue of image jobs. */
export const IMAGE_QUEUE = "layerwatch-rescan-image";

export interface QueueOptions {
  /** postgres:// URL of the database holding the state and the queue. */
  url: string;
  /** The state's schema (default "layerwatch"); pg-boss's tables go in `<schema>_queue`. */
  schema?: string;
  /**
   * How long a job may stay taken before it counts as lost (its worker died) and goes back to the
   * queue; longer than the slowest pull. Default 15 minutes.
   */
  expireInSeconds?: number;
  /** How often a failed or lost job is tried again before it stays failed. Default 3. */
  retryLimit?: number;
  /** Seconds before a failed or lost job is offered again. Default 30. */
  retryDelaySeconds?: number;
  /** How often lost jobs are looked for (pg-boss maintenance; one process does it). Default 60. */
  maintenanceIntervalSeconds?: number;
}

/** A tag to rescan, as the config's tag selection chose it. */
export interface RescanTarget {
  /** host[:port], one of the config's registries. */
  registry: string;
  /** The repository path in that registry ("team/app"). */
  repository: string;
  tag: string;
  /** Platforms read when the tag names an index ("linux/amd64"). */
  platforms: string[];
}

/** What a job asks a worker to do: bring one image digest up to date. */
export interface ImageJob {
  /** "host:5000/team/app": where to pull it from. */
  repository: string;
  digest: string;
  platform?: string;
  /** The tags that named the digest when it was enqueued, for the notifications. */
  tags?: string[];
}

/** A job's outcome, kept by pg-boss as the job's output. */
export interface ImageJobOutput {
  digest: string;
  /** Whether the image was pulled (false: stored already, only matched again). */
  pulled: boolean;
  findings: number;
  newFindings: string[];
  goneFindings: string[];
  /** host:pid of the worker that did it. */
  worker: string;
}

export interface EnqueueResult {
  tags: number;
  /** Distinct image digests behind the tags. */
  images: number;
  /** Jobs queued now. */
  enqueued: number;
  /** Digests whose job was still waiting from an earlier enqueue: not queued twice. */
  alreadyQueued: number;
  tagsMoved: TagMove[];
  /** Tags that could not be resolved; the others are queued all the same. */
  errors: Array<{ subject: string; problem: string }>;
}

const DEFAULTS = {
  expireInSeconds: 15 * 60,
  retryLimit: 3,
  retryDelaySeconds: 30,
  maintenanceIntervalSeconds: 60,
};

function queueSchema(options: QueueOptions): string {
  return `${options.schema ?? DEFAULT_POSTGRES_SCHEMA}_queue`;
}

/** A started pg-boss on the queue's schema; its errors go to `onError` instead of crashing the process. */
async function startBoss(
  options: QueueOptions,
  role: { supervise: boolean; onError: (error: Error) => void },
): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: options.url,
    schema: queueSchema(options),
    application_name: "layerwatch",
    supervise: role.supervise,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? DEFAULTS.maintenanceIntervalSeconds,
    schedule: false,
    max: 4,
  });
  boss.on("error", role.onError);
  try {
    await boss.start();
    await boss.createQueue(IMAGE_QUEUE, { name: IMAGE_QUEUE, policy: "short" });
  } catch (error) {
    await boss.stop({ graceful: false }).catch(() => undefined);
    throw new InputError(
      `PostgreSQL ${redactUrl(options.url)}: cannot start the job queue (${describeError(error)})`,
    );
  }
  return boss;
}

function parsePlatform(text: string): Platform {
  const [os, architecture, variant] = text.split("/");
  if (!os || !architecture) throw new InputError(`platform ${text}: use os/arch or os/arch/variant`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

function registryConfig(config: RescanConfig, registry: string): RegistryConfig {
  const found = config.registries.find((entry) => entry.registry === registry);
  if (!found) throw new InputError(`${config.path}: no registry ${registry} in the config`);
  return found;
}

/**
 * A tag's digest by HEAD; its image manifests from the stored tag when the digest has not moved
 * (and the same platforms are asked), else from the manifest or index itself.
 */
async function resolveTag(
  client: RegistryClient,
  target: RescanTarget,
  stored: TagState | undefined,
): Promise<TagState> {
  const repository = `${target.registry}/${target.repository}`;
  const where = `${repository}:${target.tag}`;
  const headDigest = await client.headManifest(target.repository, target.tag);
  const samePlatforms = (tag: TagState) =>
    tag.images.every((image) => image.platform === undefined) ||
    tag.images.map((image) => image.platform).join(",") === target.platforms.join(",");
  if (headDigest !== undefined && stored?.digest === headDigest && samePlatforms(stored))
    return { ...stored, resolvedAt: new Date().toISOString() };
  const top = await client.getManifest(target.repository, target.tag);
  let document: { manifests?: unknown };
  try {
    document = JSON.parse(top.body.toString("utf8")) as { manifests?: unknown };
  } catch {
    throw new InputError(`${where}: the manifest is not JSON`);
  }
  let images: TagState["images"];
  if (Array.isArray(document.manifests)) {
    const readJson = async (digest: string) =>
      JSON.parse((await client.getManifest(target.repository, digest)).body.toString("utf8")) as unknown;
    images = [];
    for (const platform of target.platforms) {
      const selected = await selectManifest(document, readJson, { where, platform: parsePlatform(platform) });
      images.push({ digest: selected.digest, platform });
    }
  } else images = [{ digest: top.digest }];
  return {
    repository,
    tag: target.tag,
    digest: top.digest,
    images,
    resolvedAt: new Date().toISOString(),
  };
}

/**
 * `rescan --enqueue`: resolves every target tag (HEAD, and the manifest when the tag moved),
 * records the tags in the shared state, and queues one job per image digest behind them.
 * `targets` is the config's whole selection: a stored tag of a listed repository that is not
 * among them is forgotten.
 */
export async function enqueueRescan(
  config: RescanConfig,
  targets: RescanTarget[],
  options: QueueOptions & { env?: NodeJS.ProcessEnv },
): Promise<EnqueueResult> {
  const env = options.env ?? process.env;
  const result: EnqueueResult = {
    tags: 0,
    images: 0,
    enqueued: 0,
    alreadyQueued: 0,
    tagsMoved: [],
    errors: [],
  };
  const store = await openPostgresStateStore(options.url, {
    schema: options.schema ?? DEFAULT_POSTGRES_SCHEMA,
  });
  let boss: PgBoss | undefined;
  const clients = new Map<string, RegistryClient>();
  try {
    boss = await startBoss(options, {
      supervise: false,
      onError: (error) => result.errors.push({ subject: "job queue", problem: describeError(error) }),
    });
    const jobs = new Map<string, ImageJob>();
    const byRegistry = new Map<string, RescanTarget[]>();
    for (const target of targets)
      byRegistry.set(target.registry, [...(byRegistry.get(target.registry) ?? []), target]);
    for (const [registry, list] of byRegistry) {
      const entry = registryConfig(config, registry);
      const client = await openRegistryClient(entry, { env, configPath: config.path });
      clients.set(registry, client);
      const storedTags = new Map<string, TagState[]>();
      for (const repository of new Set(list.map((target) => `${registry}/${target.repository}`)))
        storedTags.set(repository, await store.getTags(repository));
      const limit = limiter(entry.concurrency);
      await Promise.all(
        list.map((target) =>
          limit(async () => {
            const repository = `${registry}/${target.repository}`;
            const stored = storedTags.get(repository)?.find((tag) => tag.tag === target.tag);
            try {
              const tag = await resolveTag(client, target, stored);
              await store.putTag(tag);
              result.tags++;
              if (stored && stored.digest !== tag.digest)
                result.tagsMoved.push({ repository, tag: tag.tag, from: stored.digest, to: tag.digest });
              for (const image of tag.images) {
                const queued = jobs.get(image.digest);
                if (queued) queued.tags?.push(tag.tag);
                else
                  jobs.set(image.digest, {
                    repository,
                    digest: image.digest,
                    ...(image.platform ? { platform: image.platform } : {}),
                    tags: [tag.tag],
                  });
              }
            } catch (error) {
              // One tag that cannot be read (gone since the selection, no access) is reported, not fatal.
              result.errors.push({ subject: `${repository}:${target.tag}`, problem: describeError(error) });
            }
          }),
        ),
      );
      // Tags of these repositories the selection no longer names (deleted, or filtered out).
      for (const [repository, tags] of storedTags) {
        const selected = new Set(
          list.filter((target) => `${registry}/${target.repository}` === repository).map((t) => t.tag),
        );
        for (const tag of tags) if (!selected.has(tag.tag)) await store.deleteTag(repository, tag.tag);
      }
    }
    result.images = jobs.size;
    for (const job of jobs.values()) {
      const id = await boss.send(IMAGE_QUEUE, job, {
        singletonKey: job.digest,
        expireInSeconds: options.expireInSeconds ?? DEFAULTS.expireInSeconds,
        retryLimit: options.retryLimit ?? DEFAULTS.retryLimit,
        retryDelay: options.retryDelaySeconds ?? DEFAULTS.retryDelaySeconds,
      });
      if (id === null) result.alreadyQueued++;
      else result.enqueued++;
    }
  } finally {
    for (const client of clients.values()) await client.close();
    await boss?.stop({ graceful: false, wait: true }).catch(() => undefined);
    await store.close();
  }
  return result;
}

/** What a worker reports as it goes (for log lines); never a secret. */
export type WorkerEvent =
  | { type: "started"; worker: string }
  | { type: "job"; worker: string; jobId: string; digest: string; retry: number }
  | { type: "pulled"; worker: string; jobId: string; digest: string }
  | { type: "done"; worker: string; jobId: string; output: ImageJobOutput }
  | { type: "failed"; worker: string; jobId: string; digest: string; problem: string }
  | { type: "notified"; worker: string; digest: string; notifier: string; ok: boolean; problem?: string }
  | { type: "error"; worker: string; problem: string }
  | { type: "stopped"; worker: string; done: number; failed: number };

export interface WorkerOptions extends QueueOptions {
  /** The config file: each job's registry settings (credentials, TLS) are looked up in it by host. */
  config: RescanConfig;
  advisories: AdvisorySource;
  /** Layer cache and other pipeline settings for pulls. */
  pipeline?: Omit<PipelineOptions, "registry" | "platform">;
  env?: NodeJS.ProcessEnv;
  /** Jobs worked on at once. Default 1. */
  concurrency?: number;
  /** Seconds between polls of an empty queue. Default 2. */
  pollingIntervalSeconds?: number;
  /** Return once no job is waiting, taken or due for a retry (a batch run); default: run until `signal`. */
  untilEmpty?: boolean;
  /** Stops taking jobs; the ones under way finish first. */
  signal?: AbortSignal;
  onEvent?: (event: WorkerEvent) => void;
  /**
   * Test only: wait this long after pulling a job's image, before storing it, so that a test can
   * kill the worker while it holds the job. Never set in normal use.
   */
  testPauseAfterPullMs?: number;
}

export interface WorkerSummary {
  done: number;
  failed: number;
}

/**
 * One job: pulls and matches the digest when the state does not hold it (or holds an inventory
 * older code made), else matches its stored inventory again; stores the result either way.
 */
async function bringUpToDate(
  job: ImageJob,
  store: RescanStateStore,
  options: WorkerOptions & { env: NodeJS.ProcessEnv; worker: string },
  onPulled: () => void,
): Promise<ImageJobOutput> {
  const { digest, repository, platform } = job;
  const before = await store.getImage(digest);
  let findings: FindingState[];
  let pulled = false;
  if (before === undefined || before.inventoryVersion !== imageStateVersion) {
    const entry = registryConfig(options.config, repository.slice(0, repository.indexOf("/")));
    const image = await pullImageState(`${repository}@${digest}`, {
      ...options.pipeline,
      env: options.env,
      registry: pipelineRegistryOptions(entry),
      repository,
      ...(platform ? { platform } : {}),
    });
    pulled = true;
    onPulled();
    if (options.testPauseAfterPullMs) await sleep(options.testPauseAfterPullMs);
    findings = matchImageState(image, options.advisories);
    const change = diffFindings(before?.findings ?? [], findings);
    await notifyChange(job, change, before === undefined, options);
    await store.putImage({ ...image, findings, matchedAt: new Date().toISOString() });
  } else {
    findings = matchImageState(before, options.advisories);
    await notifyChange(job, diffFindings(before.findings, findings), false, options);
    await store.updateFindings(digest, findings, new Date().toISOString());
  }
  const change = diffFindings(before?.findings ?? [], findings);
  return {
    digest,
    pulled,
    findings: findings.length,
    newFindings: change.newFindings.map((finding) => finding.id),
    goneFindings: change.goneFindings.map((finding) => finding.id),
    worker: options.worker,
  };
}

/**
 * Tells the config's notifiers what one job changed, before the change is stored: a worker that
 * dies in between leaves the job to a retry, which finds the same change and tells it again (at
 * least once; the GitHub notifier updates its issue rather than filing another). A notifier that
 * fails is an event, not a failed job: the image is stored either way.
 */
async function notifyChange(
  job: ImageJob,
  change: ReturnType<typeof diffFindings>,
  firstSeen: boolean,
  options: WorkerOptions & { env: NodeJS.ProcessEnv; worker: string },
): Promise<void> {
  if (options.config.notify.notifiers.length === 0) return;
  if (change.newFindings.length === 0 && change.goneFindings.length === 0) return;
  const now = new Date().toISOString();
  const changes: RescanChanges = {
    startedAt: now,
    finishedAt: now,
    images: [
      {
        repository: job.repository,
        tags: job.tags ?? [],
        digest: job.digest,
        ...(job.platform ? { platform: job.platform } : {}),
        firstSeen,
        newFindings: change.newFindings,
        goneFindings: change.goneFindings,
      },
    ],
    tagsMoved: [],
    tagsGone: [],
    counts: {
      repositories: 1,
      tags: job.tags?.length ?? 0,
      pulled: firstSeen ? 1 : 0,
      rematched: firstSeen ? 0 : 1,
      failed: 0,
    },
    errors: [],
  };
  const results = await notifyAll(changes, options.config.notify, { env: options.env });
  for (const result of results)
    options.onEvent?.({
      type: "notified",
      worker: options.worker,
      digest: job.digest,
      notifier: result.notifier,
      ok: result.ok,
      ...(result.problem ? { problem: result.problem } : {}),
    });
}

/**
 * `rescan --worker`: takes image jobs one at a time (or `concurrency` at once) and brings each
 * digest up to date in the shared state: pulled and matched when the state does not hold it (or
 * holds an inventory older code made), else matched again from the stored inventory.
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerSummary> {
  const worker = `${hostname()}:${process.pid}`;
  const emit = (event: WorkerEvent) => options.onEvent?.(event);
  const env = options.env ?? process.env;
  const summary: WorkerSummary = { done: 0, failed: 0 };
  const store = await openPostgresStateStore(options.url, {
    schema: options.schema ?? DEFAULT_POSTGRES_SCHEMA,
  });
  let boss: PgBoss | undefined;
  try {
    boss = await startBoss(options, {
      // Every worker may run maintenance (expiring lost jobs); pg-boss lets one do it per interval.
      supervise: true,
      onError: (error) => emit({ type: "error", worker, problem: describeError(error) }),
    });
    emit({ type: "started", worker });
    const handle = async (job: PgBoss.JobWithMetadata<ImageJob>): Promise<ImageJobOutput> => {
      const { digest } = job.data;
      emit({ type: "job", worker, jobId: job.id, digest, retry: job.retryCount });
      try {
        const output = await bringUpToDate(job.data, store, { ...options, env, worker }, () =>
          emit({ type: "pulled", worker, jobId: job.id, digest }),
        );
        summary.done++;
        emit({ type: "done", worker, jobId: job.id, output });
        return output;
      } catch (error) {
        // Thrown on: pg-boss marks the job failed and offers it again after retryDelaySeconds.
        summary.failed++;
        emit({ type: "failed", worker, jobId: job.id, digest, problem: describeError(error) });
        throw error;
      }
    };
    const workOptions = {
      includeMetadata: true as const,
      batchSize: 1,
      pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2,
    };
    for (let lane = 0; lane < Math.max(1, options.concurrency ?? 1); lane++) {
      await boss.work<ImageJob>(IMAGE_QUEUE, workOptions, async ([job]) => (job ? handle(job) : undefined));
    }
    // Wait for the signal, or, with untilEmpty, for a queue with nothing left to do.
    const pollMs = (options.pollingIntervalSeconds ?? 2) * 1000;
    while (!options.signal?.aborted) {
      if (options.untilEmpty && (await boss.getQueueSize(IMAGE_QUEUE, { before: "completed" })) === 0) break;
      await sleep(pollMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
    await boss.offWork(IMAGE_QUEUE);
  } finally {
    // Graceful: jobs under way finish and are completed before the connections close.
    await boss
      ?.stop({
        graceful: true,
        wait: true,
        timeout: (options.expireInSeconds ?? DEFAULTS.expireInSeconds) * 1000,
      })
      .catch(() => undefined);
    await store.close();
    emit({ type: "stopped", worker, ...summary });
  }
  return summary;
}
