import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Package } from "../../src/inventory/types.js";
import { matchPackages } from "../../src/match/matcher.js";
import { FeedClient } from "../../src/vulndb/http.js";
import { importOsv } from "../../src/vulndb/import.js";
import { type NvdUpdateContext, updateNvd } from "../../src/vulndb/sources/nvd.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";
import type { UpdateReporter } from "../../src/vulndb/update.js";
import { cli } from "../helpers/cli.js";
import {
  failFirst,
  fileHandler,
  type NvdSlice,
  nvdHandler,
  readZipMembers,
  TestHttpServer,
} from "../helpers/osv-server.js";
import { sharedData } from "../helpers/shared-data.js";

/**
 * NVD's CVE API 2.0 served from a real slice of its answers
 * (../shared/data/nvd/cves-2.0-fixture-slice.json: 80 CVEs as NVD's API returns them, gathered
 * from test data of osv.dev, grype and vunnel; its provenance file names each one's source).
 */

const slicePath = sharedData("nvd/cves-2.0-fixture-slice.json");
const pypiZip = sharedData("osv/PyPI/all.zip");
const debianZip = sharedData("osv/Debian/all.zip");
const API = "/rest/json/cves/2.0";

describe.skipIf(!slicePath)("NVD CVE API 2.0", () => {
  let work: string;
  let slice: NvdSlice;
  let server: TestHttpServer;
  let http: FeedClient;
  const lines: string[] = [];
  const reporter: UpdateReporter = { line: (text) => lines.push(text), progress: () => undefined };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-nvd-"));
    slice = JSON.parse(await readFile(slicePath as string, "utf8")) as NvdSlice;
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(async () => {
    server = await TestHttpServer.start();
    http = new FeedClient({ env: {}, timeoutMs: 10_000, retries: 4, onRetry: (text) => lines.push(text) });
    lines.length = 0;
  });
  afterEach(async () => {
    await http.close();
    await server.close();
  });

  async function newStore(name: string): Promise<AdvisoryStore> {
    return AdvisoryStore.open(join(work, `${name}.sqlite`), { create: true });
  }

  function context(extra: Partial<NvdUpdateContext> = {}): NvdUpdateContext {
    return { http, baseUrl: server.url, reporter, now: () => new Date(), ...extra };
  }

  it("pages through every CVE with startIndex and resultsPerPage, sending the API key on each request", async () => {
    server.route(API, nvdHandler(slice, { apiKey: "test-key-123" }));
    const store = await newStore("full");
    try {
      const result = await updateNvd(store, context({ apiKey: "test-key-123", pageSize: 3 }));
      expect(result).toMatchObject({ how: "full", cves: 80, skipped: 0, requests: 27 });
      const requests = server.requestsTo(API);
      expect(requests.map((r) => Number(r.query.get("startIndex")))).toEqual(
        Array.from({ length: 27 }, (_, i) => i * 3),
      );
      expect(new Set(requests.map((r) => r.query.get("resultsPerPage")))).toEqual(new Set(["3"]));
      expect(requests.every((r) => r.headers.apikey === "test-key-123")).toBe(true);
      expect(requests.some((r) => r.query.has("lastModStartDate"))).toBe(false);
      expect(store.summary().nvd).toBe(80);
      expect(lines.join("\n")).not.toContain("test-key-123");

      // Checked by hand against the slice:
      // NVD's own v3.1 (9.8) over Ubuntu's v3.0 (3.9) and the v2 (7.5); CWE is NVD-CWE-noinfo only.
      expect(store.nvdEntry("CVE-2016-1585")).toEqual({
        cveId: "CVE-2016-1585",
        lastModified: "2025-05-02T14:12:14.837",
        cvssVersion: "3.1",
        score: 9.8,
        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        severity: "critical",
        cwes: [],
      });
      // v3.1 (NVD, 5.3) before the CNA's v4.0 (8.2).
      expect(store.nvdEntry("CVE-2025-4565")).toMatchObject({
        cvssVersion: "3.1",
        score: 5.3,
        severity: "medium",
        cwes: ["CWE-674"],
      });
      // Only a CNA's (Secondary) v3.1.
      expect(store.nvdEntry("CVE-2022-34668")).toMatchObject({
        cvssVersion: "3.1",
        score: 9.8,
        cwes: ["CWE-502"],
      });
      // Only v2: its own rating (6.4 is MEDIUM in v2).
      expect(store.nvdEntry("CVE-2014-1424")).toMatchObject({
        cvssVersion: "2.0",
        score: 6.4,
        vector: "AV:N/AC:L/Au:N/C:N/I:P/A:P",
        severity: "medium",
      });
      // An empty cvssMetricV2 list: no score, but its CWE.
      expect(store.nvdEntry("CVE-2008-3442")).toEqual({
        cveId: "CVE-2008-3442",
        lastModified: "2008-09-05T21:43:05.500",
        cwes: ["CWE-94"],
      });
      // CWE-330 is listed by two sources: once here.
      expect(store.nvdEntry("CVE-2020-10729")?.cwes).toEqual(["CWE-330"]);
    } finally {
      store.close();
    }
  });

  it("then asks only for what changed since, in windows of at most 120 days", async () => {
    server.route(API, nvdHandler(slice));
    const store = await newStore("windows");
    try {
      // A first update as if run on 1 October 2025.
      const since = new Date("2025-10-01T00:00:00.000Z");
      await updateNvd(
        store,
        context({ pageSize: 40, now: () => since, rateLimit: { requests: 50, windowMs: 1000 } }),
      );
      const firstRequests = server.requests.length;
      // Two stale rows: one NVD changed after October 2025, one it did not.
      store.putNvdEntries([
        { cveId: "CVE-2023-45803", lastModified: "2000-01-01T00:00:00.000", cwes: [] },
        { cveId: "CVE-2016-1585", lastModified: "2000-01-01T00:00:00.000", cwes: [] },
      ]);

      const result = await updateNvd(
        store,
        context({ pageSize: 3, rateLimit: { requests: 50, windowMs: 1000 } }),
      );
      const changedSince = slice.vulnerabilities.filter(
        (item) => Date.parse(`${item.cve.lastModified}Z`) >= since.getTime(),
      );
      expect(changedSince.length).toBeGreaterThan(3);
      expect(result).toMatchObject({ how: "changes", cves: changedSince.length });

      const windows = [
        ...new Map(
          server.requests
            .slice(firstRequests)
            .map((r) => [r.query.get("lastModStartDate"), r.query.get("lastModEndDate")] as const)
            .map(([start, end]) => [
              `${start}`,
              { start: Date.parse(`${start}`), end: Date.parse(`${end}`) },
            ]),
        ).values(),
      ];
      expect(windows[0]?.start).toBe(since.getTime());
      for (const [i, window] of windows.entries()) {
        expect(window.end - window.start).toBeLessThanOrEqual(120 * 24 * 3600 * 1000);
        if (i > 0) expect(window.start).toBe(windows[i - 1]?.end);
      }
      expect(Date.now() - (windows.at(-1)?.end ?? 0)).toBeLessThan(60_000);

      expect(store.nvdEntry("CVE-2023-45803")).toMatchObject({
        score: 4.2,
        severity: "medium",
        cwes: ["CWE-200"],
      });
      expect(store.nvdEntry("CVE-2016-1585")?.score).toBeUndefined();
    } finally {
      store.close();
    }
  });

  it("keeps under the rate limit, and waits out a 403 and a 503", async () => {
    let served = 0;
    const handler = nvdHandler(slice);
    server.route(API, (request, response, url) => {
      served++;
      // NVD's answers to a client over its limit, on the second and fifth requests.
      if (served === 2) return failFirst(1, 403, {}, handler)(request, response, url);
      if (served === 5) return failFirst(1, 503, {}, handler)(request, response, url);
      handler(request, response, url);
    });
    const store = await newStore("limits");
    try {
      const limit = { requests: 5, windowMs: 400 };
      const result = await updateNvd(store, context({ pageSize: 10, rateLimit: limit }));
      expect(result).toMatchObject({ cves: 80, requests: 10 });
      // Measured where the requests arrive, so with some slack for the way there; without the
      // limiter all ten would arrive within a few milliseconds.
      const times = server.requestsTo(API).map((r) => r.at);
      expect(times).toHaveLength(10);
      for (let i = limit.requests; i < times.length; i++)
        expect((times[i] as number) - (times[i - limit.requests] as number)).toBeGreaterThanOrEqual(
          limit.windowMs * 0.9,
        );
      expect(lines.filter((line) => /HTTP (403|503); retrying/.test(line))).toHaveLength(2);
      expect(server.requestsTo(API).some((r) => r.headers.apikey !== undefined)).toBe(false);
    } finally {
      store.close();
    }
  });

  it.skipIf(!debianZip)(
    "through the CLI: the key from LAYERWATCH_NVD_API_KEY is sent and never printed; a refused key is exit 2",
    async () => {
      server.route(API, nvdHandler(slice, { apiKey: "env-key-456" }));
      server.route("/osv/Debian/all.zip", fileHandler(await readFile(debianZip as string)));
      const update = (db: string, env: NodeJS.ProcessEnv, ...args: string[]) =>
        cli(
          [
            "--db",
            join(work, db),
            "db",
            "update",
            "--ecosystem",
            "Debian",
            "--osv-url",
            `${server.url}/osv`,
          ].concat(["--nvd-url", server.url, ...args]),
          env,
        );
      const run = await update("cli.sqlite", { LAYERWATCH_NVD_API_KEY: "env-key-456" });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("NVD: every CVE: 80 written");
      expect(run.stdout).toContain("(3 records, 80 NVD CVEs)");
      expect(`${run.stdout}${run.stderr}`).not.toContain("env-key-456");
      expect(server.requestsTo(API)[0]?.headers.apikey).toBe("env-key-456");

      const wrongKey = await update("wrong.sqlite", {}, "--nvd-api-key", "wrong-key");
      expect(wrongKey.code).toBe(2);
      expect(wrongKey.stderr).toMatch(/^layerwatch: error: NVD \S+: HTTP 404 \(is the API key valid\?\)$/m);
      expect(wrongKey.stderr).not.toContain("wrong-key");
      // OSV was still updated.
      expect(wrongKey.stdout).toMatch(/^Debian: all\.zip .*: imported 3 records$/m);
    },
  );

  it.skipIf(!pypiZip)(
    "rates an advisory that rates nothing itself by NVD's score of its CVE (source nvd)",
    async () => {
      server.route(API, nvdHandler(slice));
      const store = await newStore("severity");
      try {
        // Two real PyPI records without a severity of their own, aliasing CVEs in the slice.
        const wanted = new Set(["PYSEC-2021-105.json", "PYSEC-2022-257.json"]);
        const members = (await readZipMembers(pypiZip as string)).filter((m) => wanted.has(m.name));
        expect(members).toHaveLength(2);
        for (const member of members) {
          const path = join(work, member.name);
          await writeFile(path, member.bytes);
          await importOsv(store, path);
          expect(JSON.parse(member.bytes.toString("utf8")).severity).toBeUndefined();
        }
        const pypi = (name: string, version: string): Package => ({
          name,
          version,
          type: "pypi",
          purl: `pkg:pypi/${name}@${version}`,
          ecosystem: "PyPI",
          location: "x",
          layer: 0,
          foundBy: "t",
        });
        // ansible < 2.9.6 (CVE-2020-10729), nvflare < 2.1.4 (CVE-2022-34668).
        const packages = [pypi("ansible", "2.9.0"), pypi("nvflare", "2.1.0")];
        const severities = () =>
          Object.fromEntries(matchPackages(packages, store).findings.map((f) => [f.id, f.severity]));
        expect(severities()).toEqual({
          "CVE-2020-10729": { level: "unknown", source: "none" },
          "CVE-2022-34668": { level: "unknown", source: "none" },
        });
        await updateNvd(store, context());
        expect(severities()).toEqual({
          "CVE-2020-10729": {
            level: "medium",
            source: "nvd",
            score: 5.5,
            vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
          },
          "CVE-2022-34668": {
            level: "critical",
            source: "nvd",
            score: 9.8,
            vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
          },
        });
      } finally {
        store.close();
      }
    },
  );
});
