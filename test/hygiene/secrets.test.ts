import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  isSecretFileName,
  maskSecret,
  secretInAssignment,
  secretsInText,
} from "../../src/hygiene/secrets.js";

// Every token below is made up here, in the shape its issuer documents; none was ever issued.
const ALNUM = "Zq7Xw2Lk9Rt4Vb6Nm1Pc8Hd3Jf5Gs0Ya";
const github = `ghp_${ALNUM}AbC1`; // 36 characters after the prefix
const githubFineGrained = `github_pat_${"Ab3".repeat(7)}X_${"Q9w".repeat(19)}zz`;
const gitlab = "glpat-Xy7_Kq2-Lm9Pz4Rw8Tn3";
const slack = "xoxb-123456789012-987654321098-Zq7Xw2Lk9Rt4Vb6Nm1Pc8Hd3";
const stripe = `sk_live_${ALNUM.slice(0, 24)}`;
const npmToken = `npm_${ALNUM}AbC1`;
const pypi = `pypi-AgEIcHlwaS5vcmc${"Kx7Lq2Wm9".repeat(7)}`;
const awsKeyId = "AKIAQ7RZ3XK2M5N8P4TW";
const awsSecret = "Zq7Xw2Lk9Rt4/Vb6Nm1Pc8+Hd3Jf5Gs0YaQwErTy";

function privateKeyPem(type: "rsa" | "ec", format: "pkcs1" | "pkcs8" | "sec1"): string {
  const options =
    type === "rsa"
      ? { modulusLength: 1024, privateKeyEncoding: { type: format, format: "pem" } }
      : { namedCurve: "P-256", privateKeyEncoding: { type: format, format: "pem" } };
  // biome-ignore lint/suspicious/noExplicitAny: generateKeyPairSync's overloads are keyed on literal types this helper passes through.
  const pair = generateKeyPairSync(type as any, options as any) as unknown as { privateKey: string };
  return pair.privateKey;
}

describe("maskSecret", () => {
  it("shows at most 4 characters and never more than a quarter", () => {
    expect(maskSecret("abc")).toBe("***");
    expect(maskSecret("abcdefgh")).toBe("ab******");
    expect(maskSecret("abcdefghijklmnop")).toBe("abcd************");
    expect(maskSecret(github)).toBe(`ghp_${"*".repeat(36)}`);
    expect(maskSecret("")).toBe("");
  });
});

describe("secretsInText", () => {
  it("finds each known token format and masks it", () => {
    const cases: Array<[string, string]> = [
      [github, "GitHub token"],
      [`gho_${ALNUM}AbC1`, "GitHub token"],
      [githubFineGrained, "GitHub token"],
      [gitlab, "GitLab token"],
      [slack, "Slack token"],
      [stripe, "Stripe live key"],
      [npmToken, "npm token"],
      [pypi, "PyPI token"],
      [awsKeyId, "AWS access key id"],
      ["ASIAQ7RZ3XK2M5N8P4TW", "AWS access key id"],
    ];
    for (const [token, kind] of cases) {
      const found = secretsInText(`some text before ${token} and after`);
      expect(found, token).toEqual([{ kind, masked: maskSecret(token) }]);
      expect(found[0]?.masked).not.toContain(token.slice(4, 8));
    }
  });

  it("finds an AWS key id with its secret, and the secret alone", () => {
    const credentials = `[default]\naws_access_key_id = ${awsKeyId}\naws_secret_access_key = ${awsSecret}\n`;
    expect(secretsInText(credentials).map((m) => m.kind)).toEqual([
      "AWS access key id",
      "AWS secret access key",
    ]);
    expect(secretsInText(`AWS_SECRET_ACCESS_KEY=${awsSecret}`)).toEqual([
      { kind: "AWS secret access key", masked: maskSecret(awsSecret) },
    ]);
  });

  it("finds PEM private keys of every kind a tool writes", () => {
    const rsa1 = privateKeyPem("rsa", "pkcs1");
    const pkcs8 = privateKeyPem("rsa", "pkcs8");
    const ec = privateKeyPem("ec", "sec1");
    expect(secretsInText(rsa1).map((m) => m.kind)).toEqual(["private key (RSA)"]);
    expect(secretsInText(`key:\n${pkcs8}\n`).map((m) => m.kind)).toEqual(["private key"]);
    expect(secretsInText(ec.replace(/\n/g, "\r\n")).map((m) => m.kind)).toEqual(["private key (EC)"]);
    const body = rsa1.split("\n")[1] ?? "";
    const [match] = secretsInText(rsa1);
    expect(match?.masked).toBe(`${body.slice(0, 4)}${"*".repeat(12)}…`);
    // An OpenSSH key and a traditional encrypted key, with its headers.
    const openssh = `-----BEGIN OPENSSH PRIVATE KEY-----\n${"b3BlbnNzaC1rZXktdjEAAAAA".repeat(4)}\n-----END OPENSSH PRIVATE KEY-----\n`;
    expect(secretsInText(openssh).map((m) => m.kind)).toEqual(["private key (OPENSSH)"]);
    const encrypted = `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B2C3D4E5F60718293A4B5C6D7E8F9\n\n${body}\n${body}\n-----END RSA PRIVATE KEY-----\n`;
    expect(secretsInText(encrypted).map((m) => m.kind)).toEqual(["private key (RSA)"]);
  });

  it("finds a Google service account key, an .npmrc token line and a docker config auth", () => {
    const pkcs8 = privateKeyPem("rsa", "pkcs8");
    const serviceAccount = JSON.stringify({ type: "service_account", private_key: pkcs8 }, null, 2);
    expect(secretsInText(serviceAccount).map((m) => m.kind)).toEqual(["Google service account key"]);
    const literal = "4f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a0f9";
    expect(secretsInText(`//registry.npmjs.org/:_authToken=${literal}\n`)).toEqual([
      { kind: "npm token", masked: maskSecret(literal) },
    ]);
    const auth = Buffer.from("robot:s3cr3t-passw0rd").toString("base64");
    expect(secretsInText(JSON.stringify({ auths: { "registry.example.com": { auth } } }))).toEqual([
      { kind: "registry credential", masked: maskSecret(auth) },
    ]);
  });

  it("lets near misses pass", () => {
    const nearMisses = [
      "", // nothing
      `ghp_${ALNUM}`, // 34 characters: too short for a GitHub token
      `xghp_${ALNUM}AbC1`, // inside a longer word
      "AKIAIOSFODNN7EXAMPLE", // AWS's documented example
      "AKIAQ7RZ3XK2M5N8P4T", // 15 characters after the prefix
      "akiaq7rz3xk2m5n8p4tw", // lower case is not an AWS key id
      "xoxb-your-token-here",
      "sk_test_Zq7Xw2Lk9Rt4Vb6Nm1Pc8Hd3", // a test key, not a live one
      "pypi-sometext",
      "glpat-short",
      `//registry.npmjs.org/:_authToken=\${NPM_TOKEN}`,
      "//registry.npmjs.org/:_authToken=MYTOKEN", // npm's own documentation's placeholder
      '{"auths":{"ghcr.io":{"auth":""}}}',
      `{"auths":{"ghcr.io":{"auth":"${Buffer.from("no-colon-here").toString("base64")}"}}}`,
      // A parser that names the markers has no key between them.
      'if line == "-----BEGIN RSA PRIVATE KEY-----" or line == "-----END RSA PRIVATE KEY-----":',
      "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZq7Xw2Lk9Rt4Vb6Nm1Pc8Hd3Jf5Gs0YaQwErTy\n-----END PUBLIC KEY-----",
      "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZq7Xw2Lk9Rt4Vb6Nm1Pc8Hd3Jf5Gs0YaQwErTyZq7Xw2Lk9Rt4\n-----END CERTIFICATE-----",
    ];
    for (const text of nearMisses) expect(secretsInText(text), text).toEqual([]);
  });
});

describe("secretInAssignment", () => {
  it("takes a literal value under a secret's name", () => {
    expect(secretInAssignment("DB_PASSWORD", "hunter22")).toEqual({ kind: "password", masked: "hu******" });
    expect(secretInAssignment("NPM_TOKEN", "abc123def456")).toEqual({
      kind: "token",
      masked: "abc*********",
    });
    expect(secretInAssignment("API_KEY", '"k3y-v4lue-99"')?.kind).toBe("API key");
    expect(secretInAssignment("APP_SECRET", "s0mething")?.kind).toBe("secret");
    expect(secretInAssignment("SSH_PRIVATE_KEY", "b3BlbnNzaC1rZXk")?.kind).toBe("private key");
    expect(secretInAssignment("MYSQL_ROOT_PASSWD", "r00tpw")?.kind).toBe("password");
    expect(secretInAssignment("PASSWORD", "r00tpw")?.kind).toBe("password");
  });

  it("takes a known token under any name, and a random value under a secret-ish name", () => {
    expect(secretInAssignment("GH", github)).toEqual({ kind: "GitHub token", masked: maskSecret(github) });
    expect(secretInAssignment("BASIC_AUTH", "Zq7Xw2Lk9Rt4Vb6Nm1Pc")?.kind).toBe("high-entropy value");
    expect(secretInAssignment("TOKEN_FOR_CI", "a9F3kL2mQ8zR7xW1vB4n")?.kind).toBe("high-entropy value");
  });

  it("lets references, placeholders, paths, switches and public keys pass", () => {
    const notSecrets: Array<[string, string]> = [
      ["NPM_TOKEN", ""],
      ["NPM_TOKEN", "$NPM_TOKEN"],
      ["NPM_TOKEN", `\${NPM_TOKEN}`],
      ["NPM_TOKEN", `\${NPM_TOKEN:-}`],
      ["DB_PASSWORD", "changeme"],
      ["DB_PASSWORD", "<password>"],
      ["API_KEY", "your-api-key"],
      ["API_KEY", "xxxxxxxx"],
      ["SSL_KEY", "/etc/ssl/private/server.key"],
      ["SSL_KEY", "server.key"],
      ["GITHUB_TOKEN", "/run/secrets/github_token"],
      ["USE_SECRET", "true"],
      ["SKIP_TOKEN", "0"],
      // The official python image's GPG_KEY is a public key's fingerprint.
      ["GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D"],
      ["PUBLIC_KEY", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"],
      ["TOKEN_URL", "https://auth.example.org/token"],
      ["SSH_AUTH_SOCK", "/tmp/ssh-agent.sock"],
      ["AUTH_MODE", "basic"],
      ["PASSWORD_LENGTH", "Zq7Xw2Lk9Rt4Vb6Nm1Pc"],
      ["PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ["NODE_VERSION", "20.11.1"],
      ["CACHE_KEY", "v2-deps"],
      ["TOKEN_FOR_CI", "short"], // secret-ish but neither long nor random
    ];
    for (const [name, value] of notSecrets)
      expect(secretInAssignment(name, value), `${name}=${value}`).toBe(undefined);
  });
});

describe("isSecretFileName", () => {
  it("names credential files", () => {
    const cases: Array<[string, string]> = [
      ["app/.env", "dotenv file"],
      [".env.production", "dotenv file"],
      ["root/.ssh/id_rsa", "SSH private key"],
      ["/home/u/.ssh/id_ed25519", "SSH private key"],
      ["home/u/.ssh/id_ecdsa_sk", "SSH private key"],
      ["etc/nginx/tls/server.key", "private key file"],
      ["root/.npmrc", "npm config"],
      ["root/.pypirc", "PyPI config"],
      ["root/.git-credentials", "git credentials"],
      ["root/.aws/credentials", "AWS credentials"],
      ["root/.docker/config.json", "Docker config"],
      ["root/.netrc", "netrc credentials"],
    ];
    for (const [path, kind] of cases) expect(isSecretFileName(path), path).toBe(kind);
  });

  it("lets public and look-alike files pass", () => {
    const notSecret = [
      "root/.ssh/id_rsa.pub",
      "root/.ssh/known_hosts",
      "etc/ssl/certs/ca-certificates.crt",
      "etc/ssl/certs/server.key",
      "etc/ssl/certs/Some_Root_CA.pem",
      "srv/tls/server.pem", // content-checked, not by name
      "app/.env.example",
      "app/.envrc",
      "app/environment",
      "usr/lib/python3/id_rsa_helper.py",
      "etc/credentials",
      "app/config.json",
      ".key",
    ];
    for (const path of notSecret) expect(isSecretFileName(path), path).toBe(undefined);
  });
});
