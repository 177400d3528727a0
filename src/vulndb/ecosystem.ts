/** Ecosystem strings and package names as OSV uses them. */

/** "Debian:12" → "Debian"; "npm" → "npm". */
export function ecosystemBase(ecosystem: string): string {
  const colon = ecosystem.indexOf(":");
  return colon < 0 ? ecosystem : ecosystem.slice(0, colon);
}

/** "Debian:12" → "12"; "Ubuntu:22.04:LTS" → "22.04:LTS"; "npm" → undefined. */
export function ecosystemRelease(ecosystem: string): string | undefined {
  const colon = ecosystem.indexOf(":");
  return colon < 0 ? undefined : ecosystem.slice(colon + 1);
}

/**
 * The form of a package name that advisories and packages are compared in: npm names are
 * case-insensitive in practice (one advisory says "Axios"), PyPI names follow PEP 503.
 */
export function normalizePackageName(ecosystem: string, name: string): string {
  switch (ecosystemBase(ecosystem)) {
    case "npm":
      return name.toLowerCase();
    case "PyPI":
      return name.toLowerCase().replace(/[-_.]+/g, "-");
    default:
      return name;
  }
}
