/**
 * The Dockerfile checks predict what the image checks find: each Dockerfile of fixtures/builds/ is
 * built for real (dockerd from docker.io, the legacy builder, no network, RUN steps in real
 * containers) on the debootstrapped Debian image, then linted as text and scanned as a docker:
 * image, and both sides must name the same problem at their own place (a line; a config field, a
 * history entry or a file in a layer). What the daemon itself says about the built image (its
 * Config.User and Env, its layers and history) is the reference both are held to.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lintDockerfile } from "../../src/hygiene/dockerfile/lint.js";
import { dockerfileRules } from "../../src/hygiene/dockerfile/rules.js";
import { imageRules } from "../../src/hygiene/image/rules.js";
import type { HygieneFinding, HygieneRule } from "../../src/hygiene/types.js";
import { inventoryImage } from "../../src/pipeline.js";
import { buildDebianImage } from "../helpers/debian-image.js";
import {
  type DockerBuiltImage,
  dockerBuild,
  dockerBuildMissing,
  loadOciLayout,
  prepareContext,
} from "../helpers/docker-build.js";
import { processesUsing, startDockerd, type TestDaemon } from "../helpers/dockerd.js";
import { findTool, run } from "../helpers/tools.js";

const fixtures = join(import.meta.dirname, "../../fixtures/builds");
/** The tag every fixture's FROM names. */
const BASE_TAG = "layerwatch/debian:bookworm";

const missing = [
  dockerBuildMissing(),
  findTool("ssh-keygen") ? undefined : "ssh-keygen not found (apt-get install openssh-client)",
]
  .filter((problem): problem is string => problem !== undefined)
  .join("; ");
if (missing) console.warn(`skipping the real-build hygiene tests: ${missing}`);

/** The one rule of `rules` whose title matches: ids are looked up, not copied, so renumbering cannot pass silently. */
function ruleWith(rules: readonly HygieneRule[], title: RegExp): HygieneRule {
  const found = rules.filter((rule) => title.test(rule.title));
  if (found.length !== 1)
    throw new Error(
      `expected one rule titled ${title}, found ${found.map((rule) => rule.id).join(", ") || "none"}`,
    );
  return found[0] as HygieneRule;
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A token in a service's format, random each run so that no real-looking token is committed. */
function randomToken(prefix: string, length: number): string {
  const bytes = randomBytes(length);
  return prefix + Array.from(bytes, (byte) => ALPHANUMERIC[byte % ALPHANUMERIC.length]).join("");
}

/** The line (from 1) of the first line of `text` that starts with `start`. */
function lineOf(text: string, start: string): number {
  const index = text.split("\n").findIndex((line) => line.startsWith(start));
  if (index < 0) throw new Error(`no line starts with ${start}`);
  return index + 1;
}

/** Nothing reported shows the secret, nor any 8 characters of it past its public prefix. */
function expectMasked(reported: unknown[], secret: string, prefixLength: number) {
  const text = JSON.stringify(reported);
  expect(text).not.toContain(secret);
  for (let start = prefixLength; start + 8 <= secret.length; start++)
    expect(text).not.toContain(secret.slice(start, start + 8));
}

interface CheckedBuild {
  /** The Dockerfile as built (placeholders filled in). */
  dockerfile: string;
  dockerfilePath: string;
  lint: HygieneFinding[];
  built: DockerBuiltImage;
  /** The image's history as the daemon lists it, oldest first: index i is config history[i]. */
  history: string[];
  image: HygieneFinding[];
  /** Both sides' warnings, which must not show a secret either. */
  warnings: unknown[];
  scanMs: number;
}

// Each test builds and scans one image: a few seconds alone, much more on a loaded machine.
describe.skipIf(missing !== "")(
  "Dockerfile checks and image checks agree on real builds",
  { timeout: 180_000 },
  () => {
    let daemon: TestDaemon;
    /** The base image's diff ids, which every build's layers start with. */
    let baseDiffIds: string[];
    let baseLayers: number;
    const contexts: string[] = [];
    const timings: string[] = [];

    beforeAll(async () => {
      const started = Date.now();
      const base = await buildDebianImage();
      baseDiffIds = base.layers.map((layer) => layer.diffId);
      baseLayers = baseDiffIds.length;
      daemon = await startDockerd();
      await loadOciLayout(daemon, base.layoutDir, BASE_TAG);
      timings.push(`daemon started and base loaded in ${Date.now() - started} ms (${daemon.storageDriver})`);
    });

    afterAll(async () => {
      const dir = daemon?.socket.replace(/\/docker\.sock$/, "");
      await daemon?.stop();
      if (dir) expect(processesUsing(dir)).toEqual([]);
      for (const context of contexts) await rm(context, { recursive: true, force: true });
      if (timings.length > 0) console.info(`real builds: ${timings.join("; ")}`);
    });

    async function buildAndCheck(
      name: string,
      options: {
        extra?: Record<string, string | Buffer>;
        substitutions?: Record<string, string>;
        buildArgs?: Record<string, string>;
        /** Scan with --base-image naming the base (the setuid rule counts only files added above it). */
        withBase?: boolean;
      } = {},
    ): Promise<CheckedBuild> {
      const context = await prepareContext(join(fixtures, name), options.extra, options.substitutions);
      contexts.push(context);
      const dockerfilePath = join(context, "Dockerfile");
      const dockerfile = await readFile(dockerfilePath, "utf8");
      const tag = `layerwatch/build-${name}:test`;
      const built = await dockerBuild(daemon, context, tag, { buildArgs: options.buildArgs });
      const linted = lintDockerfile(dockerfile, dockerfilePath);
      const history = (await new Docker({ socketPath: daemon.socket }).getImage(tag).history())
        .map((entry: { CreatedBy: string }) => entry.CreatedBy)
        .reverse();
      const scanStarted = Date.now();
      const scanned = await inventoryImage(`docker:${tag}`, {
        env: { ...process.env, DOCKER_HOST: daemon.host },
        ...(options.withBase ? { baseImage: `docker:${BASE_TAG}` } : {}),
      });
      const scanMs = Date.now() - scanStarted;
      timings.push(`${name}: built in ${built.durationMs} ms, scanned in ${scanMs} ms`);
      expect(built.diffIds.slice(0, baseLayers)).toEqual(baseDiffIds);
      if (options.withBase) expect(scanned.baseImage?.layers).toBe(baseLayers);
      return {
        dockerfile,
        dockerfilePath,
        lint: linted.findings,
        built,
        history,
        image: scanned.hygiene ?? [],
        warnings: [...linted.warnings, ...scanned.warnings],
        scanMs,
      };
    }

    const byRule = (findings: HygieneFinding[], rule: HygieneRule) =>
      findings.filter((finding) => finding.ruleId === rule.id);

    it("no USER: the Dockerfile rule at the final FROM, the image rule on an empty config.User", async () => {
      const dockerfileRoot = ruleWith(dockerfileRules, /runs as root/i);
      const imageRoot = ruleWith(imageRules, /runs as root/i);
      const checked = await buildAndCheck("runs-as-root");
      expect(checked.built.user).toBe("");
      expect(byRule(checked.lint, dockerfileRoot)).toEqual([
        expect.objectContaining({
          location: {
            kind: "dockerfile",
            path: checked.dockerfilePath,
            line: lineOf(checked.dockerfile, "FROM "),
          },
        }),
      ]);
      expect(byRule(checked.image, imageRoot)).toEqual([
        expect.objectContaining({ location: { kind: "config", field: "config.User" } }),
      ]);
    });

    it("USER 1000: neither side says root", async () => {
      const checked = await buildAndCheck("runs-as-user");
      expect(checked.built.user).toBe("1000");
      expect(byRule(checked.lint, ruleWith(dockerfileRules, /runs as root/i))).toEqual([]);
      expect(byRule(checked.image, ruleWith(imageRules, /runs as root/i))).toEqual([]);
    });

    it("ENV API_TOKEN=<GitHub token>: the ENV line and the config's Env entry, the token masked on both", async () => {
      const token = randomToken("ghp_", 36);
      const checked = await buildAndCheck("env-token", { substitutions: { API_TOKEN: token } });
      const envIndex = checked.built.env.indexOf(`API_TOKEN=${token}`);
      expect(envIndex).toBeGreaterThanOrEqual(0);
      expect(byRule(checked.lint, ruleWith(dockerfileRules, /secret is written/i))).toEqual([
        expect.objectContaining({
          location: {
            kind: "dockerfile",
            path: checked.dockerfilePath,
            line: lineOf(checked.dockerfile, "ENV "),
          },
        }),
      ]);
      expect(byRule(checked.image, ruleWith(imageRules, /environment/i))).toEqual([
        expect.objectContaining({ location: { kind: "config", field: `config.Env[${envIndex}]` } }),
      ]);
      // The ENV's history entry records the same NAME=value: one problem, reported once, on Env.
      expect(checked.history.some((createdBy) => createdBy.includes(`API_TOKEN=${token}`))).toBe(true);
      expect(byRule(checked.image, ruleWith(imageRules, /history/i))).toEqual([]);
      expectMasked([...checked.lint, ...checked.image, ...checked.warnings], token, "ghp_".length);
    });

    it("ARG NPM_TOKEN given with --build-arg and used in a RUN: the image rule finds it in that history entry", async () => {
      const token = randomToken("npm_", 36);
      const checked = await buildAndCheck("build-arg-token", { buildArgs: { NPM_TOKEN: token } });
      // The legacy builder records the build args a RUN saw in front of its command.
      const runIndex = checked.history.findIndex((createdBy) => createdBy.includes("_authToken"));
      expect(checked.history[runIndex]).toContain(`NPM_TOKEN=${token}`);
      // The Dockerfile holds no value, only the name: nothing is written in it to find.
      expect(checked.dockerfile).not.toContain(token);
      expect(byRule(checked.lint, ruleWith(dockerfileRules, /secret is written/i))).toEqual([]);
      // What the Dockerfile does show: a secret's name as a build argument a RUN sees (line 2).
      expect(byRule(checked.lint, ruleWith(dockerfileRules, /build argument/i))).toEqual([
        expect.objectContaining({ location: expect.objectContaining({ kind: "dockerfile", line: 2 }) }),
      ]);
      expect(byRule(checked.image, ruleWith(imageRules, /history/i))).toEqual([
        expect.objectContaining({ location: { kind: "config", field: `history[${runIndex}].created_by` } }),
      ]);
      expectMasked([...checked.lint, ...checked.image, ...checked.warnings], token, "npm_".length);
    });

    it("COPY id_rsa then RUN rm: the COPY line, and the key still in the COPY's layer, marked deleted", async () => {
      const keyDir = await mkdtemp(join(tmpdir(), "layerwatch-key-"));
      contexts.push(keyDir);
      await run("ssh-keygen", [
        "-q",
        "-t",
        "rsa",
        "-b",
        "2048",
        "-N",
        "",
        "-C",
        "layerwatch-test",
        "-f",
        join(keyDir, "key"),
      ]);
      const key = await readFile(join(keyDir, "key"));
      const checked = await buildAndCheck("deleted-key", { extra: { id_rsa: key } });
      // FROM, then COPY (one layer) and RUN rm (one layer, the whiteout): the COPY's is the first after the base's.
      expect(checked.built.diffIds).toHaveLength(baseLayers + 2);
      const copyLayer = baseLayers;
      expect(byRule(checked.lint, ruleWith(dockerfileRules, /credential file/i))).toEqual([
        expect.objectContaining({
          location: {
            kind: "dockerfile",
            path: checked.dockerfilePath,
            line: lineOf(checked.dockerfile, "COPY "),
          },
        }),
      ]);
      expect(byRule(checked.image, ruleWith(imageRules, /removed by a later layer/i))).toEqual([
        expect.objectContaining({
          location: { kind: "file", path: "root/.ssh/id_rsa", layer: copyLayer, deleted: true },
        }),
      ]);
      // Not also reported as a file still in the image, nor a second time for its content.
      expect(byRule(checked.image, ruleWith(imageRules, /file that holds credentials/i))).toEqual([]);
      expect(byRule(checked.image, ruleWith(imageRules, /private key or token is in a file/i))).toEqual([]);
    });

    it("chmod 4755 and chmod 777 in a RUN: the RUN line, and the setuid file and open folder in the RUN's layer", async () => {
      const checked = await buildAndCheck("permissions", { withBase: true });
      // COPY makes layer base+0, the RUN's chmods make base+1 (the tool copied up with its new mode).
      expect(checked.built.diffIds).toHaveLength(baseLayers + 2);
      const runLayer = baseLayers + 1;
      const runLine = lineOf(checked.dockerfile, "RUN ");
      // The RUN goes on over two continuation lines.
      const runLocation = {
        kind: "dockerfile",
        path: checked.dockerfilePath,
        line: runLine,
        endLine: runLine + 2,
      };
      expect(byRule(checked.lint, ruleWith(dockerfileRules, /setuid/i))).toEqual([
        expect.objectContaining({ location: runLocation }),
      ]);
      expect(byRule(checked.lint, ruleWith(dockerfileRules, /world-writable/i))).toEqual([
        expect.objectContaining({ location: runLocation }),
      ]);
      expect(byRule(checked.image, ruleWith(imageRules, /setuid/i))).toEqual([
        expect.objectContaining({ location: { kind: "file", path: "usr/local/bin/tool", layer: runLayer } }),
      ]);
      expect(byRule(checked.image, ruleWith(imageRules, /world-writable/i))).toEqual([
        expect.objectContaining({ location: { kind: "file", path: "srv/shared", layer: runLayer } }),
      ]);
    });
  },
);
