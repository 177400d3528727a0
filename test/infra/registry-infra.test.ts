/**
 * Proves the registry test infrastructure works, so registry-client tests built on it can trust
 * it: every registry variant starts and enforces its auth, the Debian image builds (and comes
 * from the cache the second time), skopeo pushes it everywhere, and the fault proxy produces
 * each fault. Suites skip, with a line naming the missing package, where a program is absent.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildDebianImage,
  type DebianImage,
  listDpkgPackages,
  pushWithSkopeo,
} from "../helpers/debian-image.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { type RegistryOptions, type RegistryServer, startRegistry } from "../helpers/registry-server.js";
import { httpRequest, skipUnlessTools } from "../helpers/tools.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const ACCEPT_MANIFESTS = [OCI_MANIFEST, DOCKER_MANIFEST].join(", ");

const variants = {
  open: {},
  htpasswd: { auth: "htpasswd" },
  "htpasswd-tls": { auth: "htpasswd", tls: true },
  token: { auth: "token" },
  "token-tls": { auth: "token", tls: true },
} satisfies Record<string, RegistryOptions>;
type Variant = keyof typeof variants;

async function startAll(): Promise<Record<Variant, RegistryServer>> {
  const started: Partial<Record<Variant, RegistryServer>> = {};
  try {
    // One at a time: the TLS variants generate RSA keys, and the machine may have two cores.
    for (const [name, options] of Object.entries(variants) as Array<[Variant, RegistryOptions]>) {
      started[name] = await startRegistry(options);
    }
  } catch (error) {
    await Promise.all(Object.values(started).map((registry) => registry?.stop()));
    throw error;
  }
  return started as Record<Variant, RegistryServer>;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** The entry names of a gzip layer blob, read with tar-stream (independent of src/). */
async function layerEntries(blobPath: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const reader = extract();
  reader.on("entry", (header, stream, next) => {
    entries.set(header.name, header.type ?? "file");
    stream.on("end", next);
    stream.resume();
  });
  await pipeline(createReadStream(blobPath), createGunzip(), reader);
  return entries;
}

describe.skipIf(skipUnlessTools(["docker-registry", "openssl", "htpasswd"], "registry variant tests"))(
  "registry variants",
  () => {
    let registries: Record<Variant, RegistryServer>;
    beforeAll(async () => {
      registries = await startAll();
    });
    afterAll(async () => {
      await Promise.all(Object.values(registries ?? {}).map((registry) => registry.stop()));
    });

    it("the open registry answers /v2/ anonymously and accepts a blob", async () => {
      const registry = registries.open;
      expect(registry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await httpRequest(`${registry.url}/v2/`)).status).toBe(200);
      const digest = await registry.pushBlob("infra/open", Buffer.from("open"));
      const blob = await registry.request(`/v2/infra/open/blobs/${digest}`);
      expect(blob.body.toString()).toBe("open");
      // The access log is captured and parsed.
      expect(await registry.countRequests("GET", /\/v2\/infra\/open\/blobs\//)).toBe(1);
    });

    for (const name of ["htpasswd", "htpasswd-tls"] as const) {
      it(`${name}: Basic auth is required and the right password works`, async () => {
        const registry = registries[name];
        const ca = registry.ca;
        expect(registry.url.startsWith(name === "htpasswd" ? "http:" : "https:")).toBe(true);
        const anonymous = await httpRequest(`${registry.url}/v2/`, { ...(ca ? { ca } : {}) });
        expect(anonymous.status).toBe(401);
        expect(anonymous.headers["www-authenticate"]).toMatch(/^Basic realm=/);
        const wrong = await httpRequest(`${registry.url}/v2/`, {
          ...(ca ? { ca } : {}),
          headers: { authorization: `Basic ${Buffer.from("layerwatch:wrong").toString("base64")}` },
        });
        expect(wrong.status).toBe(401);
        expect((await registry.request("/v2/")).status).toBe(200);
        await registry.pushBlob("infra/basic", Buffer.from(name));
      });
    }

    it("htpasswd-tls: the certificate verifies against the exposed CA only", async () => {
      const registry = registries["htpasswd-tls"];
      expect(registry.caFile && existsSync(registry.caFile)).toBe(true);
      expect(registry.certDir).toBeDefined();
      await expect(httpRequest(`${registry.url}/v2/`)).rejects.toThrow(/self.signed|certificate/i);
      // The certificate names localhost too.
      const byName = await httpRequest(`https://localhost:${registry.port}/v2/`, { ca: registry.ca });
      expect(byName.status).toBe(401);
    });

    for (const name of ["token", "token-tls"] as const) {
      it(`${name}: the registry accepts the token server's JWTs and only for what they grant`, async () => {
        const registry = registries[name];
        const tokens = registry.tokenServer!;
        const ca = registry.ca;
        const challenge = await httpRequest(`${registry.url}/v2/`, { ...(ca ? { ca } : {}) });
        expect(challenge.status).toBe(401);
        expect(challenge.headers["www-authenticate"]).toBe(
          `Bearer realm="${tokens.realm}",service="${tokens.service}"`,
        );

        // A token carries x5c and the standard claims.
        const token = await tokens.token(["repository:infra/token:pull,push"], registry.credentials);
        const decode = (part: string | undefined) =>
          JSON.parse(Buffer.from(part ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
        const [headerPart, claimsPart] = token.split(".");
        const header = decode(headerPart);
        const claims = decode(claimsPart);
        expect(header).toMatchObject({ alg: "RS256", typ: "JWT" });
        expect(header.x5c as string[]).toHaveLength(1);
        expect(claims).toMatchObject({
          iss: tokens.issuer,
          sub: "layerwatch",
          aud: tokens.service,
          access: [{ type: "repository", name: "infra/token", actions: ["pull", "push"] }],
        });
        for (const claim of ["exp", "nbf", "iat", "jti"]) expect(claims).toHaveProperty(claim);

        // The registry accepts it: a push with the token succeeds.
        await registry.pushBlob("infra/token", Buffer.from(name));
        // Anonymous gets an empty grant, which the registry refuses.
        const anonymousToken = await tokens.token(["repository:infra/token:pull"]);
        const refused = await httpRequest(`${registry.url}/v2/infra/token/tags/list`, {
          ...(ca ? { ca } : {}),
          headers: { authorization: `Bearer ${anonymousToken}` },
        });
        expect(refused.status).toBe(401);
        // Wrong credentials get no token at all.
        await expect(
          tokens.token(["repository:infra/token:pull"], { username: "layerwatch", password: "wrong" }),
        ).rejects.toThrow(/401/);
        expect(tokens.requests.at(-1)?.status).toBe(401);
      });
    }

    it("token: anonymous pull can be allowed, and a pull-only user cannot push", async () => {
      const registry = await startRegistry({
        auth: "token",
        token: { anonymousPull: true, users: [{ username: "reader", password: "r", actions: ["pull"] }] },
      });
      try {
        await registry.pushBlob("infra/public", Buffer.from("public"));
        const anonymous = await registry.tokenServer!.token(["repository:infra/public:pull,push"]);
        const tags = await httpRequest(`${registry.url}/v2/infra/public/tags/list`, {
          headers: { authorization: `Bearer ${anonymous}` },
        });
        // Authorised (pull granted); the repository has blobs but no tags yet.
        expect(tags.status).toBe(404);
        expect(registry.tokenServer!.requests.at(-1)?.granted).toEqual([
          { type: "repository", name: "infra/public", actions: ["pull"] },
        ]);
        const reader = await registry.tokenServer!.token(["repository:infra/public:pull,push"], {
          username: "reader",
          password: "r",
        });
        const push = await httpRequest(`${registry.url}/v2/infra/public/blobs/uploads/`, {
          method: "POST",
          headers: { authorization: `Bearer ${reader}` },
        });
        expect(push.status).toBe(401);

        // The OAuth2 password grant (POST) works too, and its token is accepted.
        const form = new URLSearchParams({
          grant_type: "password",
          service: registry.tokenServer!.service,
          scope: "repository:infra/public:pull",
          username: "reader",
          password: "r",
          client_id: "layerwatch-test",
        });
        const oauth = await httpRequest(registry.tokenServer!.realm, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
        });
        expect(oauth.status).toBe(200);
        const { access_token } = JSON.parse(oauth.body.toString("utf8")) as { access_token: string };
        const pulled = await httpRequest(`${registry.url}/v2/infra/public/tags/list`, {
          headers: { authorization: `Bearer ${access_token}` },
        });
        expect(pulled.status).toBe(404);
        expect(registry.tokenServer!.requests.at(-1)).toMatchObject({ method: "POST", account: "reader" });
      } finally {
        await registry.stop();
      }
    });

    it("stop() ends the process and removes the temp dir", async () => {
      const registry = await startRegistry();
      const dir = join(registry.storageDir, "..");
      await registry.stop();
      await registry.stop();
      expect(existsSync(dir)).toBe(false);
      await expect(httpRequest(`${registry.url}/v2/`, { timeoutMs: 2_000 })).rejects.toThrow();
    });
  },
);

describe.skipIf(
  skipUnlessTools(
    ["docker-registry", "openssl", "htpasswd", "skopeo", "debootstrap"],
    "Debian image push tests",
  ),
)("the Debian test image", () => {
  let image: DebianImage;
  let registries: Record<Variant, RegistryServer>;

  beforeAll(async () => {
    const started = Date.now();
    image = await buildDebianImage();
    console.info(
      `debian image: ${image.cache.rootfsCached ? "rootfs cached" : `debootstrap ${image.cache.debootstrapMs} ms`}, ` +
        `${image.cache.layoutCached ? "layout cached" : `layout ${image.cache.layoutMs} ms`}, ` +
        `${Date.now() - started} ms in all`,
    );
    registries = await startAll();
  }, 600_000);
  afterAll(async () => {
    await Promise.all(Object.values(registries ?? {}).map((registry) => registry.stop()));
  });

  it("is a two-layer OCI layout with a real dpkg database, node_modules and a whiteout", async () => {
    const blob = (digest: string) => join(image.layoutDir, "blobs/sha256", digest.slice("sha256:".length));
    const index = JSON.parse(await readFile(join(image.layoutDir, "index.json"), "utf8"));
    expect(index.manifests[0].digest).toBe(image.manifestDigest);
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("bookworm");
    const manifest = JSON.parse(await readFile(blob(image.manifestDigest), "utf8"));
    expect(manifest.layers.map((layer: { digest: string }) => layer.digest)).toEqual(
      image.layers.map((layer) => layer.digest),
    );
    const config = JSON.parse(await readFile(blob(image.configDigest), "utf8"));
    expect(config).toMatchObject({ architecture: "amd64", os: "linux" });
    expect(config.rootfs.diff_ids).toEqual(image.layers.map((layer) => layer.diffId));
    expect(config.history).toHaveLength(2);
    for (const layer of image.layers) expect(sha256(await readFile(blob(layer.digest)))).toBe(layer.digest);

    const base = await layerEntries(blob(image.layers[0]!.digest));
    expect(base.get("etc/motd")).toBe("file");
    expect(base.get("var/lib/dpkg/status")).toBe("file");
    expect(base.get("usr/bin/")).toBe("directory");
    expect(base.get("bin")).toBe("symlink");
    expect([...base.values()]).toContain("link");
    expect([...base.keys()].some((name) => name.startsWith("/"))).toBe(false);
    // Device nodes and sockets are left out; /dev itself stays.
    expect([...base.values()].filter((type) => /device|socket/.test(type))).toEqual([]);
    expect(base.has("dev/")).toBe(true);
    expect(base.has("dev/null")).toBe(false);
    const app = await layerEntries(blob(image.layers[1]!.digest));
    expect(app.has(image.whiteout.path)).toBe(true);
    for (const npm of image.npmPackages) expect(app.has(npm.path)).toBe(true);

    const dpkg = await listDpkgPackages(image.rootfsDir);
    expect(dpkg.length).toBeGreaterThan(50);
    expect(dpkg.map((p) => p.name)).toEqual(expect.arrayContaining(["base-files", "dpkg", "libc6", "bash"]));
    expect(existsSync(join(image.rootfsDir, image.whiteout.deletes))).toBe(true);
  });

  it("comes from the cache the second time", async () => {
    const again = await buildDebianImage();
    expect(again.cache).toMatchObject({ rootfsCached: true, layoutCached: true });
    expect(again.manifestDigest).toBe(image.manifestDigest);
  });

  it("pushes to the open registry as OCI and as Docker v2s2", async () => {
    const registry = registries.open;
    const oci = await pushWithSkopeo(image.layoutDir, "debian/oci:bookworm", registry.url, { format: "oci" });
    // An OCI layout pushed as OCI keeps its manifest bytes, hence its digest.
    expect(oci.digest).toBe(image.manifestDigest);
    const v2s2 = await pushWithSkopeo(image.layoutDir, "debian/v2s2:bookworm", registry.url, {
      format: "v2s2",
    });
    expect(v2s2.digest).not.toBe(image.manifestDigest);

    for (const [repo, mediaType, digest] of [
      ["debian/oci", OCI_MANIFEST, oci.digest],
      ["debian/v2s2", DOCKER_MANIFEST, v2s2.digest],
    ] as const) {
      const response = await registry.request(`/v2/${repo}/manifests/bookworm`, {
        headers: { accept: ACCEPT_MANIFESTS },
      });
      expect(response.status).toBe(200);
      expect(response.headers["content-type"]).toBe(mediaType);
      expect(response.headers["docker-content-digest"]).toBe(digest);
      const manifest = JSON.parse(response.body.toString("utf8"));
      expect(manifest.config.digest).toBe(image.configDigest);
      expect(manifest.layers).toHaveLength(2);
    }
    const catalog = await registry.request("/v2/_catalog");
    expect(JSON.parse(catalog.body.toString("utf8")).repositories).toEqual(
      expect.arrayContaining(["debian/oci", "debian/v2s2"]),
    );
    expect(await registry.countRequests("PUT", /^\/v2\/debian\/(oci|v2s2)\/manifests\/bookworm$/)).toBe(2);
  });

  for (const name of ["htpasswd", "htpasswd-tls", "token"] as const) {
    it(`pushes to the ${name} registry and the catalog lists it`, async () => {
      const registry = registries[name];
      await pushWithSkopeo(image.layoutDir, "debian/app:bookworm", registry.url, {
        creds: registry.credentials,
        ...(registry.certDir ? { certDir: registry.certDir, tlsVerify: true } : {}),
      });
      const catalog = await registry.request("/v2/_catalog", { scope: "registry:catalog:*" });
      expect(catalog.status).toBe(200);
      expect(JSON.parse(catalog.body.toString("utf8")).repositories).toContain("debian/app");
      if (name === "token") {
        const pushGrant = registry.tokenServer!.requests.find((r) =>
          r.granted.some((g) => g.name === "debian/app" && g.actions.includes("push")),
        );
        expect(pushGrant?.account).toBe("layerwatch");
      }
    });
  }

  it("refuses a push without credentials", async () => {
    await expect(
      pushWithSkopeo(image.layoutDir, "debian/anonymous:bookworm", registries.htpasswd.url),
    ).rejects.toThrow(/unauthorized|authentication required/i);
  });
});

describe.skipIf(skipUnlessTools(["docker-registry"], "fault proxy tests"))("the fault proxy", () => {
  let registry: RegistryServer;
  let proxy: FaultProxy;
  const content = randomBytes(256 * 1024);
  let blobPath: string;

  beforeAll(async () => {
    registry = await startRegistry();
    const digest = await registry.pushBlob("faults/blob", content);
    blobPath = `/v2/faults/blob/blobs/${digest}`;
    proxy = await startFaultProxy(registry.url);
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  const get = (path = blobPath) => httpRequest(`${proxy.url}${path}`);

  it("forwards requests unchanged and counts them", async () => {
    proxy.resetCounters();
    const response = await get();
    expect(response.status).toBe(200);
    expect(response.body.equals(content)).toBe(true);
    expect((await get("/v2/")).status).toBe(200);
    expect(proxy.count("/blobs/", "GET")).toBe(1);
    expect(proxy.count(/^\/v2\/$/)).toBe(1);
    expect(proxy.requests.map((r) => r.status)).toEqual([200, 200]);
  });

  it("keeps uploads going through the proxy (Location points at it)", async () => {
    const started = await httpRequest(`${proxy.url}/v2/faults/upload/blobs/uploads/`, { method: "POST" });
    expect(started.status).toBe(202);
    expect(new URL(started.headers.location!, proxy.url).host).toBe(proxy.address);
  });

  it("corrupts a blob body: same length, flipped bytes, wrong digest", async () => {
    const rule = proxy.addRule({
      path: "/blobs/",
      method: "GET",
      fault: { kind: "corrupt", offset: 1000, length: 4 },
    });
    const response = await get();
    expect(response.status).toBe(200);
    expect(response.body.length).toBe(content.length);
    expect(sha256(response.body)).not.toBe(response.headers["docker-content-digest"]);
    const differing: number[] = [];
    for (let i = 0; i < content.length; i++) if (response.body[i] !== content[i]) differing.push(i);
    expect(differing).toEqual([1000, 1001, 1002, 1003]);
    expect(response.body[1000]).toBe((content[1000] as number) ^ 0xff);
    expect(rule.hits).toBe(1);
    rule.remove();
    expect((await get()).body.equals(content)).toBe(true);
  });

  it("truncates a blob body mid-stream", async () => {
    const rule = proxy.addRule({
      path: "/blobs/",
      fault: { kind: "truncate", afterBytes: 100_000 },
      times: 1,
    });
    await expect(get()).rejects.toThrow(/truncated|aborted|socket hang up|ECONNRESET/i);
    expect(rule.hits).toBe(1);
    expect((await get()).body.equals(content)).toBe(true);
  });

  it("answers 429 with Retry-After for the first K requests", async () => {
    proxy.resetCounters();
    proxy.addRule({ path: "/blobs/", fault: { kind: "status", status: 429, retryAfter: 3 }, times: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await get();
      statuses.push(response.status);
      if (response.status === 429) {
        expect(response.headers["retry-after"]).toBe("3");
        expect(JSON.parse(response.body.toString("utf8")).errors[0].code).toBe("TOOMANYREQUESTS");
      }
    }
    expect(statuses).toEqual([429, 429, 200]);
    expect(proxy.count("/blobs/")).toBe(3);
    // The injected answers never reached the registry.
    expect(proxy.requests.filter((r) => r.fault === "status")).toHaveLength(2);
  });

  it("answers 500 for the first K requests", async () => {
    proxy.addRule({ path: "/manifests/", fault: { kind: "status", status: 500 }, times: 2 });
    proxy.addRule({ path: "/blobs/", fault: { kind: "status", status: 500 }, times: 1 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get("/v2/faults/blob/manifests/latest")).status);
    // After the two injected errors the registry's own answer: no such manifest.
    expect(statuses).toEqual([500, 500, 404]);
    expect((await get()).status).toBe(500);
    expect((await get()).status).toBe(200);
  });

  it("delays responses and throttles bodies", async () => {
    proxy.addRule({ path: "/v2/", fault: { kind: "delay", ms: 400 }, times: 1 });
    let started = Date.now();
    expect((await get("/v2/")).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);

    proxy.addRule({ path: "/blobs/", fault: { kind: "throttle", bytesPerSecond: 512 * 1024 }, times: 1 });
    started = Date.now();
    expect((await get()).body.equals(content)).toBe(true);
    // 256 KiB at 512 KiB/s: about half a second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it("resets the connection", async () => {
    const rule = proxy.addRule({ path: "/blobs/", fault: { kind: "reset" }, times: 1 });
    await expect(get()).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect(rule.hits).toBe(1);
    expect((await get()).status).toBe(200);
  });
});
