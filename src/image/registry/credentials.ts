import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { describeError, InputError } from "../../errors.js";
import { credentialKeys } from "./reference.js";

/** What a registry may be told about who is asking. Never logged. */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`identitytoken` in docker's config), exchanged at the token server. */
  identityToken?: string;
  /** Where these came from, for messages ("--username", "docker config credHelpers"), never the secret. */
  origin: string;
}

export interface CredentialOptions {
  username?: string;
  password?: string;
  env: NodeJS.ProcessEnv;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** The docker CLI's config: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
async function readDockerConfig(
  env: NodeJS.ProcessEnv,
): Promise<{ path: string; config: DockerConfig } | undefined> {
  const dir =
    env.DOCKER_CONFIG && env.DOCKER_CONFIG !== ""
      ? env.DOCKER_CONFIG
      : join(env.HOME ?? homedir(), ".docker");
  const path = join(dir, "config.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    return { path, config: JSON.parse(text) as DockerConfig };
  } catch (error) {
    throw new InputError(`${path}: not valid JSON (${describeError(error)})`);
  }
}

/**
 * Asks a docker credential helper (`docker-credential-NAME get`, the server URL on stdin) for
 * this registry's credentials. "Not found" is no credentials, not an error.
 */
async function askHelper(
  helper: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv,
): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(program, ["get"], { env, stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8");
      });
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString("utf8");
      });
      child.on("error", reject);
      child.on("close", (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
      child.stdin.end(serverUrl);
    },
  ).catch((error: unknown) => {
    throw new InputError(`credential helper ${program}: cannot run it (${describeError(error)})`);
  });
  if (code !== 0) {
    if (/not found|no credentials/i.test(stdout + stderr)) return undefined;
    throw new InputError(`credential helper ${program} failed for ${serverUrl} (exit ${code})`);
  }
  let answer: { Username?: string; Secret?: string };
  try {
    answer = JSON.parse(stdout) as { Username?: string; Secret?: string };
  } catch {
    throw new InputError(`credential helper ${program}: its answer is not JSON`);
  }
  if (!answer.Secret) return undefined;
  const origin = `credential helper ${program}`;
  // Helpers return identity tokens with the user name "<token>".
  if (answer.Username === "<token>") return { identityToken: answer.Secret, origin };
  return { username: answer.Username ?? "", password: answer.Secret, origin };
}

function fromAuthEntry(
  entry: NonNullable<DockerConfig["auths"]>[string],
  origin: string,
): Credentials | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken, origin };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new InputError(`${origin}: the 'auth' value is not base64 of user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), origin };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password, origin };
  return undefined;
}

/**
 * Finds credentials for a registry: --username/--password (or LAYERWATCH_REGISTRY_USERNAME and
 * LAYERWATCH_REGISTRY_PASSWORD) first, then docker's config.json: credHelpers for the host,
 * auths entries (base64 `auth`, `identitytoken`), and the default credsStore.
 */
export async function resolveCredentials(
  registry: string,
  options: CredentialOptions,
): Promise<Credentials | undefined> {
  const username = options.username ?? options.env.LAYERWATCH_REGISTRY_USERNAME;
  const password = options.password ?? options.env.LAYERWATCH_REGISTRY_PASSWORD;
  if (username && password)
    return { username, password, origin: options.username ? "--username" : "LAYERWATCH_REGISTRY_USERNAME" };
  if (username || password) {
    throw new InputError(
      "registry credentials: give both a user name and a password (--username/--password)",
    );
  }
  const docker = await readDockerConfig(options.env);
  if (!docker) return undefined;
  const { config, path } = docker;
  const keys = credentialKeys(registry);
  const helper = keys.map((key) => config.credHelpers?.[key]).find((name) => name !== undefined);
  if (helper) return askHelper(helper, keys[0] ?? registry, options.env);
  for (const key of keys) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    const credentials = fromAuthEntry(entry, `${path} auths["${key}"]`);
    if (credentials) return credentials;
  }
  if (config.credsStore) return askHelper(config.credsStore, keys[0] ?? registry, options.env);
  return undefined;
}
