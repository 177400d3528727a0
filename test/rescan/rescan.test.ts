/**
 * `layerwatch rescan` against the real CNCF registry, with images the test pushes: the
 * debian-app fixture image (seven findings against fixtures/osv, listed in fixtures/README.md)
 * and its base layer alone. What is asserted comes from the registry's own access log: which
 * blobs and manifests were fetched, and how the catalog was paged.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRescanConfig } from "../../src/rescan/config.js";
import { runRescan } from "../../src/rescan/rescan.js";
import { openSqliteStateStore } from "../../src/rescan/state/sqlite.js";
import type { RescanChanges } from "../../src/rescan/types.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";
import { cli } from "../helpers/cli.js";
import {
  type BuiltImage,
  buildImage,
  filesFromDirectory,
  imageFromFixture,
} from "../helpers/image-builder.js";
import { importRecords } from "../helpers/osv-zip.js";
import {
  missingTools,
  parseAccessLine,
  type RegistryServer,
  startRegistry,
} from "../helpers/registry-server.js";
import { pushImage, withCreated } from "./registry-push.js";

const missing = missingTools(["docker-registry"]);
if (missing) console.warn(`skipping rescan tests: ${missing.message}`);

const fixtures = join(import.meta.dirname, "../../fixtures");

/** fixtures/README.md: the debian-app image's findings against fixtures/osv, as "package id". */
const appFindings = [
  "curl CVE-2023-46218",
  "libcurl4 CVE-2023-46218",
  "lodash CVE-2020-28500",
  "lodash CVE-2021-23337",
  "minimist CVE-2021-44906",
  "qs CVE-2022-24999",
  "tar CVE-2005-2541",
];

/** A vulnerability in semver 7.5.4 (the app layer's copy), written for this test. */
const semverAdvisory = {
  schema_version: "1.4.0",
  id: "GHSA-lwrs-test-0001",
  modified: "2026-11-01T00:00:00Z",
  published: "2026-11-01T00:00:00Z",
  aliases: ["CVE-2099-0001"],
  summary: "semver test advisory disclosed after the images were pushed",
  affected: [
    {
      package: { ecosystem: "npm", name: "semver" },
      ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "7.0.0" }, { fixed: "7.6.0" }] }],
    },
  ],
  database_specific: { severity: "HIGH" },
};

let work: string;
let db: string;
let registry: RegistryServer;
let app: BuiltImage;
let base: BuiltImage;
const digests: Record<string, string> = {};

async function rescan(config: string, state: string, extra: string[] = []) {
  const run = await cli(
    ["--db", db, "rescan", "--config", config, "--state", state, "--format", "json", ...extra],
    { XDG_CACHE_HOME: join(work, "cache"), DOCKER_CONFIG: join(work, "no-docker-config") },
  );
  const changes =
    run.code <= 1 && run.stdout.startsWith("{") ? (JSON.parse(run.stdout) as RescanChanges) : undefined;
  return { ...run, changes };
}

async function writeConfig(name: string, text: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

/** Requests in the access log whose method and path match, from line `from` on. */
async function requests(method: string, path: RegExp, from = 0): Promise<string[]> {
  const lines = (await registry.accessLog()).slice(from);
  return lines
    .map(parseAccessLine)
    .filter((entry) => entry !== undefined && entry.method === method && path.test(entry.path))
    .map((entry) => entry?.path ?? "");
}

/** Each new finding as "package id", for the images of one digest (the same in every repository). */
function findingsOf(
  changes: RescanChanges | undefined,
  digest: string,
  which: "newFindings" | "goneFindings",
) {
  const images = changes?.images.filter((image) => image.digest === digest) ?? [];
  const lists = images.map((image) => image[which].map((f) => `${f.packageName} ${f.id}`).sort());
  // Every repository holding the digest reports the same change.
  for (const list of lists) expect(list).toEqual(lists[0]);
  return lists[0] ?? [];
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-rescan-"));
  db = join(work, "db.sqlite");
  expect((await cli(["--db", db, "db", "import", join(fixtures, "osv")])).code).toBe(0);
});

afterAll(async () => {
  await registry?.stop();
  await rm(work, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)("rescan of a registry", () => {
  let config: string;
  const state = () => join(work, "state.sqlite");

  beforeAll(async () => {
    registry = await startRegistry();
    app = await imageFromFixture(join(fixtures, "images/debian-app"));
    base = await buildImage([
      { files: await filesFromDirectory(join(fixtures, "images/debian-app/0-base")), createdBy: "base" },
    ]);
    const pushes: Array<[string, string, BuiltImage]> = [
      ["team/app", "1.0.0", app],
      ["team/app", "1.1.0", app],
      ["team/app", "2.0.0", base],
      ["team/app", "latest", app],
      ["team/app", "dev", base],
      ["team/api", "1.0", app],
      ["tools/one", "latest", base],
      ["tools/two", "latest", base],
      ["tools/three", "latest", base],
    ];
    for (const [repository, tag, image] of pushes) {
      const pushed = await pushImage(registry, repository, tag, image);
      digests[image === app ? "app" : "base"] = pushed.manifestDigest;
    }
    // Removed again in the tag-gone test.
    digests.temp = (
      await pushImage(registry, "team/app", "temp", withCreated(base, "2025-01-01T00:00:00Z"))
    ).manifestDigest;
    config = await writeConfig(
      "rescan.yaml",
      `registries:\n  - registry: ${registry.address}\n    pageSize: 2\n`,
    );
  }, 120_000);

  it("first rescan: reads the catalog page by page and pulls each image once", async () => {
    const run = await rescan(config, state());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const changes = run.changes as RescanChanges;
    // Five repositories, two a page: three pages, each asked with ?n=2.
    const catalog = await requests("GET", /^\/v2\/_catalog/);
    expect(catalog).toHaveLength(3);
    expect(catalog.every((path) => /[?&]n=2\b/.test(path))).toBe(true);
    expect(changes.counts).toEqual({ repositories: 5, tags: 10, pulled: 3, rematched: 0, failed: 0 });
    expect(changes.errors).toEqual([]);
    // Every image is new, with all its findings new.
    expect(findingsOf(changes, digests.app as string, "newFindings")).toEqual(appFindings);
    expect(changes.images.filter((image) => image.digest === digests.app).map((i) => i.repository)).toEqual([
      `${registry.address}/team/api`,
      `${registry.address}/team/app`,
    ]);
    expect(changes.images.every((image) => image.firstSeen)).toBe(true);
    // Blobs: app's config and three layers; base's config (its one layer is app's first, which
    // the layer cache already holds); temp's config. No layer twice.
    const blobs = await requests("GET", /\/blobs\//);
    expect(blobs).toHaveLength(6);
    expect(new Set(blobs.map((path) => path.replace(/^.*\/blobs\//, ""))).size).toBe(6);
  });

  it("second rescan with nothing changed: HEADs only, no blob, no manifest GET, no change", async () => {
    const from = (await registry.accessLog()).length;
    const run = await rescan(config, state());
    expect(run.code).toBe(0);
    expect(await requests("GET", /\/blobs\//, from)).toEqual([]);
    expect(await requests("GET", /\/manifests\//, from)).toEqual([]);
    expect(await requests("HEAD", /\/manifests\//, from)).toHaveLength(10);
    const changes = run.changes as RescanChanges;
    expect(changes.images).toEqual([]);
    expect(changes.tagsMoved).toEqual([]);
    expect(changes.tagsGone).toEqual([]);
    expect(changes.counts).toMatchObject({ pulled: 0, rematched: 3, failed: 0 });
    const table = await rescan(config, state(), ["--format", "table"]);
    expect(table.stdout).toMatch(/no changes since the last rescan/);
  });

  it("a newly disclosed vulnerability is a new finding on the stored images, without pulling", async () => {
    await importRecords(db, join(work, "osv-new"), [semverAdvisory]);
    const from = (await registry.accessLog()).length;
    const run = await rescan(config, state(), ["--fail-on", "high"]);
    // --fail-on high: the new finding is high (the advisory's GitHub rating).
    expect(run.code).toBe(1);
    expect(await requests("GET", /\/blobs\//, from)).toEqual([]);
    const changes = run.changes as RescanChanges;
    // Only the app image holds semver; both repositories that have it say so.
    expect(changes.images.map((image) => `${image.repository} ${image.tags.join(",")}`)).toEqual([
      `${registry.address}/team/api 1.0`,
      `${registry.address}/team/app 1.0.0,1.1.0,latest`,
    ]);
    expect(findingsOf(changes, digests.app as string, "newFindings")).toEqual(["semver CVE-2099-0001"]);
    expect(findingsOf(changes, digests.app as string, "goneFindings")).toEqual([]);
    const finding = changes.images[0]?.newFindings[0];
    expect(finding).toMatchObject({
      aliases: ["GHSA-lwrs-test-0001"],
      installedVersion: "7.5.4",
      fixedVersion: "7.6.0",
      severity: "high",
    });
    expect(finding?.purl).toMatch(/^pkg:npm\/semver@7\.5\.4/);
    expect(changes.images.every((image) => !image.firstSeen)).toBe(true);
  });

  it("the advisory withdrawn: the finding is reported gone", async () => {
    const withdrawn = {
      ...semverAdvisory,
      modified: "2026-11-02T00:00:00Z",
      withdrawn: "2026-11-02T00:00:00Z",
    };
    await importRecords(db, join(work, "osv-withdrawn"), [withdrawn]);
    const from = (await registry.accessLog()).length;
    const run = await rescan(config, state(), ["--fail-on", "high"]);
    expect(run.code).toBe(0);
    expect(await requests("GET", /\/blobs\//, from)).toEqual([]);
    const changes = run.changes as RescanChanges;
    expect(findingsOf(changes, digests.app as string, "goneFindings")).toEqual(["semver CVE-2099-0001"]);
    expect(findingsOf(changes, digests.app as string, "newFindings")).toEqual([]);
    expect(changes.images).toHaveLength(2);
  });

  it("a tag pushed again with a new image: the tag moved, only the new digest is pulled", async () => {
    const rebuilt = withCreated(app, "2026-11-20T00:00:00Z");
    const pushed = await pushImage(registry, "team/app", "latest", rebuilt);
    const from = (await registry.accessLog()).length;
    const run = await rescan(config, state());
    expect(run.code).toBe(0);
    const changes = run.changes as RescanChanges;
    expect(changes.tagsMoved).toEqual([
      {
        repository: `${registry.address}/team/app`,
        tag: "latest",
        from: digests.app,
        to: pushed.manifestDigest,
      },
    ]);
    expect(changes.counts).toMatchObject({ pulled: 1, rematched: 3 });
    // The new manifest and its config; its layers are the old image's, read from the layer cache.
    expect(await requests("GET", /\/manifests\//, from)).toEqual([
      `/v2/team/app/manifests/${pushed.manifestDigest}`,
      `/v2/team/app/manifests/${pushed.manifestDigest}`,
    ]);
    expect(await requests("GET", /\/blobs\//, from)).toEqual([`/v2/team/app/blobs/${rebuilt.configDigest}`]);
    // The same packages as the image the tag named before: nothing new, nothing gone.
    expect(changes.images).toEqual([]);
    const store = await openSqliteStateStore(state());
    try {
      const latest = (await store.getTags(`${registry.address}/team/app`)).find(
        (tag) => tag.tag === "latest",
      );
      expect(latest?.digest).toBe(pushed.manifestDigest);
      expect(
        (await store.getImage(pushed.manifestDigest))?.findings.map((f) => `${f.packageName} ${f.id}`).sort(),
      ).toEqual(appFindings);
    } finally {
      await store.close();
    }
  });

  it("a tag deleted from the registry is reported gone and forgotten", async () => {
    const deleted = await registry.request(`/v2/team/app/manifests/${digests.temp}`, { method: "DELETE" });
    expect(deleted.status).toBe(202);
    const run = await rescan(config, state());
    expect(run.code).toBe(0);
    expect(run.changes?.tagsGone).toEqual([
      { repository: `${registry.address}/team/app`, tag: "temp", digest: digests.temp },
    ]);
    const again = await rescan(config, state());
    expect(again.changes?.tagsGone).toEqual([]);
  });

  it("a repository that is not there is an error entry; the others are rescanned", async () => {
    const listed = await writeConfig(
      "listed.yaml",
      [
        "registries:",
        `  - registry: ${registry.address}`,
        "    repositories: [team/missing, team/api]",
        "    tags: { regex: '^1' }",
      ].join("\n"),
    );
    const run = await rescan(listed, join(work, "listed.sqlite"));
    expect(run.code).toBe(0);
    const changes = run.changes as RescanChanges;
    expect(changes.errors).toHaveLength(1);
    expect(changes.errors[0]?.subject).toBe(`${registry.address}/team/missing`);
    expect(changes.errors[0]?.problem).toMatch(/not found \(NAME_UNKNOWN/);
    expect(run.stderr).toContain(`layerwatch: warning: ${registry.address}/team/missing: `);
    expect(changes.counts).toMatchObject({ repositories: 1, tags: 1, pulled: 1, failed: 1 });
    expect(findingsOf(changes, digests.app as string, "newFindings")).toEqual(appFindings);
  });

  it("stops between images when told to, leaving every record whole; the next rescan finishes the rest", async () => {
    const parsed = parseRescanConfig(
      { registries: [{ registry: registry.address, concurrency: 1, repositories: ["team/app"] }] },
      "in-test config",
    );
    const statePath = join(work, "abort.sqlite");
    const advisories = await AdvisoryStore.open(db);
    const controller = new AbortController();
    let store = await openSqliteStateStore(statePath);
    let changes: RescanChanges;
    try {
      changes = await runRescan(parsed, {
        store,
        advisories,
        signal: controller.signal,
        // Told to stop as the first pull starts: that pull finishes, no other begins.
        onNote: (message) => {
          if (message.startsWith("pulling ")) controller.abort();
        },
      });
    } finally {
      await store.close();
    }
    expect(changes.counts.pulled).toBe(1);
    expect(changes.errors.map((error) => error.subject)).toEqual(["rescan"]);
    expect(changes.errors[0]?.problem).toMatch(/stopped before the end: 0 tags and 2 images left/);
    store = await openSqliteStateStore(statePath);
    try {
      const digestsStored = await store.imageDigests();
      expect(digestsStored).toHaveLength(1);
      const tags = await store.getTags(`${registry.address}/team/app`);
      // Only the tags whose image was stored point at it; the others wait for the next rescan.
      expect(tags.length).toBeGreaterThan(0);
      for (const tag of tags) expect(tag.images.map((image) => image.digest)).toEqual(digestsStored);
      const finished = await runRescan(parsed, { store, advisories });
      expect(finished.errors).toEqual([]);
      // team/app's three images (app, base, and the app pushed again as latest): one was pulled.
      expect(finished.counts).toMatchObject({ pulled: 2, rematched: 1 });
      expect(await store.imageDigests()).toHaveLength(3);
      expect((await store.getTags(`${registry.address}/team/app`)).map((tag) => tag.tag)).toEqual([
        "1.0.0",
        "1.1.0",
        "2.0.0",
        "dev",
        "latest",
      ]);
    } finally {
      await store.close();
      advisories.close();
    }
  });
});
