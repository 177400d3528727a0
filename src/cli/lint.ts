import { readFile } from "node:fs/promises";
import { relative, resolve, sep } from "node:path";
import { describeError, ExitCode, InputError } from "../errors.js";
import { lintDockerfile } from "../hygiene/dockerfile/lint.js";
import { applyHygienePolicy, withHygiene } from "../policy/hygiene.js";
import { applyPolicy, loadPolicy } from "../policy/policy.js";
import { parseDockerfile } from "../report/dockerfile-lines.js";
import { buildLintReport } from "../report/lint-report.js";
import type { CliIo } from "./io.js";
import { type DockerfileInput, lintFormats, parseFormatList, writeReportOutputs } from "./report-outputs.js";

/** `layerwatch lint DOCKERFILE`'s options: the formats and the policy (no image, so no VEX). */
export interface LintOptions {
  format: string;
  output?: string;
  failOn?: string;
  severity?: string;
  ignoreFile?: string;
  baseline?: string;
}

/** The Dockerfile to lint; a file that cannot be read or holds no FROM is bad input (exit 2). */
async function readLintTarget(path: string, cwd: string): Promise<DockerfileInput> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(`${path}: ${describeError(error)}`);
  }
  const stages = parseDockerfile(text);
  if (stages.length === 0) throw new InputError(`${path}: no FROM instruction; not a Dockerfile`);
  const repositoryPath = relative(cwd, resolve(cwd, path)).split(sep).join("/");
  const uri = repositoryPath.split("/").map(encodeURIComponent).join("/");
  return { uri, stages, text, repositoryPath };
}

/**
 * `layerwatch lint DOCKERFILE`: the Dockerfile rules (docs/rules.md) without building or scanning
 * anything; the same policy as scan's over the findings, exit 1 when one reaches `--fail-on`.
 */
export async function runLint(
  path: string,
  options: LintOptions,
  io: CliIo,
  cwd = process.cwd(),
): Promise<number> {
  const outputs = parseFormatList(options.format, options.output, lintFormats);
  const policy = await loadPolicy({
    ...(options.failOn !== undefined ? { failOn: options.failOn } : {}),
    ...(options.severity !== undefined ? { severity: options.severity } : {}),
    ...(options.ignoreFile !== undefined ? { ignoreFile: options.ignoreFile } : {}),
    ...(options.baseline !== undefined ? { baseline: options.baseline } : {}),
  });
  const dockerfile = await readLintTarget(path, cwd);
  const linted = lintDockerfile(dockerfile.text, dockerfile.repositoryPath);
  const now = new Date();
  // No findings to decide: the vulnerability verdict carries the settings and expired-entry warnings.
  const verdict = withHygiene(
    applyPolicy([], [], { digests: [] }, policy, now),
    applyHygienePolicy(linted.findings, policy, now),
  );
  const report = buildLintReport(dockerfile.repositoryPath, linted.findings, linted.warnings, verdict, now);
  await writeReportOutputs(report, outputs, { dockerfile, lint: true }, io);
  return report.policy.failed ? ExitCode.findings : ExitCode.ok;
}
