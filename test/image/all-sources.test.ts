/**
 * One image, every source: the fixture image as a docker-archive (both layouts), an OCI archive,
 * an OCI layout, in a real registry (OCI and Docker media types), in a real dockerd and podman,
 * and unpacked as a root filesystem. Every source must list the same packages.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { pushWithSkopeo } from "../helpers/debian-image.js";
import {
  dockerdMissing,
  loadImageArchive,
  podmanMissing,
  startDockerd,
  startPodmanService,
  type TestDaemon,
} from "../helpers/dockerd.js";
import {
  type BuiltImage,
  imageFromFixture,
  writeDockerArchive,
  writeOciArchive,
  writeOciLayout,
} from "../helpers/image-builder.js";
import { missingTools, type RegistryServer, startRegistry } from "../helpers/registry-server.js";
import { applyLayerDirectory } from "../helpers/unpack.js";

const fixtureImage = join(import.meta.dirname, "../../fixtures/images/debian-app");
const fixtureOsv = join(import.meta.dirname, "../../fixtures/osv");
const missing = [
  missingTools(["docker-registry", "skopeo"])?.message,
  dockerdMissing(),
  podmanMissing(),
].filter(Boolean);
if (missing.length > 0) console.warn(`skipping the all-sources test: ${missing.join("; ")}`);

let work: string;
let db: string;
let image: BuiltImage;
let registry: RegistryServer | undefined;
const daemons: TestDaemon[] = [];

/** What identifies a package, whichever way the image arrived. */
function packageRows(report: JsonReport | undefined) {
  return (report?.packages ?? []).map((p) => `${p.purl} ${p.location}`).sort();
}

describe.skipIf(missing.length > 0)("every image source", () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-all-sources-"));
    db = join(work, "db.sqlite");
    expect((await cli(["--db", db, "db", "import", fixtureOsv])).code).toBe(0);
    image = await imageFromFixture(fixtureImage);
    await writeDockerArchive(image, join(work, "legacy.tar"), { repoTag: "layerwatch/all:1" });
    await writeDockerArchive(image, join(work, "docker25.tar"), { layout: "oci" });
    await writeOciArchive(image, join(work, "oci.tar"));
    await writeOciLayout(image, join(work, "layout"), { refName: "1" });
    const rootfs = join(work, "rootfs");
    for (const layer of (await readdir(fixtureImage)).sort())
      await applyLayerDirectory(join(fixtureImage, layer), rootfs);
    registry = await startRegistry();
    await pushWithSkopeo(join(work, "layout"), "all/oci:1", registry.url);
    await pushWithSkopeo(join(work, "layout"), "all/docker:1", registry.url, { format: "v2s2" });
    const [dockerd, podman] = await Promise.all([startDockerd(), startPodmanService()]);
    daemons.push(dockerd, podman);
    await loadImageArchive(dockerd, join(work, "legacy.tar"));
    await loadImageArchive(podman, join(work, "legacy.tar"));
  });

  afterAll(async () => {
    await Promise.all([registry?.stop(), ...daemons.map((daemon) => daemon.stop())]);
    await rm(work, { recursive: true, force: true });
  });

  it("lists the same packages from every source", async () => {
    const [dockerd, podman] = daemons as [TestDaemon, TestDaemon];
    const sources: Array<[string, NodeJS.ProcessEnv]> = [
      [`docker-archive:${join(work, "legacy.tar")}`, {}],
      [`docker-archive:${join(work, "docker25.tar")}`, {}],
      [`oci-archive:${join(work, "oci.tar")}`, {}],
      [`oci:${join(work, "layout")}:1`, {}],
      [`${registry!.address}/all/oci:1`, {}],
      [`registry:${registry!.address}/all/docker:1`, {}],
      ["docker:layerwatch/all:1", { DOCKER_HOST: dockerd.host }],
      ["podman:layerwatch/all:1", { CONTAINER_HOST: podman.host }],
      [`rootfs:${join(work, "rootfs")}`, {}],
    ];
    const reports = new Map<string, JsonReport>();
    for (const [source, env] of sources) {
      const run = await cli(["--db", db, "scan", source, "--format", "json", "--no-cache"], {
        XDG_CACHE_HOME: work,
        ...env,
      });
      expect(run.stderr, source).toBe("");
      expect(run.code, source).toBe(0);
      reports.set(source, JSON.parse(run.stdout) as JsonReport);
    }
    const [first, ...rest] = [...reports.entries()];
    expect(packageRows(first![1])).toHaveLength(15);
    for (const [source, report] of rest) {
      expect(packageRows(report), source).toEqual(packageRows(first![1]));
      expect(report.findings.map((f) => `${f.id} ${f.package.name}`).sort(), source).toEqual(
        first![1].findings.map((f) => `${f.id} ${f.package.name}`).sort(),
      );
    }
    // The image sources (all but the unpacked filesystem) agree on the layers too.
    for (const [source, report] of [...reports.entries()].filter(([s]) => !s.startsWith("rootfs:"))) {
      expect(
        report.image.layers.map((l) => l.diffId),
        source,
      ).toEqual(image.diffIds);
      expect(
        report.packages.map((p) => p.layer.index),
        source,
      ).toEqual(first![1].packages.map((p) => p.layer.index));
    }
  });
});
