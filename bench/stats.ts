import { spawn } from "node:child_process";

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export interface Timed {
  ms: number;
  /** Peak resident set of the command, from GNU time, in MiB. */
  peakRssMiB: number;
  code: number;
  stderr: string;
}

/** Runs a command under /usr/bin/time, returning wall time and peak RSS. */
export function timeCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn("/usr/bin/time", ["-f", "LW_RSS_KB=%M", command, ...args], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const kb = Number(/LW_RSS_KB=(\d+)/.exec(stderr)?.[1] ?? 0);
      resolve({
        ms,
        peakRssMiB: kb / 1024,
        code: code ?? -1,
        stderr: stderr.replace(/LW_RSS_KB=\d+\n?/, ""),
      });
    });
  });
}

/** Runs `measure` `runs` times and returns every result, failing loudly on a failed run. */
export async function repeat(
  runs: number,
  measure: (run: number) => Promise<Timed>,
  what: string,
): Promise<Timed[]> {
  const results: Timed[] = [];
  for (let run = 0; run < runs; run++) {
    const result = await measure(run);
    if (result.code !== 0)
      throw new Error(`${what}: run ${run + 1} exited ${result.code}: ${result.stderr.trim()}`);
    results.push(result);
  }
  return results;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}
