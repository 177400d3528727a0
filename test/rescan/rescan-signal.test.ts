/**
 * `layerwatch rescan --once` told to stop (SIGTERM) while it pulls: the built CLI in a child
 * process, against the real CNCF registry behind a front that slows every request down. It
 * stops between images, every record it wrote is whole, and the next rescan does the rest.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStateStore } from "../../src/rescan/state/sqlite.js";
import type { RescanChanges } from "../../src/rescan/types.js";
import { cli, isBuilt, layerwatchBin } from "../helpers/cli.js";
import { imageFromFixture } from "../helpers/image-builder.js";
import { missingTools, type RegistryServer, startRegistry } from "../helpers/registry-server.js";
import { startCountingFront } from "./registry-front.js";
import { pushImage, withCreated } from "./registry-push.js";

const missing = missingTools(["docker-registry"]);
if (missing) console.warn(`skipping rescan signal test: ${missing.message}`);
if (!isBuilt("lib/cli/rescan.js")) console.warn("skipping rescan signal test: run `npm run build` first");

const fixtures = join(import.meta.dirname, "../../fixtures");

describe.skipIf(missing !== undefined || !isBuilt("lib/cli/rescan.js"))("rescan --once and SIGTERM", () => {
  let work: string;
  let registry: RegistryServer;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-rescan-signal-"));
    registry = await startRegistry();
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("stops between images, leaves every record whole, and the next rescan finishes", async () => {
    const db = join(work, "db.sqlite");
    expect((await cli(["--db", db, "db", "import", join(fixtures, "osv")])).code).toBe(0);
    const app = await imageFromFixture(join(fixtures, "images/debian-app"));
    for (const day of [1, 2, 3, 4])
      await pushImage(registry, "slow/app", `1.${day}`, withCreated(app, `2026-11-0${day}T00:00:00Z`));
    const front = await startCountingFront(registry, { delayMs: 200 });
    const state = join(work, "state.sqlite");
    const config = join(work, "rescan.yaml");
    await writeFile(
      config,
      `registries:\n  - registry: ${front.address}\n    repositories: [slow/app]\n    concurrency: 1\n`,
    );
    const args = ["--debug", "--db", db, "rescan", "--config", config, "--state", state, "--format", "json"];
    const env = { ...process.env, XDG_CACHE_HOME: join(work, "cache"), DOCKER_CONFIG: join(work, "none") };
    try {
      const stopped = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          const child = spawn(process.execPath, [layerwatchBin, ...args], { env });
          let stdout = "";
          let stderr = "";
          let signalled = false;
          child.stdout.on("data", (chunk: Buffer) => {
            stdout += chunk.toString("utf8");
          });
          child.stderr.on("data", (chunk: Buffer) => {
            stderr += chunk.toString("utf8");
            // As the first pull starts: it finishes, no other begins.
            if (!signalled && stderr.includes("layerwatch: pulling ")) {
              signalled = true;
              child.kill("SIGTERM");
            }
          });
          child.on("close", (code) => resolve({ code, stdout, stderr }));
        },
      );
      expect(stopped.stderr).toContain("SIGTERM: stopping after the image under way");
      expect(stopped.code).toBe(0);
      const changes = JSON.parse(stopped.stdout) as RescanChanges;
      expect(changes.counts.pulled).toBe(1);
      expect(changes.errors).toEqual([
        {
          subject: "rescan",
          problem: "stopped before the end: 0 tags and 3 images left for the next rescan",
        },
      ]);
      const store = await openSqliteStateStore(state);
      try {
        const stored = await store.imageDigests();
        expect(stored).toHaveLength(1);
        const image = await store.getImage(stored[0] as string);
        expect(image?.findings).toHaveLength(7);
        expect(JSON.parse(image?.inventory ?? "").packages.length).toBeGreaterThan(10);
        const tags = await store.getTags(`${front.address}/slow/app`);
        expect(tags).toHaveLength(1);
        expect(tags[0]?.images).toEqual([{ digest: stored[0] }]);
      } finally {
        await store.close();
      }
      const finished = await cli(args.slice(1), {
        XDG_CACHE_HOME: join(work, "cache"),
        DOCKER_CONFIG: join(work, "none"),
      });
      expect(finished.code).toBe(0);
      const rest = JSON.parse(finished.stdout) as RescanChanges;
      expect(rest.errors).toEqual([]);
      expect(rest.counts).toMatchObject({ tags: 4, pulled: 3, rematched: 1 });
    } finally {
      await front.stop();
    }
  }, 120_000);
});
