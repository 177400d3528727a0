import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseChallenge } from "../../src/image/registry/challenge.js";
import { resolveCredentials } from "../../src/image/registry/credentials.js";
import { apiHost, formatReference, parseImageReference } from "../../src/image/registry/reference.js";

describe("image references", () => {
  it.each([
    ["alpine", "docker.io/library/alpine:latest"],
    ["alpine:3.19", "docker.io/library/alpine:3.19"],
    ["library/alpine", "docker.io/library/alpine:latest"],
    ["bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"],
    ["docker.io/alpine", "docker.io/library/alpine:latest"],
    ["index.docker.io/library/node:lts", "docker.io/library/node:lts"],
    ["ghcr.io/org/app:1.2", "ghcr.io/org/app:1.2"],
    ["localhost/app", "localhost/app:latest"],
    ["127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app:v1"],
    [
      "quay.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "quay.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ],
    [
      "app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "docker.io/library/app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ],
  ])("%s is %s", (text, expected) => {
    expect(formatReference(parseImageReference(text))).toBe(expected);
  });

  it("sends Docker Hub requests to its API host", () => {
    expect(apiHost(parseImageReference("alpine").registry)).toBe("registry-1.docker.io");
    expect(apiHost("ghcr.io")).toBe("ghcr.io");
  });

  it.each([["Alpine"], ["app:"], ["app@sha256:short"], ["a//b"]])("refuses %s", (text) => {
    expect(() => parseImageReference(text)).toThrow(/^.+: /);
  });
});

describe("WWW-Authenticate challenges", () => {
  it("reads Bearer parameters, with commas inside quotes", () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push"',
      ),
    ).toEqual({
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/alpine:pull,push",
      },
    });
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({
      scheme: "basic",
      params: { realm: "Registry Realm" },
    });
    expect(parseChallenge(undefined)).toBeUndefined();
  });
});

describe("registry credentials", () => {
  let home: string;
  let bin: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "layerwatch-creds-"));
    bin = join(home, "bin");
    await mkdir(bin);
    // A real credential helper program, speaking the docker-credential protocol.
    const helper = join(bin, "docker-credential-fake");
    await writeFile(
      helper,
      `#!/bin/sh
read server
case "$server" in
  ghcr.io) echo '{"ServerURL":"ghcr.io","Username":"robot","Secret":"helper-secret"}' ;;
  tokens.example) echo '{"ServerURL":"tokens.example","Username":"<token>","Secret":"refresh-me"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`,
    );
    await chmod(helper, 0o755);
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  async function withConfig(config: object) {
    const dir = await mkdtemp(join(home, "cfg-"));
    await writeFile(join(dir, "config.json"), JSON.stringify(config));
    return { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}`, HOME: home };
  }

  it("prefers flags, then the environment", async () => {
    const env = { LAYERWATCH_REGISTRY_USERNAME: "env-user", LAYERWATCH_REGISTRY_PASSWORD: "env-pass" };
    expect(await resolveCredentials("ghcr.io", { username: "u", password: "p", env })).toEqual({
      username: "u",
      password: "p",
      origin: "--username",
    });
    expect(await resolveCredentials("ghcr.io", { env })).toEqual({
      username: "env-user",
      password: "env-pass",
      origin: "LAYERWATCH_REGISTRY_USERNAME",
    });
    await expect(resolveCredentials("ghcr.io", { username: "u", env: {} })).rejects.toThrow(
      /give both a user name and a password/,
    );
  });

  it("decodes base64 auths, Docker Hub's legacy key and identity tokens", async () => {
    const env = await withConfig({
      auths: {
        "https://index.docker.io/v1/": { auth: Buffer.from("hubuser:hubpass").toString("base64") },
        "registry.example:5000": { identitytoken: "id-token" },
      },
    });
    expect(await resolveCredentials("docker.io", { env })).toMatchObject({
      username: "hubuser",
      password: "hubpass",
    });
    expect(await resolveCredentials("registry.example:5000", { env })).toMatchObject({
      identityToken: "id-token",
    });
    expect(await resolveCredentials("quay.io", { env })).toBeUndefined();
  });

  it("asks credHelpers and credsStore programs, and takes 'not found' as no credentials", async () => {
    const env = await withConfig({ credHelpers: { "ghcr.io": "fake" }, credsStore: "fake" });
    expect(await resolveCredentials("ghcr.io", { env })).toEqual({
      username: "robot",
      password: "helper-secret",
      origin: "credential helper docker-credential-fake",
    });
    expect(await resolveCredentials("tokens.example", { env })).toMatchObject({
      identityToken: "refresh-me",
    });
    expect(await resolveCredentials("quay.io", { env })).toBeUndefined();
  });

  it("names the config file when it is not JSON", async () => {
    const dir = await mkdtemp(join(home, "bad-"));
    await writeFile(join(dir, "config.json"), "{");
    await expect(resolveCredentials("ghcr.io", { env: { DOCKER_CONFIG: dir } })).rejects.toThrow(
      `${join(dir, "config.json")}: not valid JSON`,
    );
  });
});
