import { Command, CommanderError, Option } from "commander";
import { describeError, ExitCode, InputError } from "../errors.js";
import { toolVersion } from "../version.js";
import { DEFAULT_NVD_URL } from "../vulndb/sources/nvd.js";
import { DEFAULT_OSV_API_URL } from "../vulndb/sources/osv-api.js";
import { DEFAULT_OSV_URL } from "../vulndb/sources/osv-export.js";
import type { DbUpdateOptions } from "./db.js";
import { addImageOptions } from "./image-options.js";
import { type CliIo, processIo } from "./io.js";
import type { LintOptions } from "./lint.js";
import { defaultStorePath } from "./paths.js";
import { lintFormats, scanFormats } from "./report-outputs.js";
import type { RescanCliOptions } from "./rescan.js";
import { runSbom, runScan, type ScanOptions, sbomRenderers } from "./scan.js";

/** A repeatable option's values, in the order given. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

// The db commands (and undici, which they fetch with) are loaded only when one of them runs:
// loading them cost every scan a noticeable part of its start-up.
function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command("layerwatch")
    .description("Container-image vulnerability scanner for CI pipelines and registries")
    .version(toolVersion, "-V, --version")
    .option("--debug", "print stack traces for errors")
    .option("--db <path>", "vulnerability store (env LAYERWATCH_DB)", defaultStorePath(io.env))
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`layerwatch: error: ${text.replace(/^error: /, "")}`),
    })
    .showHelpAfterError("(run layerwatch --help for usage)");

  addImageOptions(
    program
      .command("scan")
      .description("scan an image for vulnerable packages")
      .argument(
        "<source>",
        "an image reference (alpine, ghcr.io/org/app:1.2, host:5000/app@sha256:...), docker-archive:PATH[:TAG], oci-archive:PATH[:REF], oci:DIR[:REF], or sbom:FILE (a CycloneDX or SPDX JSON SBOM)",
      )
      .option(
        "-f, --format <formats>",
        `${scanFormats.join(", ")}; several as FORMAT=FILE,... (e.g. table,sarif=out.sarif)`,
        "table",
      )
      .option("-o, --output <file>", "write the format without =FILE to a file, not standard output")
      .option(
        "--dockerfile <path>",
        "the image's Dockerfile: linted too, and SARIF points at the line that made a layer",
      )
      .option("--no-hygiene", "skip the build-hygiene checks of the image and the Dockerfile")
      .option("--fail-on <severity>", "exit 1 when a finding is at or above: low, medium, high, critical")
      .option("--severity <list>", "show only these severities (e.g. high,critical); hide the rest")
      .option("--ignore-unfixed", "hide findings that no published version fixes")
      .option("--ignore-file <path>", "accepted findings (default: .layerwatchignore.yaml, when present)")
      .option("--vex <file>", "OpenVEX document: not_affected/fixed suppress (repeatable)", collect, [])
      .option("--baseline <report>", "an earlier JSON report: only findings new since it fail the build")
      .option("--online", "ask osv.dev's API for the advisories instead of reading the store (--db)")
      .option("--osv-api-url <url>", `where the OSV API is, with --online (default: ${DEFAULT_OSV_API_URL})`),
  ).action(async (source: string, options: Omit<ScanOptions, "db">) => {
    const global = program.opts() as { db: string; debug?: boolean };
    setExit(
      await runScan(source, { ...options, db: global.db, ...(global.debug ? { debug: true } : {}) }, io),
    );
  });

  program
    .command("lint")
    .description("check a Dockerfile's build hygiene (docs/rules.md), without building or scanning")
    .argument("<dockerfile>", "the Dockerfile")
    .option("-f, --format <formats>", `${lintFormats.join(", ")}; several as FORMAT=FILE,...`, "table")
    .option("-o, --output <file>", "write the format without =FILE to a file, not standard output")
    .option("--fail-on <severity>", "exit 1 when a finding is at or above: low, medium, high, critical")
    .option("--severity <list>", "show only these severities (e.g. high,critical); hide the rest")
    .option("--ignore-file <path>", "accepted findings (default: .layerwatchignore.yaml, when present)")
    .option("--baseline <report>", "an earlier JSON report: only findings new since it fail")
    .action(async (dockerfile: string, options: LintOptions) => {
      const { runLint } = await import("./lint.js");
      setExit(await runLint(dockerfile, options, io));
    });

  addImageOptions(
    program
      .command("sbom")
      .description("list what an image holds (OS and language packages), without matching advisories")
      .argument("<source>", "any image source that scan takes")
      .addOption(
        new Option(
          "-f, --format <format>",
          "json (layerwatch's report), cyclonedx (CycloneDX 1.6) or spdx (SPDX 2.3)",
        )
          .choices(Object.keys(sbomRenderers))
          .default("json"),
      )
      .option("-o, --output <file>", "write the inventory to a file instead of standard output"),
  ).action(async (source: string, options: Parameters<typeof runSbom>[1]) => {
    const global = program.opts() as { debug?: boolean };
    setExit(await runSbom(source, { ...options, ...(global.debug ? { debug: true } : {}) }, io));
  });

  const db = program.command("db").description("manage the vulnerability store");
  db.command("import")
    .description(
      "import OSV records (an all.zip export, a directory of them, or a record file), or put a file from 'db export' in place of the store",
    )
    .argument("<path...>", "OSV zip, JSON file or directory, or an exported store")
    .action(async (paths: string[]) => {
      const { runDbImport } = await import("./db.js");
      setExit(await runDbImport(paths, { db: program.opts().db as string }, io));
    });
  db.command("update")
    .description("download OSV's exports (only what changed, after the first time) and NVD's CVSS ratings")
    .addOption(
      new Option("--ecosystem <name>", "an OSV ecosystem to update (Debian, npm, ...); repeatable")
        .argParser((value: string, previous: string[]) => [...previous, value])
        .default([], "those updated before, held in the store, or needed by scans"),
    )
    .option("--osv-url <url>", "where OSV's exports are", DEFAULT_OSV_URL)
    .option("--nvd-url <url>", "where NVD's API is", DEFAULT_NVD_URL)
    .option("--nvd-api-key <key>", "NVD API key: ten times the request rate (env LAYERWATCH_NVD_API_KEY)")
    .option("--no-nvd", "do not fetch NVD's ratings")
    .action(async (options: Omit<DbUpdateOptions, "db">) => {
      const { runDbUpdate } = await import("./db.js");
      setExit(await runDbUpdate({ ...options, db: program.opts().db as string }, io));
    });
  db.command("export")
    .description("write the whole store to one file (for a CI cache; 'db import FILE' restores it)")
    .argument("<file>", "the file to write")
    .action(async (file: string) => {
      const { runDbExport } = await import("./db.js");
      setExit(await runDbExport(file, { db: program.opts().db as string }, io));
    });
  db.command("info")
    .description("show what the store holds")
    .action(async () => {
      const { runDbInfo } = await import("./db.js");
      setExit(await runDbInfo({ db: program.opts().db as string }, io));
    });

  program
    .command("rescan")
    .description("rescan registries: pull only new images, match the rest again, report what changed")
    .requiredOption(
      "--config <file>",
      "the rescan config (YAML: registries, repositories, tags, state, notify)",
    )
    .option("--once", "one rescan, then exit (the default)")
    .option("--daemon", "rescan on the config's schedule until SIGTERM")
    .option("--enqueue", "resolve the tags and queue one job per image (PostgreSQL state)")
    .option("--worker", "work on queued image jobs until SIGTERM (PostgreSQL state)")
    .option("--until-empty", "with --worker: exit once the queue is empty")
    .option("--state <path>", "the rescan state as a SQLite file, instead of the config's state")
    .addOption(
      new Option("-f, --format <format>", "how changes are reported")
        .choices(["table", "json"])
        .default("table"),
    )
    .option("-o, --output <file>", "write the changes to a file, not standard output")
    .option("--fail-on <severity>", "exit 1 when a new finding is at or above: low, medium, high, critical")
    .option("--cache-dir <dir>", "where layer results are kept between pulls (default: the user cache dir)")
    .option("--no-cache", "neither use nor fill the layer cache")
    .action(async (options: Omit<RescanCliOptions, "db" | "defaultDb">) => {
      const global = program.opts() as { db: string; debug?: boolean };
      // --db (or LAYERWATCH_DB) wins over the config's db, which wins over the default store.
      const explicitDb = program.getOptionValueSource("db") !== "default" || Boolean(io.env.LAYERWATCH_DB);
      const { runRescanCommand } = await import("./rescan.js");
      setExit(
        await runRescanCommand(
          {
            ...options,
            ...(explicitDb ? { db: global.db } : {}),
            defaultDb: global.db,
            ...(global.debug ? { debug: true } : {}),
          },
          io,
        ),
      );
    });
  return program;
}

/** Runs the CLI and returns its exit code (README: 0 clean, 1 findings, 2 bad input, 3 internal error). */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error) {
    const debug = argv.includes("--debug");
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (error instanceof InputError) {
      io.stderr.write(`layerwatch: error: ${error.message}\n`);
      if (debug && error.stack) io.stderr.write(`${error.stack}\n`);
      return ExitCode.usage;
    }
    io.stderr.write(`layerwatch: internal error: ${describeError(error)}\n`);
    if (debug && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    else io.stderr.write("(run with --debug for details)\n");
    return ExitCode.internal;
  }
}
