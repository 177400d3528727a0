/** Telling the base image's layers from the image's own: --base-image, and the OCI base labels. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { pushWithSkopeo } from "../helpers/debian-image.js";
import { type BuiltImage, buildImage, filesFromDirectory, writeOciLayout } from "../helpers/image-builder.js";
import { missingTools, type RegistryServer, startRegistry } from "../helpers/registry-server.js";

const fixtureImage = join(import.meta.dirname, "../../fixtures/images/debian-app");
const fixtureOsv = join(import.meta.dirname, "../../fixtures/osv");

let work: string;
let db: string;
let base: BuiltImage;
let layers: Array<{ files: Awaited<ReturnType<typeof filesFromDirectory>>; createdBy: string }>;

async function scan(source: string, args: string[] = []) {
  const run = await cli(["--db", db, "scan", source, "--format", "json", "--no-cache", ...args], {
    XDG_CACHE_HOME: work,
  });
  return { ...run, report: run.code <= 1 && run.stdout ? (JSON.parse(run.stdout) as JsonReport) : undefined };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-base-"));
  db = join(work, "db.sqlite");
  expect((await cli(["--db", db, "db", "import", fixtureOsv])).code).toBe(0);
  layers = await Promise.all(
    ["0-base", "1-app", "2-upgrade"].map(async (name) => ({
      files: await filesFromDirectory(join(fixtureImage, name)),
      createdBy: name,
    })),
  );
  base = await buildImage([layers[0]!]);
  await writeOciLayout(base, join(work, "base"), { refName: "base" });
  await writeOciLayout(await buildImage(layers), join(work, "app"), { refName: "app" });
  await writeOciLayout(await buildImage([layers[1]!]), join(work, "unrelated"), { refName: "x" });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("base image layers", () => {
  it("marks the layers, packages and findings that came from --base-image", async () => {
    const { report, code, stderr } = await scan(`oci:${join(work, "app")}:app`, [
      "--base-image",
      `oci:${join(work, "base")}:base`,
    ]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(report?.image.baseImage).toEqual({
      reference: `oci:${join(work, "base")}:base`,
      layers: 1,
      from: "option",
    });
    expect(report?.image.layers.map((l) => l.baseImage)).toEqual([true, false, false]);
    const tar = report?.findings.find((f) => f.package.name === "tar");
    expect(tar?.layer.baseImage).toBe(true);
    const lodash = report?.findings.find((f) => f.package.name === "lodash");
    expect(lodash?.layer.baseImage).toBe(false);
    // libc6 is in the status file the app's layer 2 rewrote, but the base image installed it.
    expect(report?.packages.find((p) => p.name === "libc6")?.layer).toMatchObject({
      index: 0,
      baseImage: true,
    });
  });

  it("says so when --base-image is not this image's base", async () => {
    const run = await scan(`oci:${join(work, "app")}:app`, [
      "--base-image",
      `oci:${join(work, "unrelated")}:x`,
    ]);
    expect(run.code).toBe(0);
    expect(run.report?.image.baseImage).toBeUndefined();
    expect(run.report?.warnings).toEqual([
      {
        subject: `--base-image oci:${join(work, "unrelated")}:x`,
        problem: "its layers are not the first layers of this image; it is not this image's base",
      },
    ]);
  });

  const missing = missingTools(["docker-registry", "skopeo"]);
  describe.skipIf(missing !== undefined)("from the OCI base labels", () => {
    let registry: RegistryServer;
    beforeAll(async () => {
      registry = await startRegistry();
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it("reads the base named by org.opencontainers.image.base.name and .digest", async () => {
      const { digest } = await pushWithSkopeo(join(work, "base"), "debian-base:12", registry.url);
      const labelled = await buildImage(layers, {
        labels: {
          "org.opencontainers.image.base.name": `${registry.address}/debian-base:12`,
          "org.opencontainers.image.base.digest": digest,
        },
      });
      await writeOciLayout(labelled, join(work, "labelled"), { refName: "app" });
      const { report, stderr } = await scan(`oci:${join(work, "labelled")}:app`);
      expect(stderr).toBe("");
      expect(report?.image.baseImage).toEqual({
        reference: `${registry.address}/debian-base@${digest}`,
        layers: 1,
        from: "label",
      });
      // A label naming a base that is gone is a warning, not a failed scan.
      const stale = await buildImage(layers, {
        labels: { "org.opencontainers.image.base.name": `${registry.address}/gone:1` },
      });
      await writeOciLayout(stale, join(work, "stale"), { refName: "app" });
      const run = await scan(`oci:${join(work, "stale")}:app`, ["--retries", "0"]);
      expect(run.code).toBe(0);
      expect(run.report?.warnings[0]?.subject).toBe(`base image label ${registry.address}/gone:1`);
      expect(run.report?.warnings[0]?.problem).toMatch(
        /^cannot read it \(.*not found.*\); layers are not split into base and own$/,
      );
    });
  });
});
