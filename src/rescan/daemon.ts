/**
 * `rescan --daemon`: runs a rescan on a cron schedule (croner: five fields, or six with seconds
 * first; nicknames such as @hourly) until told to stop. Runs never overlap: a run still going when
 * the next is due makes that one be skipped, with a note. Stopping waits for the run under way,
 * which is given the same signal and stops at its next safe point, then returns.
 */
import { constants } from "node:os";
import { Cron } from "croner";
import { describeError, InputError } from "../errors.js";

export interface DaemonOptions {
  /** Aborted to stop: the run under way finishes (it is given this signal), then runDaemon returns. */
  signal?: AbortSignal;
  onNote?: (message: string) => void;
  /** An IANA zone ("Europe/Berlin") the schedule is read in; the machine's own by default. */
  timezone?: string;
}

/** Checks a schedule and its time zone, and says when it first runs; InputError when it is wrong or never runs. */
export function checkSchedule(schedule: string, timezone?: string): Date {
  let next: Date | null;
  try {
    const probe = new Cron(schedule, { paused: true, ...(timezone ? { timezone } : {}) });
    next = probe.nextRun();
    probe.stop();
  } catch (error) {
    const zone = timezone ? ` (time zone ${timezone})` : "";
    throw new InputError(`schedule "${schedule}"${zone}: ${describeError(error)}`);
  }
  if (!next) throw new InputError(`schedule "${schedule}": never runs`);
  return next;
}

/** Resolves when the signal aborts (at once if it has). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * Runs `runOnce` at every time `schedule` names until `options.signal` aborts. A run that throws
 * is noted and the schedule goes on (the next run may well succeed: a registry back up).
 */
export async function runDaemon(
  schedule: string,
  runOnce: (signal: AbortSignal) => Promise<void>,
  options: DaemonOptions,
): Promise<void> {
  const note = (message: string) => options.onNote?.(message);
  const first = checkSchedule(schedule, options.timezone);
  const signal = options.signal ?? new AbortController().signal;
  if (signal.aborted) return;

  let current: Promise<void> | undefined;
  let runs = 0;
  const job = new Cron(schedule, { ...(options.timezone ? { timezone: options.timezone } : {}) }, () => {
    if (signal.aborted) return;
    const due = new Date().toISOString();
    if (current) {
      note(`rescan due at ${due} skipped: the previous one is still running`);
      return;
    }
    const number = ++runs;
    note(`rescan ${number} started at ${due}`);
    const started = Date.now();
    current = runOnce(signal)
      .then(
        () => note(`rescan ${number} finished in ${((Date.now() - started) / 1000).toFixed(1)} s`),
        (error: unknown) => note(`rescan ${number} failed: ${describeError(error)}`),
      )
      .finally(() => {
        current = undefined;
        const next = job.nextRun();
        if (!signal.aborted && next) note(`next rescan at ${next.toISOString()}`);
      });
  });
  note(
    `rescans on "${schedule}"${options.timezone ? ` (${options.timezone})` : ""}; first at ${first.toISOString()}`,
  );

  await aborted(signal);
  job.stop();
  if (current) {
    note("stopping: waiting for the rescan under way to reach a safe point");
    await current;
  }
  note("stopped");
}

/**
 * A signal that SIGTERM or SIGINT aborts, for runDaemon: the first asks to stop after the run
 * under way; a second exits at once (128 + the signal's number, as a shell reports it).
 */
export function installStopSignals(onNote?: (message: string) => void): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      onNote?.(`${name}: stopping after the rescan under way (send it again to stop at once)`);
      controller.abort(new Error(`stopped by ${name}`));
      return;
    }
    onNote?.(`${name} again: stopping at once`);
    process.exit(128 + (constants.signals[name] ?? 0));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return controller.signal;
}
