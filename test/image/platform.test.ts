/** Multi-platform images: --platform picks one image of an index, in a layout and in a registry. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { buildImage, filesFromDirectory, writeMultiPlatformLayout } from "../helpers/image-builder.js";
import { missingTools, type RegistryServer, startRegistry } from "../helpers/registry-server.js";
import { run } from "../helpers/tools.js";

const fixtureImage = join(import.meta.dirname, "../../fixtures/images/debian-app");
const fixtureOsv = join(import.meta.dirname, "../../fixtures/osv");

let work: string;
let db: string;
let layout: string;

async function scan(source: string, args: string[] = []) {
  const result = await cli(["--db", db, "scan", source, "--format", "json", "--no-cache", ...args], {
    XDG_CACHE_HOME: work,
  });
  return {
    ...result,
    report: result.code <= 1 && result.stdout ? (JSON.parse(result.stdout) as JsonReport) : undefined,
  };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-platform-"));
  db = join(work, "db.sqlite");
  expect((await cli(["--db", db, "db", "import", fixtureOsv])).code).toBe(0);
  const base = await filesFromDirectory(join(fixtureImage, "0-base"));
  const app = await filesFromDirectory(join(fixtureImage, "1-app"));
  // The amd64 image has the app layer; the arm64 one is the base alone: the findings tell them apart.
  const amd64 = await buildImage([
    { files: base, createdBy: "base" },
    { files: app, createdBy: "app" },
  ]);
  const arm64 = await buildImage([{ files: base, createdBy: "base" }], {
    architecture: "arm64",
    variant: "v8",
  });
  layout = join(work, "multi");
  await writeMultiPlatformLayout(
    [
      { image: amd64, platform: { os: "linux", architecture: "amd64" } },
      { image: arm64, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    ],
    layout,
    "multi",
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("platform selection", () => {
  it("reads linux/amd64 by default and another platform when asked", async () => {
    const amd64 = await scan(`oci:${layout}:multi`);
    expect(amd64.code).toBe(0);
    expect(amd64.report?.image.architecture).toBe("amd64");
    expect(amd64.report?.packages.some((p) => p.name === "lodash")).toBe(true);
    const arm64 = await scan(`oci:${layout}:multi`, ["--platform", "linux/arm64/v8"]);
    expect(arm64.code).toBe(0);
    expect(arm64.report?.image.architecture).toBe("arm64");
    expect(arm64.report?.packages.some((p) => p.name === "lodash")).toBe(false);
  });

  it("names the platforms an index has when the one asked for is missing", async () => {
    const result = await scan(`oci:${layout}:multi`, ["--platform", "linux/s390x"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /no image for platform linux\/s390x \(it has: linux\/amd64, linux\/arm64\/v8\)\n$/,
    );
    const bad = await scan(`oci:${layout}:multi`, ["--platform", "linux"]);
    expect(bad.stderr).toBe(
      "layerwatch: error: --platform linux: use os/arch or os/arch/variant (linux/arm64/v8)\n",
    );
  });

  const missing = missingTools(["docker-registry", "skopeo"]);
  describe.skipIf(missing !== undefined)("in a registry", () => {
    let registry: RegistryServer;
    beforeAll(async () => {
      registry = await startRegistry();
      await run("skopeo", [
        "copy",
        "--all",
        "--insecure-policy",
        "--quiet",
        "--dest-tls-verify=false",
        "--dest-no-creds",
        `oci:${layout}:multi`,
        `docker://${registry.address}/multi:1`,
      ]);
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it("resolves an image index from the registry by platform", async () => {
      const amd64 = await scan(`${registry.address}/multi:1`);
      expect(amd64.code).toBe(0);
      expect(amd64.report?.image.architecture).toBe("amd64");
      const arm64 = await scan(`${registry.address}/multi:1`, ["--platform", "linux/arm64"]);
      expect(arm64.code).toBe(0);
      expect(arm64.report?.image.architecture).toBe("arm64");
      expect(arm64.report?.packages.map((p) => p.name)).not.toContain("lodash");
    });
  });
});
