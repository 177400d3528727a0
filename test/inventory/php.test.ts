import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  composerInstalledExtractor,
  composerLicense,
  composerLockExtractor,
} from "../../src/inventory/extractors/php.js";
import type { ExtractedPackage } from "../../src/inventory/types.js";
import { extractFile } from "../helpers/inventory.js";
import { sharedData } from "../helpers/shared-data.js";
import { syftCoverage } from "../helpers/syft-coverage.js";

const installed = (text: string | Buffer) =>
  extractFile(composerInstalledExtractor, "app/vendor/composer/installed.json", text);
const locked = (text: string | Buffer) => extractFile(composerLockExtractor, "app/composer.lock", text);

/** name, version, licence and dev flag: what each test checks against the file by hand. */
const brief = (packages: ExtractedPackage[]) =>
  packages.map((p) => [p.name, p.version, p.license, p.dev ?? false]);

describe("Composer files", () => {
  it("wants vendor/composer/installed.json and an app's composer.lock, not a dependency's", () => {
    for (const path of [
      "var/www/html/vendor/composer/installed.json",
      "vendor/composer/installed.json",
      "root/.composer/vendor/composer/installed.json",
    ])
      expect(composerInstalledExtractor.wants(path), path).toBe(true);
    for (const path of [
      "app/composer/installed.json",
      "app/vendor/composer/installed.php",
      "app/installed.json",
    ])
      expect(composerInstalledExtractor.wants(path), path).toBe(false);
    for (const path of ["var/www/html/composer.lock", "composer.lock"])
      expect(composerLockExtractor.wants(path), path).toBe(true);
    for (const path of [
      "app/vendor/guzzlehttp/guzzle/composer.lock",
      "app/composer.json",
      "app/composer.lock.bak",
    ])
      expect(composerLockExtractor.wants(path), path).toBe(false);
  });

  it("turns a licence array into a choice and keeps a string as written", () => {
    expect(composerLicense(["MIT"])).toBe("MIT");
    expect(composerLicense(["MIT", "Apache-2.0"])).toBe("MIT OR Apache-2.0");
    // Composer writes a conjunction inside one entry, in parentheses.
    expect(composerLicense(["(LGPL-2.1-only and GPL-3.0-or-later)", "MIT"])).toBe(
      "(LGPL-2.1-only and GPL-3.0-or-later) OR MIT",
    );
    expect(composerLicense(["GPL-2.0-or-later WITH Font-exception-2.0", "MIT"])).toBe(
      "(GPL-2.0-or-later WITH Font-exception-2.0) OR MIT",
    );
    expect(composerLicense("MIT or BSD-2-Clause")).toBe("MIT or BSD-2-Clause");
    expect(composerLicense([])).toBeUndefined();
    expect(composerLicense(undefined)).toBeUndefined();
    expect(composerLicense([7, ""])).toBeUndefined();
  });

  it("reads Composer 1's array and Composer 2's object, with its development packages", () => {
    const one = sharedData("pkgdb/lang/php/syft/vendor/composer_1/installed.json");
    const two = sharedData("pkgdb/lang/php/syft/vendor/composer_2/installed.json");
    if (!one || !two) return;
    const first = installed(readFileSync(one));
    expect(first.warnings).toEqual([]);
    // Composer 1 does not say which packages are for development.
    expect(brief(first.packages)).toEqual([
      ["asm89/stack-cors", "1.3.0", "MIT", false],
      ["behat/mink", "v1.8.1", "MIT", false],
    ]);
    const second = installed(readFileSync(two));
    expect(second.warnings).toEqual([]);
    // "dev-package-names": ["behat/mink"]
    expect(brief(second.packages)).toEqual([
      ["asm89/stack-cors", "1.3.0", "MIT", false],
      ["behat/mink", "v1.8.1", "MIT", true],
    ]);
    expect(second.packages[1]).toEqual({
      name: "behat/mink",
      version: "v1.8.1",
      type: "composer",
      purl: "pkg:composer/behat/mink@v1.8.1",
      ecosystem: "Packagist",
      license: "MIT",
      dev: true,
    });
    const trivy = sharedData("pkgdb/lang/php/trivy/analyzer/composer-vendor/happy/installed.json");
    if (!trivy) return;
    const happy = installed(readFileSync(trivy));
    expect(happy.warnings).toEqual([]);
    expect(brief(happy.packages)).toEqual([
      ["pear/log", "1.13.3", "MIT", false],
      ["pear/pear_exception", "v1.0.2", "BSD-2-Clause", false],
    ]);
  });

  it("reads composer.lock's packages and packages-dev", () => {
    const syft = sharedData("pkgdb/lang/php/syft/composer.lock");
    if (syft) {
      const { packages, warnings } = locked(readFileSync(syft));
      expect(warnings).toEqual([]);
      expect(brief(packages)).toEqual([
        ["adoy/fastcgi-client", "1.0.2", "MIT", false],
        ["alcaeus/mongo-php-adapter", "1.1.11", "MIT", false],
        ["behat/gherkin", "v4.6.2", "MIT", true],
        ["codeception/codeception", "4.1.6", "MIT", true],
      ]);
      expect(packages.map((p) => p.purl)).toEqual([
        "pkg:composer/adoy/fastcgi-client@1.0.2",
        "pkg:composer/alcaeus/mongo-php-adapter@1.1.11",
        "pkg:composer/behat/gherkin@v4.6.2",
        "pkg:composer/codeception/codeception@4.1.6",
      ]);
      expect(packages.every((p) => p.ecosystem === "Packagist" && p.type === "composer")).toBe(true);
    }
    const happy = sharedData("pkgdb/lang/php/trivy/parser/composer_happy.lock");
    if (happy) {
      const { packages, warnings } = locked(readFileSync(happy));
      expect(warnings).toEqual([]);
      expect(brief(packages)).toEqual([
        ["guzzlehttp/guzzle", "6.5.8", "MIT", false],
        ["guzzlehttp/promises", "1.5.2", "MIT", false],
        ["guzzlehttp/psr7", "1.9.0", "MIT", false],
        ["psr/http-message", "1.0.1", "MIT", false],
        ["ralouphie/getallheaders", "3.0.3", "MIT", false],
        ["symfony/polyfill-intl-idn", "v1.27.0", "MIT", false],
        // This file writes these two licences as strings, not arrays.
        ["symfony/polyfill-intl-normalizer", "v1.27.0", "MIT", false],
        ["symfony/polyfill-php72", "v1.27.0", "MIT or BSD-2-Clause", false],
        ["pear/log", "1.13.3", "MIT", true],
        ["pear/pear_exception", "v1.0.2", "BSD-2-Clause", true],
      ]);
    }
    const withDev = sharedData("pkgdb/lang/php/trivy/analyzer/composer/with-dev/composer.lock");
    if (withDev) {
      const { packages, warnings } = locked(readFileSync(withDev));
      expect(warnings).toEqual([]);
      expect(brief(packages)).toEqual([
        ["psr/log", "1.1.4", "MIT", false],
        ["pear/log", "1.14.6", "MIT", true],
        ["pear/pear_exception", "v1.0.2", "BSD-2-Clause", true],
      ]);
    }
  });

  it("lists a path-repository package without an ecosystem", () => {
    const lock = {
      packages: [
        { name: "acme/shared", version: "dev-main", dist: { type: "path", url: "../shared" } },
        { name: "monolog/monolog", version: "3.5.0", dist: { type: "zip", url: "https://x/monolog.zip" } },
      ],
      "packages-dev": null,
    };
    const { packages, warnings } = locked(JSON.stringify(lock));
    expect(warnings).toEqual([]);
    expect(packages.map((p) => [p.name, p.ecosystem])).toEqual([
      ["acme/shared", undefined],
      ["monolog/monolog", "Packagist"],
    ]);
  });

  it("skips malformed entries and files with a warning", () => {
    const bad = installed(
      JSON.stringify({
        packages: [
          { name: "psr/log", version: "1.1.4" },
          { name: "psr/container" },
          "psr/cache",
          { name: "not a name", version: "1.0" },
        ],
        dev: false,
        "dev-package-names": [],
      }),
    );
    expect(bad.packages.map((p) => p.purl)).toEqual(["pkg:composer/psr/log@1.1.4"]);
    expect(bad.warnings).toEqual([
      "packages[1] has no name and version; skipped",
      "packages[2] is not an object; skipped",
      'packages[3] "not a name" is not a package name; skipped',
    ]);
    expect(installed("{").warnings[0]).toMatch(/^not valid JSON/);
    expect(installed('{"packages": "x"}').warnings).toEqual([
      "neither a list of packages nor an object with one; skipped",
    ]);
    expect(locked("[]").warnings).toEqual(["no packages list; skipped"]);
    expect(locked('{"packages": [], "packages-dev": [{"version": "1"}]}').warnings).toEqual([
      "packages-dev[0] has no name and version; skipped",
    ]);
  });
});

describe("syft's package coverage tree, against the packages syft expects from it", () => {
  const coverage = syftCoverage();
  const root = coverage?.root;
  const cases = coverage?.cases ?? [];
  const composerCase = (scan: string) =>
    cases.find((c) => c.type === "php-composer" && c.scans.includes(scan))?.packages ?? [];
  const pairs = (list: Array<{ name: string; version: string }>) => list.map((p) => [p.name, p.version]);

  it("finds the image's installed.json packages exactly", () => {
    if (!root) return;
    // The Dockerfile copies pkgs/* to the image's root: php/vendor/composer/installed.json.
    expect(composerInstalledExtractor.wants("php/vendor/composer/installed.json")).toBe(true);
    const { packages, warnings } = installed(
      readFileSync(join(root, "pkgs/php/vendor/composer/installed.json")),
    );
    expect(warnings).toEqual([]);
    expect(pairs(packages)).toEqual(pairs(composerCase("image")));
    expect(pairs(packages)).toEqual([
      ["nikic/fast-route", "v1.3.0"],
      ["psr/container", "2.0.2"],
      ["psr/http-factory", "1.0.1"],
    ]);
    expect(packages.map((p) => p.license)).toEqual(["BSD-3-Clause", "MIT", "MIT"]);
  });

  it("finds the directory scan's composer.lock packages, and the development ones syft leaves out", () => {
    if (!root) return;
    const { packages, warnings } = locked(readFileSync(join(root, "composer/composer.lock")));
    expect(warnings).toEqual([]);
    expect(pairs(packages.filter((p) => !p.dev))).toEqual(pairs(composerCase("directory")));
    // syft lists only `packages`; `packages-dev` is read too, flagged dev.
    expect(pairs(packages.filter((p) => p.dev))).toEqual([
      ["behat/gherkin", "v4.6.2"],
      ["codeception/codeception", "4.1.6"],
    ]);
  });
});
