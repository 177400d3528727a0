import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with its output captured. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text) },
    env: { HOME: process.env.HOME, ...env },
  });
  return { code, stdout, stderr };
}

const root = join(import.meta.dirname, "../..");

/** The installed binary: it loads lib/, which `npm run build` writes. */
export const layerwatchBin = join(root, "bin/layerwatch.js");

/** Whether `npm run build` has written `file` (by default the CLI's entry point) into lib/. */
export function isBuilt(file = "lib/cli/main.js"): boolean {
  return existsSync(join(root, file));
}

/** Runs the built CLI in a child process, as a user would; resolves with its exit code and output. */
export function builtCli(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [layerwatchBin, ...args],
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
