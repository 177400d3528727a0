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
  // 2: names and versions with whitespace, or that make no purl, are skipped with a warning.
  version: 2,
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
    const slash = name.startsWith("@") ? name.indexOf("/") : -1;
    let purl: PackageURL | undefined;
    try {
      // npm names and versions never hold whitespace, which packageurl-js would trim away.
      if (!/\s/.test(name) && !/\s/.test(version))
        purl =
          slash > 0
            ? new PackageURL("npm", name.slice(0, slash), name.slice(slash + 1), version, undefined)
            : new PackageURL("npm", undefined, name, version, undefined);
    } catch {
      // packageurl-js refuses names such as "@scope/"; a bad manifest must not stop the scan.
    }
    if (!purl) {
      const shown = (value: string) => JSON.stringify(value.slice(0, 80));
      context.warn(
        `package.json name ${shown(name)} with version ${shown(version)} is not a package; skipped`,
      );
      return [];
    }
    return [{ name, version, type: "npm", purl: purl.toString(), ecosystem: "npm" }];
  },
};
