import { writeFile } from "node:fs/promises";
import { describeError, ExitCode, InputError } from "../errors.js";
import { lintDockerfile } from "../hygiene/dockerfile/lint.js";
import { advisoryQuestions } from "../match/matcher.js";
import {
  assertInputExists,
  inventoryImage,
  matchInventory,
  type PipelineOptions,
  type ScanResult,
  scanImage,
} from "../pipeline.js";
import { applyHygienePolicy, withHygiene } from "../policy/hygiene.js";
import { applyPolicy, loadPolicy, type Policy, type PolicyOptions } from "../policy/policy.js";
import { evaluateThreshold } from "../policy/threshold.js";
import { renderCycloneDx } from "../report/cyclonedx.js";
import { renderJson } from "../report/json.js";
import { buildReport, type JsonReport } from "../report/model.js";
import { renderSpdx } from "../report/spdx.js";
import { DEFAULT_OSV_API_URL } from "../vulndb/sources/osv-api.js";
import { AdvisoryStore } from "../vulndb/store.js";
import { type ImageCliOptions, imageReadOptions } from "./image-options.js";
import type { CliIo } from "./io.js";
import {
  type DockerfileInput,
  parseFormatList,
  readDockerfile,
  writeReportOutputs,
} from "./report-outputs.js";

export interface ScanOptions extends ImageCliOptions, PolicyOptions {
  db: string;
  format: string;
  output?: string;
  failOn?: string;
  debug?: boolean;
  /** Ask osv.dev's API for the advisories instead of reading the store. */
  online?: boolean;
  osvApiUrl?: string;
  /** The Dockerfile the image was built from: SARIF results point at its lines, and it is linted. */
  dockerfile?: string;
  /** false (`--no-hygiene`): no build-hygiene checks, of the image or the Dockerfile. */
  hygiene?: boolean;
}

/**
 * The scan's hygiene findings: the Dockerfile's (linted here, in the order of its lines) before the
 * image checks'; none with `--no-hygiene`. The linter's warnings join the scan's.
 */
export function mergeHygiene(
  result: ScanResult,
  dockerfile: DockerfileInput | undefined,
  enabled: boolean,
): ScanResult {
  if (!enabled) return { ...result, hygiene: [] };
  if (!dockerfile) return result;
  const linted = lintDockerfile(dockerfile.text, dockerfile.repositoryPath);
  return {
    ...result,
    hygiene: [...linted.findings, ...(result.hygiene ?? [])],
    warnings: [...result.warnings, ...linted.warnings],
  };
}

export async function runScan(sourceText: string, options: ScanOptions, io: CliIo): Promise<number> {
  // The formats, their files and the Dockerfile are checked before the scan: a typo fails fast.
  const outputs = parseFormatList(options.format, options.output);
  const dockerfile = options.dockerfile === undefined ? undefined : await readDockerfile(options.dockerfile);
  const plan = { outputs, ...(dockerfile ? { dockerfile } : {}) };
  // Policy files are read before the scan: a bad one fails fast (exit 2).
  const policy = await loadPolicy(options);
  if (options.osvApiUrl !== undefined && !options.online)
    throw new InputError("--osv-api-url applies only with --online");
  const readOptions = {
    ...imageReadOptions(options, io.env),
    ...(options.hygiene === false ? { hygiene: false } : {}),
  };
  await assertInputExists(sourceText);
  const onNote = (message: string) => {
    if (options.debug) io.stderr.write(`layerwatch: ${message}\n`);
  };
  if (options.online) {
    const result = await scanOnline(sourceText, options.osvApiUrl ?? DEFAULT_OSV_API_URL, {
      pipeline: { ...readOptions, onNote },
      env: io.env,
      onNote,
    });
    const checked = mergeHygiene(result, dockerfile, options.hygiene !== false);
    const report = buildReport(
      checked,
      policyVerdict(checked, policy),
      new Date(),
      reportOptions(dockerfile),
    );
    return finishScan(report, plan, io);
  }
  // Loaded here, not at start-up: it brings the feed client (undici), which `sbom` never needs.
  const { recordScanEcosystems, stalenessWarning } = await import("../vulndb/update.js");
  const store = await AdvisoryStore.open(options.db);
  let report: ReturnType<typeof buildReport>;
  let ecosystems: string[];
  try {
    const summary = store.summary();
    if (summary.advisories === 0) {
      throw new InputError(`vulnerability store ${options.db} is empty; run 'layerwatch db import' first`);
    }
    const result = mergeHygiene(
      await scanImage(sourceText, store, { ...readOptions, onNote }),
      dockerfile,
      options.hygiene !== false,
    );
    const stale = stalenessWarning(summary, new Date());
    if (stale) result.warnings.push({ subject: `vulnerability store ${options.db}`, problem: stale });
    ecosystems = result.inventory.packages.flatMap((pkg) => (pkg.ecosystem ? [pkg.ecosystem] : []));
    report = buildReport(result, policyVerdict(result, policy), new Date(), reportOptions(dockerfile));
  } finally {
    store.close();
  }
  // For `db update` without --ecosystem: what this scan needed advisories for.
  await recordScanEcosystems(options.db, new Set(ecosystems), new Date(), onNote);
  return finishScan(report, plan, io);
}

function reportOptions(dockerfile: DockerfileInput | undefined): { dockerfile?: string } {
  return dockerfile ? { dockerfile: dockerfile.repositoryPath } : {};
}

/**
 * What the policy (--fail-on, --severity, ignore file, VEX, baseline) makes of the findings and the
 * hygiene findings.
 */
export function policyVerdict(result: ScanResult, policy: Policy) {
  const digests = [result.image.manifestDigest, result.image.configDigest].filter(
    (digest): digest is string => digest !== undefined && digest !== "",
  );
  return withHygiene(
    applyPolicy(result.findings, result.inventory.packages, { digests }, policy),
    applyHygienePolicy(result.hygiene ?? [], policy),
  );
}

/** The report in each chosen format, and the exit code its policy verdict calls for. */
async function finishScan(
  report: JsonReport,
  plan: {
    outputs: ReturnType<typeof parseFormatList>;
    dockerfile?: Awaited<ReturnType<typeof readDockerfile>>;
  },
  io: CliIo,
): Promise<number> {
  await writeReportOutputs(report, plan.outputs, plan.dockerfile ? { dockerfile: plan.dockerfile } : {}, io);
  return report.policy.failed ? ExitCode.findings : ExitCode.ok;
}

/**
 * `scan --online`: the inventory, then osv.dev's records for exactly the questions the matcher
 * asks (no local store is opened), then the same matcher over those records.
 */
async function scanOnline(
  sourceText: string,
  apiUrl: string,
  options: { pipeline: PipelineOptions; env: NodeJS.ProcessEnv; onNote: (message: string) => void },
): Promise<ScanResult> {
  if (!URL.canParse(apiUrl) || !/^https?:$/.test(new URL(apiUrl).protocol))
    throw new InputError(`--osv-api-url ${apiUrl}: not an http(s) URL`);
  const listed = await inventoryImage(sourceText, options.pipeline);
  const { fetchOnlineAdvisories } = await import("../vulndb/online.js");
  const online = await fetchOnlineAdvisories(advisoryQuestions(listed.inventory.packages), {
    apiUrl,
    env: options.env,
    onNote: options.onNote,
  });
  try {
    const result = matchInventory(listed, online.store);
    result.warnings.push(...online.warnings);
    return result;
  } finally {
    online.store.close();
  }
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
  // An SBOM lists packages; the image checks are the scan's.
  const listed = await inventoryImage(sourceText, {
    ...readOptions,
    hygiene: false,
    onNote: (message) => {
      if (options.debug) io.stderr.write(`layerwatch: ${message}\n`);
    },
  });
  const report = buildReport({ ...listed, findings: [] }, evaluateThreshold([], undefined));
  await emitReport(report, render(report), options.output, io);
  return ExitCode.ok;
}
