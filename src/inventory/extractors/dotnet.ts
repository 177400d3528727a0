import { PackageURL } from "packageurl-js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/**
 * .NET applications: the `APP.deps.json` the SDK writes beside every built or published app,
 * which the host reads to load its assemblies. Its `libraries` name each library "Name/Version"
 * with a type:
 *
 * - `package`: a NuGet package. Reported, unless its entry in the runtime target lists no file
 *   the app loads (no runtime, native, runtimeTargets or resources assets): such a package is
 *   only a meta-package or a reference whose code the shared framework supplies (System.Net.Http
 *   4.1.0 on .NET Core), and the framework's copy is the one that runs. A package the target
 *   does not list at all is reported, as nothing says it is absent.
 * - `runtimepack`: the .NET runtime a self-contained app carries (`runtimepack.` +
 *   Microsoft.NETCore.App.Runtime.linux-x64, version 8.0.x). Reported as that NuGet package,
 *   without the `runtimepack.` prefix, because advisories for the runtime name the runtime pack
 *   packages (they are published on NuGet under those names) and its version is the runtime's.
 * - `project`: the app itself and the projects it references: its own code, not a dependency.
 * - `referenceassembly` / `reference`: compile-time reference assemblies (their version is an
 *   assembly version such as 10.0.0.0); nothing of them is deployed.
 *
 * The `serviceable` flag and the `sha512` of the nupkg are not recorded (the package type has
 * no field for them).
 */

const SKIPPED_TYPES = new Set(["project", "referenceassembly", "reference", "msbuildproject"]);
const RUNTIME_PACK_PREFIX = "runtimepack.";
/** The asset groups of a target entry whose files the app loads at run time. */
const RUNTIME_ASSETS = ["runtime", "native", "runtimeTargets", "resources"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nugetPackage(name: string, version: string): ExtractedPackage | undefined {
  if (/\s/.test(name) || /\s/.test(version)) return undefined;
  let purl: string;
  try {
    purl = new PackageURL("nuget", undefined, name, version, undefined).toString();
  } catch {
    return undefined;
  }
  return { name, version, type: "nuget", purl, ecosystem: "NuGet" };
}

/**
 * The target entries of the runtime target (`runtimeTarget.name`, e.g.
 * ".NETCoreApp,Version=v8.0/linux-x64"), else of every target, keyed like `libraries`.
 */
function runtimeEntries(document: Record<string, unknown>): Map<string, Record<string, unknown>[]> {
  const targets = isRecord(document.targets) ? document.targets : {};
  const runtimeName = isRecord(document.runtimeTarget) ? document.runtimeTarget.name : undefined;
  const chosen =
    typeof runtimeName === "string" && isRecord(targets[runtimeName])
      ? [targets[runtimeName]]
      : Object.values(targets).filter(isRecord);
  const entries = new Map<string, Record<string, unknown>[]>();
  for (const target of chosen)
    for (const [key, entry] of Object.entries(target))
      if (isRecord(entry)) entries.set(key, [...(entries.get(key) ?? []), entry]);
  return entries;
}

function loadsFiles(entry: Record<string, unknown>): boolean {
  return RUNTIME_ASSETS.some((group) => isRecord(entry[group]) && Object.keys(entry[group]).length > 0);
}

export const dotnetDepsExtractor: Extractor = {
  name: "dotnet-deps",
  version: 1,
  pathHint: { suffixes: [".deps.json"] },
  wants: (path) => /(?:^|\/)[^/]+\.deps\.json$/.test(path),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    let document: unknown;
    try {
      // A BOM is common in files written on Windows.
      document = JSON.parse(content.toString("utf8").replace(/^\uFEFF/, ""));
    } catch (error) {
      context.warn(`not valid JSON (${(error as Error).message}); skipped`);
      return [];
    }
    if (!isRecord(document) || !isRecord(document.libraries)) {
      context.warn("no libraries object: not a .deps.json file; skipped");
      return [];
    }
    const entries = runtimeEntries(document);
    const packages: ExtractedPackage[] = [];
    for (const [key, library] of Object.entries(document.libraries)) {
      const shown = JSON.stringify(key.slice(0, 120));
      const type = isRecord(library) ? library.type : undefined;
      if (typeof type !== "string") {
        context.warn(`library ${shown} has no type; skipped`);
        continue;
      }
      if (SKIPPED_TYPES.has(type)) continue;
      if (type !== "package" && type !== "runtimepack") {
        context.warn(
          `library ${shown} has type ${JSON.stringify(type)}, which is not a NuGet package; skipped`,
        );
        continue;
      }
      const slash = key.lastIndexOf("/");
      let name = slash > 0 ? key.slice(0, slash) : "";
      const version = slash > 0 ? key.slice(slash + 1) : "";
      if (type === "runtimepack" && name.startsWith(RUNTIME_PACK_PREFIX))
        name = name.slice(RUNTIME_PACK_PREFIX.length);
      const pkg = name !== "" && version !== "" ? nugetPackage(name, version) : undefined;
      if (!pkg) {
        context.warn(`library ${shown} is not "Name/Version"; skipped`);
        continue;
      }
      const targetEntries = entries.get(key);
      if (type === "package" && targetEntries && !targetEntries.some(loadsFiles)) continue;
      packages.push(pkg);
    }
    return packages;
  },
};
