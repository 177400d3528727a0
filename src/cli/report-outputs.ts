import { readFile, writeFile } from "node:fs/promises";
import { relative, resolve, sep } from "node:path";
import { describeError, InputError } from "../errors.js";
import { renderCycloneDx } from "../report/cyclonedx.js";
import { type DockerfileStage, parseDockerfile } from "../report/dockerfile-lines.js";
import { renderJson } from "../report/json.js";
import { renderJunit } from "../report/junit.js";
import { renderMarkdown } from "../report/markdown.js";
import type { JsonReport } from "../report/model.js";
import { renderSarif } from "../report/sarif.js";
import { renderLintTable, renderTable } from "../report/table.js";
import type { CliIo } from "./io.js";

/**
 * `scan --format`: one format, or several at once as a comma-separated list of FORMAT or
 * FORMAT=FILE ("table,sarif=out.sarif,json=report.json"). At most one format goes to standard
 * output (or to `-o FILE`); each other one names its file.
 */

export const scanFormats = ["table", "json", "sarif", "cyclonedx", "junit", "markdown"] as const;
export type ScanFormat = (typeof scanFormats)[number];

export interface ReportOutput {
  format: ScanFormat;
  /** undefined: standard output. */
  path?: string;
}

/** `lint --format`: the formats a Dockerfile's findings are written in. */
export const lintFormats: readonly ScanFormat[] = ["table", "json", "sarif"];

export function parseFormatList(
  spec: string,
  output: string | undefined,
  allowed: readonly ScanFormat[] = scanFormats,
): ReportOutput[] {
  const outputs: ReportOutput[] = [];
  for (const entry of spec.split(",")) {
    const text = entry.trim();
    if (text === "") throw new InputError(`--format ${spec}: an empty entry`);
    const at = text.indexOf("=");
    const name = (at < 0 ? text : text.slice(0, at)).trim().toLowerCase();
    if (!(allowed as readonly string[]).includes(name))
      throw new InputError(`--format ${name}: use one of ${allowed.join(", ")}`);
    const path = at < 0 ? undefined : text.slice(at + 1).trim();
    if (path === "") throw new InputError(`--format ${text}: no file after '='`);
    outputs.push({ format: name as ScanFormat, ...(path !== undefined ? { path } : {}) });
  }
  const toStdout = outputs.filter((o) => o.path === undefined);
  if (toStdout.length > 1)
    throw new InputError(
      `--format ${spec}: ${toStdout.map((o) => o.format).join(" and ")} would both go to standard output; give FORMAT=FILE`,
    );
  if (output !== undefined) {
    const target = toStdout[0];
    if (!target) throw new InputError(`-o ${output}: every format in --format ${spec} names its own file`);
    target.path = output;
  }
  const paths = outputs.flatMap((o) => (o.path === undefined ? [] : [resolve(o.path)]));
  const twice = paths.find((path, index) => paths.indexOf(path) !== index);
  if (twice) throw new InputError(`--format ${spec}: two formats would write ${twice}`);
  return outputs;
}

export interface DockerfileInput {
  uri: string;
  stages: DockerfileStage[];
  /** The file's text, for the linter. */
  text: string;
  /** Its path relative to the repository root, with '/': what hygiene findings name it by. */
  repositoryPath: string;
}

/**
 * The Dockerfile that `--dockerfile` names, read before the scan so a wrong path fails fast. Its
 * SARIF URI is its path relative to the working directory (the repository root in CI), with '/'.
 */
export async function readDockerfile(path: string, cwd: string = process.cwd()): Promise<DockerfileInput> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(`--dockerfile ${path}: ${describeError(error)}`);
  }
  const stages = parseDockerfile(text);
  if (stages.length === 0)
    throw new InputError(`--dockerfile ${path}: no FROM instruction; not a Dockerfile`);
  const repositoryPath = relative(cwd, resolve(cwd, path)).split(sep).join("/");
  const uri = repositoryPath.split("/").map(encodeURIComponent).join("/");
  return { uri, stages, text, repositoryPath };
}

export interface RenderContext {
  colour: boolean;
  dockerfile?: DockerfileInput;
  /** `layerwatch lint`'s report: the table shows the Dockerfile's findings only. */
  lint?: boolean;
}

export function renderScanFormat(report: JsonReport, format: ScanFormat, context: RenderContext): string {
  switch (format) {
    case "json":
      return renderJson(report);
    case "table":
      return context.lint
        ? renderLintTable(report, { colour: context.colour })
        : renderTable(report, { colour: context.colour });
    case "sarif":
      return renderSarif(report, context.dockerfile ? { dockerfile: context.dockerfile } : {});
    case "cyclonedx":
      return renderCycloneDx(report, { vulnerabilities: true });
    case "junit":
      return renderJunit(report);
    case "markdown":
      return renderMarkdown(report);
  }
}

/** Warnings to standard error, then each format to its file or to standard output. */
export async function writeReportOutputs(
  report: JsonReport,
  outputs: ReportOutput[],
  context: Omit<RenderContext, "colour">,
  io: CliIo,
): Promise<void> {
  for (const warning of report.warnings)
    io.stderr.write(`layerwatch: warning: ${warning.subject}: ${warning.problem}\n`);
  for (const output of outputs) {
    // Colour only for a terminal, never in a file.
    const colour = output.path === undefined && Boolean(io.stdout.isTTY) && !io.env.NO_COLOR;
    const text = renderScanFormat(report, output.format, { ...context, colour });
    if (output.path === undefined) {
      io.stdout.write(text);
      continue;
    }
    try {
      await writeFile(output.path, text);
    } catch (error) {
      throw new InputError(`${output.format} report ${output.path}: ${describeError(error)}`);
    }
  }
}
