import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const daemonModule = fileURLToPath(new URL("../../src/rescan/daemon.ts", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "layerwatch-daemon-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A small daemon process: runDaemon every second with installStopSignals, each run taking
 * `runMs` in ten steps, then writing the marker file whole. It runs under node with tsx's loader
 * (one process: no wrapper to relay signals).
 */
const script = join(work, "daemon.ts");
writeFileSync(
  script,
  `import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { installStopSignals, runDaemon } from ${JSON.stringify(daemonModule)};

const [marker, runMs] = process.argv.slice(2);
const signal = installStopSignals((message) => console.error(message));
let runs = 0;
await runDaemon(
  "* * * * * *",
  async () => {
    const run = ++runs;
    console.log("run " + run + " started");
    const steps: string[] = [];
    for (let step = 0; step < 10; step++) {
      await sleep(Number(runMs) / 10);
      steps.push("step " + step);
    }
    writeFileSync(marker, JSON.stringify({ run, steps }));
    console.log("run " + run + " finished");
  },
  { signal, onNote: (message) => console.error(message) },
);
console.log("daemon returned");
`,
);

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function startDaemon(
  marker: string,
  runMs: number,
): { child: ChildProcess; outcome: Promise<Outcome>; started: Promise<void> } {
  const child = spawn(process.execPath, ["--import", "tsx", script, marker, String(runMs)], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let onStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    onStarted = resolve;
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes("run 1 started")) onStarted();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const outcome = new Promise<Outcome>((resolve) => {
    child.on("exit", (code, signal) => {
      // Let the pipes drain before reading what was written.
      setTimeout(() => resolve({ code, signal, stdout, stderr }), 50);
    });
  });
  return { child, outcome, started };
}

describe("a daemon process told to stop", () => {
  it("on SIGTERM mid-run, finishes the run (its marker complete) and exits 0", async () => {
    const marker = join(work, "marker-term.json");
    const { child, outcome, started } = startDaemon(marker, 2000);
    await started;
    expect(existsSync(marker)).toBe(false);
    child.kill("SIGTERM");
    const sentAt = Date.now();
    const result = await outcome;
    expect(result.code, result.stderr).toBe(0);
    expect(result.signal).toBeNull();
    // The run went on after the signal: it took 2 s and had just begun.
    expect(Date.now() - sentAt).toBeGreaterThan(1000);
    expect(JSON.parse(readFileSync(marker, "utf8"))).toEqual({
      run: 1,
      steps: Array.from({ length: 10 }, (_, step) => `step ${step}`),
    });
    expect(result.stdout).toBe("run 1 started\nrun 1 finished\ndaemon returned\n");
    expect(result.stderr).toContain(
      "SIGTERM: stopping after the rescan under way (send it again to stop at once)",
    );
    expect(result.stderr).toContain("stopping: waiting for the rescan under way to reach a safe point");
  }, 60_000);

  it("on SIGINT twice, stops at once with 130 and the run's marker is never written", async () => {
    const marker = join(work, "marker-int.json");
    const { child, outcome, started } = startDaemon(marker, 5000);
    await started;
    child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill("SIGINT");
    const result = await outcome;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toContain("SIGINT again: stopping at once");
    expect(result.stdout).toBe("run 1 started\n");
    expect(existsSync(marker)).toBe(false);
  }, 60_000);
});
