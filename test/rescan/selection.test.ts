/**
 * The parts of a rescan that need no registry: which tags a selection keeps, the Link header of
 * a list page, telling new findings from gone ones, and the config file's checks.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRescanConfig } from "../../src/rescan/config.js";
import { isTooOld, nextPagePath, selectTags, tagVersion } from "../../src/rescan/discover.js";
import { diffFindings } from "../../src/rescan/image-state.js";
import type { FindingState } from "../../src/rescan/types.js";
import { cli } from "../helpers/cli.js";

describe("tag selection", () => {
  const tags = ["latest", "1.0.0", "1.2.0", "1.10.0", "v2.0.0-rc.1", "0.9", "main", "1.2", "3-alpine"];

  it("reads versions the way image tags write them", () => {
    expect(tagVersion("1.10.0")?.version).toBe("1.10.0");
    expect(tagVersion("v2")?.version).toBe("2.0.0");
    expect(tagVersion("0.9")?.version).toBe("0.9.0");
    expect(tagVersion("3-alpine")?.version).toBe("3.0.0-alpine");
    expect(tagVersion("latest")).toBeUndefined();
    expect(tagVersion("1.2.3.4")).toBeUndefined();
  });

  it("keeps the newest N by version, not by name", () => {
    // 1.10.0 is newer than 1.2.0 (by name it sorts before it); 2.0.0-rc.1 is newer than both.
    const plain = tags.filter((tag) => tag !== "3-alpine");
    expect(selectTags(plain, { newest: 2 })).toEqual(["1.10.0", "v2.0.0-rc.1"]);
    // 3-alpine reads as 3.0.0-alpine, a pre-release of 3.0.0 and still the newest.
    expect(selectTags(tags, { newest: 2 })).toEqual(["3-alpine", "v2.0.0-rc.1"]);
  });

  it("applies the regex first, then the newest N of what it kept", () => {
    expect(selectTags(tags, { regex: /^1\.\d+\.\d+$/ })).toEqual(["1.0.0", "1.10.0", "1.2.0"]);
    // 1.2 and 1.2.0 are the same version: the one first by name is kept, every time.
    expect(selectTags(tags, { regex: /^1\./, newest: 2 })).toEqual(["1.10.0", "1.2"]);
    expect(selectTags(tags, {})).toEqual([...tags].sort());
  });

  it("measures age from the image config's created time", () => {
    const now = new Date("2026-11-27T00:00:00Z");
    const day = 86_400_000;
    expect(isTooOld("2026-11-20T00:00:00Z", { maxAgeMs: 30 * day }, now)).toBe(false);
    expect(isTooOld("2026-10-01T00:00:00Z", { maxAgeMs: 30 * day }, now)).toBe(true);
    // No created time: kept, since age cannot be told.
    expect(isTooOld(undefined, { maxAgeMs: day }, now)).toBe(false);
    expect(isTooOld("2000-01-01T00:00:00Z", {}, now)).toBe(false);
  });
});

describe("list pages", () => {
  it("follows rel=next of a Link header, relative or absolute", () => {
    expect(nextPagePath('</v2/_catalog?last=b&n=2>; rel="next"')).toBe("/v2/_catalog?last=b&n=2");
    expect(nextPagePath("<https://r.example/v2/a/tags/list?n=50&last=x>; rel=next")).toBe(
      "/v2/a/tags/list?n=50&last=x",
    );
    expect(nextPagePath('</v2/_catalog?n=2>; rel="prev", </v2/_catalog?last=d&n=2>; rel="next"')).toBe(
      "/v2/_catalog?last=d&n=2",
    );
    expect(nextPagePath('</v2/_catalog?n=2>; rel="prev"')).toBeUndefined();
    expect(nextPagePath(undefined)).toBeUndefined();
  });
});

describe("new and gone findings", () => {
  const finding = (id: string, aliases: string[], purl = "pkg:npm/lodash@4.17.20"): FindingState => ({
    id,
    aliases,
    purl,
    packageName: "lodash",
    installedVersion: "4.17.20",
    severity: "high",
  });

  it("a finding is the same when it shares any id on the same package", () => {
    // The GHSA record gained its CVE alias: the finding's primary id changed, it is not new.
    const before = [finding("GHSA-35jh-r3h4-6jhm", [])];
    const after = [finding("CVE-2021-23337", ["GHSA-35jh-r3h4-6jhm"])];
    expect(diffFindings(before, after)).toEqual({ newFindings: [], goneFindings: [] });
  });

  it("the same id on another package is another finding", () => {
    const before = [finding("CVE-2021-23337", [])];
    const after = [finding("CVE-2021-23337", []), finding("CVE-2021-23337", [], "pkg:npm/lodash@4.17.15")];
    expect(diffFindings(before, after)).toEqual({ newFindings: [after[1]], goneFindings: [] });
    expect(diffFindings(after, before)).toEqual({ newFindings: [], goneFindings: [after[1]] });
  });
});

describe("the config file", () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-rescan-config-"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function configFile(name: string, text: string): Promise<string> {
    const path = join(work, name);
    await writeFile(path, text);
    return path;
  }

  it("reads registries, defaults and per-repository selections", async () => {
    const path = await configFile(
      "good.yaml",
      [
        "state: { sqlite: state/rescan.sqlite }",
        "schedule: '0 */6 * * *'",
        "registries:",
        "  - registry: registry.example.com:5000",
        "    username: ci",
        "    passwordEnv: TEST_REGISTRY_PASSWORD",
        "    concurrency: 2",
        "    tags: { regex: '^v', newest: 3, maxAge: 90d }",
        "    platforms: [linux/amd64, linux/arm64/v8]",
        "    repositories:",
        "      - team/app",
        "      - name: team/api",
        "        tags: all",
      ].join("\n"),
    );
    const config = await loadRescanConfig(path, { TEST_REGISTRY_PASSWORD: "s3cret" });
    const [registry] = config.registries;
    expect(config.state).toEqual({ kind: "sqlite", path: join(work, "state/rescan.sqlite") });
    expect(config.schedule).toBe("0 */6 * * *");
    expect(config.notify.notifiers).toEqual([]);
    expect(registry).toMatchObject({
      registry: "registry.example.com:5000",
      username: "ci",
      password: "s3cret",
      concurrency: 2,
      pageSize: 1000,
      platforms: ["linux/amd64", "linux/arm64/v8"],
    });
    expect(registry?.tags).toEqual({ regex: /^v/, newest: 3, maxAgeMs: 90 * 86_400_000 });
    expect(registry?.repositories?.map((r) => [r.name, r.tags])).toEqual([
      ["team/app", { regex: /^v/, newest: 3, maxAgeMs: 90 * 86_400_000 }],
      ["team/api", {}],
    ]);
  });

  it.each([
    ["registries: []", "registries: must be a list of at least one registry"],
    [
      "registries:\n  - registry: https://r.example",
      "registries[0].registry: 'https://r.example' is not host[:port]",
    ],
    [
      "registries:\n  - registry: r.example\n    tags: { newest: 0 }",
      "registries[0].tags.newest: must be a positive whole number",
    ],
    [
      "registries:\n  - registry: r.example\n    tags: { regex: '(' }",
      "registries[0].tags.regex: not a regular expression",
    ],
    [
      "registries:\n  - registry: r.example\n    tags: { maxAge: soon }",
      "registries[0].tags.maxAge: must be a duration",
    ],
    ["registries:\n  - registry: r.example\n    colour: red", "registries[0].colour: unknown field"],
    [
      "registries:\n  - registry: r.example\n    repositories: [Team/App]",
      "registries[0].repositories[0]: 'Team/App' is not a repository name",
    ],
    [
      "registries:\n  - registry: r.example\n    username: ci\n    passwordEnv: UNSET_PASSWORD_VAR",
      "registries[0].passwordEnv: the environment variable UNSET_PASSWORD_VAR is not set",
    ],
    [
      "registries:\n  - registry: r.example\n    platforms: [amd64]",
      "registries[0].platforms[0]: 'amd64' is not os/arch",
    ],
    [
      "registries:\n  - registry: r.example\nstate: { postgres: { url: mysql://x } }",
      "state.postgres.url: is not a postgres:// URL",
    ],
    ["registries:\n  - registry: r.example\nschedule: every day", "schedule: "],
    ["registries: [", "not valid YAML"],
  ])("refuses %j with one line naming the file and the field", async (text, problem) => {
    const path = await configFile("bad.yaml", text);
    const run = await cli(["rescan", "--config", path], { XDG_CACHE_HOME: work });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`layerwatch: error: ${path}: `);
    expect(lines[0]).toContain(problem);
  });

  it("reads the example config of the README", async () => {
    const path = join(import.meta.dirname, "../../examples/layerwatch.yaml");
    const config = await loadRescanConfig(path, {});
    expect(config.state).toEqual({
      kind: "sqlite",
      path: join(import.meta.dirname, "../../examples/layerwatch-state.sqlite"),
    });
    expect(config.registries[0]?.repositories?.map((repository) => repository.name)).toEqual([
      "team/app",
      "team/worker",
    ]);
    expect(config.registries[0]?.repositories?.[1]?.platforms).toEqual(["linux/amd64", "linux/arm64"]);
    expect(config.registries[0]?.tags.regex?.test("v1.2.3")).toBe(true);
    expect(config.registries[0]?.tags.regex?.test("1.2.3-rc1")).toBe(false);
  });

  it("checks the command's options before any registry is asked", async () => {
    const path = await configFile("plain.yaml", "registries:\n  - registry: r.example\n");
    const daemon = await cli(["rescan", "--config", path, "--daemon"], { XDG_CACHE_HOME: work });
    expect(daemon.code).toBe(2);
    expect(daemon.stderr).toBe(
      `layerwatch: error: ${path}: schedule: is required for --daemon (a cron expression)\n`,
    );
    const both = await cli(["rescan", "--config", path, "--once", "--daemon"], { XDG_CACHE_HOME: work });
    expect(both.code).toBe(2);
    expect(both.stderr).toBe("layerwatch: error: --once and --daemon: choose one mode\n");
    const failOn = await cli(["rescan", "--config", path, "--fail-on", "urgent"], { XDG_CACHE_HOME: work });
    expect(failOn.code).toBe(2);
    expect(failOn.stderr).toMatch(/--fail-on urgent: use one of low, medium, high, critical/);
    const worker = await cli(["rescan", "--config", path, "--worker"], { XDG_CACHE_HOME: work });
    expect(worker.code).toBe(2);
    expect(worker.stderr).toMatch(/--worker: the config's state must be postgres/);
  });

  it("a missing config file is one error line", async () => {
    const run = await cli(["rescan", "--config", join(work, "nope.yaml")], { XDG_CACHE_HOME: work });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^layerwatch: error: .*nope\.yaml: cannot read the config file \(no such file or directory\)\n$/,
    );
  });
});
