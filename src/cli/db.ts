import { ExitCode } from "../errors.js";
import { importOsv } from "../vulndb/import.js";
import type { OsvEcosystemResult } from "../vulndb/sources/osv-export.js";
import { AdvisoryStore, type StoreSummary } from "../vulndb/store.js";
import { exportStore, importStoreFile, isSqliteFile } from "../vulndb/store-file.js";
import { updateStore } from "../vulndb/update.js";
import type { CliIo } from "./io.js";
import { updateReporter } from "./progress.js";

function describeStore(summary: StoreSummary): string {
  return `${summary.advisories} records, ${summary.nvd} NVD CVEs`;
}

export async function runDbImport(paths: string[], options: { db: string }, io: CliIo): Promise<number> {
  let store = await AdvisoryStore.open(options.db, { create: true });
  try {
    let imported = 0;
    let skipped = 0;
    for (const path of paths) {
      // A store file (from `db export`) replaces the store; what follows it is imported into it.
      if (await isSqliteFile(path)) {
        store.close();
        try {
          const summary = await importStoreFile(path, options.db);
          io.stdout.write(`${path}: a layerwatch store: now the store (${describeStore(summary)})\n`);
        } finally {
          store = await AdvisoryStore.open(options.db, { create: true });
        }
        continue;
      }
      const result = await importOsv(store, path, (record) =>
        io.stderr.write(`layerwatch: warning: ${record.where}: skipped: ${record.reason}\n`),
      );
      imported += result.imported;
      skipped += result.skipped.length;
      const ecosystems = Object.entries(result.byEcosystem)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([ecosystem, count]) => `${ecosystem} ${count}`)
        .join(", ");
      io.stdout.write(
        `${path}: imported ${result.imported} records, skipped ${result.skipped.length}${ecosystems ? ` (${ecosystems})` : ""}\n`,
      );
    }
    if (paths.length > 1) io.stdout.write(`total: imported ${imported} records, skipped ${skipped}\n`);
    io.stdout.write(`store: ${options.db} (${store.summary().advisories} records)\n`);
  } finally {
    store.close();
  }
  return 0;
}

export async function runDbInfo(options: { db: string }, io: CliIo): Promise<number> {
  const store = await AdvisoryStore.open(options.db);
  try {
    const summary = store.summary();
    io.stdout.write(
      `store: ${options.db}\nrecords: ${summary.advisories}\nlast import: ${summary.lastImport ?? "never"}\n`,
    );
    io.stdout.write(`last update: ${summary.lastUpdate ?? "never"}\nNVD CVEs: ${summary.nvd}\n`);
    for (const [ecosystem, count] of Object.entries(summary.byEcosystem))
      io.stdout.write(`  ${ecosystem}: ${count}\n`);
  } finally {
    store.close();
  }
  return 0;
}

export interface DbUpdateOptions {
  db: string;
  ecosystem: string[];
  osvUrl?: string;
  nvdUrl?: string;
  nvdApiKey?: string;
  nvd: boolean;
}

function describeOsvResult(result: OsvEcosystemResult): string {
  const skipped = result.skipped.length > 0 ? `, skipped ${result.skipped.length}` : "";
  switch (result.how) {
    case "full":
      return `${result.ecosystem}: all.zip (${(result.downloadedBytes / 1024 / 1024).toFixed(1)} MiB): imported ${result.imported} records${skipped}`;
    case "incremental":
      return `${result.ecosystem}: ${result.fetchedRecords} changed records: imported ${result.imported}${skipped}`;
    default:
      return `${result.ecosystem}: up to date${skipped}`;
  }
}

/** `db update`: exit 0 when every source was updated, 2 when any failed (each said why on stderr). */
export async function runDbUpdate(options: DbUpdateOptions, io: CliIo): Promise<number> {
  const apiKey = options.nvdApiKey ?? io.env.LAYERWATCH_NVD_API_KEY;
  const store = await AdvisoryStore.open(options.db, { create: true });
  const reporter = updateReporter(io.stderr);
  try {
    const result = await updateStore(store, {
      ecosystems: options.ecosystem,
      ...(options.osvUrl ? { osvUrl: options.osvUrl } : {}),
      ...(options.nvdUrl ? { nvdUrl: options.nvdUrl } : {}),
      ...(apiKey ? { nvdApiKey: apiKey } : {}),
      nvd: options.nvd,
      env: io.env,
      reporter,
    });
    reporter.finish();
    for (const osv of result.osv) io.stdout.write(`${describeOsvResult(osv)}\n`);
    if (result.nvd) {
      const skipped = result.nvd.skipped > 0 ? `, skipped ${result.nvd.skipped}` : "";
      io.stdout.write(
        `NVD: ${result.nvd.how === "full" ? "every CVE" : "changed CVEs"}: ${result.nvd.cves} written${skipped}\n`,
      );
    }
    io.stdout.write(`store: ${options.db} (${describeStore(store.summary())})\n`);
    return result.failures.length > 0 ? ExitCode.usage : ExitCode.ok;
  } finally {
    reporter.finish();
    store.close();
  }
}

/** `db export FILE`: the whole store as one consistent file (for a CI cache). */
export async function runDbExport(file: string, options: { db: string }, io: CliIo): Promise<number> {
  const summary = await exportStore(options.db, file);
  io.stdout.write(`${file}: the store ${options.db} (${describeStore(summary)})\n`);
  return ExitCode.ok;
}
