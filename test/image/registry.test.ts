/**
 * The registry source against the real CNCF registry: anonymous, htpasswd Basic (HTTP and TLS),
 * and token auth, with faults injected by a proxy in front of it. The image is a real Debian
 * bookworm root filesystem made by debootstrap, with a node_modules layer and a whiteout on top.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import {
  buildDebianImage,
  type DebianImage,
  listDpkgPackages,
  pushWithSkopeo,
} from "../helpers/debian-image.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { missingTools, type RegistryServer, startRegistry } from "../helpers/registry-server.js";

const missing = missingTools(["docker-registry", "skopeo", "debootstrap", "openssl", "htpasswd"]);
if (missing) console.warn(`skipping registry tests: ${missing.message}`);

const fixtureOsv = join(import.meta.dirname, "../../fixtures/osv");

let work: string;
let db: string;
let image: DebianImage;
const registries: Record<string, RegistryServer> = {};

async function scan(source: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const run = await cli(
    ["--db", db, "scan", source, "--format", "json", "--no-cache", "--retries", "2", ...args],
    {
      XDG_CACHE_HOME: work,
      DOCKER_CONFIG: join(work, "no-docker-config"),
      ...env,
    },
  );
  const report = run.code <= 1 && run.stdout ? (JSON.parse(run.stdout) as JsonReport) : undefined;
  return { ...run, report };
}

function packageList(report: JsonReport | undefined) {
  return (report?.packages ?? []).map(
    (p) => `${p.type} ${p.name} ${p.version} ${p.location} ${p.layer.diffId}`,
  );
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-registry-"));
  db = join(work, "db.sqlite");
  expect((await cli(["--db", db, "db", "import", fixtureOsv])).code).toBe(0);
  if (!missing) image = await buildDebianImage();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)("registry source", () => {
  beforeAll(async () => {
    const [open, basic, basicTls, token] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: "htpasswd" }),
      startRegistry({ auth: "htpasswd", tls: true }),
      startRegistry({ auth: "token", token: { anonymousPull: false } }),
    ]);
    Object.assign(registries, { open, basic, basicTls, token });
    await Promise.all([
      pushWithSkopeo(image.layoutDir, "debian:oci", open!.url),
      pushWithSkopeo(image.layoutDir, "debian:v2s2", open!.url, { format: "v2s2" }),
      pushWithSkopeo(image.layoutDir, "team/debian:1", basic!.url, { creds: basic!.credentials }),
      pushWithSkopeo(image.layoutDir, "team/debian:1", basicTls!.url, {
        creds: basicTls!.credentials,
        certDir: basicTls!.certDir,
      }),
      pushWithSkopeo(image.layoutDir, "team/debian:1", token!.url, { creds: token!.credentials }),
    ]);
  });

  afterAll(async () => {
    await Promise.all(Object.values(registries).map((registry) => registry.stop()));
  });

  it("reads the debootstrapped image from an open registry, OCI and Docker media types alike", async () => {
    const oci = await scan(`${registries.open!.address}/debian:oci`);
    expect(oci.stderr).toBe("");
    expect(oci.code).toBe(0);
    const expected = await listDpkgPackages(image.rootfsDir);
    const debs = oci.report!.packages.filter((p) => p.type === "deb");
    expect(debs.map((p) => `${p.name} ${p.version} ${p.sourceName} ${p.sourceVersion}`)).toEqual(
      expected.map((p) => `${p.name} ${p.version} ${p.source} ${p.sourceVersion}`),
    );
    expect(oci.report!.packages.filter((p) => p.type === "npm").map((p) => `${p.name}@${p.version}`)).toEqual(
      image.npmPackages.map((p) => `${p.name}@${p.version}`).sort(),
    );
    expect(oci.report!.findings.map((f) => `${f.package.name} ${f.id}`)).toContain("lodash CVE-2021-23337");
    expect(oci.report!.image.manifestDigest).toBe(image.manifestDigest);
    const v2s2 = await scan(`${registries.open!.address}/debian:v2s2`);
    expect(v2s2.code).toBe(0);
    expect(packageList(v2s2.report)).toEqual(packageList(oci.report));
    // Same image as an OCI layout on disk: the same packages, from the same layers.
    const layout = await scan(`oci:${image.layoutDir}:${image.refName}`);
    expect(packageList(layout.report)).toEqual(packageList(oci.report));
    // The whiteout in layer 1 removed etc/motd; nothing of it is reported, and nothing is warned.
    expect(oci.report!.warnings).toEqual([]);
  });

  it("pins an image by digest", async () => {
    const run = await scan(`${registries.open!.address}/debian@${image.manifestDigest}`);
    expect(run.code).toBe(0);
    expect(run.report!.image.manifestDigest).toBe(image.manifestDigest);
    const wrong = await scan(`${registries.open!.address}/debian@sha256:${"0".repeat(64)}`);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/manifests sha256:0+: not found \(MANIFEST_UNKNOWN/);
  });

  it("authenticates with Basic credentials from flags, the environment and docker's config", async () => {
    const { address, credentials } = registries.basic!;
    const ref = `${address}/team/debian:1`;
    const anonymous = await scan(ref);
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toBe(
      `layerwatch: error: registry ${address} asks for a user name and password (--username/--password or docker login)\n`,
    );
    const flags = await scan(ref, ["--username", credentials!.username, "--password", credentials!.password]);
    expect(flags.code).toBe(0);
    const env = await scan(ref, [], {
      LAYERWATCH_REGISTRY_USERNAME: credentials!.username,
      LAYERWATCH_REGISTRY_PASSWORD: credentials!.password,
    });
    expect(env.code).toBe(0);
    const configDir = join(work, "docker-config-basic");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(configDir, { recursive: true });
    const auth = Buffer.from(`${credentials!.username}:${credentials!.password}`).toString("base64");
    await writeFile(join(configDir, "config.json"), JSON.stringify({ auths: { [address]: { auth } } }));
    const config = await scan(ref, [], { DOCKER_CONFIG: configDir });
    expect(config.code).toBe(0);
    expect(packageList(config.report)).toEqual(packageList(flags.report));
    const wrong = await scan(ref, ["--username", credentials!.username, "--password", "not-the-password"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/authentication required \(credentials from --username were refused\)/);
    // The password is never printed, not even when it is wrong.
    for (const run of [anonymous, flags, env, config, wrong])
      expect(run.stderr + run.stdout).not.toContain(credentials!.password);
    expect(wrong.stderr).not.toContain("not-the-password");
  });

  it("verifies TLS, trusting a private CA only when told to", async () => {
    const { address, credentials, caFile } = registries.basicTls!;
    const ref = `${address}/team/debian:1`;
    const creds = ["--username", credentials!.username, "--password", credentials!.password];
    const untrusted = await scan(ref, creds);
    expect(untrusted.code).toBe(2);
    expect(untrusted.stderr).toMatch(
      /cannot connect \(.*certificate.*\) \(use --ca-file with the registry's CA, or --insecure\)\n$/,
    );
    expect((await scan(ref, [...creds, "--ca-file", caFile!])).code).toBe(0);
    expect((await scan(ref, [...creds, "--insecure"])).code).toBe(0);
  });

  it("follows the Bearer token flow with a signed token", async () => {
    const { address, credentials, tokenServer } = registries.token!;
    const ref = `${address}/team/debian:1`;
    const before = tokenServer!.requests.length;
    const run = await scan(ref, ["--username", credentials!.username, "--password", credentials!.password]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const asked = tokenServer!.requests.slice(before);
    // One token for the repository, reused for the manifest, the config and every layer.
    expect(asked.map((r) => [r.account, r.scopes])).toEqual([
      [credentials!.username, ["repository:team/debian:pull"]],
    ]);
    const denied = await scan(ref);
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/^layerwatch: error: .*(authentication|access denied)/);
  });

  it("downloads no layer a second time: the layer cache answers", async () => {
    const registry = registries.open!;
    const cacheDir = join(work, "layer-cache");
    const ref = `${registry.address}/debian:oci`;
    const layerGets = async () => {
      let total = 0;
      for (const layer of image.layers)
        total += await registry.countRequests("GET", new RegExp(`/blobs/${layer.digest}`));
      return total;
    };
    const cached = () =>
      cli(["--db", db, "scan", ref, "--format", "json", "--cache-dir", cacheDir], { XDG_CACHE_HOME: work });
    const before = await layerGets();
    const cold = await cached();
    expect(cold.code).toBe(0);
    const afterCold = await layerGets();
    expect(afterCold - before).toBe(image.layers.length);
    const warm = await cached();
    expect(warm.code).toBe(0);
    expect((await layerGets()) - afterCold).toBe(0);
    expect(packageList(JSON.parse(warm.stdout) as JsonReport)).toEqual(
      packageList(JSON.parse(cold.stdout) as JsonReport),
    );
  });
});

describe.skipIf(missing !== undefined)("registry faults", () => {
  let registry: RegistryServer;
  let proxy: FaultProxy;
  let ref: string;
  let bigLayer: string;

  beforeAll(async () => {
    registry = await startRegistry();
    await pushWithSkopeo(image.layoutDir, "debian:1", registry.url);
    proxy = await startFaultProxy(registry.url);
    ref = `${proxy.address}/debian:1`;
    bigLayer = image.layers[0]!.digest;
  });

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it("fails on a corrupt blob with a digest mismatch", async () => {
    proxy.clearRules();
    proxy.addRule({ path: `/blobs/${bigLayer}`, fault: { kind: "corrupt", offset: 100_000, length: 1 } });
    const run = await scan(ref);
    expect(run.code).toBe(2);
    // Where the flipped byte lands decides which check sees it first: the gzip decoder, the tar
    // reader, or the digest at the end. Each names the layer in one line.
    expect(run.stderr).toMatch(
      /layer 0 \([0-9a-f]{12}\): (digest mismatch|corrupt gzip stream|corrupt layer tar)/,
    );
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("reads a layer again when its download breaks off", async () => {
    proxy.clearRules();
    proxy.resetCounters();
    const rule = proxy.addRule({
      path: `/blobs/${bigLayer}`,
      fault: { kind: "truncate", afterBytes: 200_000 },
      times: 1,
    });
    const run = await scan(ref);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(rule.hits).toBe(1);
    expect(proxy.count(`/blobs/${bigLayer}`, "GET")).toBe(2);
  });

  it("gives up with one clear line when every download of a layer breaks off", async () => {
    proxy.clearRules();
    proxy.addRule({ path: `/blobs/${bigLayer}`, fault: { kind: "truncate", afterBytes: 100_000 } });
    const run = await scan(ref, ["--retries", "1"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^layerwatch: error: .*: layer 0 \([0-9a-f]{12}\): other side closed \(after 2 attempts\)\n$/,
    );
  });

  it("waits as long as Retry-After says on 429, and retries 5xx", async () => {
    proxy.clearRules();
    proxy.addRule({ path: "/manifests/", fault: { kind: "status", status: 429, retryAfter: 1 }, times: 2 });
    proxy.addRule({ path: `/blobs/${bigLayer}`, fault: { kind: "status", status: 503 }, times: 1 });
    const started = Date.now();
    const run = await scan(ref, ["--debug"]);
    expect(run.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(run.stderr).toMatch(/HTTP 429 Too Many Requests; retrying in 1000 ms/);
    expect(run.stderr).toMatch(/HTTP 503; retrying in/);
  });

  it("gives up after --retries with one clear line", async () => {
    proxy.clearRules();
    proxy.addRule({ path: "/manifests/", fault: { kind: "status", status: 500 } });
    const run = await scan(ref, ["--retries", "1"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `layerwatch: error: ${proxy.address}/debian manifests 1: HTTP 500 (after 2 attempts)\n`,
    );
  });

  it("times out on a server that does not answer", async () => {
    proxy.clearRules();
    proxy.addRule({ path: "/manifests/", fault: { kind: "delay", ms: 5000 } });
    const run = await scan(ref, ["--retries", "0", "--timeout", "1"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/timeout/i);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("registry redirects", () => {
  let registry: Server;
  let blobStore: Server;
  const seen: Array<{ host: string; authorization?: string }> = [];

  afterAll(async () => {
    await new Promise((resolve) => registry?.close(resolve));
    await new Promise((resolve) => blobStore?.close(resolve));
  });

  // A real registry on filesystem storage never redirects blobs elsewhere; a blob store behind a
  // signed URL does (S3, GCS). This fake stands in for that one behaviour.
  it("drops Authorization when a blob is redirected to another host", async () => {
    blobStore = createServer((req, res) => {
      seen.push({
        host: "store",
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      });
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => blobStore.listen(0, "127.0.0.2", resolve));
    const storePort = (blobStore.address() as { port: number }).port;
    const config = Buffer.from(
      JSON.stringify({ rootfs: { type: "layers", diff_ids: [] }, architecture: "amd64", os: "linux" }),
    );
    const { createHash } = await import("node:crypto");
    const configDigest = `sha256:${createHash("sha256").update(config).digest("hex")}`;
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: [],
    });
    registry = createServer((req, res) => {
      seen.push({
        host: "registry",
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      });
      if (!req.headers.authorization) {
        res.writeHead(401, { "www-authenticate": 'Basic realm="test"' }).end();
      } else if (req.url?.includes("/manifests/")) {
        res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" }).end(manifest);
      } else if (req.url?.includes("/blobs/")) {
        res.writeHead(307, { location: `http://127.0.0.2:${storePort}/signed?sig=abc` }).end();
      } else {
        res.writeHead(200).end("{}");
      }
    });
    await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
    const port = (registry.address() as { port: number }).port;
    const run = await cli(
      ["--db", db, "scan", `127.0.0.1:${port}/app:1`, "--username", "u", "--password", "p", "--retries", "0"],
      { XDG_CACHE_HOME: work },
    );
    // The store answered 404; what matters is that it never saw the registry's credentials.
    expect(seen.filter((r) => r.host === "store")).toEqual([{ host: "store" }]);
    expect(seen.some((r) => r.host === "registry" && r.authorization?.startsWith("Basic "))).toBe(true);
    expect(run.code).toBe(2);
  });
});

describe.skipIf(missing !== undefined)("foreign layers", () => {
  let registry: RegistryServer;
  afterAll(async () => {
    await registry?.stop();
  });

  it("lists a foreign layer without fetching it, and says so", async () => {
    registry = await startRegistry({ allowForeignLayerUrls: true });
    const { gzipSync } = await import("node:zlib");
    const { filesFromDirectory, sha256: digestOf, tarOf } = await import("../helpers/image-builder.js");
    const base = await tarOf(
      await filesFromDirectory(join(import.meta.dirname, "../../fixtures/images/debian-app/0-base")),
    );
    const layer = gzipSync(base);
    // A Windows-style base layer that only its vendor may serve: the registry holds no blob for it.
    const foreignTar = Buffer.from("not served by this registry");
    const foreign = { digest: digestOf(foreignTar), size: foreignTar.length };
    const config = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [digestOf(foreignTar), digestOf(base)] },
        history: [{ created_by: "foreign base" }, { created_by: "debian files" }],
      }),
    );
    await registry.pushBlob("foreign/app", config);
    await registry.pushBlob("foreign/app", layer);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: {
        mediaType: "application/vnd.docker.container.image.v1+json",
        digest: digestOf(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
          ...foreign,
          urls: ["https://vendor.example/layers/base.tar.gz"],
        },
        {
          mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
          digest: digestOf(layer),
          size: layer.length,
        },
      ],
    });
    const put = await registry.request("/v2/foreign/app/manifests/1", {
      method: "PUT",
      headers: { "content-type": "application/vnd.docker.distribution.manifest.v2+json" },
      body: Buffer.from(manifest),
    });
    expect(put.status).toBe(201);
    const run = await scan(`${registry.address}/foreign/app:1`);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(
      /^layerwatch: warning: .*: layer 0 \([0-9a-f]{12}\): foreign layer \(application\/vnd\.docker\.image\.rootfs\.foreign\.diff\.tar\.gzip\) not fetched; its files are not scanned\n$/,
    );
    expect(run.report?.packages.filter((p) => p.type === "deb").map((p) => p.layer.index)).not.toContain(0);
    expect(run.report?.packages.some((p) => p.name === "libc6")).toBe(true);
    expect(await registry.countRequests("GET", new RegExp(foreign.digest))).toBe(0);
  });
});
