import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { openSqlite } from "../../src/vulndb/sqlite.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";
import { cli } from "../helpers/cli.js";
import {
  failFirst,
  fileHandler,
  modifiedIdCsv,
  readZipMembers,
  TestHttpServer,
  type ZipRecord,
} from "../helpers/osv-server.js";
import { writeZip } from "../helpers/osv-zip.js";
import { sharedData } from "../helpers/shared-data.js";

/**
 * `layerwatch db update` against a test HTTP server that serves OSV's real exports
 * (../shared/data/osv/<Ecosystem>/all.zip) at the bucket's paths.
 */

const osvRoot = sharedData("osv");
/** Small real exports; "GitHub Actions" has a space, as some of OSV's folder names do. */
const ecosystems = ["Debian", "GitHub Actions", "npm", "CRAN", "Ubuntu"];

interface Export {
  zip: Buffer;
  members: ZipRecord[];
  /** Each member's id and modified, read from its JSON. */
  records: Array<{ id: string; modified: string; bytes: Buffer }>;
}

async function readExport(ecosystem: string): Promise<Export> {
  const path = join(osvRoot as string, ecosystem, "all.zip");
  const members = await readZipMembers(path);
  const records = members.map((member) => {
    const parsed = JSON.parse(member.bytes.toString("utf8")) as { id: string; modified: string };
    return { id: parsed.id, modified: parsed.modified, bytes: member.bytes };
  });
  return { zip: await readFile(path), members, records };
}

function exportPath(ecosystem: string, file: string): string {
  return `/osv/${encodeURIComponent(ecosystem)}/${file}`;
}

describe.skipIf(!osvRoot)("db update from OSV's exports", () => {
  let work: string;
  let server: TestHttpServer;
  const exports = new Map<string, Export>();

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-update-"));
    for (const ecosystem of ecosystems) exports.set(ecosystem, await readExport(ecosystem));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(async () => {
    server = await TestHttpServer.start();
  });
  afterEach(async () => {
    await server.close();
  });

  function serveZips(names: string[]): void {
    for (const name of names)
      server.route(exportPath(name, "all.zip"), fileHandler(exports.get(name)?.zip as Buffer));
  }

  function update(db: string, ...args: string[]) {
    return cli(["--db", db, "db", "update", "--osv-url", `${server.url}/osv`, "--no-nvd", ...args]);
  }

  it("imports every record of each ecosystem's all.zip; a missing ecosystem is one error line and exit 2", async () => {
    serveZips(ecosystems);
    const db = join(work, "full.sqlite");
    const run = await update(
      db,
      ...ecosystems.flatMap((name) => ["--ecosystem", name]),
      "--ecosystem",
      "NoSuchEcosystem",
    );
    expect(run.code).toBe(2);
    const errors = run.stderr.split("\n").filter((line) => line.includes("error"));
    expect(errors).toEqual([
      `layerwatch: error: ecosystem 'NoSuchEcosystem': OSV has no export at ${server.url}/osv/NoSuchEcosystem/all.zip (HTTP 404)`,
    ]);
    // The folder name is sent encoded.
    expect(server.requestsTo("/osv/GitHub%20Actions/all.zip")).toHaveLength(1);

    const store = await AdvisoryStore.open(db);
    try {
      const ids = new Set<string>();
      for (const ecosystem of ecosystems) {
        const { members, records } = exports.get(ecosystem) as Export;
        // Counted from the zip itself; none of these real records is malformed, so none is skipped.
        expect(run.stdout).toMatch(
          new RegExp(`^${ecosystem}: all\\.zip \\([\\d.]+ MiB\\): imported ${members.length} records$`, "m"),
        );
        for (const record of records) {
          expect(store.modifiedOf(record.id), record.id).toBe(record.modified);
          ids.add(record.id);
        }
      }
      expect(store.summary().advisories).toBe(ids.size);
      expect(store.summary().lastUpdate).toBeDefined();
    } finally {
      store.close();
    }
  });

  it("later fetches only the records modified_id.csv lists as changed; a malformed one is skipped and counted", async () => {
    const npm = exports.get("npm") as Export;
    const byAge = [...npm.records].sort((a, b) => Date.parse(a.modified) - Date.parse(b.modified));
    const older = byAge.slice(0, -5);
    const newest = byAge.slice(-5);
    // An export taken before the newest five records were published.
    const earlierZip = join(work, "npm-earlier.zip");
    await writeZip(
      earlierZip,
      older.map((record) => ({ name: `${record.id}.json`, content: record.bytes })),
    );
    server.route(exportPath("npm", "all.zip"), fileHandler(await readFile(earlierZip)));
    const db = join(work, "incremental.sqlite");
    const first = await update(db, "--ecosystem", "npm");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^npm: all\\.zip .*: imported ${older.length} records$`, "m"));

    // Now the bucket has them all, and one record that is not valid JSON.
    const broken = { id: "GHSA-test-brok-en00", modified: new Date().toISOString() };
    server.route(
      exportPath("npm", "modified_id.csv"),
      fileHandler(Buffer.from(modifiedIdCsv([...npm.records, broken])), "text/csv"),
    );
    for (const record of npm.records)
      server.route(exportPath("npm", `${record.id}.json`), fileHandler(record.bytes));
    server.route(exportPath("npm", `${broken.id}.json`), fileHandler(Buffer.from('{"id": "GHSA-test-brok')));
    const second = await update(db, "--ecosystem", "npm");
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^npm: 6 changed records: imported 5, skipped 1$/m);
    expect(second.stderr).toMatch(
      new RegExp(
        `^layerwatch: warning: ${server.url}/osv/npm/${broken.id}\\.json: skipped: not valid JSON`,
        "m",
      ),
    );
    const fetchedIds = server.requests
      .map((request) => /^\/osv\/npm\/(.+)\.json$/.exec(request.path)?.[1])
      .filter((id) => id !== undefined)
      .sort();
    expect(fetchedIds).toEqual([...newest.map((record) => record.id), broken.id].sort());
    expect(server.requestsTo(exportPath("npm", "all.zip"))).toHaveLength(1);

    const store = await AdvisoryStore.open(db);
    try {
      expect(store.summary().advisories).toBe(npm.records.length);
      for (const record of newest) expect(store.modifiedOf(record.id)).toBe(record.modified);
      expect(store.modifiedOf(broken.id)).toBeUndefined();
    } finally {
      store.close();
    }

    // Nothing new: no valid record is fetched again, and all.zip is not downloaded.
    const before = server.requests.length;
    const third = await update(db, "--ecosystem", "npm");
    expect(third.code).toBe(0);
    const again = server.requests.slice(before).map((request) => request.path);
    expect(again.filter((path) => path.endsWith(".json") && !path.includes(broken.id))).toEqual([]);
    expect(again).not.toContain(exportPath("npm", "all.zip"));
  });

  it("without modified_id.csv asks for all.zip with its ETag: 304 leaves the store alone, a new export is imported", async () => {
    const cran = exports.get("CRAN") as Export;
    serveZips(["CRAN"]);
    const db = join(work, "etag.sqlite");
    expect((await update(db, "--ecosystem", "CRAN")).code).toBe(0);
    const firstAnswerEtag = server.requestsTo(exportPath("CRAN", "all.zip"))[0];
    expect(firstAnswerEtag?.headers["if-none-match"]).toBeUndefined();

    const unchanged = await update(db, "--ecosystem", "CRAN");
    expect(unchanged.code).toBe(0);
    expect(unchanged.stdout).toMatch(/^CRAN: up to date$/m);
    const conditional = server.requestsTo(exportPath("CRAN", "all.zip"))[1];
    expect(conditional?.headers["if-none-match"]).toMatch(/^"[0-9a-f]{32}"$/);
    expect(conditional?.headers["if-modified-since"]).toBe("Tue, 01 Sep 2026 10:00:00 GMT");

    // A new export (one record fewer) has a new ETag: downloaded and imported again.
    const smaller = join(work, "cran-smaller.zip");
    await writeZip(
      smaller,
      cran.members.slice(1).map((member) => ({ name: member.name, content: member.bytes })),
    );
    server.route(exportPath("CRAN", "all.zip"), fileHandler(await readFile(smaller)));
    const changed = await update(db, "--ecosystem", "CRAN");
    expect(changed.stdout).toMatch(
      new RegExp(`^CRAN: all\\.zip .*: imported ${cran.members.length - 1} records$`, "m"),
    );
    const store = await AdvisoryStore.open(db);
    try {
      expect(store.summary().advisories).toBe(cran.records.length);
    } finally {
      store.close();
    }
  });

  it("retries a 429 after its Retry-After, and a 500 with backoff", async () => {
    const path429 = exportPath("GitHub Actions", "all.zip");
    server.route(
      path429,
      failFirst(1, 429, { "retry-after": "1" }, fileHandler(exports.get("GitHub Actions")?.zip as Buffer)),
    );
    server.route(
      exportPath("Debian", "all.zip"),
      failFirst(1, 500, {}, fileHandler(exports.get("Debian")?.zip as Buffer)),
    );
    const db = join(work, "retries.sqlite");
    const run = await update(db, "--ecosystem", "GitHub Actions", "--ecosystem", "Debian");
    expect(run.code).toBe(0);
    const [limited, served] = server.requestsTo(path429);
    expect((served?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(950);
    expect(run.stderr).toMatch(
      /^layerwatch: GitHub Actions: \S+\/GitHub%20Actions\/all\.zip: HTTP 429; retrying in 1000 ms$/m,
    );
    expect(run.stderr).toMatch(/Debian\/all\.zip: HTTP 500; retrying in \d+ ms/);
    expect(server.requestsTo(exportPath("Debian", "all.zip"))).toHaveLength(2);
    expect(run.stdout).toMatch(/^GitHub Actions: all\.zip .*: imported 1 records$/m);
    expect(run.stdout).toMatch(/^Debian: all\.zip .*: imported 3 records$/m);
  });

  it("draws a progress bar when standard error is a terminal, and only plain lines otherwise", async () => {
    serveZips(["npm"]);
    let stderr = "";
    const code = await runCli(
      [
        "--db",
        join(work, "tty.sqlite"),
        "db",
        "update",
        "--osv-url",
        `${server.url}/osv`,
        "--no-nvd",
        "--ecosystem",
        "npm",
      ],
      {
        stdout: { write: () => true, isTTY: false },
        stderr: { write: (text: string) => (stderr += text), isTTY: true, columns: 100 },
        env: {},
      },
    );
    expect(code).toBe(0);
    const size = exports.get("npm")?.zip.length as number;
    // The download ends at 100% of all.zip's size, then the records count up; the bar is wiped
    // before every line that stays, and at the end.
    expect(stderr).toContain(
      `\rnpm [${"#".repeat(24)}] 100% ${(size / 1024).toFixed(1)} KiB/${(size / 1024).toFixed(1)} KiB\x1b[K`,
    );
    const frames = stderr.split("\r");
    expect(frames.some((frame) => /^npm \d+ records/.test(frame) && frame.endsWith("\x1b[K"))).toBe(true);
    expect(stderr.endsWith("\r\x1b[K")).toBe(true);
    const plain = await update(join(work, "plain.sqlite"), "--ecosystem", "npm");
    expect(plain.stderr).toBe(`layerwatch: npm: downloading ${server.url}/osv/npm/all.zip\n`);
  });

  it("updates, without --ecosystem, what the store holds", async () => {
    serveZips(["Debian", "npm"]);
    const db = join(work, "defaults.sqlite");
    expect((await update(db, "--ecosystem", "npm")).code).toBe(0);
    // Debian came in through a plain import of its zip, not through an update.
    expect((await cli(["--db", db, "db", "import", join(osvRoot as string, "Debian", "all.zip")])).code).toBe(
      0,
    );
    const before = server.requests.length;
    const run = await update(db);
    expect(run.code).toBe(0);
    const asked = server.requests.slice(before).map((request) => request.path);
    expect(asked).toContain(exportPath("Debian", "all.zip"));
    expect(asked).toContain(exportPath("npm", "modified_id.csv"));
  });

  it("exports the store to one file that db import puts in place of another store", async () => {
    serveZips(["npm", "Ubuntu"]);
    const db = join(work, "to-export.sqlite");
    expect((await update(db, "--ecosystem", "npm", "--ecosystem", "Ubuntu")).code).toBe(0);
    const file = join(work, "cache.sqlite");
    const exported = await cli(["--db", db, "db", "export", file]);
    expect(exported.code).toBe(0);

    // The target store already holds something else: the export replaces it.
    const restored = join(work, "restored.sqlite");
    expect(
      (await cli(["--db", restored, "db", "import", join(osvRoot as string, "Debian", "all.zip")])).code,
    ).toBe(0);
    const imported = await cli(["--db", restored, "db", "import", file]);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain(`${file}: a layerwatch store: now the store`);

    const infoOf = async (path: string) =>
      (await cli(["--db", path, "db", "info"])).stdout.replace(`store: ${path}\n`, "");
    expect(await infoOf(restored)).toBe(await infoOf(db));
    const [original, copy] = await Promise.all(
      [db, restored].map(async (path) => {
        const store = await AdvisoryStore.open(path);
        try {
          return store.summary();
        } finally {
          store.close();
        }
      }),
    );
    expect(copy).toEqual(original);
    expect(copy?.byEcosystem).toEqual({ npm: 25, Ubuntu: 10 });

    // Some other SQLite file is refused, and the store stays as it was.
    const other = join(work, "other.sqlite");
    const foreign = await openSqlite(other);
    foreign.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    foreign.close();
    const refused = await cli(["--db", restored, "db", "import", other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `layerwatch: error: ${other}: an SQLite file, but not a layerwatch store (no schema version)\n`,
    );
    expect(await infoOf(restored)).toBe(await infoOf(db));
  });

  it("brings a store of the previous schema (no nvd table) forward when it is opened for writing", async () => {
    const db = join(work, "v2.sqlite");
    expect((await cli(["--db", db, "db", "import", join(osvRoot as string, "Debian", "all.zip")])).code).toBe(
      0,
    );
    const raw = await openSqlite(db);
    raw.exec("DROP TABLE nvd; UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    raw.close();
    const info = await cli(["--db", db, "db", "info"]);
    expect(info.code).toBe(2);
    expect(info.stderr).toBe(
      `layerwatch: error: vulnerability store ${db}: schema version 2 is older than 3; run 'layerwatch db update' or 'layerwatch db import' once to upgrade it\n`,
    );
    serveZips(["Debian"]);
    expect((await update(db, "--ecosystem", "Debian")).code).toBe(0);
    const upgraded = await cli(["--db", db, "db", "info"]);
    expect(upgraded.stdout).toContain("records: 3\n");
    expect(upgraded.stdout).toContain("NVD CVEs: 0\n");
  });

  it("warns, in one line and in the report, when a scan's store was last refreshed over 3 days ago", async () => {
    serveZips(["npm"]);
    const db = join(work, "stale.sqlite");
    expect((await update(db, "--ecosystem", "npm")).code).toBe(0);
    // lodash 4.17.20 is affected by GHSA-35jh-r3h4-6jhm (fixed in 4.17.21) in the real npm export.
    const sbom = join(work, "app.cdx.json");
    await writeFile(
      sbom,
      JSON.stringify({
        bomFormat: "CycloneDX",
        specVersion: "1.6",
        version: 1,
        components: [{ type: "library", name: "lodash", version: "4.17.20", purl: "pkg:npm/lodash@4.17.20" }],
      }),
    );
    const scan = () => cli(["--db", db, "scan", `sbom:${sbom}`, "--format", "json"]);

    const fresh = await scan();
    expect(fresh.code).toBe(0);
    expect(fresh.stderr).not.toContain("last updated");
    expect(JSON.parse(fresh.stdout).findings.flatMap((f: { aliases: string[] }) => f.aliases)).toContain(
      "GHSA-35jh-r3h4-6jhm",
    );

    const fourDaysAgo = new Date(Date.now() - (4 * 24 + 1) * 3600 * 1000).toISOString();
    const store = await AdvisoryStore.open(db, { create: true });
    store.setMeta("last_import", fourDaysAgo);
    store.setMeta("last_update", fourDaysAgo);
    store.close();
    const stale = await scan();
    expect(stale.code).toBe(0);
    const problem = `last updated 4 days ago (${fourDaysAgo}); advisories published since are missing: run 'layerwatch db update'`;
    expect(stale.stderr.split("\n").filter((line) => line.includes("last updated"))).toEqual([
      `layerwatch: warning: vulnerability store ${db}: ${problem}`,
    ]);
    expect(JSON.parse(stale.stdout).warnings).toContainEqual({
      subject: `vulnerability store ${db}`,
      problem,
    });

    // The scan noted what it needed, for `db update` without --ecosystem.
    const after = await AdvisoryStore.open(db);
    try {
      expect(Object.keys(JSON.parse(after.getMeta("scan_ecosystems") ?? "{}"))).toEqual(["npm"]);
    } finally {
      after.close();
    }
  });
});
