/**
 * The image checks' secret rules on images built here and read through the real pipeline:
 * secrets in config Env and history, credential files in any layer (also deleted ones), and
 * private keys and tokens in file contents, each masked in every message.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_SCANNED_FILE_BYTES } from "../../src/hygiene/image/secret-content.js";
import type { HygieneFinding } from "../../src/hygiene/types.js";
import { inventoryImage } from "../../src/pipeline.js";
import {
  baseLayer,
  dir,
  fakeToken,
  file,
  freshPrivateKey,
  layer,
  scanLayers,
  where,
  whiteout,
} from "./image-fixtures.js";

const githubToken = fakeToken("ghp_", 36, 1);
const githubToken2 = fakeToken("ghp_", 36, 2);
const npmToken = fakeToken("npm_", 36, 3);
const awsKeyId = "AKIAQ7RZ3XK2M5N8P4TW";
const dbPassword = "hunter2-but-longer";
const apiKey = "k3y-Zq7Xw2Lk9Rt4";
const privateKey = freshPrivateKey();
const privateKey2 = freshPrivateKey();
/** Every raw secret the images below hold; none may appear in any finding. */
const rawSecrets = [githubToken, githubToken2, npmToken, awsKeyId, dbPassword, apiKey];
const keyBodyLines = [privateKey, privateKey2].flatMap((pem) =>
  pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----")),
);

function expectNoRawSecret(findings: readonly HygieneFinding[]): void {
  const json = JSON.stringify(findings);
  for (const secret of rawSecrets) {
    expect(json).not.toContain(secret);
    // Nor any part of it past the 4 characters a mask may show.
    expect(json).not.toContain(secret.slice(4, 12));
  }
  for (const line of keyBodyLines) expect(json).not.toContain(line.slice(4, 16));
}

describe("secrets in the config and the history", () => {
  let findings: HygieneFinding[];
  beforeAll(async () => {
    findings = await scanLayers([baseLayer], {
      image: {
        user: "app",
        env: [
          "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          `NPM_TOKEN=${npmToken}`,
          `DB_PASSWORD=${dbPassword}`,
          // The official python image's: a public key's fingerprint, not a secret.
          "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
          "HOME=/root",
          "SECRET_FILE=/run/secrets/app",
        ],
        emptyHistory: [
          `RUN |2 GITHUB_TOKEN=${githubToken} VERSION=1.2.3 /bin/sh -c make install # buildkit`,
          `ARG API_KEY=${apiKey}`,
          // The same NAME=value as config.Env: reported once, on Env.
          `/bin/sh -c #(nop)  ENV DB_PASSWORD=${dbPassword}`,
          `RUN /bin/sh -c curl -H "Authorization: token ${githubToken2}" https://api.github.com/user # buildkit`,
          "|1 VERSION=1.2.3 /bin/sh -c make",
          "ARG TOKEN",
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a reference, written as the Dockerfile has it.
          "ENV NPM_TOKEN=${NPM_TOKEN}",
          "ENV NODE_VERSION=20.11.1",
        ],
      },
    });
  });

  it("reports each secret once, where it is", () => {
    // history[0] is the base layer's ADD; the empty-layer entries follow from history[1].
    expect(where(findings)).toEqual([
      "LW-IMG-002 config.Env[1]",
      "LW-IMG-002 config.Env[2]",
      "LW-IMG-003 history[1].created_by",
      "LW-IMG-003 history[2].created_by",
      "LW-IMG-003 history[4].created_by",
    ]);
    // Critical for a known token format, high for a value told a secret by its name.
    expect(findings.map((f) => f.severity)).toEqual(["critical", "high", "critical", "high", "critical"]);
  });

  it("says what each is, masked", () => {
    expect(findings.map((f) => f.message)).toEqual([
      `config.Env sets NPM_TOKEN to an npm token (npm_${"*".repeat(36)}): every container and anyone who pulls the image can read it`,
      `config.Env sets DB_PASSWORD to a password (hunt${"*".repeat(dbPassword.length - 4)}): every container and anyone who pulls the image can read it`,
      `history[1].created_by records build argument GITHUB_TOKEN as a GitHub token (ghp_${"*".repeat(36)}): anyone who pulls the image can read its history`,
      `history[2].created_by records ARG API_KEY as an API key (k3y-${"*".repeat(apiKey.length - 4)}): anyone who pulls the image can read its history`,
      `history[4].created_by holds a GitHub token (ghp_${"*".repeat(36)}) in the build step's command: anyone who pulls the image can read its history`,
    ]);
    expectNoRawSecret(findings);
  });
});

describe("credential files and secrets in file contents", () => {
  let findings: HygieneFinding[];
  const certificate =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZq7Xw2Lk9Rt4Vb6Nm1Pc8Hd3Jf5Gs0YaQwErTyZq7Xw2Lk9Rt4\n-----END CERTIFICATE-----\n";
  beforeAll(async () => {
    const bigText = Buffer.alloc(MAX_SCANNED_FILE_BYTES + 1, "a");
    bigText.write(githubToken, 10);
    const binary = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from(` ${githubToken} `)]);
    findings = await scanLayers(
      [
        baseLayer,
        layer(
          "COPY . /",
          dir("root", 0o700),
          dir("root/.ssh", 0o700),
          file("root/.ssh/id_rsa", privateKey, 0o600),
          file("root/.ssh/id_rsa.pub", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ test@example\n"),
          dir("app"),
          file("app/.env", `DB_PASSWORD=${dbPassword}\n`),
          file("app/.env.example", "DB_PASSWORD=changeme\n"),
          file("app/empty.key", ""),
          dir("etc/ssl"),
          dir("etc/ssl/certs"),
          file("etc/ssl/certs/ca.pem", certificate),
          dir("srv"),
          file("srv/server.pem", `${certificate}${privateKey2}`),
          file("srv/config.yml", `github:\n  token: ${githubToken}\naws_access_key_id: ${awsKeyId}\n`),
          file("srv/big.log", bigText),
          file("srv/tool", binary, 0o755),
          dir("opt"),
          file("opt/creds.txt", `key=${awsKeyId}\n`),
          // Where public test keys live: not reported.
          dir("usr/lib/python3.11/test/certdata"),
          file("usr/lib/python3.11/test/certdata/keycert.pem", privateKey2),
          dir("app/node_modules/ssh2/test/fixtures"),
          file("app/node_modules/ssh2/test/fixtures/id_rsa", privateKey2),
          dir("usr/share/doc/tool"),
          file("usr/share/doc/tool/README", `export GITHUB_TOKEN=${githubToken}\n`),
        ),
        layer(
          "RUN rm /root/.ssh/id_rsa /opt/creds.txt && echo DB_PASSWORD=x > /app/.env",
          dir("root/.ssh", 0o700),
          whiteout("root/.ssh/id_rsa"),
          dir("opt"),
          file("opt/.wh..wh..opq", ""),
          file("app/.env", "DB_PASSWORD=other-value\n"),
        ),
      ],
      { image: { user: "1000" } },
    );
  });

  it("finds the credential files of every layer, and says which were deleted or replaced", () => {
    expect(where(findings).sort()).toEqual([
      "LW-IMG-004 app/.env@2",
      "LW-IMG-005 app/.env@1 deleted",
      "LW-IMG-005 root/.ssh/id_rsa@1 deleted",
      "LW-IMG-006 opt/creds.txt@1 deleted",
      "LW-IMG-006 srv/config.yml@1",
      "LW-IMG-006 srv/server.pem@1",
    ]);
    const message = (path: string, layerIndex: number) =>
      findings.find(
        (f) => f.location.kind === "file" && f.location.path === path && f.location.layer === layerIndex,
      )?.message;
    const body = privateKey.split("\n")[1] ?? "";
    expect(message("root/.ssh/id_rsa", 1)).toBe(
      `root/.ssh/id_rsa (SSH private key, holding a private key (RSA) (${body.slice(0, 4)}${"*".repeat(12)}…)) was added by layer 1 and deleted by layer 2, but layer 1 still holds it: anyone who pulls the image can extract it`,
    );
    expect(message("app/.env", 1)).toMatch(
      /^app\/\.env \(dotenv file\) was added by layer 1 and replaced by layer 2/,
    );
    expect(message("app/.env", 2)).toBe("app/.env (dotenv file) is in the image, added by layer 2");
    expect(message("srv/config.yml", 1)).toBe(
      `srv/config.yml (layer 1) holds a GitHub token (ghp_${"*".repeat(36)}) and 1 more`,
    );
    expect(message("opt/creds.txt", 1)).toBe(
      `opt/creds.txt in layer 1 holds an AWS access key id (AKIA${"*".repeat(16)}); it was deleted by layer 2, but layer 1 still has it`,
    );
    const severity = (path: string, layerIndex: number) =>
      findings.find(
        (f) => f.location.kind === "file" && f.location.path === path && f.location.layer === layerIndex,
      )?.severity;
    expect([severity("root/.ssh/id_rsa", 1), severity("app/.env", 2), severity("srv/config.yml", 1)]).toEqual(
      ["critical", "high", "critical"],
    );
    expect(message("srv/server.pem", 1)).toMatch(/^srv\/server\.pem \(layer 1\) holds a private key \(RSA\)/);
    expectNoRawSecret(findings);
  });

  it("reads contents from a rootfs source too", async () => {
    const root = await mkdtemp(join(tmpdir(), "layerwatch-hygiene-rootfs-"));
    try {
      await mkdir(join(root, "etc"), { recursive: true });
      await mkdir(join(root, "srv"), { recursive: true });
      await writeFile(join(root, "etc/shadow"), "root:*:19000::::::\nguest::19000::::::\n");
      await writeFile(
        join(root, "srv/deploy.sh"),
        `#!/bin/sh\nnpm config set //registry.npmjs.org/:_authToken=${npmToken}\n`,
      );
      await writeFile(join(root, "srv/notes.txt"), "nothing to see\n");
      const result = await inventoryImage(`rootfs:${root}`);
      expect(where(result.hygiene ?? []).filter((w) => !w.startsWith("LW-IMG-001"))).toEqual([
        "LW-IMG-006 srv/deploy.sh@0",
        "LW-IMG-009 etc/shadow@0",
      ]);
      expectNoRawSecret(result.hygiene ?? []);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

afterAll(() => undefined);
