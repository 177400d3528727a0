import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../src/report/model.js";
import { cli } from "./helpers/cli.js";
import {
  dockerdMissing,
  loadImageArchive,
  podmanMissing,
  processesUsing,
  startDockerd,
  startPodmanService,
  type TestDaemon,
} from "./helpers/dockerd.js";
import { type BuiltImage, imageFromFixture, writeDockerArchive } from "./helpers/image-builder.js";
import { zipFixtureEcosystem } from "./helpers/osv-zip.js";
import { findingRows } from "./helpers/report.js";

const fixtureImage = join(import.meta.dirname, "../fixtures/images/debian-app");
const fixtureOsv = join(import.meta.dirname, "../fixtures/osv");
const tag = "layerwatch/fixture:latest";

let work: string;
let db: string;
let archive: string;
let image: BuiltImage;
let reference: JsonReport;

async function scanJson(source: string, env: NodeJS.ProcessEnv) {
  // The layer cache goes to the test's directory, not the user's.
  const run = await cli(["--db", db, "scan", source, "--format", "json"], {
    XDG_CACHE_HOME: join(work, "cache"),
    ...env,
  });
  return { ...run, report: run.stdout ? (JSON.parse(run.stdout) as JsonReport) : undefined };
}

/** A daemon scan must give exactly what scanning the archive it was loaded from gives. */
function expectSameScan(report: JsonReport | undefined, source: string) {
  expect(report?.image.source).toBe(source);
  expect(report?.image.layers.map((layer) => layer.diffId)).toEqual(image.diffIds);
  expect(report?.image.layers).toEqual(reference.image.layers);
  expect(report?.os).toEqual(reference.os);
  expect(report?.packages).toEqual(reference.packages);
  expect(findingRows(report as JsonReport)).toEqual(findingRows(reference));
  expect(findingRows(reference)).toHaveLength(7);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-daemon-"));
  db = join(work, "db.sqlite");
  archive = join(work, "image.tar");
  image = await imageFromFixture(fixtureImage, {
    emptyHistory: ["/bin/sh -c #(nop)  ENV NODE_ENV=production"],
  });
  await writeDockerArchive(image, archive, { repoTag: tag });
  const osv = join(work, "osv");
  await zipFixtureEcosystem(join(fixtureOsv, "npm"), osv, "npm");
  await zipFixtureEcosystem(join(fixtureOsv, "Debian"), osv, "Debian");
  const imported = await cli(["--db", db, "db", "import", osv]);
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
  const scanned = await scanJson(`docker-archive:${archive}`, {});
  expect(scanned.stderr).toBe("");
  reference = scanned.report as JsonReport;
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("docker: and podman: sources, without a daemon", () => {
  it("says which socket it tried when the Docker daemon is not there", async () => {
    const run = await scanJson(`docker:${tag}`, { DOCKER_HOST: "unix:///nonexistent.sock" });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `layerwatch: error: docker:${tag}: cannot reach the Docker daemon at unix:///nonexistent.sock (no such socket); is the Docker daemon running? (set DOCKER_HOST to use another)\n`,
    );
  });

  it("says which host it tried when nothing listens on a tcp:// DOCKER_HOST", async () => {
    const run = await scanJson(`docker:${tag}`, { DOCKER_HOST: "tcp://127.0.0.1:1" });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `layerwatch: error: docker:${tag}: cannot reach the Docker daemon at tcp://127.0.0.1:1 (connection refused); is the Docker daemon running? (set DOCKER_HOST to use another)\n`,
    );
  });

  it("says which socket it tried when the podman service is not there", async () => {
    const run = await scanJson(`podman:${tag}`, { CONTAINER_HOST: "unix:///nonexistent.sock" });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `layerwatch: error: podman:${tag}: cannot reach the Podman API service at unix:///nonexistent.sock (no such socket); is 'podman system service' running? (set CONTAINER_HOST to use another)\n`,
    );
  });

  it("refuses an address it cannot use without printing the credentials in it", async () => {
    const run = await scanJson(`docker:${tag}`, { DOCKER_HOST: "ssh://deploy:s3cret@build.example" });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "layerwatch: error: DOCKER_HOST=ssh://build.example: only unix:///path/to.sock and tcp://HOST:PORT are supported\n",
    );
  });

  it("refuses a name that is not an image reference", async () => {
    const run = await scanJson("docker:app/../../containers/json?all=1", {
      DOCKER_HOST: "unix:///nonexistent.sock",
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "layerwatch: error: docker:app/../../containers/json?all=1: 'app/../../containers/json?all=1' is not an image name, name:tag, name@digest or image ID\n",
    );
  });
});

const noDockerd = dockerdMissing();
if (noDockerd) console.warn(`skipping the docker: tests against a real dockerd: ${noDockerd}`);

describe.skipIf(noDockerd !== undefined)("docker:NAME against a real dockerd", () => {
  let daemon: TestDaemon | undefined;

  beforeAll(async () => {
    daemon = await startDockerd();
    await loadImageArchive(daemon, archive);
  });

  afterAll(async () => {
    const dir = daemon?.socket.replace(/\/docker\.sock$/, "");
    await daemon?.stop();
    if (dir) expect(processesUsing(dir)).toEqual([]);
  });

  it("gives the same packages and findings as the docker-archive it was loaded from", async () => {
    const host = (daemon as TestDaemon).host;
    const { code, stderr, report } = await scanJson(`docker:${tag}`, { DOCKER_HOST: host });
    expect(stderr, (daemon as TestDaemon).logTail()).toBe("");
    expect(code).toBe(0);
    expectSameScan(report, `docker:${tag}`);
    expect(report?.image.repoTags).toEqual([tag]);
    expect(report?.image.configDigest).toBe(image.configDigest);
  });

  it("exits 2 with one line when the daemon has no such image", async () => {
    const host = (daemon as TestDaemon).host;
    const run = await scanJson("docker:layerwatch/absent:1.0", { DOCKER_HOST: host });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `layerwatch: error: docker:layerwatch/absent:1.0: no such image layerwatch/absent:1.0 in the Docker daemon at ${host}\n`,
    );
  });
});

const noPodman = podmanMissing();
if (noPodman) console.warn(`skipping the podman: tests against a real podman service: ${noPodman}`);

describe.skipIf(noPodman !== undefined)("podman:NAME against a real podman API service", () => {
  let daemon: TestDaemon | undefined;

  beforeAll(async () => {
    daemon = await startPodmanService();
    await loadImageArchive(daemon, archive);
  });

  afterAll(async () => {
    const dir = daemon?.socket.replace(/\/podman\.sock$/, "");
    await daemon?.stop();
    if (dir) expect(processesUsing(dir)).toEqual([]);
  });

  it("gives the same packages and findings as the docker-archive it was loaded from", async () => {
    const host = (daemon as TestDaemon).host;
    const { code, stderr, report } = await scanJson(`podman:${tag}`, { CONTAINER_HOST: host });
    expect(stderr, (daemon as TestDaemon).logTail()).toBe("");
    expect(code).toBe(0);
    expectSameScan(report, `podman:${tag}`);
    // podman names an image loaded without a registry localhost/NAME.
    expect(report?.image.repoTags).toEqual([expect.stringMatching(/(^|\/)layerwatch\/fixture:latest$/)]);
    expect(report?.image.configDigest).toBe(image.configDigest);
  });

  it("exits 2 with one line when the service has no such image", async () => {
    const host = (daemon as TestDaemon).host;
    const run = await scanJson("podman:layerwatch/absent:1.0", { CONTAINER_HOST: host });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `layerwatch: error: podman:layerwatch/absent:1.0: no such image layerwatch/absent:1.0 in the Podman API service at ${host}\n`,
    );
  });
});
