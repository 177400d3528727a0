import { writeFile } from "node:fs/promises";
import { describeError, ExitCode, InputError } from "../errors.js";
import { assertInputExists, inventoryImage, scanImage } from "../pipeline.js";
import { evaluateThreshold, parseSeverityLevel } from "../policy/threshold.js";
import { renderCycloneDx } from "../report/cyclonedx.js";
import { renderJson } from "../report/json.js";
import { buildReport, type JsonReport } from "../report/model.js";
import { renderSpdx } from "../report/spdx.js";
import { renderTable } from "../report/table.js";
import { AdvisoryStore } from "../vulndb/store.js";
import { recordScanEcosystems, stalenessWarning } from "../vulndb/update.js";
import { type ImageCliOptions, imageReadOptions } from "./image-options.js";
import type { CliIo } from "./io.js";

export interface ScanOptions extends ImageCliOptions {
  db: string;
  format: string;
  output?: string;
  failOn?: string;
  debug?: boolean;
}

const formats = ["table", "json"] as const;

export async function runScan(sourceText: string, options: ScanOptions, io: CliIo): Promise<number> {
  if (!(formats as readonly string[]).includes(options.format)) {
    throw new InputError(`--format ${options.format}: use one of ${formats.join(", ")}`);
  }
  const failOn = options.failOn === undefined ? undefined : parseSeverityLevel(options.failOn, "--fail-on");
  const readOptions = imageReadOptions(options, io.env);
  await assertInputExists(sourceText);
  const store = await AdvisoryStore.open(options.db);
  const onNote = (message: string) => {
    if (options.debug) io.stderr.write(`layerwatch: ${message}\n`);
  };
  let report: ReturnType<typeof buildReport>;
  let ecosystems: string[];
  try {
    const summary = store.summary();
    if (summary.advisories === 0) {
      throw new InputError(`vulnerability store ${options.db} is empty; run 'layerwatch db import' first`);
    }
    const result = await scanImage(sourceText, store, { ...readOptions, onNote });
    const stale = stalenessWarning(summary, new Date());
    if (stale) result.warnings.push({ subject: `vulnerability store ${options.db}`, problem: stale });
    ecosystems = result.inventory.packages.flatMap((pkg) => (pkg.ecosystem ? [pkg.ecosystem] : []));
    report = buildReport(result, evaluateThreshold(result.findings, failOn));
  } finally {
    store.close();
  }
  // For `db update` without --ecosystem: what this scan needed advisories for.
  await recordScanEcosystems(options.db, new Set(ecosystems), new Date(), onNote);
  const colour = Boolean(io.stdout.isTTY) && options.output === undefined && !io.env.NO_COLOR;
  await emitReport(
    report,
    options.format === "json" ? renderJson(report) : renderTable(report, { colour }),
    options.output,
    io,
  );
  return report.policy.failed ? ExitCode.findings : ExitCode.ok;
}

/** Warnings to standard error, then the report to --output or standard output. */
export async function emitReport(
  report: JsonReport,
  text: string,
  output: string | undefined,
  io: CliIo,
): Promise<void> {
  for (const warning of report.warnings)
    io.stderr.write(`layerwatch: warning: ${warning.subject}: ${warning.problem}\n`);
  if (output) {
    try {
      await writeFile(output, text);
    } catch (error) {
      throw new InputError(`--output ${output}: ${describeError(error)}`);
    }
  } else {
    io.stdout.write(text);
  }
}

/** `layerwatch sbom --format`: the JSON report without findings, or a standard SBOM of the same inventory. */
export const sbomRenderers: Record<string, (report: JsonReport) => string> = {
  json: renderJson,
  cyclonedx: (report) => renderCycloneDx(report),
  spdx: (report) => renderSpdx(report),
};

/** `layerwatch sbom`: what the image holds, without matching it against advisories. */
export async function runSbom(
  sourceText: string,
  options: ImageCliOptions & { format: string; output?: string; debug?: boolean },
  io: CliIo,
): Promise<number> {
  const render = Object.hasOwn(sbomRenderers, options.format) ? sbomRenderers[options.format] : undefined;
  if (!render)
    throw new InputError(`--format ${options.format}: use one of ${Object.keys(sbomRenderers).join(", ")}`);
  const readOptions = imageReadOptions(options, io.env);
  await assertInputExists(sourceText);
  const listed = await inventoryImage(sourceText, {
    ...readOptions,
    onNote: (message) => {
      if (options.debug) io.stderr.write(`layerwatch: ${message}\n`);
    },
  });
  const report = buildReport({ ...listed, findings: [] }, evaluateThreshold([], undefined));
  await emitReport(report, render(report), options.output, io);
  return ExitCode.ok;
}
