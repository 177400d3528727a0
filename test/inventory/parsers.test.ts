import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dpkgExtractor, parseControlStanzas, parseSourceField } from "../../src/inventory/extractors/dpkg.js";
import { npmInstalledExtractor } from "../../src/inventory/extractors/npm.js";
import {
  distroFromDebianVersion,
  distroFromOsRelease,
  parseOsRelease,
} from "../../src/inventory/os-release.js";
import type { Distro } from "../../src/inventory/types.js";
import { sharedData } from "../helpers/shared-data.js";

const debian12: Distro = {
  id: "debian",
  versionId: "12",
  osvEcosystem: "Debian:12",
  source: "etc/os-release",
};

function extract(extractor: typeof dpkgExtractor, path: string, text: string, distro?: Distro) {
  const warnings: string[] = [];
  const packages = extractor.extract(path, Buffer.from(text), {
    ...(distro ? { distro } : {}),
    warn: (w) => warnings.push(w),
    readFile: () => undefined,
  });
  return { packages, warnings };
}

describe("os-release", () => {
  it("reads quoted, single-quoted and escaped values and ignores junk lines", () => {
    expect(
      parseOsRelease(
        'NAME="Debian \\"GNU\\"/Linux"\nID=debian\nVERSION_ID=\'12\'\n# comment\nnot a line\n  HOME_URL="x"  \n',
      ),
    ).toEqual({ NAME: 'Debian "GNU"/Linux', ID: "debian", VERSION_ID: "12", HOME_URL: "x" });
  });

  it.each([
    ['ID=debian\nVERSION_ID="12"', "Debian:12"],
    ['ID=debian\nVERSION_ID="12.5"', "Debian:12"],
    ['ID=ubuntu\nVERSION_ID="22.04"', "Ubuntu:22.04:LTS"],
    ['ID=ubuntu\nVERSION_ID="23.10"', "Ubuntu:23.10"],
    ["ID=alpine\nVERSION_ID=3.19.1", "Alpine:v3.19"],
  ])("maps %j to %s", (text, ecosystem) => {
    expect(distroFromOsRelease(text, "etc/os-release")?.osvEcosystem).toBe(ecosystem);
  });

  it("leaves the ecosystem open for a release without VERSION_ID (Debian testing)", () => {
    expect(distroFromOsRelease("ID=debian\nVERSION_CODENAME=trixie", "etc/os-release")).toEqual({
      id: "debian",
      versionCodename: "trixie",
      source: "etc/os-release",
    });
    expect(distroFromOsRelease("NAME=nothing", "x")).toBeUndefined();
  });

  it("falls back to etc/debian_version", () => {
    expect(distroFromDebianVersion("12.5\n", "etc/debian_version").osvEcosystem).toBe("Debian:12");
    expect(distroFromDebianVersion("trixie/sid\n", "etc/debian_version").osvEcosystem).toBeUndefined();
  });
});

describe("dpkg status", () => {
  it("reads continuation lines and lower-cases field names", () => {
    const [stanza] = parseControlStanzas("Package: a\nDESCRIPTION: one\n two\n .\n", () => undefined);
    expect(stanza?.get("description")).toBe("one\ntwo\n.");
  });

  it("parses Source with and without a version", () => {
    expect(parseSourceField("openssl (3.0.11-1~deb12u1)")).toEqual({
      name: "openssl",
      version: "3.0.11-1~deb12u1",
    });
    expect(parseSourceField("glibc")).toEqual({ name: "glibc" });
  });

  it("keeps only installed packages and takes source name and version", () => {
    const status = [
      "Package: libbz2-1.0\nStatus: install ok installed\nArchitecture: amd64\nSource: bzip2 (1.0.8-5)\nVersion: 1.0.8-5+b1",
      "Package: nano\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 7.2-1",
      "Package: half\nStatus: install ok half-installed\nArchitecture: amd64\nVersion: 1.0-1",
      "Package: gone\nStatus: purge ok not-installed\nArchitecture: amd64\nVersion: 1.0-1",
      "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2",
    ].join("\n\n");
    const { packages, warnings } = extract(dpkgExtractor, "var/lib/dpkg/status", status, debian12);
    expect(warnings).toEqual([]);
    expect(packages).toEqual([
      {
        name: "libbz2-1.0",
        version: "1.0.8-5+b1",
        type: "deb",
        purl: "pkg:deb/debian/libbz2-1.0@1.0.8-5+b1?arch=amd64&distro=debian-12&upstream=bzip2",
        sourceName: "bzip2",
        sourceVersion: "1.0.8-5",
        arch: "amd64",
        ecosystem: "Debian:12",
      },
      {
        name: "bash",
        version: "5.2.15-2+b2",
        type: "deb",
        purl: "pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64&distro=debian-12",
        sourceName: "bash",
        sourceVersion: "5.2.15-2+b2",
        arch: "amd64",
        ecosystem: "Debian:12",
      },
    ]);
  });

  it("reads distroless status.d files, which have no Status field", () => {
    expect(dpkgExtractor.wants("var/lib/dpkg/status.d/libc6")).toBe(true);
    expect(dpkgExtractor.wants("var/lib/dpkg/status.d/libc6.md5sums")).toBe(false);
    const { packages } = extract(
      dpkgExtractor,
      "var/lib/dpkg/status.d/libc6",
      "Package: libc6\nVersion: 2.36-9+deb12u4\nSource: glibc\n",
      debian12,
    );
    expect(packages.map((p) => [p.name, p.sourceName])).toEqual([["libc6", "glibc"]]);
  });

  it("skips a stanza without a version and a truncated line, and warns", () => {
    const { packages, warnings } = extract(
      dpkgExtractor,
      "var/lib/dpkg/status",
      "Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: install ok installed\nVersion: 1.0\nArchitect",
      debian12,
    );
    expect(packages.map((p) => p.name)).toEqual(["b"]);
    expect(warnings).toEqual([
      "line 7: not a 'Field: value' line",
      "a stanza without Package or Version (a) was skipped",
    ]);
  });
});

describe("npm node_modules", () => {
  it("wants package.json files of installed packages only", () => {
    expect(npmInstalledExtractor.wants("app/node_modules/lodash/package.json")).toBe(true);
    expect(npmInstalledExtractor.wants("node_modules/@babel/traverse/package.json")).toBe(true);
    expect(npmInstalledExtractor.wants("a/node_modules/b/node_modules/c/package.json")).toBe(true);
    expect(npmInstalledExtractor.wants("app/package.json")).toBe(false);
    expect(npmInstalledExtractor.wants("app/node_modules/lodash/lib/package.json")).toBe(false);
    expect(npmInstalledExtractor.wants("app/node_modules/@babel/package.json")).toBe(false);
  });

  it("skips manifests without a name or version, and bad JSON, with a warning", () => {
    expect(extract(npmInstalledExtractor, "node_modules/x/package.json", '{"name":"x"}').warnings).toEqual([
      "package.json without a name and version; skipped",
    ]);
    expect(extract(npmInstalledExtractor, "node_modules/x/package.json", "{").warnings[0]).toMatch(
      /^not valid JSON/,
    );
  });

  it("records the declared license in its three historical forms", () => {
    const licenseOf = (manifest: object) =>
      extract(
        npmInstalledExtractor,
        "node_modules/x/package.json",
        JSON.stringify({ name: "x", version: "1.0.0", ...manifest }),
      ).packages[0]?.license;
    expect(licenseOf({ license: "MIT" })).toBe("MIT");
    expect(licenseOf({ license: "(MIT OR Apache-2.0)" })).toBe("(MIT OR Apache-2.0)");
    expect(licenseOf({ license: { type: "ISC", url: "https://opensource.org/licenses/ISC" } })).toBe("ISC");
    expect(licenseOf({ licenses: [{ type: "MIT" }, { type: "Apache 2.0" }] })).toBe("MIT OR (Apache 2.0)");
    expect(licenseOf({ licenses: [{ type: "BSD" }] })).toBe("BSD");
    expect(licenseOf({ license: "" })).toBeUndefined();
    expect(licenseOf({})).toBeUndefined();
  });

  it("reads the licenses of trivy's real installed express tree", () => {
    const root = sharedData("pkgdb/lang/npm/trivy/analyzer/happy/node_modules");
    if (!root) return;
    // Each of these manifests says "license": "MIT" (checked by reading them).
    for (const name of ["express", "body-parser", "ms"]) {
      const text = readFileSync(join(root, name, "package.json"), "utf8");
      const [pkg] = extract(npmInstalledExtractor, `node_modules/${name}/package.json`, text).packages;
      expect(pkg?.license, name).toBe("MIT");
    }
  });
});
