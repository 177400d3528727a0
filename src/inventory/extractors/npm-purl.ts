import { PackageURL } from "packageurl-js";

/**
 * The purl of an npm package ("@scope/name" puts the scope in the namespace), or undefined when
 * the name or version cannot be one: npm names and versions never hold whitespace, which
 * packageurl-js would trim away, and packageurl-js refuses names such as "@scope/".
 */
export function npmPurl(name: string, version: string): string | undefined {
  if (/\s/.test(name) || /\s/.test(version)) return undefined;
  const slash = name.startsWith("@") ? name.indexOf("/") : -1;
  try {
    return (
      slash > 0
        ? new PackageURL("npm", name.slice(0, slash), name.slice(slash + 1), version, undefined)
        : new PackageURL("npm", undefined, name, version, undefined)
    ).toString();
  } catch {
    return undefined;
  }
}
