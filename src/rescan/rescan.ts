/**
 * One registry rescan: list the repositories and tags the config selects, resolve every tag to a
 * digest with a HEAD request, pull only the images never seen, match the stored inventories of
 * the rest against the current advisories, and say what changed since the last rescan.
 *
 * The order of writes keeps the state whole whatever stops the rescan: an image is stored (or its
 * findings replaced) before a tag is pointed at it, and each write is atomic in the store. A tag
 * whose image could not be pulled keeps its old record, so the next rescan tries again.
 */
import { createHash } from "node:crypto";
import { describeError, InputError } from "../errors.js";
import { DiskLayerCache } from "../fs/layer-cache.js";
import type { RegistryClient } from "../image/registry/client.js";
import type { LayerCache } from "../image/types.js";
import { inventoryVersion } from "../inventory/inventory.js";
import type { AdvisorySource } from "../match/matcher.js";
import type { PipelineOptions } from "../pipeline.js";
import type { RegistryConfig, RepositoryConfig, RescanConfig } from "./config.js";
import { isTooOld, listRepositories, listTags, selectTags } from "./discover.js";
import {
  diffFindings,
  imageStateVersion,
  matchImageState,
  memoizedAdvisories,
  pullImageState,
  readStoredInventory,
} from "./image-state.js";
import { type Limit, limiter, openRegistryClient, pipelineRegistryOptions } from "./registry.js";
import type {
  FindingState,
  ImageChange,
  ImageState,
  RescanChanges,
  RescanStateStore,
  TagMove,
  TagState,
} from "./types.js";

export interface RescanOptions {
  store: RescanStateStore;
  advisories: AdvisorySource;
  /** Aborted: the rescan stops between images; what was not reached is left for the next one. */
  signal?: AbortSignal;
  /** Progress, retries and skipped work, one line each; never given a secret. */
  onNote?: (message: string) => void;
  /** The layer cache folder pulls read and fill (a layer shared by images is read once); none when undefined. */
  cacheDir?: string;
  /** Where DOCKER_CONFIG and proxies are read from (default: the process's). */
  env?: NodeJS.ProcessEnv;
  /** The time maximum ages are measured from (default: now). */
  now?: Date;
}

/** Largest image manifest or config read while resolving tags. */
const MAX_JSON_BYTES = 16 * 1024 ** 2;

/**
 * Layer results shared by the pulls of one rescan: a layer two new images share is downloaded
 * once even when both are pulled at the same time. The first pull to ask for a layer reads it
 * (from the disk cache, else the registry); the others wait for its result. A pull that ends
 * without a result for a layer it took (it failed) lets the waiters read the layer themselves.
 */
class SharedLayerCache {
  private readonly pending = new Map<
    string,
    { owner: object; result: Promise<unknown>; settle: (value: unknown) => void }
  >();
  /** Without a disk cache, results are kept for the rescan in memory. */
  private readonly memory = new Map<string, unknown>();

  constructor(private readonly disk: DiskLayerCache | undefined) {}

  /** The cache one pull reads through, and what to call when that pull is over. */
  forPull(): { cache: LayerCache<unknown>; release: () => void } {
    const owner = {};
    const taken = new Set<string>();
    const settle = (diffId: string, value: unknown) => {
      const entry = this.pending.get(diffId);
      if (entry?.owner !== owner) return;
      this.pending.delete(diffId);
      entry.settle(value);
    };
    const cache: LayerCache<unknown> = {
      get: async (diffId) => {
        for (;;) {
          const entry = this.pending.get(diffId);
          if (entry === undefined) break;
          // The same layer twice in one image: this pull reads it again itself.
          if (entry.owner === owner) return undefined;
          const value = await entry.result;
          if (value !== undefined) return value;
        }
        if (this.memory.has(diffId)) return this.memory.get(diffId);
        // Taken before the first await, so no other pull can take it too.
        let resolve: (value: unknown) => void = () => undefined;
        const result = new Promise<unknown>((done) => {
          resolve = done;
        });
        this.pending.set(diffId, { owner, result, settle: resolve });
        taken.add(diffId);
        const stored = await this.disk?.get(diffId);
        if (stored !== undefined) settle(diffId, stored);
        return stored;
      },
      put: async (diffId, value) => {
        if (this.disk) await this.disk.put(diffId, value as Parameters<DiskLayerCache["put"]>[1]);
        else this.memory.set(diffId, value);
        settle(diffId, value);
      },
    };
    const release = () => {
      for (const diffId of taken) settle(diffId, undefined);
    };
    return { cache, release };
  }
}

/** One registry as the rescan talks to it. */
interface RegistryContext {
  config: RegistryConfig;
  client: RegistryClient;
  limit: Limit;
  /** How pulls reach it: the pipeline's registry options. */
  pipeline: Omit<PipelineOptions, "platform" | "cacheDir" | "layerCache">;
}

/** A selected tag, resolved; stored once every image behind it is. */
interface ResolvedTag {
  registry: RegistryContext;
  /** "host:5000/team/app". */
  repository: string;
  /** "team/app". */
  name: string;
  tag: string;
  digest: string;
  /** Empty: the tag's images are older than the selection's maximum age, and are not scanned. */
  images: TagState["images"];
  previous?: TagState;
}

/** One image manifest to pull or re-match, and every tag that names it. */
interface ImageWork {
  digest: string;
  platform?: string;
  tags: ResolvedTag[];
}

interface RunState {
  options: RescanOptions;
  layers: SharedLayerCache;
  note: (message: string) => void;
  errors: RescanChanges["errors"];
  tagsGone: RescanChanges["tagsGone"];
  counts: RescanChanges["counts"];
  resolved: ResolvedTag[];
  /** Tags and images left undone because the signal aborted. */
  skipped: { repositories: number; tags: number; images: number };
}

function fail(state: RunState, subject: string, error: unknown): void {
  state.errors.push({ subject, problem: describeError(error) });
}

/** The platform a descriptor of an index names, as "os/arch[/variant]". */
function platformOf(descriptor: { platform?: { os?: string; architecture?: string; variant?: string } }) {
  const platform = descriptor.platform;
  if (!platform?.os || !platform.architecture) return undefined;
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}

function parseJson(body: Buffer, where: string): Record<string, unknown> {
  try {
    const value = JSON.parse(body.toString("utf8")) as unknown;
    if (value !== null && typeof value === "object") return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new InputError(`${where}: not a JSON object`);
}

/**
 * The image manifests behind a digest: the digest itself for an image manifest; for an index,
 * the manifest of each configured platform the index lists (one GET of the index; none later
 * while the tag keeps its digest, since the choice is stored with the tag).
 */
async function imagesBehind(
  registry: RegistryContext,
  repository: RepositoryConfig,
  digest: string,
): Promise<TagState["images"]> {
  const where = `${registry.config.registry}/${repository.name}@${digest}`;
  const manifest = await registry.limit(() => registry.client.getManifest(repository.name, digest));
  const document = parseJson(manifest.body, where);
  if (!Array.isArray(document.manifests)) return [{ digest }];
  const listed = document.manifests as Array<{
    digest?: unknown;
    platform?: { os?: string; architecture?: string; variant?: string };
  }>;
  const images: TagState["images"] = [];
  for (const wanted of repository.platforms) {
    const [os, architecture, variant] = wanted.split("/");
    const entry = listed.find(
      (descriptor) =>
        descriptor.platform?.os === os &&
        descriptor.platform?.architecture === architecture &&
        (variant === undefined || descriptor.platform?.variant === variant),
    );
    if (entry && typeof entry.digest === "string") images.push({ digest: entry.digest, platform: wanted });
  }
  if (images.length === 0) {
    const offered = listed.map(platformOf).filter(Boolean);
    throw new InputError(
      `${where}: the index has no image for ${repository.platforms.join(", ")} (it has: ${offered.join(", ") || "none"})`,
    );
  }
  return images;
}

/** When an image not yet stored was made: its manifest, then its config (one small blob). */
async function createdOf(
  registry: RegistryContext,
  repository: string,
  digest: string,
): Promise<string | undefined> {
  const where = `${registry.config.registry}/${repository}@${digest}`;
  return registry.limit(async () => {
    const manifest = parseJson((await registry.client.getManifest(repository, digest)).body, where);
    const configDigest = (manifest.config as { digest?: unknown } | undefined)?.digest;
    if (typeof configDigest !== "string") throw new InputError(`${where}: the manifest names no config`);
    const stream = await registry.client.openBlob(repository, configDigest);
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of stream) {
      length += (chunk as Buffer).length;
      if (length > MAX_JSON_BYTES) {
        stream.destroy();
        throw new InputError(`${where}: config larger than ${MAX_JSON_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    if (`sha256:${createHash("sha256").update(bytes).digest("hex")}` !== configDigest)
      throw new InputError(`${where}: config digest mismatch`);
    const created = parseJson(bytes, `${where}: config`).created;
    return typeof created === "string" ? created : undefined;
  });
}

/** The stored image's config time, when it is stored. */
async function storedCreated(store: RescanStateStore, digest: string): Promise<string | undefined | null> {
  const image = await store.getImage(digest);
  if (!image || image.inventoryVersion !== imageStateVersion) return null;
  return readStoredInventory(image).created;
}

/** Resolves one selected tag: HEAD for its digest, then (only when the digest changed) what it names. */
async function resolveTag(
  state: RunState,
  registry: RegistryContext,
  repository: RepositoryConfig,
  tag: string,
  previous: TagState | undefined,
): Promise<void> {
  const full = `${registry.config.registry}/${repository.name}`;
  if (state.options.signal?.aborted) {
    state.skipped.tags++;
    return;
  }
  try {
    const digest =
      (await registry.limit(() => registry.client.headManifest(repository.name, tag))) ??
      // A registry that sends no Docker-Content-Digest: the manifest's own hash is its digest.
      (await registry.limit(() => registry.client.getManifest(repository.name, tag))).digest;
    state.counts.tags++;
    const selection = repository.tags;
    let images: TagState["images"];
    // An unchanged digest names the same images: no GET. An empty list under a maximum age is a
    // tag found too old before, and an image only grows older.
    if (previous?.digest === digest && (previous.images.length > 0 || selection.maxAgeMs !== undefined))
      images = previous.images;
    else images = await imagesBehind(registry, repository, digest);
    if (selection.maxAgeMs !== undefined && images.length > 0) {
      const now = state.options.now ?? new Date();
      const young: TagState["images"] = [];
      for (const image of images) {
        // A stored image says when it was made; only an image never pulled has its config read.
        const stored = await storedCreated(state.options.store, image.digest);
        const created = stored === null ? await createdOf(registry, repository.name, image.digest) : stored;
        if (!isTooOld(created, selection, now)) young.push(image);
      }
      if (young.length === 0) state.note(`${full}:${tag}: older than the maximum age; not scanned`);
      images = young;
    }
    state.resolved.push({
      registry,
      repository: full,
      name: repository.name,
      tag,
      digest,
      images,
      ...(previous ? { previous } : {}),
    });
  } catch (error) {
    fail(state, `${full}:${tag}`, error);
  }
}

/** Lists a repository's tags, forgets those gone or no longer selected, and resolves the rest. */
async function scanRepository(state: RunState, registry: RegistryContext, repository: RepositoryConfig) {
  const full = `${registry.config.registry}/${repository.name}`;
  if (state.options.signal?.aborted) {
    state.skipped.repositories++;
    return;
  }
  let tags: string[];
  try {
    tags = await registry.limit(() => listTags(registry.client, repository.name, registry.config.pageSize));
  } catch (error) {
    // Its stored tags stay as they are: a repository that cannot be read is not a repository emptied.
    fail(state, full, error);
    return;
  }
  state.counts.repositories++;
  const store = state.options.store;
  const present = new Set(tags);
  const selected = selectTags(tags, repository.tags);
  const wanted = new Set(selected);
  const stored = new Map((await store.getTags(full)).map((record) => [record.tag, record]));
  for (const record of stored.values()) {
    if (!present.has(record.tag)) {
      state.tagsGone.push({ repository: full, tag: record.tag, digest: record.digest });
      await store.deleteTag(full, record.tag);
    } else if (!wanted.has(record.tag)) {
      state.note(`${full}:${record.tag}: no longer selected; forgotten`);
      await store.deleteTag(full, record.tag);
    }
  }
  await Promise.all(selected.map((tag) => resolveTag(state, registry, repository, tag, stored.get(tag))));
}

async function openRegistry(
  config: RegistryConfig,
  options: Pick<RescanOptions, "env" | "onNote">,
  configPath: string,
): Promise<RegistryContext> {
  const env = options.env ?? process.env;
  const client = await openRegistryClient(config, {
    env,
    configPath,
    ...(options.onNote ? { onNote: options.onNote } : {}),
  });
  return {
    config,
    client,
    limit: limiter(config.concurrency),
    pipeline: {
      env,
      ...(options.onNote ? { onNote: options.onNote } : {}),
      registry: pipelineRegistryOptions(config),
    },
  };
}

/** Findings of the images a moved tag named before, to tell what its new image brings. */
async function predecessorFindings(
  store: RescanStateStore,
  work: ImageWork,
): Promise<FindingState[] | undefined> {
  const digests = new Set<string>();
  for (const tag of work.tags) {
    const before = tag.previous;
    if (!before || before.digest === tag.digest) continue;
    for (const image of before.images)
      if (image.platform === work.platform || before.images.length === 1) digests.add(image.digest);
  }
  if (digests.size === 0) return undefined;
  const findings: FindingState[] = [];
  for (const digest of digests) findings.push(...((await store.getImage(digest))?.findings ?? []));
  return findings;
}

/** Pulls an image never seen (or seen by older inventory code), or matches its stored inventory again. */
async function processImage(
  state: RunState,
  work: ImageWork,
  advisories: AdvisorySource,
  done: Set<string>,
): Promise<ImageChange[]> {
  const { store, signal } = state.options;
  if (signal?.aborted) {
    state.skipped.images++;
    return [];
  }
  const first = work.tags[0] as ResolvedTag;
  const names = work.tags.map((tag) => `${tag.repository}:${tag.tag}`);
  let before: FindingState[];
  let findings: FindingState[];
  let firstSeen = false;
  try {
    const existing = await store.getImage(work.digest);
    const matchedAt = () => new Date().toISOString();
    if (existing && existing.inventoryVersion === imageStateVersion) {
      findings = matchImageState(existing, advisories);
      before = existing.findings;
      await store.updateFindings(work.digest, findings, matchedAt());
      state.counts.rematched++;
    } else {
      const reference = `${first.registry.config.registry}/${first.name}@${work.digest}`;
      const pulled = await first.registry.limit(async () => {
        // Checked again once a slot is free: the rescan may have been told to stop meanwhile.
        if (signal?.aborted) return undefined;
        state.note(`pulling ${reference} (${names.join(", ")})`);
        const layers = state.layers.forPull();
        try {
          return await pullImageState(reference, {
            ...first.registry.pipeline,
            layerCache: layers.cache,
            repository: first.repository,
            ...(work.platform ? { platform: work.platform } : {}),
          });
        } finally {
          layers.release();
        }
      });
      if (pulled === undefined) {
        state.skipped.images++;
        return [];
      }
      findings = matchImageState(pulled, advisories);
      firstSeen = existing === undefined;
      before = existing?.findings ?? (await predecessorFindings(store, work)) ?? [];
      const image: ImageState = { ...pulled, findings, matchedAt: matchedAt() };
      await store.putImage(image);
      state.counts.pulled++;
    }
  } catch (error) {
    fail(state, `${first.repository}@${work.digest} (${names.join(", ")})`, error);
    return [];
  }
  done.add(work.digest);
  const { newFindings, goneFindings } = diffFindings(before, findings);
  if (newFindings.length === 0 && goneFindings.length === 0) return [];
  const byRepository = new Map<string, string[]>();
  for (const tag of work.tags)
    byRepository.set(tag.repository, [...(byRepository.get(tag.repository) ?? []), tag.tag]);
  return [...byRepository].map(([repository, tags]) => ({
    repository,
    tags: [...new Set(tags)].sort(),
    digest: work.digest,
    ...(work.platform ? { platform: work.platform } : {}),
    firstSeen,
    newFindings,
    goneFindings,
  }));
}

/**
 * Runs one rescan of every registry in the config. Failures of one repository, tag or image are
 * collected in `errors` and the rest goes on; the state store is left whole whatever happens.
 */
export async function runRescan(config: RescanConfig, options: RescanOptions): Promise<RescanChanges> {
  const startedAt = new Date().toISOString();
  const state: RunState = {
    options,
    layers: new SharedLayerCache(
      options.cacheDir !== undefined ? new DiskLayerCache(options.cacheDir, inventoryVersion) : undefined,
    ),
    note: (message) => options.onNote?.(message),
    errors: [],
    tagsGone: [],
    counts: { repositories: 0, tags: 0, pulled: 0, rematched: 0, failed: 0 },
    resolved: [],
    skipped: { repositories: 0, tags: 0, images: 0 },
  };
  const registries: RegistryContext[] = [];
  try {
    // Every registry at once, each within its own concurrency limit.
    await Promise.all(
      config.registries.map(async (registryConfig) => {
        let registry: RegistryContext;
        try {
          registry = await openRegistry(registryConfig, options, config.path);
        } catch (error) {
          fail(state, `registry ${registryConfig.registry}`, error);
          return;
        }
        registries.push(registry);
        let repositories = registryConfig.repositories;
        if (repositories === undefined) {
          try {
            const names = await registry.limit(() =>
              listRepositories(registry.client, registryConfig.pageSize),
            );
            repositories = names.map((name) => ({
              name,
              tags: registryConfig.tags,
              platforms: registryConfig.platforms,
            }));
          } catch (error) {
            fail(state, `registry ${registryConfig.registry} catalog`, error);
            return;
          }
        }
        await Promise.all(repositories.map((repository) => scanRepository(state, registry, repository)));
      }),
    );
  } finally {
    await Promise.all(registries.map((registry) => registry.client.close()));
  }

  // Each image once, however many tags and repositories name it.
  const works = new Map<string, ImageWork>();
  for (const tag of state.resolved) {
    for (const image of tag.images) {
      const work = works.get(image.digest);
      if (work) work.tags.push(tag);
      else
        works.set(image.digest, {
          digest: image.digest,
          ...(image.platform ? { platform: image.platform } : {}),
          tags: [tag],
        });
    }
  }
  const advisories = memoizedAdvisories(options.advisories);
  const done = new Set<string>();
  const images = (
    await Promise.all([...works.values()].map((work) => processImage(state, work, advisories, done)))
  ).flat();

  // Tags last: each now points at images that are stored.
  const tagsMoved: TagMove[] = [];
  const resolvedAt = new Date().toISOString();
  for (const tag of state.resolved) {
    if (!tag.images.every((image) => done.has(image.digest))) continue;
    await options.store.putTag({
      repository: tag.repository,
      tag: tag.tag,
      digest: tag.digest,
      images: tag.images,
      resolvedAt,
    });
    if (tag.previous && tag.previous.digest !== tag.digest)
      tagsMoved.push({ repository: tag.repository, tag: tag.tag, from: tag.previous.digest, to: tag.digest });
  }
  const { skipped } = state;
  if (options.signal?.aborted && skipped.repositories + skipped.tags + skipped.images > 0) {
    const repositories = skipped.repositories > 0 ? `${skipped.repositories} repositories, ` : "";
    state.errors.push({
      subject: "rescan",
      problem: `stopped before the end: ${repositories}${skipped.tags} tags and ${skipped.images} images left for the next rescan`,
    });
  }
  const byName = (a: { repository: string; tag: string }, b: { repository: string; tag: string }) =>
    a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag);
  images.sort((a, b) => a.repository.localeCompare(b.repository) || a.digest.localeCompare(b.digest));
  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    images,
    tagsMoved: tagsMoved.sort(byName),
    tagsGone: state.tagsGone.sort(byName),
    counts: { ...state.counts, failed: state.errors.length },
    errors: state.errors,
  };
}

/**
 * Matches stored images again against the advisories and stores the findings, without the
 * registry: what a rescan does for every unchanged image (and what the bench times).
 */
export async function rematchImages(
  store: RescanStateStore,
  advisorySource: AdvisorySource,
  digests: readonly string[],
): Promise<Array<{ digest: string; newFindings: FindingState[]; goneFindings: FindingState[] }>> {
  const advisories = memoizedAdvisories(advisorySource);
  const changes: Array<{ digest: string; newFindings: FindingState[]; goneFindings: FindingState[] }> = [];
  for (const digest of digests) {
    const image = await store.getImage(digest);
    if (!image) continue;
    const findings = matchImageState(image, advisories);
    await store.updateFindings(digest, findings, new Date().toISOString());
    changes.push({ digest, ...diffFindings(image.findings, findings) });
  }
  return changes;
}

/** A tag the config selects, for `rescan --enqueue` (distributed.ts's RescanTarget). */
export interface SelectedTag {
  registry: string;
  repository: string;
  tag: string;
  platforms: string[];
}

/**
 * Every tag the config selects (catalog, tags lists, regex and newest N), without resolving any:
 * what `rescan --enqueue` hands its jobs out for. The maximum age needs the images, so it is
 * left to whoever pulls them. Registries and repositories that cannot be read are in `errors`.
 */
export async function selectRescanTargets(
  config: RescanConfig,
  options: Pick<RescanOptions, "env" | "onNote">,
): Promise<{ targets: SelectedTag[]; errors: RescanChanges["errors"] }> {
  const targets: SelectedTag[] = [];
  const errors: RescanChanges["errors"] = [];
  await Promise.all(
    config.registries.map(async (registryConfig) => {
      let registry: RegistryContext;
      try {
        registry = await openRegistry(registryConfig, options, config.path);
      } catch (error) {
        errors.push({ subject: `registry ${registryConfig.registry}`, problem: describeError(error) });
        return;
      }
      try {
        const repositories =
          registryConfig.repositories ??
          (await registry.limit(() => listRepositories(registry.client, registryConfig.pageSize))).map(
            (name) => ({ name, tags: registryConfig.tags, platforms: registryConfig.platforms }),
          );
        await Promise.all(
          repositories.map(async (repository) => {
            try {
              const tags = await registry.limit(() =>
                listTags(registry.client, repository.name, registryConfig.pageSize),
              );
              for (const tag of selectTags(tags, repository.tags))
                targets.push({
                  registry: registryConfig.registry,
                  repository: repository.name,
                  tag,
                  platforms: repository.platforms,
                });
            } catch (error) {
              errors.push({
                subject: `${registryConfig.registry}/${repository.name}`,
                problem: describeError(error),
              });
            }
          }),
        );
      } catch (error) {
        errors.push({
          subject: `registry ${registryConfig.registry} catalog`,
          problem: describeError(error),
        });
      } finally {
        await registry.client.close();
      }
    }),
  );
  targets.sort((a, b) =>
    `${a.registry}/${a.repository}:${a.tag}`.localeCompare(`${b.registry}/${b.repository}:${b.tag}`),
  );
  return { targets, errors };
}
