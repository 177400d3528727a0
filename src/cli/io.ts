/** Where the CLI writes, so tests can run it in-process and read what it printed. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  /** isTTY and columns: where `db update` may draw a progress bar. */
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env };
