/**
 * An app's lockfile next to what was installed from it: each package is reported once, from the
 * installed copy, in npm's and Composer's app folders and in Ruby's and Python's shared sites.
 */
import { describe, expect, it } from "vitest";
import type { Package } from "../../src/inventory/types.js";
import { inventoryOf, textFile } from "../helpers/inventory.js";

const rows = (packages: Package[], type: string) =>
  packages
    .filter((p) => p.type === type)
    .map((p) => `${p.name}@${p.version} ${p.location}${p.dev ? " dev" : ""}`)
    .sort();

describe("installed copies win over locked ones", () => {
  it("Composer: vendor/composer/installed.json over composer.lock in the same app folder only", async () => {
    const lock = JSON.stringify({
      packages: [
        { name: "guzzlehttp/guzzle", version: "7.4.4" },
        { name: "psr/log", version: "1.1.4" },
      ],
      "packages-dev": [{ name: "phpunit/phpunit", version: "9.5.20" }],
    });
    const installed = JSON.stringify({
      packages: [
        { name: "guzzlehttp/guzzle", version: "7.4.4" },
        { name: "phpunit/phpunit", version: "9.5.20" },
      ],
      dev: true,
      "dev-package-names": [],
    });
    const { packages } = await inventoryOf([
      [
        textFile("srv/app/composer.lock", lock),
        textFile("srv/app/vendor/composer/installed.json", installed),
        // Another app's lockfile: nothing of it is installed in its own folder.
        textFile("srv/other/composer.lock", lock),
      ],
    ]);
    expect(rows(packages, "composer")).toEqual([
      "guzzlehttp/guzzle@7.4.4 srv/app/vendor/composer/installed.json",
      "guzzlehttp/guzzle@7.4.4 srv/other/composer.lock",
      // Locked but not installed: still reported, from the lockfile.
      "phpunit/phpunit@9.5.20 srv/app/vendor/composer/installed.json dev",
      "phpunit/phpunit@9.5.20 srv/other/composer.lock dev",
      "psr/log@1.1.4 srv/app/composer.lock",
      "psr/log@1.1.4 srv/other/composer.lock",
    ]);
  });

  it("Python: a distribution in site-packages over the same name and version in an app's lockfiles", async () => {
    const metadata = (name: string, version: string) =>
      textFile(
        `usr/local/lib/python3.11/site-packages/${name}-${version}.dist-info/METADATA`,
        `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`,
      );
    const { packages } = await inventoryOf([
      [metadata("Requests", "2.28.1"), metadata("urllib3", "1.26.12")],
      [
        // requests is locked under its normalised name; urllib3 at another version than installed.
        textFile("app/requirements.txt", "requests==2.28.1\nurllib3==1.26.18\n"),
        textFile(
          "app/poetry.lock",
          '[[package]]\nname = "requests"\nversion = "2.28.1"\n\n[[package]]\nname = "idna"\nversion = "3.3"\n',
        ),
      ],
    ]);
    expect(rows(packages, "pypi")).toEqual([
      "Requests@2.28.1 usr/local/lib/python3.11/site-packages/Requests-2.28.1.dist-info/METADATA",
      "idna@3.3 app/poetry.lock",
      "urllib3@1.26.12 usr/local/lib/python3.11/site-packages/urllib3-1.26.12.dist-info/METADATA",
      "urllib3@1.26.18 app/requirements.txt",
    ]);
  });

  it("Ruby: an installed gemspec over the Gemfile.lock entry of the same version", async () => {
    const gemspec = (name: string, version: string) =>
      textFile(
        `usr/local/bundle/specifications/${name}-${version}.gemspec`,
        `Gem::Specification.new do |s|\n  s.name = "${name}".freeze\n  s.version = "${version}"\nend\n`,
      );
    const lock = [
      "GEM",
      "  remote: https://rubygems.org/",
      "  specs:",
      "    rack (2.2.3)",
      "    nokogiri (1.13.10-x86_64-linux)",
      "",
      "PLATFORMS",
      "  x86_64-linux",
      "",
      "DEPENDENCIES",
      "  rack",
      "",
    ].join("\n");
    const { packages } = await inventoryOf([[gemspec("rack", "2.2.3"), textFile("app/Gemfile.lock", lock)]]);
    expect(rows(packages, "gem")).toEqual([
      "nokogiri@1.13.10 app/Gemfile.lock",
      "rack@2.2.3 usr/local/bundle/specifications/rack-2.2.3.gemspec",
    ]);
  });
});
