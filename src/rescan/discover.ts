/**
 * What a rescan looks at: a registry's repositories (/v2/_catalog) and a repository's tags
 * (/v2/NAME/tags/list), page by page as the registry's Link headers lead (`?n=` asks the page
 * size), and which of the tags the config selects.
 */
import semver from "semver";
import { describeError, InputError } from "../errors.js";
import type { RegistryClient } from "../image/registry/client.js";
import type { TagSelection } from "./config.js";

/** More pages than any registry should need: a Link that leads in circles stops here. */
const MAX_PAGES = 10_000;

/** The target of a Link header's rel="next" (RFC 8288), as a path and query on the registry. */
export function nextPagePath(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const params = match[2] ?? "";
    if (!/;\s*rel\s*=\s*"?(?:[^";]*\s)?next(?:\s[^";]*)?"?/i.test(params)) continue;
    // The target may be relative ("/v2/_catalog?last=x&n=100") or absolute: only its path and
    // query are used, on the registry the first page came from.
    const url = new URL(match[1] ?? "", "http://registry.invalid");
    return `${url.pathname}${url.search}`;
  }
  return undefined;
}

async function listPages(
  client: RegistryClient,
  repository: string,
  firstPath: string,
  key: "repositories" | "tags",
  scope: string,
): Promise<string[]> {
  const names: string[] = [];
  const seen = new Set<string>();
  let path: string | undefined = firstPath;
  for (let page = 0; path !== undefined; page++) {
    if (page >= MAX_PAGES || seen.has(path))
      throw new InputError(
        `${client.registry}${firstPath}: its pages do not end (Link leads back to ${path})`,
      );
    seen.add(path);
    const { body, link } = await client.getApiPage(repository, path, scope);
    let document: Record<string, unknown>;
    try {
      document = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new InputError(`${client.registry}${path}: the answer is not JSON (${describeError(error)})`);
    }
    const list = document?.[key];
    // A repository whose tags were all deleted answers "tags": null.
    if (list !== null && list !== undefined) {
      if (!Array.isArray(list) || !list.every((name) => typeof name === "string"))
        throw new InputError(`${client.registry}${path}: "${key}" is not a list of names`);
      names.push(...list);
    }
    path = nextPagePath(link);
  }
  return [...new Set(names)];
}

/** Every repository the registry's catalog lists, `pageSize` a page. */
export function listRepositories(client: RegistryClient, pageSize: number): Promise<string[]> {
  return listPages(client, "", `/v2/_catalog?n=${pageSize}`, "repositories", "registry:catalog:*");
}

/** Every tag of a repository, `pageSize` a page. */
export function listTags(client: RegistryClient, repository: string, pageSize: number): Promise<string[]> {
  return listPages(
    client,
    repository,
    `/v2/${repository}/tags/list?n=${pageSize}`,
    "tags",
    `repository:${repository}:pull`,
  );
}

/**
 * A tag read as a version: "1.2.3", "v1.2", "2", "1.2.3-rc.1"; missing minor and patch are 0.
 * Tags that are not versions ("latest", "main", "1.2-alpine3.19" is one: a pre-release) give undefined.
 */
export function tagVersion(tag: string): semver.SemVer | undefined {
  const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(tag);
  if (!match) return undefined;
  const text = `${match[1]}.${match[2] ?? 0}.${match[3] ?? 0}${match[4] ? `-${match[4]}` : ""}`;
  return semver.parse(text) ?? undefined;
}

/**
 * The tags a selection keeps, before the age filter (which needs the images): those the regex
 * matches, then of those the newest N by version. Sorted by name.
 */
export function selectTags(tags: readonly string[], selection: TagSelection): string[] {
  let kept = selection.regex ? tags.filter((tag) => (selection.regex as RegExp).test(tag)) : [...tags];
  if (selection.newest !== undefined) {
    const versions = kept
      .map((tag) => ({ tag, version: tagVersion(tag) }))
      .filter((entry): entry is { tag: string; version: semver.SemVer } => entry.version !== undefined)
      // Newest first; "v1.2.0" and "1.2" are the same version: the name decides, for a stable order.
      .sort((a, b) => semver.rcompare(a.version, b.version) || a.tag.localeCompare(b.tag));
    kept = versions.slice(0, selection.newest).map((entry) => entry.tag);
  }
  return kept.sort();
}

/** Whether an image created at `created` (the config's time) is too old for the selection. */
export function isTooOld(created: string | undefined, selection: TagSelection, now: Date): boolean {
  if (selection.maxAgeMs === undefined) return false;
  const time = created === undefined ? Number.NaN : Date.parse(created);
  // An image that does not say when it was made is kept: age cannot be the reason to skip it.
  if (Number.isNaN(time)) return false;
  return now.getTime() - time > selection.maxAgeMs;
}
