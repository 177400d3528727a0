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
 * The form of a package name that advisories and packages are compared in, and that the store
 * indexes (a change here changes stored names: bump STORE_SCHEMA_VERSION).
 *
 * - PyPI: PEP 503 (`Foo_Bar.baz` is `foo-bar-baz`).
 * - NuGet and Packagist: ids are case-insensitive by the registries' own rules
 *   (`Newtonsoft.Json` is `newtonsoft.json`), so they are lower-cased.
 * - npm: exact. npm refuses upper case in new names, but the older mixed-case packages are
 *   different packages from their lower-case namesakes (`Orchestrator` and `orchestrator` have
 *   different owners), and osv.dev compares npm names exactly too.
 * - Everything else as written: Maven `group:artifact`, Go module paths, crates, gems, and the
 *   source package names of the distributions.
 */
export function normalizePackageName(ecosystem: string, name: string): string {
  switch (ecosystemBase(ecosystem)) {
    case "PyPI":
      return name.toLowerCase().replace(/[-_.]+/g, "-");
    case "NuGet":
    case "Packagist":
      return name.toLowerCase();
    default:
      return name;
  }
}
