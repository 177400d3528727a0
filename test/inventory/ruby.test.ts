import { execFile } from "node:child_process";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  gemfileLockExtractor,
  gemspecExtractor,
  licenseChoice,
  readRubyLiteral,
} from "../../src/inventory/extractors/ruby.js";
import { builtCli, isBuilt } from "../helpers/cli.js";
import { testCacheDir } from "../helpers/debian-image.js";
import { buildImage, type FixtureLayer, type LayerFile, writeOciLayout } from "../helpers/image-builder.js";
import { extractFile } from "../helpers/inventory.js";
import { expectReport } from "../helpers/report.js";
import { sharedData } from "../helpers/shared-data.js";
import { syftCoverage } from "../helpers/syft-coverage.js";
import { findTool } from "../helpers/tools.js";

const run = promisify(execFile);

const gemspec = (text: string | Buffer) =>
  extractFile(gemspecExtractor, "usr/local/bundle/specifications/x-1.gemspec", text);

/** The first layer of a Debian 12 image, as far as these tests need it: its os-release. */
const debianBase: FixtureLayer = {
  createdBy: "ADD debian-bookworm-rootfs.tar.xz /",
  files: [{ path: "etc/os-release", type: "file", content: Buffer.from('ID=debian\nVERSION_ID="12"\n') }],
};

/** Every file under a folder, as paths relative to it. */
function filesBelow(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((path) => lstatSync(join(root, path)).isFile())
    .sort();
}

describe("Ruby literals", () => {
  it("reads the string and array literals rubygems writes, frozen or not", () => {
    const value = (text: string) => readRubyLiteral(text, 0)?.value;
    expect(value('"Andr\\u00E9 Arko".freeze')).toBe("André Arko");
    expect(value('"Nokogiri (\\u92F8) makes XML\\neasy"')).toBe("Nokogiri (鋸) makes XML\neasy");
    expect(value('"tab\\tquote\\"back\\\\slash\\#{not}"')).toBe('tab\tquote"back\\slash#{not}');
    expect(value("'it\\'s \\n raw'")).toBe("it's \\n raw");
    expect(value("%q{Platform}")).toBe("Platform");
    expect(value("%q<power_assert>.freeze")).toBe("power_assert");
    expect(value("%q(a (nested) b)")).toBe("a (nested) b");
    expect(value("%w[MIT Ruby]")).toEqual(["MIT", "Ruby"]);
    expect(value('["Ruby".freeze,"BSDL".freeze, "PSFL".freeze]')).toEqual(["Ruby", "BSDL", "PSFL"]);
    expect(value("[\n  'MIT', # the main one\n  \"Apache-2.0\",\n]")).toEqual(["MIT", "Apache-2.0"]);
    expect(value("[]")).toEqual([]);
    // Interpolation, constants, calls and unterminated text are not literals.
    for (const text of ['"#{s.name}"', "Foo::VERSION", "File.read('VERSION')", '"open', '["a", b]'])
      expect(value(text), text).toBeUndefined();
    const frozen = readRubyLiteral('  "x".freeze # comment', 0);
    expect(frozen).toEqual({ value: "x", end: 12 });
  });

  it("joins several licences as a choice", () => {
    expect(licenseChoice(["MIT"])).toBe("MIT");
    expect(licenseChoice([])).toBeUndefined();
    expect(licenseChoice(["Ruby", "BSD-2-Clause"])).toBe("Ruby OR BSD-2-Clause");
    expect(licenseChoice(["MIT", "GPL-2.0-only WITH Classpath-exception-2.0"])).toBe(
      "MIT OR (GPL-2.0-only WITH Classpath-exception-2.0)",
    );
  });
});

describe("installed gem specifications", () => {
  it("wants specifications under any gem home, default gems included", () => {
    const wanted = [
      "usr/local/bundle/specifications/rack-3.0.8.gemspec",
      "usr/lib/ruby/gems/3.1.0/specifications/default/uri-0.11.0.gemspec",
      "var/lib/gems/3.1.0/specifications/nokogiri-1.15.5-x86_64-linux.gemspec",
      "usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec",
      "usr/lib/x86_64-linux-gnu/rubygems-integration/3.1.0/specifications/nokogiri-1.13.10.gemspec",
      "app/vendor/bundle/ruby/3.2.0/specifications/rails-7.1.2.gemspec",
    ];
    for (const path of wanted) expect(gemspecExtractor.wants(path), path).toBe(true);
    const unwanted = [
      "usr/local/bundle/gems/rack-3.0.8/rack.gemspec",
      "app/myapp.gemspec",
      "usr/local/bundle/specifications/rack-3.0.8.gemspec.bak",
      "usr/lib/ruby/gems/3.1.0/specifications/default/nested/x.gemspec",
    ];
    for (const path of unwanted) expect(gemspecExtractor.wants(path), path).toBe(false);
  });

  it("reads syft's and trivy's gemspecs", () => {
    const cases: Array<[string, string, string, string]> = [
      // [file, name, version, license] as each file's s.name / s.version / s.licenses say.
      ["syft/bundler.gemspec", "bundler", "2.1.4", "MIT"],
      ["syft/formatador.gemspec", "formatador", "1.1.0", "MIT"],
      ["trivy/normal00.gemspec", "rake", "13.0.3", "MIT"],
      ["trivy/multiple_licenses.gemspec", "test-unit", "3.3.7", "Ruby OR BSDL OR PSFL"],
      // `spec.licenses = "MIT" # invalid`: a string where an array belongs, as rubygems accepts.
      ["trivy/normal01.gemspec", "async", "1.25.0", "MIT"],
      // `Gem::Specification.new do |spec|` and `spec.license = "MIT"`.
      ["trivy/license.gemspec", "async", "1.25.0", "MIT"],
    ];
    for (const [file, name, version, license] of cases) {
      const path = sharedData(`pkgdb/lang/ruby/${file}`);
      if (!path) continue;
      const { packages, warnings } = gemspec(readFileSync(path));
      expect(warnings, file).toEqual([]);
      expect(packages, file).toEqual([
        { name, version, type: "gem", purl: `pkg:gem/${name}@${version}`, ecosystem: "RubyGems", license },
      ]);
    }
  });

  it("takes the last literal assignment, and the platform into the purl", () => {
    const { packages, warnings } = gemspec(
      [
        "# stub: nokogiri 1.15.5 x86_64-linux lib",
        "Gem::Specification.new do |gem|",
        '  gem.name = "nokogiri".freeze',
        '  gem.version = "1.0"',
        '  gem.version = "1.15.5"',
        '  gem.platform = "x86_64-linux".freeze',
        '  gem.license = "Apache-2.0"',
        '  gem.licenses = ["MIT".freeze]',
        '  gem.homepage = "https://nokogiri.org/#{gem.name}".freeze',
        "  gem.name == 'other'",
        "end",
      ].join("\n"),
    );
    expect(warnings).toEqual([]);
    expect(packages).toEqual([
      {
        name: "nokogiri",
        version: "1.15.5",
        type: "gem",
        purl: "pkg:gem/nokogiri@1.15.5?platform=x86_64-linux",
        ecosystem: "RubyGems",
        license: "MIT",
      },
    ]);
    const plain = gemspec(
      'Gem::Specification.new do |s|\n  s.name = "a"\n  s.version = "1"\n  s.platform = "ruby"\nend',
    );
    expect(plain.packages[0]?.purl).toBe("pkg:gem/a@1");
    // A hand-written array over several lines is a literal; one with anything after it is not.
    const head = 'Gem::Specification.new do |s|\n  s.name = "a"\n  s.version = "1"\n';
    const spread = gemspec(`${head}  s.licenses = [\n    "MIT",\n    "Apache-2.0", # either\n  ]\nend\n`);
    expect(spread.packages[0]?.license).toBe("MIT OR Apache-2.0");
    const added = gemspec(`${head}  s.licenses = [\n    "MIT",\n  ] + EXTRA_LICENSES\nend\n`);
    expect(added).toMatchObject({ warnings: [], packages: [{ name: "a" }] });
    expect(added.packages[0]?.license).toBeUndefined();
  });

  it("skips a gemspec whose name or version is not a literal, with a warning", () => {
    const cases: Array<[string, string]> = [
      ["puts 'hello'\n", "no Gem::Specification.new block; skipped"],
      [
        'Gem::Specification.new do |spec|\n  spec.name = "foo"\n  spec.version = Foo::VERSION\nend\n',
        'gemspec version is not a literal ("Foo::VERSION"); skipped',
      ],
      [
        'Gem::Specification.new do |s|\n  s.name = "foo"\n  s.version = "1.0" + suffix\nend\n',
        'gemspec version is not a literal ("\\"1.0\\" + suffix"); skipped',
      ],
      ['Gem::Specification.new do |s|\n  s.version = "1.0"\nend\n', "gemspec sets no name; skipped"],
      [
        'Gem::Specification.new do |s|\n  s.name = "two words"\n  s.version = "1.0"\nend\n',
        'gemspec name "two words" with version "1.0" is not a gem; skipped',
      ],
      [
        'Gem::Specification.new do |s|\n  s.name = "a"\n  s.version = ["1.0"]\nend\n',
        'gemspec version is not a literal ("[\\"1.0\\"]"); skipped',
      ],
    ];
    for (const [text, warning] of cases)
      expect(gemspec(text), text).toEqual({ packages: [], warnings: [warning] });
  });
});

describe("Gemfile.lock", () => {
  const lock = [
    "GIT",
    "  remote: https://github.com/rails/turbolinks.git",
    "  revision: 80216ce9d89920bf073709405e3fce6d0a3ccd9a",
    "  specs:",
    "    turbolinks (3.0.0)",
    "      coffee-rails",
    "",
    "PATH",
    "  remote: .",
    "  specs:",
    "    myapp (0.1.0)",
    "      rack (>= 2.0)",
    "",
    "GEM",
    "  remote: https://rubygems.org/",
    "  specs:",
    "    mini_portile2 (2.8.5)",
    "    nokogiri (1.15.5)",
    "      mini_portile2 (~> 2.8.2)",
    "      racc (~> 1.4)",
    "    nokogiri (1.15.5-aarch64-linux)",
    "      racc (~> 1.4)",
    "    nokogiri (1.15.5-x86_64-linux)",
    "      racc (~> 1.4)",
    "    racc (1.7.3)",
    "    rack (3.0.8)",
    "    sqlite3 (1.6.9-x86_64-linux)",
    "    this is not a spec",
    "",
    "PLATFORMS",
    "  aarch64-linux",
    "  ruby",
    "  x86_64-linux",
    "",
    "DEPENDENCIES",
    "  myapp!",
    "  nokogiri",
    "  sqlite3",
    "  turbolinks!",
    "",
    "CHECKSUMS",
    "  rack (3.0.8) sha256=0000",
    "",
    "RUBY VERSION",
    "   ruby 3.2.2p53",
    "",
    "BUNDLED WITH",
    "   2.5.3",
    "",
  ].join("\r\n");

  it("wants Bundler lockfiles, but not those inside an installed gem", () => {
    for (const path of ["app/Gemfile.lock", "Gemfile.lock", "srv/api/gems.locked"])
      expect(gemfileLockExtractor.wants(path), path).toBe(true);
    for (const path of [
      "usr/lib/ruby/gems/3.1.0/gems/rbs-2.1.0/steep/Gemfile.lock",
      "usr/local/bundle/gems/rack-3.0.8/Gemfile.lock",
      "usr/local/bundle/bundler/gems/turbolinks-80216ce9d899/Gemfile.lock",
      "app/Gemfile",
      "app/Gemfile.lock.orig",
    ])
      expect(gemfileLockExtractor.wants(path), path).toBe(false);
  });

  it("reads every source's locked gems, a version locked for several platforms once", () => {
    const { packages, warnings } = extractFile(gemfileLockExtractor, "app/Gemfile.lock", lock);
    expect(warnings).toEqual(['line 28 is not a locked gem ("this is not a spec"); skipped']);
    expect(packages).toEqual([
      {
        name: "turbolinks",
        version: "3.0.0",
        type: "gem",
        purl: "pkg:gem/turbolinks@3.0.0?vcs_url=git%2Bhttps%3A%2F%2Fgithub.com%2Frails%2Fturbolinks.git%4080216ce9d89920bf073709405e3fce6d0a3ccd9a",
      },
      { name: "myapp", version: "0.1.0", type: "gem", purl: "pkg:gem/myapp@0.1.0" },
      ...[
        ["mini_portile2", "2.8.5", ""],
        ["nokogiri", "1.15.5", ""],
        ["racc", "1.7.3", ""],
        ["rack", "3.0.8", ""],
        ["sqlite3", "1.6.9", "?platform=x86_64-linux"],
      ].map(([name, version, qualifiers]) => ({
        name,
        version,
        type: "gem",
        purl: `pkg:gem/${name}@${version}${qualifiers}`,
        ecosystem: "RubyGems",
      })),
    ]);
  });

  it("reports an unknown section once and reads nothing from it", () => {
    const text =
      "NOT-A-SOURCE\n  specs:\n    evil (6.6.6)\n    evil2 (6.6.6)\n\nGEM\n  specs:\n    rack (3.0.8)\n";
    const { packages, warnings } = extractFile(gemfileLockExtractor, "Gemfile.lock", text);
    expect(packages.map((p) => `${p.name}@${p.version}`)).toEqual(["rack@3.0.8"]);
    expect(warnings).toEqual(['unknown section "NOT-A-SOURCE"; its lines are skipped']);
  });
});

describe("syft's package coverage tree, against the packages syft expects from it", () => {
  const coverage = syftCoverage();
  const root = coverage?.root;
  const cases = coverage?.cases ?? [];
  const gemCase = (scan: string) => cases.find((c) => c.type === "gem" && c.scans.includes(scan));
  const sorted = (list: Array<{ name: string; version: string }>) =>
    list.map((p) => `${p.name}@${p.version}`).sort();

  it("finds syft's image-scan gems: the two gemspecs, a default gem among them", () => {
    if (!root) return;
    // The Dockerfile copies pkgs/* to the image's root.
    const imagePaths = filesBelow(join(root, "pkgs")).filter((path) => gemspecExtractor.wants(path));
    expect(imagePaths).toEqual([
      "ruby/specifications/bundler.gemspec",
      "ruby/specifications/default/unbundler.gemspec",
    ]);
    const packages = imagePaths.flatMap((path) => {
      // unbundler.gemspec's authors line is cut off mid-array; only the lines read matter.
      const result = gemspec(readFileSync(join(root, "pkgs", path)));
      expect(result.warnings, path).toEqual([]);
      return result.packages;
    });
    expect(sorted(packages)).toEqual(sorted(gemCase("image")?.packages ?? []));
    expect(packages.every((p) => p.ecosystem === "RubyGems" && p.license === "MIT")).toBe(true);
  });

  it("finds syft's directory-scan gems: the lockfile's GEM, GIT and PATH specs and the gemspecs", () => {
    if (!root) return;
    const lockfile = extractFile(
      gemfileLockExtractor,
      "ruby/Gemfile.lock",
      readFileSync(join(root, "pkgs/ruby/Gemfile.lock")),
    );
    // The file's BAD-SECTION (a spec-like entry under an unknown heading) is left out, as syft does.
    expect(lockfile.warnings).toEqual(['unknown section "BAD-SECTION"; its lines are skipped']);
    const gemspecs = [
      "ruby/specifications/bundler.gemspec",
      "ruby/specifications/default/unbundler.gemspec",
    ].flatMap((path) => gemspec(readFileSync(join(root, "pkgs", path))).packages);
    const expected = gemCase("directory");
    expect(expected?.packages).toHaveLength(54);
    expect(sorted([...lockfile.packages, ...gemspecs])).toEqual(sorted(expected?.packages ?? []));
    // One difference: syft lists the GIT and PATH gems like any other; here they carry no
    // ecosystem, as they are not the rubygems.org releases RubyGems advisories describe.
    expect(lockfile.packages.filter((p) => p.ecosystem === undefined).map((p) => p.name)).toEqual([
      "google-cloud-errors",
      "turbolinks",
    ]);
    expect(lockfile.packages.filter((p) => p.ecosystem === "RubyGems")).toHaveLength(50);
  });
});

/* Debian's ruby packages, downloaded at test time. */

interface DebianPackage {
  deb: string;
  root: string;
  control: string;
}

const aptGet = findTool("apt-get");
const dpkgDeb = findTool("dpkg-deb");

/** Downloads a Debian package with apt into the test cache (once) and unpacks it. */
async function debianPackage(name: string, into: string): Promise<DebianPackage> {
  const cache = join(testCacheDir(), "debs");
  await mkdir(cache, { recursive: true });
  let deb = (await readdir(cache)).find((file) => file.startsWith(`${name}_`) && file.endsWith(".deb"));
  if (!deb) {
    const download = await mkdtemp(join(cache, "download-"));
    try {
      await run(aptGet as string, ["download", name], { cwd: download, timeout: 120_000 });
      const fetched = (await readdir(download)).find((file) => file.endsWith(".deb"));
      if (!fetched) throw new Error(`apt-get download ${name} wrote no .deb`);
      await rename(join(download, fetched), join(cache, fetched));
      deb = fetched;
    } finally {
      await rm(download, { recursive: true, force: true });
    }
  }
  const path = join(cache, deb);
  const root = join(into, name);
  await mkdir(root, { recursive: true });
  await run(dpkgDeb as string, ["-x", path, root]);
  const control = (await run(dpkgDeb as string, ["-f", path])).stdout;
  return { deb: path, root, control };
}

describe("Debian's ruby packages (downloaded with apt at test time)", () => {
  let work: string;
  let rack: DebianPackage | undefined;
  let libruby: DebianPackage | undefined;
  let unavailable: string | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-ruby-debs-"));
    if (!aptGet || !dpkgDeb) {
      unavailable = "apt-get or dpkg-deb not found";
      return;
    }
    try {
      rack = await debianPackage("ruby-rack", work);
      // The interpreter's library: Ruby's default gems and its bundled gems.
      libruby = await debianPackage("libruby3.1", work);
    } catch (error) {
      unavailable = `apt could not download the packages (${(error as Error).message.split("\n")[0]})`;
    }
    if (unavailable) console.warn(`skipping the Debian ruby package tests: ${unavailable}`);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("reads every gemspec they ship; each names the gem its file name says", (context) => {
    if (!rack || !libruby) return context.skip(unavailable);
    const found = new Map<string, { version: string; license?: string; path: string }>();
    let files = 0;
    for (const pkg of [rack, libruby])
      for (const path of filesBelow(pkg.root)) {
        if (!gemspecExtractor.wants(path)) continue;
        files++;
        const { packages, warnings } = gemspec(readFileSync(join(pkg.root, path)));
        expect(warnings, path).toEqual([]);
        expect(packages, path).toHaveLength(1);
        const [gem] = packages;
        // rubygems names a spec file NAME-VERSION.gemspec.
        expect(`${gem?.name}-${gem?.version}.gemspec`, path).toBe(path.split("/").pop());
        expect(gem?.ecosystem).toBe("RubyGems");
        found.set(gem?.name ?? "", {
          version: gem?.version ?? "",
          path,
          ...(gem?.license ? { license: gem.license } : {}),
        });
      }
    expect(files).toBeGreaterThan(70);
    expect(found.size).toBe(files);
    // ruby-rack's gem is the upstream part of the Debian version (2.2.22 of 2.2.22-0+deb12u2).
    const debianVersion = /^Version: (.+)$/m.exec(rack.control)?.[1] ?? "";
    expect(found.get("rack")).toMatchObject({
      version: debianVersion.replace(/^\d+:/, "").replace(/-[^-]+$/, ""),
      license: "MIT",
      path: expect.stringMatching(/^usr\/share\/rubygems-integration\/all\/specifications\//),
    });
    // Default gems with advisories of their own: `s.licenses = ["Ruby".freeze, "BSD-2-Clause".freeze]`.
    for (const name of ["uri", "net-http", "cgi", "openssl", "bundler"])
      expect(found.get(name)?.path, name).toMatch(
        /^usr\/lib\/ruby\/gems\/3\.1\.0\/specifications\/default\//,
      );
    expect(found.get("uri")?.license).toBe("Ruby OR BSD-2-Clause");
    // Bundled gems (installed as ordinary gems) such as net-imap and rexml.
    for (const name of ["net-imap", "rexml", "rake", "minitest"])
      expect(found.get(name)?.path, name).toMatch(/^usr\/lib\/ruby\/gems\/3\.1\.0\/specifications\/[^/]+$/);
    // libruby ships the development lockfiles of two bundled gems; they describe no installed gem.
    const lockfiles = filesBelow(libruby.root).filter((path) => path.endsWith("Gemfile.lock"));
    expect(lockfiles.length).toBeGreaterThan(0);
    for (const path of lockfiles) expect(gemfileLockExtractor.wants(path), path).toBe(false);
  });

  it("a gem Debian installed is listed as owned by its deb and left to the OS advisories", async (context) => {
    if (!rack) return context.skip(unavailable);
    const control = rack.control.replace(/\n*$/, "\n");
    // dpkg's status stanza is the package's control with the Status dpkg adds on installing it.
    const status = control.replace(/^(Package: .*\n)/, "$1Status: install ok installed\n");
    const installed = filesBelow(rack.root);
    const list = `/.\n${installed.map((path) => `/${path}`).join("\n")}\n`;
    const gemspecPath = installed.find((path) => gemspecExtractor.wants(path)) as string;
    const image = await buildImage([
      debianBase,
      {
        createdBy: "RUN apt-get install -y ruby-rack",
        files: [
          { path: "var/lib/dpkg/status", type: "file", content: Buffer.from(status) },
          { path: "var/lib/dpkg/info/ruby-rack.list", type: "file", content: Buffer.from(list) },
          { path: gemspecPath, type: "file", content: readFileSync(join(rack.root, gemspecPath)) },
        ],
      },
    ]);
    const layout = join(work, "debian-layout");
    await writeOciLayout(image, layout);
    const sbom = await builtCli(["sbom", `oci:${layout}`, "--format", "json", "--no-cache"]);
    const report = expectReport(sbom, "");
    const deb = report.packages.find((p) => p.type === "deb" && p.name === "ruby-rack");
    const gem = report.packages.find((p) => p.type === "gem");
    expect(deb?.purl).toMatch(/^pkg:deb\/debian\/ruby-rack@/);
    expect(gem).toMatchObject({ name: "rack", location: gemspecPath, osOwned: deb?.purl });
    expect(gem?.ecosystem).toBeUndefined();
  });
});

/* The whole path: an image with Ruby and PHP layers, through the built CLI. */

describe("an image with a Ruby app and a PHP app, end to end through the CLI", () => {
  const files = {
    bundler: sharedData("pkgdb/lang/ruby/syft/bundler.gemspec"),
    rake: sharedData("pkgdb/lang/ruby/trivy/normal00.gemspec"),
    testUnit: sharedData("pkgdb/lang/ruby/trivy/multiple_licenses.gemspec"),
    gemfileLock: sharedData("pkgdb/syft-image-pkg-coverage/pkgs/ruby/Gemfile.lock"),
    composer1: sharedData("pkgdb/lang/php/syft/vendor/composer_1/installed.json"),
    composer2: sharedData("pkgdb/lang/php/syft/vendor/composer_2/installed.json"),
    composerLock: sharedData("pkgdb/lang/php/trivy/analyzer/composer/with-dev/composer.lock"),
  };
  const missing = Object.values(files).some((path) => path === undefined);
  let work: string;
  let layout: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-ruby-php-"));
    if (missing) return;
    const file = (path: string, from: string | undefined): LayerFile => ({
      path,
      type: "file",
      content: readFileSync(from as string),
    });
    const image = await buildImage([
      debianBase,
      {
        createdBy: "RUN gem install bundler:2.1.4 rake:13.0.3 && bundle install",
        files: [
          file("usr/local/bundle/specifications/bundler-2.1.4.gemspec", files.bundler),
          file("usr/local/bundle/specifications/rake-13.0.3.gemspec", files.rake),
          file("app/Gemfile.lock", files.gemfileLock),
        ],
      },
      {
        // Composer 1 writes installed.json as a bare array.
        createdBy: "RUN composer install",
        files: [
          file("var/www/html/composer.lock", files.composerLock),
          file("var/www/html/vendor/composer/installed.json", files.composer1),
        ],
      },
      {
        // Composer 2 rewrites it with the same packages, now saying which are for development.
        createdBy: "RUN gem install test-unit:3.3.7 && composer self-update --2 && composer install",
        files: [
          file("usr/local/bundle/specifications/test-unit-3.3.7.gemspec", files.testUnit),
          file("var/www/html/vendor/composer/installed.json", files.composer2),
        ],
      },
    ]);
    layout = join(work, "layout");
    await writeOciLayout(image, layout);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("lists each gem and Composer package with its ecosystem, purl, dev flag, layer and location", async (context) => {
    if (missing) return context.skip("shared data is absent");
    expect(isBuilt(), "run `npm run build` first").toBe(true);
    const sbom = await builtCli(["sbom", `oci:${layout}`, "--format", "json", "--no-cache"]);
    const report = expectReport(
      sbom,
      'layerwatch: warning: layer 1: app/Gemfile.lock: unknown section "BAD-SECTION"; its lines are skipped\n',
    );
    const summary = (type: string) =>
      report.packages
        .filter((p) => p.type === type && !p.location.endsWith("Gemfile.lock"))
        .map((p) => [
          p.name,
          p.version,
          p.purl,
          p.ecosystem,
          p.license,
          p.dev ?? false,
          p.location,
          p.layer.index,
        ]);
    const specs = "usr/local/bundle/specifications";
    expect(summary("gem")).toEqual([
      [
        "bundler",
        "2.1.4",
        "pkg:gem/bundler@2.1.4",
        "RubyGems",
        "MIT",
        false,
        `${specs}/bundler-2.1.4.gemspec`,
        1,
      ],
      ["rake", "13.0.3", "pkg:gem/rake@13.0.3", "RubyGems", "MIT", false, `${specs}/rake-13.0.3.gemspec`, 1],
      [
        "test-unit",
        "3.3.7",
        "pkg:gem/test-unit@3.3.7",
        "RubyGems",
        "Ruby OR BSDL OR PSFL",
        false,
        `${specs}/test-unit-3.3.7.gemspec`,
        3,
      ],
    ]);
    const locked = report.packages.filter((p) => p.location === "app/Gemfile.lock");
    expect(locked).toHaveLength(52);
    expect(new Set(locked.map((p) => p.layer.index))).toEqual(new Set([1]));
    expect(locked.find((p) => p.name === "rails")).toMatchObject({
      version: "4.1.1",
      purl: "pkg:gem/rails@4.1.1",
      ecosystem: "RubyGems",
    });
    const turbolinks = locked.find((p) => p.name === "turbolinks");
    expect(turbolinks?.ecosystem).toBeUndefined();
    expect(turbolinks?.purl).toMatch(/^pkg:gem\/turbolinks@3\.0\.0\?vcs_url=git%2Bhttps/);

    const vendor = "var/www/html/vendor/composer/installed.json";
    const lock = "var/www/html/composer.lock";
    expect(summary("composer")).toEqual([
      // From composer_2/installed.json: the same packages as Composer 1 wrote in layer 2.
      [
        "asm89/stack-cors",
        "1.3.0",
        "pkg:composer/asm89/stack-cors@1.3.0",
        "Packagist",
        "MIT",
        false,
        vendor,
        2,
      ],
      ["behat/mink", "v1.8.1", "pkg:composer/behat/mink@v1.8.1", "Packagist", "MIT", true, vendor, 2],
      ["pear/log", "1.14.6", "pkg:composer/pear/log@1.14.6", "Packagist", "MIT", true, lock, 2],
      [
        "pear/pear_exception",
        "v1.0.2",
        "pkg:composer/pear/pear_exception@v1.0.2",
        "Packagist",
        "BSD-2-Clause",
        true,
        lock,
        2,
      ],
      ["psr/log", "1.1.4", "pkg:composer/psr/log@1.1.4", "Packagist", "MIT", false, lock, 2],
    ]);
    expect(report.warnings).toHaveLength(1);
  });
});
