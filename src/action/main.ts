import { mkdir, writeFile } from "node:fs/promises";
import { dirname, relative, resolve, sep } from "node:path";
import * as core from "@actions/core";
import { imageReadOptions } from "../cli/image-options.js";
import {
  type DockerfileInput,
  parseFormatList,
  type ReportOutput,
  readDockerfile,
  renderScanFormat,
} from "../cli/report-outputs.js";
import { mergeHygiene, policyVerdict } from "../cli/scan.js";
import { describeError, ExitCode, InputError } from "../errors.js";
import type { Package } from "../inventory/types.js";
import {
  assertInputExists,
  type ImageInventory,
  inventoryImage,
  matchInventory,
  type ScanResult,
} from "../pipeline.js";
import { loadPolicy, type Policy } from "../policy/policy.js";
import { severitiesDescending } from "../report/findings.js";
import { renderMarkdown } from "../report/markdown.js";
import { buildReport, type JsonReport } from "../report/model.js";
import { renderTable } from "../report/table.js";
import { ecosystemBase } from "../vulndb/ecosystem.js";
import { AdvisoryStore } from "../vulndb/store.js";
import { stalenessWarning, updateStore } from "../vulndb/update.js";
import { dockerfileAnnotations, hygieneAnnotations } from "./annotations.js";
import { type RestoreResult, restoreStore, saveStore, storeCacheKeys } from "./db-cache.js";
import { type ActionInputs, inputMessage, readInputs } from "./inputs.js";

/**
 * The GitHub Action (action.yml, bundled into dist/index.js): the CLI's scan, run in-process on
 * the same library functions, with the Action's ways of saying what it found: outputs, a job
 * summary, log groups, annotations at Dockerfile lines, and the step's exit code (1 when a
 * finding reaches `fail-on`, 2 for bad input with one ::error:: line, 3 for a bug).
 */

/** Runs `work` inside a collapsed log group. */
async function inGroup<T>(name: string, work: () => Promise<T>): Promise<T> {
  core.startGroup(name);
  try {
    return await work();
  } finally {
    core.endGroup();
  }
}

/** What was checked before the image is read: a typo in an input fails before any download. */
interface Plan {
  inputs: ActionInputs;
  outputs: ReportOutput[];
  /** The path the `report` output names: the format written to `output`. */
  reportPath: string;
  sarifPath: string;
  dockerfile?: DockerfileInput & { path: string };
  policy: Policy;
}

async function plan(inputs: ActionInputs, cwd: string, env: NodeJS.ProcessEnv): Promise<Plan> {
  // Formats without `=FILE` go to `output`; at most one may (parseFormatList says so otherwise).
  const outputs = parseFormatList(inputs.format, undefined);
  const unnamed = outputs.find((output) => output.path === undefined);
  if (unnamed) unnamed.path = inputs.output;
  const reportPath = resolve(cwd, (unnamed ?? outputs[0])?.path ?? inputs.output);
  for (const output of outputs) output.path = resolve(cwd, output.path as string);
  let dockerfile: Plan["dockerfile"];
  if (inputs.dockerfile !== undefined) {
    // SARIF results and annotations name the file relative to the repository root: the workspace.
    const repositoryRoot = env.GITHUB_WORKSPACE || cwd;
    const path = resolve(cwd, inputs.dockerfile);
    const read = await readDockerfile(path, repositoryRoot);
    dockerfile = { ...read, path: relative(repositoryRoot, path).split(sep).join("/") };
  }
  const policy = await loadPolicy({
    ...(inputs.failOn !== undefined ? { failOn: inputs.failOn } : {}),
    ...(inputs.severity !== undefined ? { severity: inputs.severity } : {}),
    ignoreUnfixed: inputs.ignoreUnfixed,
    ...(inputs.ignoreFile !== undefined ? { ignoreFile: inputs.ignoreFile } : {}),
    vex: inputs.vex,
    ...(inputs.baseline !== undefined ? { baseline: inputs.baseline } : {}),
  });
  const sarifPath = resolve(cwd, inputs.sarifFile);
  return { inputs, outputs, reportPath, sarifPath, ...(dockerfile ? { dockerfile } : {}), policy };
}

function describeInventory(listed: ImageInventory): string[] {
  const byType = new Map<string, number>();
  for (const pkg of listed.inventory.packages) byType.set(pkg.type, (byType.get(pkg.type) ?? 0) + 1);
  const types = [...byType].map(([type, count]) => `${type} ${count}`).join(", ");
  const distro = listed.inventory.distro;
  return [
    `image: ${listed.image.source.text}${listed.image.manifestDigest ? ` (${listed.image.manifestDigest})` : ""}`,
    `layers: ${listed.image.layers.length}`,
    `OS: ${distro ? (distro.prettyName ?? distro.id) : "none found"}`,
    `packages: ${listed.inventory.packages.length}${types ? ` (${types})` : ""}`,
  ];
}

/** The OSV ecosystems (base names: "Debian", "npm") the image's packages are matched in. */
function neededEcosystems(packages: readonly Package[]): string[] {
  const names = new Set<string>();
  for (const pkg of packages) if (pkg.ecosystem) names.add(ecosystemBase(pkg.ecosystem));
  names.delete("");
  return [...names].sort((a, b) => a.localeCompare(b));
}

/** `db update` for the ecosystems this image needs; a source that fails is a warning, not the end. */
async function updateNeeded(inputs: ActionInputs, ecosystems: string[], env: NodeJS.ProcessEnv) {
  if (ecosystems.length === 0 && !inputs.nvd) {
    core.info("db update: the image has no packages to match; nothing to fetch");
    return;
  }
  const store = await AdvisoryStore.open(inputs.db, { create: true });
  try {
    core.info(`db update: ${[...ecosystems, ...(inputs.nvd ? ["NVD"] : [])].join(", ")}`);
    const result = await updateStore(store, {
      ecosystems,
      ...(inputs.osvUrl !== undefined ? { osvUrl: inputs.osvUrl } : {}),
      ...(inputs.nvdApiKey !== undefined ? { nvdApiKey: inputs.nvdApiKey } : {}),
      nvd: inputs.nvd,
      env,
      reporter: { line: (text) => core.info(text), progress: () => undefined },
    });
    for (const osv of result.osv) core.info(`${osv.ecosystem}: ${osv.how}, ${osv.imported} records imported`);
    if (result.nvd) core.info(`NVD: ${result.nvd.cves} CVEs written`);
    for (const failure of result.failures)
      core.warning(`db update: ${failure.source}: ${failure.message}; scanning with the data the store has`);
  } finally {
    store.close();
  }
}

/** What the policy makes of the findings and hygiene findings (as `layerwatch scan` does). */
function reportOf(result: ScanResult, policy: Policy, dockerfile: Plan["dockerfile"]): JsonReport {
  return buildReport(
    result,
    policyVerdict(result, policy),
    new Date(),
    dockerfile ? { dockerfile: dockerfile.repositoryPath } : {},
  );
}

async function writeText(path: string, text: string, what: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  } catch (error) {
    throw new InputError(`${what} ${path}: ${describeError(error)}`);
  }
}

async function scan(plan: Plan, env: NodeJS.ProcessEnv): Promise<JsonReport> {
  const { inputs } = plan;
  const readOptions = {
    ...imageReadOptions(
      {
        ...(inputs.platform !== undefined ? { platform: inputs.platform } : {}),
        ...(inputs.username !== undefined ? { username: inputs.username } : {}),
        ...(inputs.password !== undefined ? { password: inputs.password } : {}),
        // Layer results are not kept: a runner rarely scans the same layers twice.
        cache: false,
      },
      env,
    ),
    onNote: (message: string) => core.debug(message),
    ...(inputs.hygiene ? {} : { hygiene: false }),
  };
  await assertInputExists(inputs.image);
  const listed = await inGroup("layerwatch: inventory", async () => {
    const result = await inventoryImage(inputs.image, readOptions);
    for (const line of describeInventory(result)) core.info(line);
    return result;
  });
  const keys = storeCacheKeys(new Date());
  let restored: RestoreResult = { state: "unavailable" };
  if (inputs.dbCache) {
    restored = await inGroup("layerwatch: restore the vulnerability store", async () => {
      await mkdir(dirname(inputs.db), { recursive: true });
      return restoreStore(inputs.db, keys, core);
    });
  }
  if (inputs.dbUpdate) {
    await inGroup("layerwatch: update the vulnerability store", () =>
      updateNeeded(inputs, neededEcosystems(listed.inventory.packages), env),
    );
  }
  const result = await inGroup("layerwatch: matching", async () => {
    const store = await AdvisoryStore.open(inputs.db);
    try {
      const summary = store.summary();
      core.info(`store: ${inputs.db}: ${summary.advisories} records, ${summary.nvd} NVD CVEs`);
      if (summary.advisories === 0)
        throw new InputError(
          `vulnerability store ${inputs.db} is empty; keep db-update true, or point db at a store made with 'layerwatch db import'`,
        );
      // The Dockerfile's hygiene findings join the image's (one report, one policy).
      const matched = mergeHygiene(matchInventory(listed, store), plan.dockerfile, inputs.hygiene);
      const stale = stalenessWarning(summary, new Date());
      if (stale) matched.warnings.push({ subject: `vulnerability store ${inputs.db}`, problem: stale });
      core.info(`findings: ${matched.findings.length}`);
      core.info(`hygiene findings: ${matched.hygiene?.length ?? 0}`);
      return matched;
    } finally {
      store.close();
    }
  });
  if (inputs.dbCache)
    await inGroup("layerwatch: save the vulnerability store", () =>
      saveStore(inputs.db, keys, restored, core),
    );
  return reportOf(result, plan.policy, plan.dockerfile);
}

async function writeReports(plan: Plan, report: JsonReport): Promise<void> {
  const context = { colour: false, ...(plan.dockerfile ? { dockerfile: plan.dockerfile } : {}) };
  for (const output of plan.outputs)
    await writeText(
      output.path as string,
      renderScanFormat(report, output.format, context),
      `${output.format} report`,
    );
  await writeText(plan.sarifPath, renderScanFormat(report, "sarif", context), "sarif-file");
}

function setOutputs(plan: Plan, report: JsonReport, markdown: string): void {
  for (const level of severitiesDescending) core.setOutput(level, report.summary.bySeverity[level]);
  core.setOutput("total", report.summary.findings);
  core.setOutput("hygiene", report.summary.hygiene.findings);
  core.setOutput("failed", report.policy.failed);
  core.setOutput("failing", report.policy.failing);
  if (report.summary.new !== undefined) core.setOutput("new", report.summary.new);
  core.setOutput("report", plan.reportPath);
  core.setOutput("sarif", plan.sarifPath);
  core.setOutput("markdown", markdown);
}

async function writeSummary(markdown: string, report: JsonReport, env: NodeJS.ProcessEnv): Promise<void> {
  if (!env.GITHUB_STEP_SUMMARY) {
    core.debug("no GITHUB_STEP_SUMMARY: the job summary is not written");
    return;
  }
  core.summary.addRaw(markdown);
  if (report.warnings.length > 0)
    core.summary.addRaw(
      `\n${report.warnings.length} warning${report.warnings.length === 1 ? "" : "s"}: see the step's log.\n`,
    );
  try {
    await core.summary.write();
  } catch (error) {
    // The summary is a courtesy: the reports and outputs say the same.
    core.warning(`job summary: ${describeError(error)}`);
  }
}

function annotate(plan: Plan, report: JsonReport): void {
  if (!plan.dockerfile) return;
  const annotations = [
    ...dockerfileAnnotations(report, plan.dockerfile, report.policy.failOn),
    ...hygieneAnnotations(report, report.policy.failOn),
  ];
  for (const annotation of annotations) {
    const properties = {
      title: annotation.title,
      file: annotation.file,
      startLine: annotation.startLine,
      endLine: annotation.endLine,
    };
    if (annotation.level === "error") core.error(annotation.message, properties);
    else core.warning(annotation.message, properties);
  }
}

/** The Action, start to end; resolves with the step's exit code. */
export async function runAction(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Promise<number> {
  try {
    const inputs = readInputs(
      (name) => core.getInput(name),
      env,
      (secret) => core.setSecret(secret),
    );
    const checked = await plan(inputs, cwd, env);
    const report = await scan(checked, env);
    await writeReports(checked, report);
    core.info(renderTable(report, { colour: false }).trimEnd());
    for (const warning of report.warnings) core.warning(`${warning.subject}: ${warning.problem}`);
    annotate(checked, report);
    const markdown = renderMarkdown(report);
    if (inputs.summary) await writeSummary(markdown, report, env);
    setOutputs(checked, report, markdown);
    core.info(`report: ${checked.reportPath}`);
    core.info(`SARIF: ${checked.sarifPath}`);
    if (report.policy.failed) {
      const count = report.policy.failing;
      const hygiene = report.summary.hygiene.findings;
      const all =
        hygiene > 0
          ? `${report.summary.findings} vulnerabilities and ${hygiene} hygiene findings in all`
          : `${report.summary.findings} in all`;
      core.setFailed(
        `${count} finding${count === 1 ? "" : "s"} at or above fail-on ${report.policy.failOn} (${all})`,
      );
      return ExitCode.findings;
    }
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof InputError) {
      core.error(inputMessage(error.message));
      return ExitCode.usage;
    }
    core.error(`layerwatch: internal error: ${describeError(error)}`);
    if (error instanceof Error && error.stack) core.debug(error.stack);
    return ExitCode.internal;
  }
}
