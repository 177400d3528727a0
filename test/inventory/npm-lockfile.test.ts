import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmInstalledExtractor } from "../../src/inventory/extractors/npm.js";
import { npmLockfileExtractor } from "../../src/inventory/extractors/npm-lockfile.js";
import type { ExtractedPackage } from "../../src/inventory/types.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { buildImage, writeOciLayout } from "../helpers/image-builder.js";
import { extractFile } from "../helpers/inventory.js";
import { compileSchema } from "../helpers/schema.js";
import { sharedData } from "../helpers/shared-data.js";

const extract = (path: string, text: string | Buffer) => extractFile(npmLockfileExtractor, path, text);

const ids = (packages: ExtractedPackage[]) => packages.map((p) => `${p.name}@${p.version}`).sort();
const devIds = (packages: ExtractedPackage[]) =>
  packages
    .filter((p) => p.dev)
    .map((p) => `${p.name}@${p.version}`)
    .sort();

describe("which files the lockfile extractor reads", () => {
  it("wants the four lockfile names anywhere but inside node_modules", () => {
    for (const path of [
      "app/package-lock.json",
      "package-lock.json",
      "srv/app/npm-shrinkwrap.json",
      "usr/src/app/yarn.lock",
      "app/pnpm-lock.yaml",
    ])
      expect(npmLockfileExtractor.wants(path), path).toBe(true);
    for (const path of [
      "app/node_modules/foo/package-lock.json",
      "node_modules/foo/yarn.lock",
      "app/node_modules/.package-lock.json",
      "app/package.json",
      "app/my-package-lock.json.bak",
    ])
      expect(npmLockfileExtractor.wants(path), path).toBe(false);
  });

  it("leaves global modules to the installed-manifest extractor", () => {
    for (const path of [
      "usr/lib/node_modules/npm/package.json",
      "usr/local/lib/node_modules/npm/package.json",
      "usr/local/lib/node_modules/@angular/cli/package.json",
      "usr/local/lib/node_modules/npm/node_modules/semver/package.json",
    ])
      expect(npmInstalledExtractor.wants(path), path).toBe(true);
  });
});

describe("package-lock.json", () => {
  const v1 = JSON.stringify({
    name: "app",
    version: "1.0.0",
    lockfileVersion: 1,
    dependencies: {
      lodash: { version: "4.17.20" },
      minimist: { version: "1.2.5", dev: true },
      "@types/node": { version: "20.1.0", dev: true },
      "my-lodash": { version: "npm:lodash@4.17.21" },
      local: { version: "file:../local" },
      gitdep: { version: "git+https://example.invalid/x.git#abc" },
      express: {
        version: "4.16.4",
        dependencies: { debug: { version: "2.6.9" }, ms: { version: "2.0.0" } },
      },
    },
  });

  it("reads v1's nested dependencies, aliases by their real name, and dev flags", () => {
    const { packages, warnings } = extract("app/package-lock.json", v1);
    expect(warnings).toEqual([]);
    expect(ids(packages)).toEqual([
      "@types/node@20.1.0",
      "debug@2.6.9",
      "express@4.16.4",
      "lodash@4.17.20",
      "lodash@4.17.21",
      "minimist@1.2.5",
      "ms@2.0.0",
    ]);
    expect(devIds(packages)).toEqual(["@types/node@20.1.0", "minimist@1.2.5"]);
    expect(packages.find((p) => p.name === "@types/node")).toEqual({
      name: "@types/node",
      version: "20.1.0",
      type: "npm",
      purl: "pkg:npm/%40types/node@20.1.0",
      ecosystem: "npm",
      dev: true,
    });
    expect(packages.find((p) => p.name === "lodash")).not.toHaveProperty("dev");
  });

  const packagesMap = (lockfileVersion: number) =>
    JSON.stringify({
      name: "app",
      lockfileVersion,
      requires: true,
      packages: {
        "": { name: "app", version: "1.0.0", dependencies: { lodash: "^4.17.20" } },
        "node_modules/lodash": { version: "4.17.20" },
        "node_modules/minimist": { version: "1.2.5", dev: true },
        "node_modules/fsevents": { version: "2.3.2", devOptional: true, optional: true },
        "node_modules/@babel/parser": { version: "7.23.6" },
        "node_modules/express/node_modules/debug": { version: "2.6.9" },
        "node_modules/old-lodash": { name: "lodash", version: "3.10.1" },
        "node_modules/workspace-a": { resolved: "packages/a", link: true },
        "packages/a": { name: "workspace-a", version: "0.0.1" },
      },
      // v2 also carries the v1 section, which is ignored when `packages` is there.
      ...(lockfileVersion === 2 ? { dependencies: { ignored: { version: "9.9.9" } } } : {}),
    });

  it.each([2, 3])("reads v%i's packages map, skipping the root, links and workspace folders", (version) => {
    const { packages, warnings } = extract("app/package-lock.json", packagesMap(version));
    expect(warnings).toEqual([]);
    expect(ids(packages)).toEqual([
      "@babel/parser@7.23.6",
      "debug@2.6.9",
      "fsevents@2.3.2",
      "lodash@3.10.1",
      "lodash@4.17.20",
      "minimist@1.2.5",
    ]);
    expect(devIds(packages)).toEqual(["fsevents@2.3.2", "minimist@1.2.5"]);
    expect(packages.find((p) => p.name === "@babel/parser")?.purl).toBe("pkg:npm/%40babel/parser@7.23.6");
  });

  it("reads npm-shrinkwrap.json the same way", () => {
    expect(ids(extract("npm-shrinkwrap.json", packagesMap(3)).packages)).toEqual(
      ids(extract("package-lock.json", packagesMap(3)).packages),
    );
  });

  it("keeps one package per name and version, a dev dependency only if every copy is", () => {
    const lock = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        "node_modules/ms": { version: "2.0.0", dev: true },
        "node_modules/a/node_modules/ms": { version: "2.0.0" },
        "node_modules/b/node_modules/debug": { version: "4.3.4", dev: true },
        "node_modules/c/node_modules/debug": { version: "4.3.4", dev: true },
      },
    });
    const { packages } = extract("package-lock.json", lock);
    expect(ids(packages)).toEqual(["debug@4.3.4", "ms@2.0.0"]);
    expect(devIds(packages)).toEqual(["debug@4.3.4"]);
  });
});

describe("yarn.lock", () => {
  const classic = `# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.10.4"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.10.4.tgz"
  dependencies:
    "@babel/highlight" "^7.10.4"

lodash@^4.17.20:
  version "4.17.20"

"old-minimist@npm:minimist@^1.2.0":
  version "1.2.5"
`;

  it("reads classic (v1) entries, aliases by their real name", () => {
    const { packages, warnings } = extract("app/yarn.lock", classic);
    expect(warnings).toEqual([]);
    expect(ids(packages)).toEqual(["@babel/code-frame@7.10.4", "lodash@4.17.20", "minimist@1.2.5"]);
    expect(devIds(packages)).toEqual([]);
  });

  it("reads a classic file that lacks yarn's header comment", () => {
    const headless = classic.split("\n").slice(3).join("\n");
    expect(ids(extract("yarn.lock", headless).packages)).toEqual(ids(extract("yarn.lock", classic).packages));
  });

  it("reads berry entries by their resolution, skipping workspaces and links", () => {
    const berry = `# This file is generated by running "yarn install" inside your project.

__metadata:
  version: 6
  cacheKey: 8

"@babel/code-frame@npm:^7.10.4":
  version: 7.10.4
  resolution: "@babel/code-frame@npm:7.10.4"
  languageName: node
  linkType: hard

"lodash@npm:^4.17.20, lodash@npm:^4.17.0":
  version: 4.17.20
  resolution: "lodash@npm:4.17.20"
  languageName: node
  linkType: hard

"old-minimist@npm:minimist@^1.2.0":
  version: 1.2.5
  resolution: "minimist@npm:1.2.5"
  languageName: node
  linkType: hard

"fsevents@patch:fsevents@^2.3.2#~builtin<compat/fsevents>":
  version: 2.3.2
  resolution: "fsevents@patch:fsevents@npm%3A2.3.2#~builtin<compat/fsevents>::version=2.3.2&hash=18f3a7"
  languageName: node
  linkType: hard

"helper@link:./helper::locator=app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "helper@link:./helper::locator=app%40workspace%3A."
  languageName: node
  linkType: soft

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."
  languageName: unknown
  linkType: soft
`;
    const { packages, warnings } = extract("yarn.lock", berry);
    expect(warnings).toEqual([]);
    expect(ids(packages)).toEqual([
      "@babel/code-frame@7.10.4",
      "fsevents@2.3.2",
      "lodash@4.17.20",
      "minimist@1.2.5",
    ]);
  });
});

describe("pnpm-lock.yaml", () => {
  it("reads v5 keys (/name/version, peer suffix after _), scoped names and dev flags", () => {
    const lock = `lockfileVersion: 5.4

specifiers:
  lodash: ^4.17.20

dependencies:
  lodash: 4.17.20

packages:

  /lodash/4.17.20:
    resolution: {integrity: sha512-x}
    dev: false

  /@babel/core/7.24.7:
    resolution: {integrity: sha512-x}
    dev: true

  /@babel/helper-plugin-utils/7.24.7_@babel+core@7.24.7:
    resolution: {integrity: sha512-x}
    dev: true

  /eslint-plugin-n/15.2.4_eslint@8.21.0:
    resolution: {integrity: sha512-x}
    dev: true

  github.com/user/thing/0123abcd:
    resolution: {tarball: https://codeload.github.com/user/thing/tar.gz/0123abcd}
    name: thing
    version: 1.0.0
    dev: false
`;
    const { packages, warnings } = extract("pnpm-lock.yaml", lock);
    expect(warnings).toEqual([]);
    expect(ids(packages)).toEqual([
      "@babel/core@7.24.7",
      "@babel/helper-plugin-utils@7.24.7",
      "eslint-plugin-n@15.2.4",
      "lodash@4.17.20",
      "thing@1.0.0",
    ]);
    expect(devIds(packages)).toEqual([
      "@babel/core@7.24.7",
      "@babel/helper-plugin-utils@7.24.7",
      "eslint-plugin-n@15.2.4",
    ]);
  });

  it("reads v6 keys (/name@version, peer suffix in parentheses)", () => {
    const lock = `lockfileVersion: '6.0'

packages:

  /lodash@4.17.20:
    resolution: {integrity: sha512-x}
    dev: false

  /@babel/helper-plugin-utils@7.24.7(@babel/core@7.24.7):
    resolution: {integrity: sha512-x}
    dev: true

  /debug@4.3.4(supports-color@8.1.1):
    resolution: {integrity: sha512-x}
    dev: true
`;
    const { packages } = extract("pnpm-lock.yaml", lock);
    expect(ids(packages)).toEqual(["@babel/helper-plugin-utils@7.24.7", "debug@4.3.4", "lodash@4.17.20"]);
    expect(devIds(packages)).toEqual(["@babel/helper-plugin-utils@7.24.7", "debug@4.3.4"]);
  });

  it("reads v9's packages and snapshots, tarball versions from the entry, no local folders", () => {
    const lock = `lockfileVersion: '9.0'

importers:
  .:
    dependencies:
      lodash:
        specifier: ^4.17.20
        version: 4.17.20

packages:

  '@babel/core@7.24.7':
    resolution: {integrity: sha512-x}

  lodash@4.17.20:
    resolution: {integrity: sha512-x}

  debug@4.3.4:
    resolution: {integrity: sha512-x}

  ms@https://example.invalid/ms-2.1.2.tgz:
    resolution: {tarball: https://example.invalid/ms-2.1.2.tgz}
    version: 2.1.2

  local@file:packages/local:
    resolution: {directory: packages/local, type: directory}

snapshots:

  '@babel/core@7.24.7': {}

  lodash@4.17.20: {}

  debug@4.3.4(supports-color@8.1.1):
    dependencies:
      ms: 2.1.2

  supports-color@8.1.1: {}
`;
    const { packages, warnings } = extract("pnpm-lock.yaml", lock);
    expect(warnings).toEqual([]);
    expect(ids(packages)).toEqual([
      "@babel/core@7.24.7",
      "debug@4.3.4",
      "lodash@4.17.20",
      "ms@2.1.2",
      "supports-color@8.1.1",
    ]);
  });
});

describe("bad input", () => {
  it.each([
    ["package-lock.json", "{ not json"],
    ["package-lock.json", "[1, 2]"],
    ["pnpm-lock.yaml", "packages: [\n  - {"],
    ["pnpm-lock.yaml", "just a string"],
    ["yarn.lock", '# yarn lockfile v1\n\nfoo@^1:\n  version "1.0.0\n  }}'],
  ])("warns about a broken %s and reads nothing", (path, text) => {
    const { packages, warnings } = extract(path, text);
    expect(packages).toEqual([]);
    expect(warnings).toHaveLength(1);
  });

  it("skips entries without a version or with a name that makes no purl", () => {
    const lock = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        "node_modules/no-version": {},
        "node_modules/bad name": { version: "1.0.0" },
        "node_modules/ok": { version: "1.0.0" },
        "node_modules/odd": "not an object",
      },
    });
    const { packages, warnings } = extract("package-lock.json", lock);
    expect(ids(packages)).toEqual(["ok@1.0.0"]);
    expect(warnings).toEqual(['"bad name@1.0.0" is not a package; skipped']);
  });

  it("reads an empty file as nothing", () => {
    expect(extract("yarn.lock", "").packages).toEqual([]);
    expect(extract("pnpm-lock.yaml", "").warnings).toHaveLength(1);
  });
});

describe("the lockfiles in the shared data", () => {
  const read = (relative: string) => {
    const path = sharedData(`pkgdb/lang/npm/${relative}`);
    return path ? readFileSync(path) : undefined;
  };
  const cases: Array<{
    file: string;
    as: string;
    count: number;
    dev: number;
    has: string[];
    devHas?: string[];
  }> = [
    // trivy's parse_testcase.go lists 31 distinct packages for each package-lock version,
    // debug@2.5.2 and ms@0.7.2 as development dependencies.
    ...["package-lock_v1.json", "package-lock_v2.json", "package-lock_v3.json"].map((file) => ({
      file: `trivy/parser/${file}`,
      as: "package-lock.json",
      count: 31,
      dev: 2,
      has: ["@babel/helper-string-parser@7.19.4", "body-parser@1.18.3", "ms@1.0.0", "promise@8.3.0"],
      devHas: ["debug@2.5.2", "ms@0.7.2"],
    })),
    {
      file: "trivy/analyzer/happy/package-lock.json",
      as: "package-lock.json",
      count: 8,
      dev: 1,
      has: ["express@4.16.4", "@babel/parser@7.23.6", "ms@2.1.1", "debug@2.6.9"],
      devHas: ["ansi-colors@3.2.3"],
    },
    {
      file: "syft/pkg-lock/package-lock.json",
      as: "package-lock.json",
      count: 12,
      dev: 1,
      has: ["@actions/core@1.6.0", "cowsay@1.4.0", "minimist@0.0.10", "wordwrap@0.0.3"],
      devHas: ["async@3.2.4"],
    },
    {
      file: "trivy/parser/yarn_happy.lock",
      as: "yarn.lock",
      count: 18,
      dev: 0,
      has: ["@babel/helper-regex@7.4.4", "ansi-regex@2.1.1", "ansi-regex@3.0.0", "lodash@4.17.11"],
    },
    {
      file: "trivy/parser/yarn_v2_happy.lock",
      as: "yarn.lock",
      count: 17,
      dev: 0,
      has: ["@types/color-name@1.1.1", "assert-plus@1.0.0", "fsevents@2.1.3", "node-gyp@7.1.0"],
    },
    {
      file: "syft/yarn/yarn.lock",
      as: "yarn.lock",
      count: 9,
      dev: 0,
      has: ["@babel/code-frame@7.10.4", "aws-sdk@2.706.0", "asn1.js@4.10.1", "c0n-fab_u.laTION@7.7.7"],
    },
    {
      // The same packages, less the workspace ("c0n-fab_u.laTION@workspace:.").
      file: "syft/yarn-berry/yarn.lock",
      as: "yarn.lock",
      count: 8,
      dev: 0,
      has: ["@babel/code-frame@7.10.4", "aws-sdk@2.706.0", "jhipster-core@7.3.4"],
    },
    {
      file: "trivy/parser/pnpm-lock_normal.yaml",
      as: "pnpm-lock.yaml",
      count: 3,
      dev: 0,
      has: ["asap@2.0.6", "jquery@3.6.0", "promise@8.1.0"],
    },
    {
      file: "trivy/parser/pnpm-lock_v6.yaml",
      as: "pnpm-lock.yaml",
      count: 3,
      dev: 0,
      has: ["asap@2.0.6", "jquery@3.6.0", "promise@8.1.0"],
    },
    {
      file: "trivy/parser/pnpm-lock_many.yaml",
      as: "pnpm-lock.yaml",
      count: 134,
      dev: 78,
      has: ["@babel/runtime@7.18.3", "chalk@5.0.1", "debug@4.3.4", "asn1@0.2.6"],
      devHas: ["mocha@10.0.0", "debug@4.3.4"],
    },
    {
      file: "trivy/parser/pnpm-lock_v6_with_dev.yaml",
      as: "pnpm-lock.yaml",
      count: 85,
      dev: 79,
      has: ["@babel/runtime@7.22.3", "react@18.1.0", "redux@4.2.0", "js-tokens@4.0.0"],
      devHas: ["mocha@10.0.0", "@ungap/promise-all-settled@1.1.2"],
    },
    {
      file: "trivy/parser/pnpm-lock_v9.yaml",
      as: "pnpm-lock.yaml",
      count: 21,
      dev: 0,
      has: ["@babel/helper-string-parser@7.24.1", "debug@4.3.5", "is-negative@2.0.1", "lodash@4.17.21"],
    },
    {
      file: "syft/pnpm/pnpm-lock.yaml",
      as: "pnpm-lock.yaml",
      count: 1,
      dev: 1,
      has: ["@bcoe/v8-coverage@0.2.3"],
      devHas: ["@bcoe/v8-coverage@0.2.3"],
    },
    {
      file: "syft/pnpm-v9/pnpm-lock.yaml",
      as: "pnpm-lock.yaml",
      count: 4,
      dev: 0,
      has: ["@babel/core@7.24.7", "@babel/helper-plugin-utils@7.24.7", "is-positive@3.1.0", "rollup@4.18.0"],
    },
  ];

  it.each(cases)("$file", ({ file, as, count, dev, has, devHas }) => {
    const content = read(file);
    if (!content) return;
    const { packages, warnings } = extract(`app/${as}`, content);
    expect(warnings).toEqual([]);
    expect(packages).toHaveLength(count);
    expect(packages.filter((p) => p.dev)).toHaveLength(dev);
    expect(ids(packages)).toEqual(expect.arrayContaining(has));
    expect(devIds(packages)).toEqual(expect.arrayContaining(devHas ?? []));
    for (const pkg of packages) {
      expect(pkg.ecosystem).toBe("npm");
      expect(pkg.purl.startsWith("pkg:npm/")).toBe(true);
      expect(pkg.purl.endsWith(`@${pkg.version}`)).toBe(true);
    }
  });

  it("the pnpm v9 file's local folder package1 is not a package", () => {
    const content = read("trivy/parser/pnpm-lock_v9.yaml");
    if (!content) return;
    expect(ids(extract("pnpm-lock.yaml", content).packages).some((id) => id.startsWith("package1"))).toBe(
      false,
    );
  });
});

describe("npm lockfiles, end to end", () => {
  let work: string;
  let db: string;
  const lockfile = Buffer.from(
    JSON.stringify({
      name: "app",
      version: "1.0.0",
      lockfileVersion: 3,
      requires: true,
      packages: {
        "": {
          name: "app",
          version: "1.0.0",
          dependencies: { lodash: "4.17.20" },
          devDependencies: { minimist: "1.2.5" },
        },
        "node_modules/lodash": {
          version: "4.17.20",
          resolved: "https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz",
        },
        "node_modules/minimist": {
          version: "1.2.5",
          resolved: "https://registry.npmjs.org/minimist/-/minimist-1.2.5.tgz",
          dev: true,
        },
      },
    }),
  );

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-npm-lockfile-"));
    db = join(work, "db.sqlite");
    const imported = await cli([
      "--db",
      db,
      "db",
      "import",
      join(import.meta.dirname, "../../fixtures/osv/npm"),
    ]);
    expect(imported.code).toBe(0);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("finds lodash's and minimist's advisories from app/package-lock.json, minimist as dev", async () => {
    const image = await buildImage([
      {
        createdBy: "COPY package-lock.json /app/",
        files: [
          { path: "app", type: "directory" },
          { path: "app/package-lock.json", type: "file", content: lockfile },
        ],
      },
    ]);
    await writeOciLayout(image, join(work, "layout"));
    const run = await cli(["--db", db, "scan", `oci:${join(work, "layout")}`, "--format", "json"]);
    // The image has no OS, which the scan says; nothing else goes wrong.
    expect(run.stderr).toMatch(/^layerwatch: warning: image: no OS release found[^\n]*\n$/);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.packages.map((p) => [p.name, p.version, p.location, p.dev])).toEqual([
      ["lodash", "4.17.20", "app/package-lock.json", undefined],
      ["minimist", "1.2.5", "app/package-lock.json", true],
    ]);
    expect(report.packages[1]?.purl).toBe("pkg:npm/minimist@1.2.5");
    const findings = report.findings.map((f) => [f.package.name, [f.id, ...f.aliases].sort()]);
    expect(findings).toEqual(
      expect.arrayContaining([
        ["lodash", expect.arrayContaining(["CVE-2021-23337"])],
        ["lodash", expect.arrayContaining(["CVE-2020-28500"])],
        ["minimist", expect.arrayContaining(["CVE-2021-44906"])],
      ]),
    );
    expect(findings).toHaveLength(3);
    expect(report.findings.find((f) => f.package.name === "minimist")?.fixedVersion).toBe("1.2.6");
    const schema = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../docs/report.schema.json"), "utf8"),
    );
    const validate = compileSchema(schema);
    expect(validate(report), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it("reports a package installed and locked under the same app once, from node_modules", async () => {
    const root = join(work, "rootfs");
    await mkdir(join(root, "app/node_modules/lodash"), { recursive: true });
    await writeFile(join(root, "app/package-lock.json"), lockfile);
    await writeFile(
      join(root, "app/node_modules/lodash/package.json"),
      JSON.stringify({ name: "lodash", version: "4.17.20" }),
    );
    // A global module is found too.
    await mkdir(join(root, "usr/local/lib/node_modules/npm"), { recursive: true });
    await writeFile(
      join(root, "usr/local/lib/node_modules/npm/package.json"),
      JSON.stringify({ name: "npm", version: "10.2.4" }),
    );
    const run = await cli(["--db", db, "scan", `rootfs:${root}`, "--format", "json"]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.packages.map((p) => [p.name, p.version, p.location, p.dev])).toEqual([
      ["lodash", "4.17.20", "app/node_modules/lodash/package.json", undefined],
      ["minimist", "1.2.5", "app/package-lock.json", true],
      ["npm", "10.2.4", "usr/local/lib/node_modules/npm/package.json", undefined],
    ]);
  });
});
