import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PackageURL } from "packageurl-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { affectingRecordIds } from "../../src/match/matcher.js";
import type { JsonReport } from "../../src/report/model.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";
import { type CliRun, cli } from "../helpers/cli.js";
import {
  OsvApiEmulator,
  questionKey,
  type RecordedQuestion,
  readRecordedQuestions,
} from "../helpers/osv-api-server.js";
import { readOsvZip } from "../helpers/osv-records.js";
import { failFirst } from "../helpers/osv-server.js";
import { sharedData } from "../helpers/shared-data.js";

/**
 * `scan --online` against an emulator of osv.dev's API (test/helpers/osv-api-server.ts) that
 * answers querybatch with osv.dev's recorded answers and serves the records of the shared OSV
 * zips. The inventory is an SBOM of real package versions: every package question in the
 * recordings, plus real crates.io releases (fixed versions named by RustSec advisories) that
 * were never recorded, to pass 1,000 questions.
 */

const recordings = sharedData("api/osv-querybatch-recordings.jsonl.gz");
const osvRoot = sharedData("osv");
const absent = !recordings || !osvRoot;

/** OSV ecosystem base → purl type and namespace. GIT and SwiftURL questions have no version scheme here. */
const purlKinds: Record<string, { type: string; namespace?: string }> = {
  Maven: { type: "maven" },
  npm: { type: "npm" },
  PyPI: { type: "pypi" },
  Go: { type: "golang" },
  "crates.io": { type: "cargo" },
  RubyGems: { type: "gem" },
  NuGet: { type: "nuget" },
  Packagist: { type: "composer" },
  Hackage: { type: "hackage" },
  Debian: { type: "deb", namespace: "debian" },
  Ubuntu: { type: "deb", namespace: "ubuntu" },
  Alpine: { type: "apk", namespace: "alpine" },
  openSUSE: { type: "rpm", namespace: "opensuse" },
};
const osTypes = new Set(["deb", "apk", "rpm"]);

interface Question {
  ecosystem: string;
  name: string;
  version: string;
}

function purlOf(question: Question): string {
  const kind = purlKinds[question.ecosystem.split(":")[0] as string];
  if (!kind) throw new Error(`no purl type for ${question.ecosystem}`);
  let namespace = kind.namespace;
  let name = question.name;
  const split =
    kind.type === "maven" ? name.lastIndexOf(":") : osTypes.has(kind.type) ? -1 : name.lastIndexOf("/");
  if (split > 0) {
    namespace = name.slice(0, split);
    name = name.slice(split + 1);
  }
  return new PackageURL(kind.type, namespace, name, question.version, undefined, undefined).toString();
}

/**
 * A CycloneDX 1.6 SBOM with one component per question. layerwatch's own properties say the
 * ecosystem exactly as the question does ("Ubuntu:22.04", "Alpine:v3.21"), and that an OS
 * package is its own source package, so the scan asks exactly these questions.
 */
function sbomOf(questions: Question[]): string {
  const components = questions.map((question, i) => {
    const purl = purlOf(question);
    const os = osTypes.has(purl.split(":")[1]?.split("/")[0] ?? "");
    return {
      type: "library",
      "bom-ref": `component-${i}`,
      name: question.name,
      version: question.version,
      purl,
      properties: [
        { name: "layerwatch:ecosystem", value: question.ecosystem },
        ...(os
          ? [
              { name: "layerwatch:sourceName", value: question.name },
              { name: "layerwatch:sourceVersion", value: question.version },
            ]
          : []),
      ],
    };
  });
  return JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    metadata: { component: { type: "container", name: "online-test" } },
    components,
  });
}

function reportOf(run: CliRun): JsonReport {
  expect(run.stderr).not.toMatch(/error/);
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as JsonReport;
}

function warningLines(run: CliRun): string[] {
  return run.stderr.split("\n").filter((line) => line.startsWith("layerwatch: warning:"));
}

const PAGE_SIZE = 10;

describe.skipIf(absent)("scan --online against an emulated OSV API", () => {
  let work = "";
  let zips: string[] = [];
  let recorded = new Map<string, RecordedQuestion>();
  /** The recorded questions the SBOM holds, and the never-recorded crates.io ones. */
  let asked: Question[] = [];
  let extras: Question[] = [];
  let emulator: OsvApiEmulator;
  let wholeZipsDb = "";
  let online: CliRun;
  /** What the emulator saw during that scan. */
  let batches: OsvApiEmulator["batches"] = [];
  let unrecorded: string[] = [];
  let fetched = new Map<string, number>();

  const scanOnline = (source: string, ...args: string[]) =>
    cli([
      "--db",
      join(work, "no-store.sqlite"),
      "scan",
      source,
      "--online",
      "--osv-api-url",
      emulator.url,
      "--format",
      "json",
      ...args,
    ]);
  const scanLocal = async (db: string, source: string) =>
    reportOf(await cli(["--db", db, "scan", source, "--format", "json"]));

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-online-"));
    const root = osvRoot as string;
    zips = (await readdir(root, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, "all.zip")))
      .map((entry) => join(root, entry.name, "all.zip"))
      .sort();
    recorded = await readRecordedQuestions(recordings as string);
    asked = [...recorded.values()]
      .filter((q) => purlKinds[q.ecosystem.split(":")[0] as string] !== undefined)
      // "(devel)" (two Go binaries built outside a module) is no version: never asked.
      .filter((q) => q.version !== "(devel)")
      .map(({ ecosystem, name, version }) => ({ ecosystem, name, version }));

    wholeZipsDb = join(work, "whole-zips.sqlite");
    const imported = await cli(["--db", wholeZipsDb, "db", "import", ...zips]);
    expect(imported.code, imported.stderr).toBe(0);

    // Real crates.io releases no recording asked about: the fixed versions RustSec names. The
    // emulator knows no answer for them and answers none, which is osv.dev's answer only where no
    // record affects them, so only such versions are taken (checked against the local store).
    const store = await AdvisoryStore.open(wholeZipsDb);
    try {
      const fixes = new Set<string>();
      for (const record of (await readOsvZip(join(root, "crates.io", "all.zip"))).values())
        for (const affected of record.affected ?? [])
          for (const range of affected.ranges ?? [])
            for (const event of range.events)
              if ("fixed" in event && affected.package)
                fixes.add(
                  questionKey({ ecosystem: "crates.io", name: affected.package.name, version: event.fixed }),
                );
      extras = [...fixes]
        .sort()
        .map((key) => {
          const [ecosystem, name, version] = key.split("\u0000") as [string, string, string];
          return { ecosystem, name, version };
        })
        .filter(
          (q) =>
            !recorded.has(questionKey(q)) &&
            affectingRecordIds(store, q.ecosystem, q.name, q.version)?.length === 0,
        )
        .slice(0, 300);
    } finally {
      store.close();
    }
    expect(extras).toHaveLength(300);
    await writeFile(join(work, "packages.cdx.json"), sbomOf([...asked, ...extras]));

    emulator = await OsvApiEmulator.start({ questions: recorded, zips, pageSize: PAGE_SIZE });
    online = await scanOnline(`sbom:${join(work, "packages.cdx.json")}`);
    batches = [...emulator.batches];
    unrecorded = [...emulator.unrecorded].sort();
    fetched = emulator.vulnRequestCounts();
  }, 600_000);

  afterAll(async () => {
    await emulator?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("asks each distinct question once, in batches of at most 1,000, and opens no store", () => {
    reportOf(online);
    const firstPages = batches.filter((batch) => batch.paged === 0);
    const laterPages = batches.filter((batch) => batch.paged > 0);
    // Later pages carry only questions with a page token.
    for (const batch of laterPages) expect(batch.paged).toBe(batch.keys.length);
    const total = asked.length + extras.length;
    expect(total).toBeGreaterThan(1000);
    expect(firstPages.map((batch) => batch.keys.length)).toEqual([1000, total - 1000]);
    const sent = firstPages.flatMap((batch) => batch.keys);
    expect(new Set(sent).size).toBe(sent.length);
    expect(new Set(sent)).toEqual(new Set([...asked, ...extras].map(questionKey)));
    expect(unrecorded).toEqual(extras.map(questionKey).sort());
    expect(existsSync(join(work, "no-store.sqlite"))).toBe(false);
  });

  it("follows next_page_token until every page of every answer is read", () => {
    // Each question with n recorded vulnerabilities is asked ceil(n / PAGE_SIZE) times.
    const followUps = new Map<string, number>();
    for (const batch of batches.filter((b) => b.paged > 0))
      for (const key of batch.keys) followUps.set(key, (followUps.get(key) ?? 0) + 1);
    const expected = new Map<string, number>();
    for (const q of asked) {
      const n = recorded.get(questionKey(q))?.vulns.length ?? 0;
      if (n > PAGE_SIZE) expected.set(questionKey(q), Math.ceil(n / PAGE_SIZE) - 1);
    }
    expect(followUps).toEqual(expected);
    // The longest answer: Go's stdlib 1.18.1, 104 records, so ten more pages.
    expect(followUps.get(questionKey({ ecosystem: "Go", name: "stdlib", version: "1.18.1" }))).toBe(10);
  });

  it("fetches every listed record once, and counts the ones the API does not have in one warning", () => {
    const listed = new Set(asked.flatMap((q) => recorded.get(questionKey(q))?.vulns.map((v) => v.id) ?? []));
    expect(new Set(fetched.keys())).toEqual(listed);
    expect([...fetched.values()].every((n) => n === 1)).toBe(true);
    // ALPINE-*, DLA-*, USN-*, most GHSA-*: osv.dev listed them, the zips do not hold them.
    const missing = [...listed].filter((id) => !emulator.hasRecord(id));
    expect(missing.length).toBeGreaterThan(0);
    expect(warningLines(online)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^layerwatch: warning: OSV API ${emulator.url}: skipped ${missing.length} records that querybatch listed but that are not there \\(HTTP 404\\): ALPINE-`,
        ),
      ),
    ]);
  });

  it("finds exactly what a local store holding the same records finds", async () => {
    // The records the emulator served, written out as files and imported with `db import`.
    const served = join(work, "served");
    await mkdir(served);
    for (const id of fetched.keys())
      if (emulator.hasRecord(id)) await writeFile(join(served, `${id}.json`), await emulator.recordBytes(id));
    const db = join(work, "served.sqlite");
    const imported = await cli(["--db", db, "db", "import", served]);
    expect(imported.code, imported.stderr).toBe(0);
    const local = await scanLocal(db, `sbom:${join(work, "packages.cdx.json")}`);
    const report = reportOf(online);
    expect(report.packages).toEqual(local.packages);
    expect(report.findings).toEqual(local.findings);
    expect(report.findings.length).toBeGreaterThan(100);
    // Checked by hand against the recording and the PyPI zip: flask 1.0 is affected by
    // PYSEC-2023-62 and PYSEC-2026-2151.
    const flask = report.findings.filter((f) => f.package.name === "flask" && f.installedVersion === "1.0");
    expect(flask.flatMap((f) => [f.id, ...f.aliases])).toEqual(
      expect.arrayContaining(["PYSEC-2023-62", "PYSEC-2026-2151"]),
    );
  });

  it("differs from a store of the whole zips only by records osv.dev's recorded answers did not list", async () => {
    const local = await scanLocal(wholeZipsDb, `sbom:${join(work, "packages.cdx.json")}`);
    const report = reportOf(online);
    const text = (f: unknown) => JSON.stringify(f);
    const localTexts = new Set(local.findings.map(text));
    // Everything found online is found, the same, with every record at hand.
    expect(report.findings.filter((f) => !localTexts.has(text(f)))).toEqual([]);
    // What only the whole zips find comes from records that no recorded answer names: records
    // that came after the cassettes were recorded.
    const onlyLocal = local.findings.filter((f) => !report.findings.some((o) => text(o) === text(f)));
    const records = new Set(
      onlyLocal.flatMap((f) => [f.id, ...f.aliases].filter((id) => emulator.hasRecord(id))),
    );
    expect([...records].filter((id) => fetched.has(id))).toEqual([]);
    expect([...records].sort()).toEqual([
      // dnsjava < 3.6.0, both published 2024-07-22; the one cassette that asks about dnsjava
      // 3.4.0 (TestCommand_OCIImage) lists neither, only GHSA-cfxw-4h78-h7fw: recorded before.
      "GHSA-crjg-w57m-rqqf",
      "GHSA-mmwx-rj87-vfgr",
      // The Go records published after the recordings (test/match/querybatch-agreement.test.ts).
      "GO-2026-5026",
      "GO-2026-5942",
      "GO-2026-5972",
      "GO-2026-6088",
      "GO-2026-6089",
      "GO-2026-6090",
      "GO-2026-6091",
      "GO-2026-6179",
      "GO-2026-6180",
      "GO-2026-6218",
      "GO-2026-6222",
    ]);
  });
});

describe.skipIf(absent)("scan --online when the API fails", () => {
  let work = "";
  let emulator: OsvApiEmulator;
  let sbom = "";
  let baseline: JsonReport;

  const scanOnline = () =>
    cli(["scan", `sbom:${sbom}`, "--online", "--osv-api-url", emulator.url, "--format", "json"], {
      LAYERWATCH_DB: join(work, "no-store.sqlite"),
    });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-online-faults-"));
    const recorded = await readRecordedQuestions(recordings as string);
    const root = osvRoot as string;
    // The PyPI questions only: a small scan, whose records are all in the PyPI zip or missing.
    const pypi = [...recorded.values()].filter((q) => q.ecosystem === "PyPI");
    sbom = join(work, "pypi.cdx.json");
    await writeFile(sbom, sbomOf(pypi));
    emulator = await OsvApiEmulator.start({ questions: recorded, zips: [join(root, "PyPI", "all.zip")] });
    baseline = reportOf(await scanOnline());
    expect(baseline.findings.length).toBeGreaterThan(10);
  }, 120_000);

  afterAll(async () => {
    await emulator?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("waits as a 429's Retry-After says, then goes on", async () => {
    emulator.reset();
    emulator.override("/v1/querybatch", failFirst(1, 429, { "retry-after": "1" }, emulator.querybatch));
    try {
      const report = reportOf(await scanOnline());
      const attempts = emulator.server.requestsTo("/v1/querybatch");
      expect(attempts).toHaveLength(2);
      expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
      expect(report.findings).toEqual(baseline.findings);
    } finally {
      emulator.override("/v1/querybatch", undefined);
    }
  });

  it("a 500 that persists is one error line naming the URL and the status, and exit 2", async () => {
    emulator.reset();
    emulator.override("/v1/querybatch", (_request, response) => {
      response.writeHead(500, { "content-type": "text/plain" }).end("internal error\n");
    });
    try {
      const run = await scanOnline();
      expect(run.code).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr.trimEnd().split("\n")).toEqual([
        `layerwatch: error: OSV API ${emulator.url}/v1/querybatch: HTTP 500 (after 5 attempts)`,
      ]);
      expect(emulator.server.requestsTo("/v1/querybatch")).toHaveLength(5);
      expect(emulator.vulnRequestCounts().size).toBe(0);
    } finally {
      emulator.override("/v1/querybatch", undefined);
    }
  }, 60_000);

  it("a 400 is not retried: one error line with osv.dev's message, and exit 2", async () => {
    emulator.reset();
    emulator.override("/v1/querybatch", (_request, response) => {
      response
        .writeHead(400, { "content-type": "application/json" })
        .end(JSON.stringify({ code: 3, message: "Invalid query." }));
    });
    try {
      const run = await scanOnline();
      expect(run.code).toBe(2);
      expect(run.stderr.trimEnd().split("\n")).toEqual([
        `layerwatch: error: OSV API ${emulator.url}/v1/querybatch: HTTP 400: Invalid query.`,
      ]);
      expect(emulator.server.requestsTo("/v1/querybatch")).toHaveLength(1);
    } finally {
      emulator.override("/v1/querybatch", undefined);
    }
  });

  it("skips a malformed record with a warning, and matches the others", async () => {
    emulator.reset();
    // flask 1.0's PYSEC-2023-62 (checked by hand: it affects flask < 2.2.5), its affected list broken.
    const id = "PYSEC-2023-62";
    const record = JSON.parse((await emulator.recordBytes(id)).toString("utf8")) as Record<string, unknown>;
    emulator.override(emulator.vulnPath(id), (_request, response) => {
      response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ ...record, affected: "flask" }));
    });
    try {
      const run = await scanOnline();
      const report = reportOf(run);
      const fetchedCount = emulator.vulnRequestCounts().size;
      expect(warningLines(run)).toContain(
        `layerwatch: warning: OSV API ${emulator.url}: skipped 1 record of the ${fetchedCount} fetched: not valid OSV (PYSEC-2023-62: 'affected' is not a list)`,
      );
      const withRecord = (f: JsonReport["findings"][number]) => [f.id, ...f.aliases].includes(id);
      expect(baseline.findings.some(withRecord)).toBe(true);
      expect(report.findings).toEqual(baseline.findings.filter((f) => !withRecord(f)));
    } finally {
      emulator.override(emulator.vulnPath(id), undefined);
    }
  });
});
