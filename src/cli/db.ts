import { importOsv } from "../vulndb/import.js";
import { AdvisoryStore } from "../vulndb/store.js";
import type { CliIo } from "./io.js";

export async function runDbImport(paths: string[], options: { db: string }, io: CliIo): Promise<number> {
  const store = await AdvisoryStore.open(options.db, { create: true });
  try {
    let imported = 0;
    let skipped = 0;
    for (const path of paths) {
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
    for (const [ecosystem, count] of Object.entries(summary.byEcosystem))
      io.stdout.write(`  ${ecosystem}: ${count}\n`);
  } finally {
    store.close();
  }
  return 0;
}
