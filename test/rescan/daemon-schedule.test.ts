import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { checkSchedule, runDaemon } from "../../src/rescan/daemon.js";

/** Polls until `condition` holds (generous: the machine is shared and loaded). */
async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(20);
  }
}

describe("runDaemon", () => {
  it("refuses a schedule that is not a cron expression, a time zone that does not exist, and a date that never comes", async () => {
    const never = async () => {
      throw new Error("must not run");
    };
    await expect(runDaemon("every hour", never, {})).rejects.toThrow(InputError);
    await expect(runDaemon("61 * * * *", never, {})).rejects.toThrow(/^schedule "61 \* \* \* \*": /);
    await expect(runDaemon("0 3 * * *", never, { timezone: "Mars/Olympus_Mons" })).rejects.toThrow(
      /^schedule "0 3 \* \* \*" \(time zone Mars\/Olympus_Mons\): /,
    );
    expect(() => checkSchedule("0 0 30 2 *")).toThrow('schedule "0 0 30 2 *": never runs');
    // Five fields run on the minute; six start with seconds.
    expect(checkSchedule("*/15 * * * *").getUTCSeconds()).toBe(0);
    expect(checkSchedule("0 3 * * *", "Europe/Berlin").getTime()).toBeGreaterThan(Date.now());
  });

  it("runs on a per-second schedule until stopped, giving each run the stop signal", async () => {
    const controller = new AbortController();
    const runs: number[] = [];
    const notes: string[] = [];
    const daemon = runDaemon(
      "* * * * * *",
      async (signal) => {
        expect(signal).toBe(controller.signal);
        runs.push(Date.now());
      },
      { signal: controller.signal, onNote: (m) => notes.push(m) },
    );
    await until(() => runs.length >= 3);
    controller.abort();
    await daemon;
    const count = runs.length;
    // One run a second at most: after the first, no more runs than seconds went by.
    expect(count - 1).toBeLessThanOrEqual(Math.ceil((runs.at(-1)! - runs[0]!) / 1000));
    await sleep(1500);
    expect(runs.length).toBe(count);
    expect(notes[0]).toMatch(/^rescans on "\* \* \* \* \* \*"; first at \d{4}-/);
    expect(notes.some((note) => /^rescan 1 finished in \d+\.\d s$/.test(note))).toBe(true);
    expect(notes.at(-1)).toBe("stopped");
  });

  it("when stopped during a run, waits for that run to end, then returns", async () => {
    const controller = new AbortController();
    let started = 0;
    let finishedAt = 0;
    let sawStop = false;
    const notes: string[] = [];
    const daemon = runDaemon(
      "* * * * * *",
      async (signal) => {
        started++;
        // A rescan checks the signal between repositories; this one takes 1.5 s to get there.
        await sleep(1500);
        sawStop = signal.aborted;
        finishedAt = Date.now();
      },
      { signal: controller.signal, onNote: (m) => notes.push(m) },
    );
    await until(() => started === 1);
    await sleep(200);
    controller.abort();
    await daemon;
    const returnedAt = Date.now();
    expect(finishedAt).toBeGreaterThan(0);
    expect(returnedAt).toBeGreaterThanOrEqual(finishedAt);
    expect(sawStop).toBe(true);
    expect(started).toBe(1);
    expect(notes).toContain("stopping: waiting for the rescan under way to reach a safe point");
  });

  it("never overlaps runs: a run longer than the interval makes the next ones be skipped", async () => {
    const controller = new AbortController();
    let running = 0;
    let mostAtOnce = 0;
    let runs = 0;
    const notes: string[] = [];
    const daemon = runDaemon(
      "* * * * * *",
      async () => {
        runs++;
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        await sleep(2500);
        running--;
      },
      { signal: controller.signal, onNote: (m) => notes.push(m) },
    );
    await until(() => runs >= 2, 30_000);
    controller.abort();
    await daemon;
    expect(mostAtOnce).toBe(1);
    expect(running).toBe(0);
    expect(
      notes.filter((note) => /^rescan due at .* skipped: the previous one is still running$/.test(note))
        .length,
    ).toBeGreaterThanOrEqual(2);
  });

  it("goes on after a run that fails, and notes the failure", async () => {
    const controller = new AbortController();
    let runs = 0;
    const notes: string[] = [];
    const daemon = runDaemon(
      "* * * * * *",
      async () => {
        runs++;
        if (runs === 1) throw new InputError("registry.example: HTTP 503 (after 4 attempts)");
      },
      { signal: controller.signal, onNote: (m) => notes.push(m) },
    );
    await until(() => runs >= 2);
    controller.abort();
    await daemon;
    expect(notes).toContain("rescan 1 failed: registry.example: HTTP 503 (after 4 attempts)");
    expect(notes.some((note) => note.startsWith("rescan 2 finished"))).toBe(true);
  });

  it("returns at once when the signal was aborted before it started", async () => {
    const controller = new AbortController();
    controller.abort();
    let runs = 0;
    await runDaemon("* * * * * *", async () => void runs++, { signal: controller.signal });
    await sleep(1200);
    expect(runs).toBe(0);
  });
});
