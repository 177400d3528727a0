import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";
import { npmPurl } from "./npm-purl.js";

/** node_modules/NAME/package.json and node_modules/@SCOPE/NAME/package.json, at any depth. */
const INSTALLED_MANIFEST = /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/@][^/]*\/package\.json$/;

interface PackageManifest {
  name?: unknown;
  version?: unknown;
  license?: unknown;
  licenses?: unknown;
}

/**
 * The declared license: `license` is an SPDX expression or, in old manifests, `{type, url}`; older
 * still, `licenses: [{type}]` lists alternatives the user may choose from.
 */
function declaredLicense(manifest: PackageManifest): string | undefined {
  const typeOf = (value: unknown): string | undefined => {
    if (typeof value === "string") return value.trim() || undefined;
    if (typeof value === "object" && value !== null && "type" in value)
      return typeOf((value as { type: unknown }).type);
    return undefined;
  };
  const single = typeOf(manifest.license);
  if (single) return single;
  if (!Array.isArray(manifest.licenses)) return undefined;
  const listed = manifest.licenses.map(typeOf).filter((type): type is string => type !== undefined);
  if (listed.length === 0) return undefined;
  return listed.length === 1
    ? listed[0]
    : listed.map((type) => (/\s/.test(type) ? `(${type})` : type)).join(" OR ");
}

export const npmInstalledExtractor: Extractor = {
  name: "npm-installed",
  // 2: names and versions with whitespace, or that make no purl, are skipped with a warning.
  // 3: the declared license.
  version: 3,
  pathHint: { fileNames: ["package.json"] },
  wants: (path) => INSTALLED_MANIFEST.test(path),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    let manifest: PackageManifest;
    try {
      manifest = JSON.parse(content.toString("utf8")) as PackageManifest;
    } catch (error) {
      context.warn(`not valid JSON (${(error as Error).message}); skipped`);
      return [];
    }
    const { name, version } = manifest ?? {};
    if (
      typeof name !== "string" ||
      typeof version !== "string" ||
      name.trim() === "" ||
      version.trim() === ""
    ) {
      context.warn("package.json without a name and version; skipped");
      return [];
    }
    const purl = npmPurl(name, version);
    if (!purl) {
      const shown = (value: string) => JSON.stringify(value.slice(0, 80));
      context.warn(
        `package.json name ${shown(name)} with version ${shown(version)} is not a package; skipped`,
      );
      return [];
    }
    const license = declaredLicense(manifest);
    return [{ name, version, type: "npm", purl, ecosystem: "npm", ...(license ? { license } : {}) }];
  },
};
