import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dotnetDepsExtractor } from "../../src/inventory/extractors/dotnet.js";
import type { JsonReport } from "../../src/report/model.js";
import { builtCli, isBuilt } from "../helpers/cli.js";
import { buildImage, type LayerFile, writeOciLayout } from "../helpers/image-builder.js";
import { extractFile } from "../helpers/inventory.js";
import { expectReport } from "../helpers/report.js";
import { compileSchema } from "../helpers/schema.js";
import { sharedData } from "../helpers/shared-data.js";
import { syftCoverage } from "../helpers/syft-coverage.js";

/** The shared package databases; the tests that read them skip without them. */
const pkgdb = sharedData("pkgdb");

const run = (text: string | Buffer, path = "app/MyApp.deps.json") =>
  extractFile(dotnetDepsExtractor, path, text);

/** name@version of what a shared-data deps.json gives, with no warning. */
function depsOf(relative: string): string[] | undefined {
  const file = sharedData(`pkgdb/${relative}`);
  if (!file) return undefined;
  const { packages, warnings } = run(readFileSync(file));
  expect(warnings, relative).toEqual([]);
  for (const pkg of packages) {
    expect(pkg.type).toBe("nuget");
    expect(pkg.ecosystem).toBe("NuGet");
    expect(pkg.purl).toBe(`pkg:nuget/${pkg.name}@${pkg.version}`);
  }
  return packages.map((pkg) => `${pkg.name}@${pkg.version}`);
}

describe(".NET deps.json", () => {
  it("wants every APP.deps.json, and nothing else", () => {
    for (const path of [
      "app/MyApp.deps.json",
      "MyApp.deps.json",
      "usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.0/Microsoft.NETCore.App.deps.json",
    ])
      expect(dotnetDepsExtractor.wants(path), path).toBe(true);
    for (const path of ["app/MyApp.runtimeconfig.json", "app/deps.json", "app/MyApp.deps.json.bak"])
      expect(dotnetDepsExtractor.wants(path), path).toBe(false);
  });

  // Each expectation was read by hand from the file's `libraries` and its runtime target's entries.
  it.skipIf(!pkgdb)(
    "reads trivy's deps.json files: projects skipped, packages without runtime assets skipped",
    () => {
      // ExampleApp1 (the project) is the app itself.
      expect(depsOf("lang/dotnet/trivy/parser/happy.deps.json")).toEqual(["Newtonsoft.Json@13.0.1"]);
      // Web, Api and Data are "project" libraries: the app and the projects it references.
      expect(depsOf("lang/dotnet/trivy/parser/multi-project.deps.json")).toEqual(["Newtonsoft.Json@13.0.3"]);
      // JsonDiffPatch has runtime assets, Libuv runtimeTargets (native libuv.so per RID), and
      // System.Collections.Immutable no target entry at all (kept: nothing says it is absent).
      // Microsoft.NETCore.App 1.1.2 and NETStandard.Library 1.6.0 list only dependencies and
      // Microsoft.NETCore.Platforms 1.1.0 and System.Net.Http 4.1.0 nothing: the shared framework
      // supplies their code, so they are not reported. trivy's expectation is the same set plus
      // the root project hello2.
      expect(depsOf("lang/dotnet/trivy/parser/without-runtime.deps.json")).toEqual([
        "JsonDiffPatch@2.0.61",
        "Libuv@1.9.1",
        "System.Collections.Immutable@1.3.0",
      ]);
      // The test platform's own project library is skipped; its targets object is empty.
      expect(depsOf("lang/dotnet/trivy/analyzer/datacollector.deps.json")).toEqual(["Newtonsoft.Json@9.0.1"]);
    },
  );

  it.skipIf(!pkgdb)(
    "reports a self-contained app's runtime packs under the runtime pack's NuGet name",
    () => {
      // "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0" is the .NET 8.0.0 runtime the
      // app carries; advisories for the runtime name Microsoft.NETCore.App.Runtime.linux-x64.
      expect(depsOf("lang/dotnet/trivy/parser/self-contained.deps.json")).toEqual([
        "Newtonsoft.Json@13.0.1",
        "Microsoft.NETCore.App.Runtime.linux-x64@8.0.0",
        "Microsoft.AspNetCore.App.Runtime.linux-x64@8.0.0",
      ]);
      expect(depsOf("lang/dotnet/snyk-docker-plugin/SelfContained.deps.json")).toEqual([
        "AutoMapper@13.0.1",
        "Microsoft.NETCore.App.Runtime.linux-x64@8.0.27",
      ]);
      // A runtimepack library written without the "runtimepack." prefix keeps its name.
      expect(depsOf("lang/dotnet/snyk-docker-plugin/WithFramework.deps.json")).toEqual([
        "Newtonsoft.Json@13.0.3",
        "Microsoft.NETCore.App.Runtime.linux-x64@8.0.0",
      ]);
    },
  );

  it.skipIf(!pkgdb)("skips reference assemblies and meta-packages, keeps satellite resource packages", () => {
    // The two referenceassembly libraries (versions 10.0.0.0) are compile-time only.
    expect(depsOf("lang/dotnet/syft/deps-with-referenceassembly/MyApp.deps.json")).toEqual([
      "Newtonsoft.Json@13.0.3",
    ]);
    // VulnApp: System.Runtime.CompilerServices.Unsafe 6.0.0's target entry is empty (on .NET 8
    // the framework has it).
    expect(depsOf("lang/dotnet/snyk-docker-plugin/VulnApp.deps.json")).toEqual([
      "AutoMapper@13.0.1",
      "Microsoft.Extensions.DependencyInjection.Abstractions@6.0.0",
      "Microsoft.Extensions.Options@6.0.0",
      "Microsoft.Extensions.Primitives@6.0.0",
    ]);
    const file = sharedData("pkgdb/lang/dotnet/syft/pe/net8-app-single-file.deps.json");
    const found = depsOf("lang/dotnet/syft/pe/net8-app-single-file.deps.json");
    if (!file || !found) return;
    // The real .NET 8 single-file app: Humanizer 2.14.1 is a meta-package (only dependencies) and
    // is left out; each Humanizer.Core.<culture> ships a resources assembly and is kept.
    const document = JSON.parse(readFileSync(file, "utf8")) as { libraries: Record<string, unknown> };
    const cultures = Object.keys(document.libraries).filter((key) => key.startsWith("Humanizer.Core."));
    expect(cultures).toHaveLength(48);
    expect(found).toEqual([
      "Microsoft.NETCore.App.Runtime.win-x64@8.0.14",
      "Humanizer.Core@2.14.1",
      ...cultures.map((key) => key.replace("/", "@")),
      "Newtonsoft.Json@13.0.3",
    ]);
    expect(found).not.toContain("Humanizer@2.14.1");
  });

  it("agrees with syft's expectation for its coverage image, except for the app itself", () => {
    const coverage = syftCoverage();
    const found = depsOf("syft-image-pkg-coverage/pkgs/dotnet/TestLibrary.deps.json");
    if (!coverage || !found) return;
    const syftCase = coverage.cases.find((c) => c.name === "find dotnet packages (.deps.json)");
    const syftSays = (syftCase?.packages ?? []).map((p) => `${p.name}@${p.version}`);
    expect(syftSays).toHaveLength(11);
    // syft lists the project TestLibrary 1.0.0, the app itself, which is not a dependency here.
    // Both leave out System.Diagnostics.DiagnosticSource and System.Runtime.CompilerServices.Unsafe
    // 6.0.0, whose target entries list no runtime asset, and the referenced project TestCommon.
    // (syft's image scan adds DocuSign.eSign 6.8.0.0, read from a DLL; layerwatch reads no DLLs.)
    expect([...found].sort()).toEqual(syftSays.filter((p) => p !== "TestLibrary@1.0.0").sort());
  });

  it("skips malformed libraries and files with warnings", () => {
    expect(run("{ not json").warnings[0]).toMatch(/^not valid JSON/);
    expect(run('{"runtimeTarget": {}}')).toEqual({
      packages: [],
      warnings: ["no libraries object: not a .deps.json file; skipped"],
    });
    const { packages, warnings } = run(
      JSON.stringify({
        libraries: {
          "Good/1.0.0": { type: "package" },
          "NoVersion/": { type: "package" },
          NoSlash: { type: "package" },
          "Untyped/1.0.0": { serviceable: true },
          "Odd/1.0.0": { type: "platform" },
          "Two Words/1.0.0": { type: "package" },
        },
      }),
    );
    expect(packages.map((p) => p.purl)).toEqual(["pkg:nuget/Good@1.0.0"]);
    expect(warnings).toEqual([
      'library "NoVersion/" is not "Name/Version"; skipped',
      'library "NoSlash" is not "Name/Version"; skipped',
      'library "Untyped/1.0.0" has no type; skipped',
      'library "Odd/1.0.0" has type "platform", which is not a NuGet package; skipped',
      'library "Two Words/1.0.0" is not "Name/Version"; skipped',
    ]);
  });
});

const root = join(import.meta.dirname, "../..");

describe("an Alpine image with a .NET app and a Rust lockfile, through the built CLI's sbom", () => {
  const apkDb = sharedData("pkgdb/apk/syft/multiple-2/lib/apk/db/installed");
  const deps = sharedData("pkgdb/lang/dotnet/syft/deps-with-referenceassembly/MyApp.deps.json");
  const cargoLock = sharedData("pkgdb/lang/rust/trivy/cargo_v3.lock");
  const otherLock = sharedData("pkgdb/lang/rust/syft/Cargo.lock");
  const present = apkDb && deps && cargoLock && otherLock;
  let work: string;
  let layout: string;
  // A crate's unpacked source in cargo's registry, as the official rust images keep it.
  const registryLock =
    "usr/local/cargo/registry/src/index.crates.io-6f17d22bba15001f/natord-1.0.9/Cargo.lock";

  beforeAll(async () => {
    if (!present) return;
    work = await mkdtemp(join(tmpdir(), "layerwatch-dotnet-cargo-"));
    const file = (path: string, content: Buffer): LayerFile => ({ path, type: "file", content });
    const image = await buildImage([
      {
        createdBy: "/bin/sh -c #(nop) ADD file:alpine-minirootfs-3.16.2.tar.gz in /",
        files: [
          // The database is from an Alpine 3.16 image (musl 1.2.3-r0, busybox 1.35.0-r17).
          file("etc/os-release", Buffer.from('NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.16.2\n')),
          file("lib/apk/db/installed", await readFile(apkDb)),
        ],
      },
      {
        createdBy: "COPY --from=build /app/publish /app",
        files: [file("app/MyApp.deps.json", await readFile(deps))],
      },
      {
        createdBy: "COPY Cargo.lock /app/",
        files: [
          file("app/Cargo.lock", await readFile(cargoLock)),
          file(registryLock, await readFile(otherLock)),
        ],
      },
    ]);
    layout = join(work, "layout");
    await writeOciLayout(image, layout);
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it.skipIf(!present)(
    "lists NuGet and crates.io packages with their layers, and SPDX license expressions",
    async () => {
      expect(isBuilt("lib/inventory/extractors/dotnet.js"), "lib/ is stale: run npm run build").toBe(true);
      const result = await builtCli(["sbom", `oci:${layout}`, "--format", "json"]);
      // The only thing said on stderr: Alpine 3.16's support has ended.
      const report = expectReport(
        result,
        /^layerwatch: warning: etc\/os-release: alpine 3\.16\.2 reached end of life on \d{4}-\d\d-\d\d; it gets no security fixes\n$/,
      );
      const row = (p: JsonReport["packages"][number]) => [
        p.name,
        p.version,
        p.purl,
        p.ecosystem,
        p.location,
        p.layer.index,
      ];
      expect(report.packages.filter((p) => p.type === "nuget").map(row)).toEqual([
        ["Newtonsoft.Json", "13.0.3", "pkg:nuget/Newtonsoft.Json@13.0.3", "NuGet", "app/MyApp.deps.json", 1],
      ]);
      // trivy's cargo_v3.lock, read by hand: every [[package]] with a source; "app" is the project.
      expect(report.packages.filter((p) => p.type === "cargo").map(row)).toEqual(
        [
          ["aho-corasick", "0.7.20"],
          ["libc", "0.2.140"],
          ["memchr", "1.0.2"],
          ["memchr", "2.5.0"],
          ["regex", "1.7.3"],
          ["regex-syntax", "0.5.6"],
          ["regex-syntax", "0.6.29"],
          ["ucd-util", "0.1.10"],
        ].map(([name, version]) => [
          name,
          version,
          `pkg:cargo/${name}@${version}`,
          "crates.io",
          "app/Cargo.lock",
          2,
        ]),
      );
      expect(report.packages.some((p) => p.location.startsWith("usr/local/cargo/"))).toBe(false);
      // apk's L: fields: SPDX ones are kept as expressions; "MIT BSD GPL2+" (musl-utils) is a list
      // with no AND/OR, so it stays a license name only.
      const apk = new Map(report.packages.filter((p) => p.type === "apk").map((p) => [p.name, p]));
      expect(apk.size).toBe(14);
      expect(apk.get("busybox")).toMatchObject({
        license: "GPL-2.0-only",
        licenseExpression: "GPL-2.0-only",
      });
      expect(apk.get("ca-certificates-bundle")).toMatchObject({
        license: "MPL-2.0 AND MIT",
        licenseExpression: "MPL-2.0 AND MIT",
        layer: { index: 0 },
      });
      expect(apk.get("musl-utils")?.license).toBe("MIT BSD GPL2+");
      expect(apk.get("musl-utils")?.licenseExpression).toBeUndefined();
      expect(report.packages.filter((p) => p.type !== "apk").every((p) => p.license === undefined)).toBe(
        true,
      );
      const schema = JSON.parse(await readFile(join(root, "docs/report.schema.json"), "utf8"));
      const validate = compileSchema(schema);
      expect(validate(report), JSON.stringify(validate.errors, null, 2)).toBe(true);
    },
  );
});
