import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { affectingRecordIds } from "../../src/match/matcher.js";
import { importOsv } from "../../src/vulndb/import.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";
import { sharedData } from "../helpers/shared-data.js";

/**
 * layerwatch's matcher against osv.dev's own answers: 2,973 real querybatch questions that
 * osv-scanner's tests recorded (../shared/data/README.md), re-asked of a store that holds the
 * shared zips. Compared are the ecosystems whose zips are complete exports of their source
 * database, and only that source's ids: osv.dev also answers Go and PyPI queries with GHSA
 * records, which the zips do not hold.
 */
const complete: Record<string, { zip: string; prefix: string }> = {
  Go: { zip: "osv/Go/all.zip", prefix: "GO-" },
  PyPI: { zip: "osv/PyPI/all.zip", prefix: "PYSEC-" },
  "crates.io": { zip: "osv/crates.io/all.zip", prefix: "RUSTSEC-" },
  Hackage: { zip: "osv/Hackage/all.zip", prefix: "HSEC-" },
};

/**
 * The recordings come from osv-scanner at commit add393a2 (2026-08-07): every answer was recorded
 * by then, so a record modified after that day may differ from what osv.dev answered.
 */
const RECORDED_BY = "2026-08-08T00:00:00Z";

/**
 * Differences that no `modified` date explains, each checked by hand. golang/vulndb's OSV files
 * carry no timestamps (`modified` and `published` are 0001-01-01 in all 4291), so the date rule
 * cannot decide for Go.
 */
const explained: Record<string, string> = {
  // Ten records, and exactly the ten, that name stdlib or toolchain fixes in the Go 1.25.13 and
  // 1.26.6 point releases (1.27.0-rc.3 too): the Go team publishes a security release's records
  // when it ships, and no recorded answer holds any of them, while every older stdlib record that
  // affects the queried versions is there. They were published after the recordings.
  "GO-2026-5026": "stdlib, fixed in 1.25.13/1.26.6: published with that release, after the recordings",
  "GO-2026-5942": "stdlib, fixed in 1.26.6: published with that release, after the recordings",
  "GO-2026-5972": "stdlib, fixed in 1.25.13/1.26.6: published with that release, after the recordings",
  "GO-2026-6088": "stdlib, fixed in 1.25.13/1.26.6: published with that release, after the recordings",
  "GO-2026-6089": "stdlib, fixed in 1.25.13/1.26.6: published with that release, after the recordings",
  "GO-2026-6090": "stdlib, fixed in 1.25.13/1.26.6: published with that release, after the recordings",
  "GO-2026-6091": "stdlib, fixed in 1.25.13/1.26.6: published with that release, after the recordings",
  "GO-2026-6179": "toolchain, fixed in 1.25.13/1.26.6: published with that release, after the recordings",
  "GO-2026-6180": "toolchain, fixed in 1.25.13/1.26.6: published with that release, after the recordings",
  "GO-2026-6218": "stdlib, fixed in 1.25.13/1.26.6: published with that release, after the recordings",
  // golang.org/x/image < 0.45.0: its id is above every GO id in any recorded answer (the highest
  // is GO-2026-5856, modified 2026-07-31), and the answer for x/image 0.4.0 holds all the other
  // x/image records that affect 0.4.0. Allocated, and published, after the recordings.
  "GO-2026-6222": "golang.org/x/image, id allocated after every recorded one; published after the recordings",
};

interface Query {
  ecosystem: string;
  name: string;
  version: string;
  /** osv.dev's answer: record id → its `modified` then. */
  answer: Map<string, string>;
}

async function readQueries(path: string): Promise<Query[]> {
  const queries: Query[] = [];
  const lines = createInterface({ input: createReadStream(path).pipe(createGunzip()) });
  for await (const line of lines) {
    const interaction = JSON.parse(line) as {
      url: string;
      request: { queries: Array<{ package?: { ecosystem?: string; name?: string }; version?: string }> };
      response: { results: Array<{ vulns?: Array<{ id: string; modified: string }> }> };
    };
    if (!interaction.url.endsWith("/v1/querybatch")) continue;
    interaction.request.queries.forEach((query, i) => {
      const { ecosystem, name } = query.package ?? {};
      if (!ecosystem || !name || query.version === undefined) return;
      const vulns = interaction.response.results[i]?.vulns ?? [];
      queries.push({
        ecosystem,
        name,
        version: query.version,
        answer: new Map(vulns.map((v) => [v.id, v.modified])),
      });
    });
  }
  return queries;
}

const recordings = sharedData("api/osv-querybatch-recordings.jsonl.gz");
const zips = Object.fromEntries(Object.entries(complete).map(([eco, { zip }]) => [eco, sharedData(zip)]));
const absent = !recordings || Object.values(zips).some((path) => path === undefined);

describe.skipIf(absent)("agreement with osv.dev's recorded querybatch answers", () => {
  let work = "";
  let store: AdvisoryStore;
  let queries: Query[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-querybatch-"));
    store = await AdvisoryStore.open(join(work, "db.sqlite"), { create: true });
    for (const path of Object.values(zips)) {
      const imported = await importOsv(store, path as string);
      expect(imported.skipped).toEqual([]);
    }
    queries = await readQueries(recordings as string);
  }, 300_000);

  afterAll(async () => {
    store?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("reads the 2,953 package queries of the 2,973, and compares the complete ecosystems' 209", () => {
    // The other 20 ask by commit, which names no package.
    expect(queries.length).toBe(2953);
    expect(queries.filter((q) => q.ecosystem in complete).length).toBe(77 + 89 + 33 + 10);
  });

  it("finds exactly the records osv.dev found, but for records changed since or explained", () => {
    const tally: Record<string, { queries: number; agreeing: number; byDate: number; explained: number }> =
      {};
    const unexplained: string[] = [];
    const usedExplanations = new Set<string>();
    for (const query of queries) {
      const source = complete[query.ecosystem];
      if (!source) continue;
      const counts = tally[query.ecosystem] ?? { queries: 0, agreeing: 0, byDate: 0, explained: 0 };
      tally[query.ecosystem] = counts;
      counts.queries++;
      const expected = [...query.answer.keys()].filter((id) => id.startsWith(source.prefix)).sort();
      const found = affectingRecordIds(store, query.ecosystem, query.name, query.version) ?? [];
      const differences = [
        ...expected.filter((id) => !found.includes(id)),
        ...found.filter((id) => !expected.includes(id)),
      ];
      if (differences.length === 0) {
        counts.agreeing++;
        continue;
      }
      let kind: "byDate" | "explained" = "byDate";
      for (const id of differences) {
        const record = store.recordsFor(query.ecosystem, query.name).find((r) => r.id === id);
        const answered = query.answer.get(id);
        const changedSince =
          record !== undefined &&
          !record.modified.startsWith("0001-") &&
          (record.modified > RECORDED_BY || (answered !== undefined && record.modified > answered));
        if (changedSince) continue;
        if (explained[id]) {
          usedExplanations.add(id);
          kind = "explained";
          continue;
        }
        unexplained.push(`${query.ecosystem} ${query.name}@${query.version}: ${id}`);
      }
      counts[kind]++;
    }
    console.info(
      "agreement with osv.dev (queries, agreeing, differing by date, explained):\n" +
        Object.entries(tally)
          .map(([eco, c]) => `  ${eco}: ${c.queries}, ${c.agreeing}, ${c.byDate}, ${c.explained}`)
          .join("\n"),
    );
    expect([...new Set(unexplained)]).toEqual([]);
    // Every explanation is still needed: one that no longer applies must go.
    expect([...usedExplanations].sort()).toEqual(Object.keys(explained).sort());
    expect(tally).toEqual({
      Go: { queries: 77, agreeing: 49, byDate: 0, explained: 28 },
      PyPI: { queries: 89, agreeing: 89, byDate: 0, explained: 0 },
      "crates.io": { queries: 33, agreeing: 33, byDate: 0, explained: 0 },
      Hackage: { queries: 10, agreeing: 10, byDate: 0, explained: 0 },
    });
  });

  it("answers with records, not alias groups, and with no finding for what osv.dev finds none", () => {
    // Spot checks by hand against the recording: flask 1.0 (PyPI) and golang.org/x/sys at a
    // pseudo-version, osv.dev's ids restricted to the zips' sources.
    expect(affectingRecordIds(store, "PyPI", "flask", "1.0")).toEqual(["PYSEC-2023-62", "PYSEC-2026-2151"]);
    expect(affectingRecordIds(store, "Go", "golang.org/x/sys", "v0.0.0-20210817142637-7d9622a276b7")).toEqual(
      ["GO-2022-0493", "GO-2026-5024"],
    );
    // "(devel)" is no version: osv.dev answers nothing, layerwatch cannot order it.
    expect(affectingRecordIds(store, "Go", "github.com/tianon/gosu", "(devel)")).toBeUndefined();
  });
});
