import { PackageURL } from "packageurl-js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/**
 * PHP packages installed by Composer: `vendor/composer/installed.json` (what `composer install`
 * put in vendor/) and an application's composer.lock.
 *
 * Versions keep the text Composer wrote, a tag's `v` included (`v1.3.0`), as the purl does.
 * OSV's Packagist advisories write their ranges without it (GHSA-77rm-9x9h-xj3g: fixed
 * "3.15.0", while its versions list says "v3.11.0"), and osv.dev orders `v1.0pl1` equal to
 * `1.0pl1`: so the leading `v` is the Packagist version scheme's to ignore when comparing, not
 * the extractor's to drop.
 */

const INSTALLED = /(?:^|\/)vendor\/composer\/installed\.json$/;
const LOCKFILE = /(?:^|\/)composer\.lock$/;
/** A lockfile inside vendor/ came with a dependency and says what that package's authors used. */
const INSIDE_VENDOR = /(?:^|\/)vendor\//;
/** Composer names are `vendor/project`, lower case, of letters, digits and `_.-`. */
const COMPOSER_NAME = /^([a-z0-9](?:[_.-]?[a-z0-9]+)*)\/([a-z0-9](?:(?:[_.]|-{1,2})?[a-z0-9]+)*)$/i;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Composer's `license` is an identifier, or an array of them when the user may choose ("MIT OR
 * Apache-2.0"); one entry may itself be an expression ("(LGPL-2.1-only and GPL-3.0-or-later)"),
 * and is parenthesised if it is not already.
 */
export function composerLicense(license: unknown): string | undefined {
  if (typeof license === "string") return license.trim() === "" ? undefined : license.trim();
  if (!Array.isArray(license)) return undefined;
  const ids = license
    .filter((id): id is string => typeof id === "string")
    .map((id) => id.trim())
    .filter((id) => id !== "");
  if (ids.length <= 1) return ids[0];
  return ids.map((id) => (/\s/.test(id) && !/^\(.*\)$/.test(id) ? `(${id})` : id)).join(" OR ");
}

/** One entry of installed.json's or composer.lock's package lists, or a reason it is not one. */
function composerPackage(entry: unknown, dev: boolean): ExtractedPackage | string {
  if (!isRecord(entry)) return "is not an object";
  const { name, version } = entry;
  if (typeof name !== "string" || typeof version !== "string" || version.trim() === "")
    return "has no name and version";
  const parts = COMPOSER_NAME.exec(name);
  if (!parts || /\s/.test(version)) return `${JSON.stringify(name.slice(0, 80))} is not a package name`;
  const purl = new PackageURL(
    "composer",
    parts[1],
    parts[2] as string,
    version,
    undefined,
    undefined,
  ).toString();
  // A package from a path repository is a folder beside the app, not a Packagist release.
  const fromFolder = isRecord(entry.dist) && entry.dist.type === "path";
  const license = composerLicense(entry.license);
  return {
    name,
    version,
    type: "composer",
    purl,
    ...(fromFolder ? {} : { ecosystem: "Packagist" }),
    ...(license ? { license } : {}),
    ...(dev ? { dev: true } : {}),
  };
}

function parseJson(content: Buffer, context: ExtractContext): unknown {
  try {
    return JSON.parse(content.toString("utf8"));
  } catch (error) {
    context.warn(`not valid JSON (${(error as Error).message}); skipped`);
    return undefined;
  }
}

function collect(
  entries: unknown[],
  list: string,
  isDev: (name: unknown) => boolean,
  context: ExtractContext,
): ExtractedPackage[] {
  const packages: ExtractedPackage[] = [];
  entries.forEach((entry, index) => {
    const result = composerPackage(entry, isDev(isRecord(entry) ? entry.name : undefined));
    if (typeof result === "string") context.warn(`${list}[${index}] ${result}; skipped`);
    else packages.push(result);
  });
  return packages;
}

export const composerInstalledExtractor: Extractor = {
  name: "php-composer-installed",
  version: 1,
  pathHint: { fileNames: ["installed.json"] },
  wants: (path) => INSTALLED.test(path),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const document = parseJson(content, context);
    if (document === undefined) return [];
    // Composer 1 wrote a bare array; Composer 2 an object whose dev-package-names lists the
    // packages installed only as development requirements.
    if (Array.isArray(document)) return collect(document, "packages", () => false, context);
    if (!isRecord(document) || !Array.isArray(document.packages)) {
      context.warn("neither a list of packages nor an object with one; skipped");
      return [];
    }
    const devNames = new Set(
      Array.isArray(document["dev-package-names"]) ? document["dev-package-names"] : [],
    );
    return collect(document.packages, "packages", (name) => devNames.has(name), context);
  },
};

export const composerLockExtractor: Extractor = {
  name: "php-composer-lock",
  version: 1,
  pathHint: { fileNames: ["composer.lock"] },
  wants: (path) => LOCKFILE.test(path) && !INSIDE_VENDOR.test(path),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const document = parseJson(content, context);
    if (document === undefined) return [];
    if (!isRecord(document) || !Array.isArray(document.packages)) {
      context.warn("no packages list; skipped");
      return [];
    }
    // packages-dev may be missing, empty or null when no development requirement is locked.
    const devEntries = Array.isArray(document["packages-dev"]) ? document["packages-dev"] : [];
    return [
      ...collect(document.packages, "packages", () => false, context),
      ...collect(devEntries, "packages-dev", () => true, context),
    ];
  },
};
