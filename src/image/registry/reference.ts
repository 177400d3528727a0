import { InputError } from "../../errors.js";

/** A fully qualified image reference: registry host, repository path, and a tag or digest. */
export interface ImageReference {
  /** The registry as users name it ("docker.io", "ghcr.io", "127.0.0.1:5000"). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const DOCKER_HUB = "docker.io";
/** Docker Hub's API lives on another host than its name. */
const DOCKER_HUB_API = "registry-1.docker.io";

const repositoryComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/**
 * Parses a reference the way Docker does: `alpine` is docker.io/library/alpine:latest, a first
 * component with a dot or a colon (or `localhost`) is a registry host, `@sha256:...` pins a digest.
 */
export function parseImageReference(text: string): ImageReference {
  let rest = text.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw new InputError(`${text}: '${digest}' is not a digest`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!tagPattern.test(tag)) throw new InputError(`${text}: '${tag}' is not a valid tag`);
  }
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  const first = parts[0] ?? "";
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    parts.shift();
  }
  if (registry === "index.docker.io" || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  if (parts.length === 0 || !parts.every((part) => repositoryComponent.test(part))) {
    throw new InputError(`${text}: not a valid image reference (repository names are lower-case)`);
  }
  return {
    registry,
    repository: parts.join("/"),
    ...(tag !== undefined || digest === undefined ? { tag: tag ?? "latest" } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** The host the Distribution API is served from. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

export function formatReference(reference: ImageReference): string {
  const tag = reference.tag !== undefined ? `:${reference.tag}` : "";
  const digest = reference.digest !== undefined ? `@${reference.digest}` : "";
  return `${reference.registry}/${reference.repository}${tag}${digest}`;
}

/** Keys under which docker's config.json may hold this registry's credentials. */
export function credentialKeys(registry: string): string[] {
  if (registry === DOCKER_HUB) {
    return [
      "https://index.docker.io/v1/",
      "index.docker.io",
      "docker.io",
      "registry-1.docker.io",
      "https://index.docker.io/v1",
    ];
  }
  return [
    registry,
    `https://${registry}`,
    `http://${registry}`,
    `https://${registry}/`,
    `https://${registry}/v1/`,
    `https://${registry}/v2/`,
  ];
}
