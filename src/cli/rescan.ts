/**
 * `layerwatch rescan --config FILE`: rescans the registries the config names, once (default) or
 * on its schedule (--daemon), or hands the work to workers (--enqueue, --worker); reports what
 * changed since the last rescan and tells the configured notifiers.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describeError, ExitCode, InputError } from "../errors.js";
import { severityLevels } from "../match/types.js";
import { loadRescanConfig, type RescanConfig } from "../rescan/config.js";
import { runRescan } from "../rescan/rescan.js";
import { openSqliteStateStore } from "../rescan/state/sqlite.js";
import type { FindingState, RescanChanges, RescanStateStore } from "../rescan/types.js";
import { AdvisoryStore } from "../vulndb/store.js";
import type { CliIo } from "./io.js";
import { cacheDirectory } from "./paths.js";

export interface RescanCliOptions {
  config: string;
  /** The advisory store given by --db or LAYERWATCH_DB; undefined: the config's `db`, else the default. */
  db?: string;
  /** The default advisory store, when neither the flag nor the config names one. */
  defaultDb: string;
  state?: string;
  format: string;
  output?: string;
  failOn?: string;
  once?: boolean;
  daemon?: boolean;
  enqueue?: boolean;
  worker?: boolean;
  /** With --worker: return once the queue is empty. */
  untilEmpty?: boolean;
  cacheDir?: string;
  /** false with --no-cache. */
  cache?: boolean;
  debug?: boolean;
}

const formats = ["table", "json"];

function severityRank(level: string): number {
  return severityLevels.indexOf(level as (typeof severityLevels)[number]);
}

/** "sha256:" and the first 12 hex digits: enough to tell images apart in a listing. */
function short(digest: string): string {
  return digest.slice(0, 19);
}

function findingLine(finding: FindingState): string {
  const fix = finding.fixedVersion ? ` (fixed in ${finding.fixedVersion})` : "";
  return `    ${finding.severity.padEnd(8)} ${finding.id.padEnd(20)} ${finding.packageName} ${finding.installedVersion}${fix}`;
}

/** The changes as text for a terminal or a log. */
export function renderRescanTable(changes: RescanChanges): string {
  const { counts } = changes;
  const lines = [
    `rescan ${changes.startedAt}: ${counts.repositories} repositories, ${counts.tags} tags; ${counts.pulled} images pulled, ${counts.rematched} matched again; ${counts.failed} errors`,
  ];
  const newImages = changes.images.filter((image) => image.newFindings.length > 0);
  const goneImages = changes.images.filter((image) => image.goneFindings.length > 0);
  const imageTitle = (image: RescanChanges["images"][number]) =>
    `  ${image.repository}@${short(image.digest)} (${image.tags.join(", ")})${image.platform ? ` ${image.platform}` : ""}${image.firstSeen ? " [first scan]" : ""}`;
  if (newImages.length > 0) {
    lines.push("new findings:");
    for (const image of newImages) lines.push(imageTitle(image), ...image.newFindings.map(findingLine));
  }
  if (goneImages.length > 0) {
    lines.push("findings gone:");
    for (const image of goneImages) lines.push(imageTitle(image), ...image.goneFindings.map(findingLine));
  }
  if (changes.tagsMoved.length > 0) {
    lines.push("tags moved:");
    for (const move of changes.tagsMoved)
      lines.push(`  ${move.repository}:${move.tag} ${short(move.from)} -> ${short(move.to)}`);
  }
  if (changes.tagsGone.length > 0) {
    lines.push("tags gone:");
    for (const gone of changes.tagsGone)
      lines.push(`  ${gone.repository}:${gone.tag} (was ${short(gone.digest)})`);
  }
  if (changes.errors.length > 0) {
    lines.push("errors:");
    for (const error of changes.errors) lines.push(`  ${error.subject}: ${error.problem}`);
  }
  if (lines.length === 1) lines.push("no changes since the last rescan");
  return `${lines.join("\n")}\n`;
}

async function openStateStore(config: RescanConfig, options: RescanCliOptions, env: NodeJS.ProcessEnv) {
  if (options.state !== undefined) return openSqliteStateStore(options.state);
  if (config.state.kind === "postgres") {
    const { openPostgresStateStore } = await import("../rescan/state/postgres.js");
    return openPostgresStateStore(config.state.url);
  }
  return openSqliteStateStore(config.state.path ?? join(cacheDirectory(env), "rescan-state.sqlite"));
}

async function openAdvisories(path: string): Promise<AdvisoryStore> {
  const store = await AdvisoryStore.open(path);
  if (store.summary().advisories === 0) {
    store.close();
    throw new InputError(
      `vulnerability store ${path} is empty; run 'layerwatch db import' or 'db update' first`,
    );
  }
  return store;
}

/** The rescan's changes in the chosen format, to --output or standard output; warnings to standard error. */
async function emitChanges(changes: RescanChanges, options: RescanCliOptions, io: CliIo): Promise<void> {
  for (const error of changes.errors)
    io.stderr.write(`layerwatch: warning: ${error.subject}: ${error.problem}\n`);
  const text =
    options.format === "json" ? `${JSON.stringify(changes, null, 2)}\n` : renderRescanTable(changes);
  if (options.output === undefined) {
    io.stdout.write(text);
    return;
  }
  try {
    await writeFile(options.output, text);
  } catch (error) {
    throw new InputError(`--output ${options.output}: ${describeError(error)}`);
  }
}

/** Tells every configured notifier; a notifier that fails is a warning, never the end of the rescan. */
async function notify(
  changes: RescanChanges,
  config: RescanConfig,
  io: CliIo,
  signal: AbortSignal | undefined,
  note: (m: string) => void,
) {
  if (config.notify.notifiers.length === 0) return;
  const { notifyAll } = await import("../rescan/notify/index.js");
  const results = await notifyAll(changes, config.notify, {
    env: io.env,
    onNote: note,
    ...(signal ? { signal } : {}),
  });
  for (const result of results)
    if (!result.ok)
      io.stderr.write(`layerwatch: warning: notify ${result.notifier}: ${result.problem ?? "failed"}\n`);
}

/**
 * A signal that SIGTERM or SIGINT aborts while `work` runs (the rescan then stops between images),
 * with the handlers removed afterwards; a second signal stops at once.
 */
async function withStopSignals<T>(
  work: (signal: AbortSignal) => Promise<T>,
  note: (m: string) => void,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(name === "SIGINT" ? 130 : 143);
    note(`${name}: stopping after the image under way (send it again to stop at once)`);
    controller.abort(new Error(`stopped by ${name}`));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}

export async function runRescanCommand(options: RescanCliOptions, io: CliIo): Promise<number> {
  if (!formats.includes(options.format))
    throw new InputError(`--format ${options.format}: use one of ${formats.join(", ")}`);
  if (options.failOn !== undefined && severityRank(options.failOn) < 1)
    throw new InputError(`--fail-on ${options.failOn}: use one of low, medium, high, critical`);
  const modes = (["once", "daemon", "enqueue", "worker"] as const).filter((mode) => options[mode]);
  if (modes.length > 1) throw new InputError(`--${modes.join(" and --")}: choose one mode`);
  const mode = modes[0] ?? "once";
  if (options.untilEmpty && mode !== "worker")
    throw new InputError("--until-empty applies only with --worker");
  const config = await loadRescanConfig(options.config, io.env);
  const db = options.db ?? config.db ?? options.defaultDb;
  const note = (message: string) => {
    if (options.debug) io.stderr.write(`layerwatch: ${message}\n`);
  };
  const cacheDir = options.cache === false ? undefined : (options.cacheDir ?? cacheDirectory(io.env));

  if (mode === "enqueue" || mode === "worker")
    return runDistributed(mode, config, options, { db, cacheDir, note }, io);

  /** One rescan: the stores opened for it (a daemon sees `db update`s between runs), then reported. */
  const rescanOnce = async (signal: AbortSignal): Promise<RescanChanges> => {
    const advisories = await openAdvisories(db);
    let store: RescanStateStore | undefined;
    try {
      store = await openStateStore(config, options, io.env);
      const changes = await runRescan(config, {
        store,
        advisories,
        signal,
        onNote: note,
        env: io.env,
        ...(cacheDir !== undefined ? { cacheDir } : {}),
      });
      await emitChanges(changes, options, io);
      await notify(changes, config, io, signal, note);
      return changes;
    } finally {
      await store?.close();
      advisories.close();
    }
  };

  if (mode === "daemon") {
    if (config.schedule === undefined)
      throw new InputError(`${config.path}: schedule: is required for --daemon (a cron expression)`);
    const { runDaemon, installStopSignals } = await import("../rescan/daemon.js");
    const daemonNote = (message: string) => io.stderr.write(`layerwatch: ${message}\n`);
    await runDaemon(
      config.schedule,
      async (signal) => {
        await rescanOnce(signal);
      },
      {
        signal: installStopSignals(daemonNote),
        onNote: daemonNote,
        ...(config.timezone ? { timezone: config.timezone } : {}),
      },
    );
    return ExitCode.ok;
  }

  const changes = await withStopSignals(rescanOnce, (message) => io.stderr.write(`layerwatch: ${message}\n`));
  if (changes.errors.length > 0 && changes.counts.repositories === 0) return ExitCode.usage;
  if (options.failOn !== undefined) {
    const threshold = severityRank(options.failOn);
    const failing = changes.images.some((image) =>
      image.newFindings.some((finding) => severityRank(finding.severity) >= threshold),
    );
    if (failing) return ExitCode.findings;
  }
  return ExitCode.ok;
}

/** `--enqueue` and `--worker`: the work shared through PostgreSQL (state/postgres.ts, distributed.ts). */
async function runDistributed(
  mode: "enqueue" | "worker",
  config: RescanConfig,
  options: RescanCliOptions,
  context: { db: string; cacheDir: string | undefined; note: (message: string) => void },
  io: CliIo,
): Promise<number> {
  if (config.state.kind !== "postgres" || options.state !== undefined)
    throw new InputError(
      `--${mode}: the config's state must be postgres (state: { postgres: { urlEnv: ... } })`,
    );
  const distributed = await import("../rescan/distributed.js");
  const url = config.state.url;
  if (mode === "enqueue") {
    const { selectRescanTargets } = await import("../rescan/rescan.js");
    const selected = await selectRescanTargets(config, { env: io.env, onNote: context.note });
    const result = await distributed.enqueueRescan(config, selected.targets, { url, env: io.env });
    const errors = [...selected.errors, ...result.errors];
    for (const error of errors) io.stderr.write(`layerwatch: warning: ${error.subject}: ${error.problem}\n`);
    const text =
      options.format === "json"
        ? `${JSON.stringify({ ...result, errors }, null, 2)}\n`
        : `enqueued ${result.enqueued} images (${result.alreadyQueued} already queued) behind ${result.tags} tags; ${result.tagsMoved.length} tags moved; ${errors.length} errors\n`;
    if (options.output !== undefined) await writeFile(options.output, text);
    else io.stdout.write(text);
    return ExitCode.ok;
  }
  const advisories = await openAdvisories(context.db);
  const { installStopSignals } = await import("../rescan/daemon.js");
  try {
    const summary = await distributed.runWorker({
      url,
      config,
      advisories,
      pipeline: {
        ...(context.cacheDir !== undefined ? { cacheDir: context.cacheDir } : {}),
        onNote: context.note,
      },
      env: io.env,
      ...(options.untilEmpty ? { untilEmpty: true } : {}),
      signal: installStopSignals((message) => io.stderr.write(`layerwatch: ${message}\n`)),
      onEvent: (event) => {
        if (event.type === "failed")
          io.stderr.write(`layerwatch: warning: ${event.digest}: ${event.problem}\n`);
        else if (event.type === "error") io.stderr.write(`layerwatch: warning: ${event.problem}\n`);
        else if (event.type === "notified" && !event.ok)
          io.stderr.write(`layerwatch: warning: notify ${event.notifier}: ${event.problem ?? "failed"}\n`);
        else if (event.type === "done")
          context.note(`${event.output.digest}: ${event.output.pulled ? "pulled" : "matched again"}`);
      },
    });
    io.stdout.write(`worker stopped: ${summary.done} images done, ${summary.failed} failed\n`);
    return ExitCode.ok;
  } finally {
    advisories.close();
  }
}
