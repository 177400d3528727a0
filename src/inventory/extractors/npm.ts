import { PackageURL } from "packageurl-js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/** node_modules/NAME/package.json and node_modules/@SCOPE/NAME/package.json, at any depth. */
const INSTALLED_MANIFEST = /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/@][^/]*\/package\.json$/;

interface PackageManifest {
  name?: unknown;
  version?: unknown;
}

export const npmInstalledExtractor: Extractor = {
  name: "npm-installed",
  version: 1,
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
    if (typeof name !== "string" || typeof version !== "string" || name === "" || version === "") {
      context.warn("package.json without a name and version; skipped");
      return [];
    }
    const slash = name.startsWith("@") ? name.indexOf("/") : -1;
    const purl =
      slash > 0
        ? new PackageURL("npm", name.slice(0, slash), name.slice(slash + 1), version, undefined)
        : new PackageURL("npm", undefined, name, version, undefined);
    return [{ name, version, type: "npm", purl: purl.toString(), ecosystem: "npm" }];
  },
};
