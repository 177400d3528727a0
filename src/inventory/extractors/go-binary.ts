import { PackageURL } from "packageurl-js";
import { describeError } from "../../errors.js";
import { DamagedContentError, viewOf } from "../binary/byte-view.js";
import { executableFiles } from "../binary/condense.js";
import { readGoBuildInfo } from "../binary/go-buildinfo.js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/**
 * Go executables (ELF, Mach-O, PE), wherever they are: the modules their build info records
 * (binary/go-buildinfo.ts), read from what the layer kept of each executable while it streamed
 * (binary/condense.ts).
 *
 * Packages:
 * - the main module (`mod` line) and each dependency (`dep`), ecosystem Go;
 * - a dependency replaced by another module (`=> path version`) is that module at that version:
 *   its code is what was built;
 * - a dependency replaced by a local directory (`=> ../lib`, version `(devel)` or none) is listed
 *   under its own path with the replacement's version, `(devel)`: no released version of it was
 *   built, so it is never matched;
 * - a main module built from a work tree has the version `(devel)` (Go before 1.24 always wrote
 *   it): it is listed, never matched;
 * - the Go toolchain's version as the package `stdlib` (`go1.22.1 X:boringcrypto` is v1.22.1,
 *   `go1.21rc2` v1.21.0-rc.2, the SemVer form Go's advisories use); a `devel` toolchain is no
 *   release, so it is listed with its version text and not matched.
 * A package that is not matched has no ecosystem and a purl without a version. A GOPATH build
 * (Debian's Go packages) records no modules: only `stdlib` is listed for it.
 */

/** A Go module version: SemVer with the `v` prefix (pseudo-versions and +incompatible included). */
const MODULE_VERSION = /^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
/** A release toolchain: go1.22.1, go1.21rc2, go1.9, with anything after a space (experiments) or a hyphen. */
const RELEASE_TOOLCHAIN = /^go(\d+)\.(\d+)(?:\.(\d+))?(?:(beta|rc)(\d+))?(?:[\s-].*)?$/s;
/** What Go writes for a module built from a directory rather than a released version. */
const DEVEL = "(devel)";

/** The stdlib version of a toolchain string: v1.22.1 for "go1.22.1 X:boringcrypto". */
export function stdlibVersion(goVersion: string): { version: string; release: boolean } {
  const release = RELEASE_TOOLCHAIN.exec(goVersion);
  if (release) {
    const [, major, minor, patch = "0", kind, number] = release;
    return { version: `v${major}.${minor}.${patch}${kind ? `-${kind}.${number}` : ""}`, release: true };
  }
  // "devel go1.23-1b2c3d4 Tue Jan 9 ..." or the older "devel +1b2c3d4 ...": its first two words.
  return { version: goVersion.trim().split(/\s+/).slice(0, 2).join(" "), release: false };
}

function goPackage(path: string, version: string, matchable: boolean): ExtractedPackage {
  const slash = path.lastIndexOf("/");
  const namespace = slash > 0 ? path.slice(0, slash) : undefined;
  const name = slash > 0 ? path.slice(slash + 1) : path;
  const purl = new PackageURL(
    "golang",
    namespace,
    name,
    matchable ? version : undefined,
    undefined,
    undefined,
  );
  return {
    name: path,
    version,
    type: "golang",
    purl: purl.toString(),
    ...(matchable ? { ecosystem: "Go" } : {}),
  };
}

/** A replacement that is a directory: relative (./, ../) or absolute (Unix or Windows). */
function isLocalPath(path: string): boolean {
  return /^(?:\.{1,2}[/\\]|[/\\]|[A-Za-z]:[/\\])/.test(path) || path === "." || path === "..";
}

interface ModuleLine {
  kind: "mod" | "dep";
  path: string;
  version: string;
  replacement?: { path: string; version: string };
}

function moduleOf(line: ModuleLine): ExtractedPackage {
  const replacement = line.replacement;
  if (replacement && !isLocalPath(replacement.path) && replacement.version !== "") {
    return goPackage(replacement.path, replacement.version, MODULE_VERSION.test(replacement.version));
  }
  if (replacement) return goPackage(line.path, replacement.version || DEVEL, false);
  return goPackage(line.path, line.version, MODULE_VERSION.test(line.version));
}

/** The modules of the module information's `mod`, `dep` and `=>` lines; bad lines are reported. */
export function parseModInfo(text: string, warn: (problem: string) => void): ExtractedPackage[] {
  const modules: ModuleLine[] = [];
  let last: ModuleLine | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const fields = line.split("\t");
    const keyword = fields[0];
    if (keyword === "mod" || keyword === "dep") {
      const [, path = "", version = ""] = fields;
      if (path === "" || version === "") {
        warn(`module line ${JSON.stringify(line)} has no path or version; skipped`);
        last = undefined;
        continue;
      }
      last = { kind: keyword, path, version };
      modules.push(last);
    } else if (keyword === "=>") {
      const [, path = "", version = ""] = fields;
      if (!last || path === "") {
        warn(`replacement line ${JSON.stringify(line)} follows no module or has no path; skipped`);
        continue;
      }
      last.replacement = { path, version };
      last = undefined;
    }
    // `path`, `build`, and lines a newer Go adds, describe no module.
  }
  return modules.flatMap((module) => {
    try {
      return [moduleOf(module)];
    } catch (error) {
      // A path no purl can hold ("example.com/", with nothing after the slash).
      warn(`module ${JSON.stringify(module.path)}: ${describeError(error)}; skipped`);
      return [];
    }
  });
}

export const goBinaryExtractor: Extractor = {
  name: "go-binary",
  version: 1,
  pathHint: {},
  wants: () => false,
  condensed: executableFiles,
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    let result: ReturnType<typeof readGoBuildInfo>;
    try {
      result = readGoBuildInfo(viewOf(content));
    } catch (error) {
      if (!(error instanceof DamagedContentError)) throw error;
      context.warn(error.message);
      return [];
    }
    if (!result) return [];
    if (result.problem) context.warn(result.problem);
    if (!result.info) return [];
    const stdlib = stdlibVersion(result.info.goVersion);
    return [
      goPackage("stdlib", stdlib.version, stdlib.release),
      ...parseModInfo(result.info.modInfo, (problem) => context.warn(problem)),
    ];
  },
};
