import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseMetadataHeaders,
  pipfileLockExtractor,
  poetryLockExtractor,
  pythonInstalledExtractor,
  requirementsExtractor,
  uvLockExtractor,
} from "../../src/inventory/extractors/python.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { buildImage, writeOciLayout } from "../helpers/image-builder.js";
import { extractFile } from "../helpers/inventory.js";
import { importRecords } from "../helpers/osv-zip.js";
import { compileSchema } from "../helpers/schema.js";
import { sharedData } from "../helpers/shared-data.js";

const metadata = (text: string | Buffer) =>
  extractFile(
    pythonInstalledExtractor,
    "usr/local/lib/python3.11/site-packages/x-1.dist-info/METADATA",
    text,
  );

describe("installed Python distributions", () => {
  it("wants core metadata files in site-packages and dist-packages, anywhere", () => {
    const wanted = [
      "usr/lib/python3/dist-packages/urllib3-1.26.12.dist-info/METADATA",
      "usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
      "opt/venv/lib/python3.12/site-packages/six-1.16.0.dist-info/METADATA",
      "usr/lib/python3/dist-packages/distlib-0.3.1.egg-info/PKG-INFO",
      "usr/lib/python2.7/dist-packages/foo-1.0.egg-info",
    ];
    for (const path of wanted) expect(pythonInstalledExtractor.wants(path), path).toBe(true);
    const unwanted = [
      "usr/lib/python3/dist-packages/urllib3-1.26.12.dist-info/RECORD",
      "usr/lib/python3/dist-packages/urllib3/__init__.py",
      "home/user/urllib3-1.26.12.dist-info/METADATA",
      "usr/lib/python3/dist-packages/foo.egg-info/SOURCES.txt",
    ];
    for (const path of unwanted) expect(pythonInstalledExtractor.wants(path), path).toBe(false);
  });

  it("reads Name, Version and the licence from the headers, not the body", () => {
    const { packages, warnings } = metadata(
      [
        "Metadata-Version: 2.1",
        "Name: Flask_SQLAlchemy",
        "Version: 3.1.1",
        "Summary: Add SQLAlchemy support",
        "License: BSD-3-Clause",
        "",
        "Name: not-this",
        "License: nor this",
      ].join("\r\n"),
    );
    expect(warnings).toEqual([]);
    expect(packages).toEqual([
      {
        name: "Flask_SQLAlchemy",
        version: "3.1.1",
        type: "pypi",
        purl: "pkg:pypi/flask-sqlalchemy@3.1.1",
        ecosystem: "PyPI",
        license: "BSD-3-Clause",
      },
    ]);
  });

  it("prefers License-Expression, and leaves out UNKNOWN and whole licence texts", () => {
    const both = metadata("Name: a\nVersion: 1\nLicense: MIT License\nLicense-Expression: MIT\n");
    expect(both.packages[0]?.license).toBe("MIT");
    expect(metadata("Name: a\nVersion: 1\nLicense: UNKNOWN\n").packages[0]?.license).toBeUndefined();
    const text = metadata(
      "Name: a\nVersion: 1\nLicense: Copyright 2010 Someone\n        \n        Redistribution...\n",
    );
    expect(text.packages[0]?.license).toBeUndefined();
    expect(parseMetadataHeaders("License: line one\n   line two\nName: a\n").get("license")).toBe(
      "line one\nline two",
    );
  });

  it("skips metadata without a Name or Version, with a warning", () => {
    expect(metadata("Metadata-Version: 2.1\nName: lonely\n")).toEqual({
      packages: [],
      warnings: ["Python metadata without a Name and Version; skipped"],
    });
    expect(metadata("Version: 1.0\n").warnings).toHaveLength(1);
    expect(metadata("").warnings).toHaveLength(1);
    // A Name after the blank line is in the description, not a header.
    expect(metadata("Metadata-Version: 2.1\n\nName: a\nVersion: 1\n").packages).toEqual([]);
    expect(metadata("Name: two words\nVersion: 1\n").warnings[0]).toContain("is not a package");
  });
});

describe("the Python metadata in the shared data", () => {
  it("reads the 34 dist-info METADATA files of snyk's fastapi[standard] install", () => {
    const root = sharedData("pkgdb/lang/python/snyk-docker-plugin/extras/site-packages");
    if (!root) return;
    const dirs = readdirSync(root);
    expect(dirs).toHaveLength(34);
    const packages = dirs.flatMap((dir) => {
      const result = metadata(readFileSync(join(root, dir, "METADATA")));
      expect(result.warnings, dir).toEqual([]);
      return result.packages;
    });
    expect(packages).toHaveLength(34);
    const found = packages.map((p) => [p.name, p.version]);
    for (const pair of [
      ["anyio", "4.6.2.post1"],
      ["certifi", "2024.8.30"],
      ["idna", "3.10"],
      ["websockets", "14.1"],
      ["PyYAML", "6.0.2"],
      ["MarkupSafe", "3.0.2"],
      ["Pygments", "2.18.0"],
      ["sniffio", "1.3.1"], // CRLF line ends
      ["pydantic", "2.9.2"],
      ["email_validator", "2.2.0"],
    ])
      expect(found).toContainEqual(pair);
    const byName = new Map(packages.map((p) => [p.name, p]));
    expect(byName.get("PyYAML")?.purl).toBe("pkg:pypi/pyyaml@6.0.2");
    expect(byName.get("email_validator")?.purl).toBe("pkg:pypi/email-validator@2.2.0");
    expect(byName.get("httpx")?.license).toBe("BSD-3-Clause");
    expect(byName.get("sniffio")?.license).toBe("MIT OR Apache-2.0");
    // MarkupSafe's License header is the whole BSD text; the headers after it are still read.
    expect(byName.get("MarkupSafe")?.license).toBeUndefined();
  });

  it("reads trivy's METADATA and PKG-INFO bodies, egg-info included", () => {
    const cases: Array<[string, string, string, string | undefined]> = [
      ["analyzer/happy-egg/distlib-0.3.1.egg-info/PKG-INFO", "distlib", "0.3.1", "Python license"],
      [
        "analyzer/classifier-license-egg/setuptools-51.3.3.egg-info/PKG-INFO",
        "setuptools",
        "51.3.3",
        undefined,
      ],
      [
        "analyzer/license-file-dist/typing_extensions-4.4.0.dist-info/METADATA",
        "typing_extensions",
        "4.4.0",
        undefined,
      ],
      ["parser/asyncssh-2.14.2.METADATA", "asyncssh", "2.14.2", "Eclipse Public License v2.0"],
      ["parser/networkx-3.0.METADATA", "networkx", "3.0", undefined],
      ["parser/unidecode-egg-info.PKG-INFO", "Unidecode", "0.4.1", undefined],
      ["parser/zipp-3.12.1.METADATA", "zipp", "3.12.1", undefined],
    ];
    for (const [path, name, version, license] of cases) {
      const file = sharedData(`pkgdb/lang/python/trivy/${path}`);
      if (!file) continue;
      const { packages, warnings } = metadata(readFileSync(file));
      expect(warnings, path).toEqual([]);
      expect(
        packages.map((p) => [p.name, p.version, p.license]),
        path,
      ).toEqual([[name, version, license]]);
    }
  });
});

describe("Python lockfiles and requirements", () => {
  it("reads poetry.lock, marking the dev category", () => {
    const lock = [
      "[[package]]",
      'name = "requests"',
      'version = "2.31.0"',
      'description = "Python HTTP for Humans."',
      'category = "main"',
      "optional = false",
      "",
      "[[package]]",
      'name = "pytest"',
      'version = "7.4.0"',
      'category = "dev"',
      "",
      "[package.dependencies]",
      'iniconfig = "*"',
      "",
      "[[package]]",
      'name = "broken"',
      "",
      "[metadata]",
      'lock-version = "1.1"',
      'python-versions = "^3.11"',
    ].join("\n");
    expect(poetryLockExtractor.wants("app/poetry.lock")).toBe(true);
    const { packages, warnings } = extractFile(poetryLockExtractor, "app/poetry.lock", lock);
    expect(packages).toEqual([
      {
        name: "requests",
        version: "2.31.0",
        type: "pypi",
        purl: "pkg:pypi/requests@2.31.0",
        ecosystem: "PyPI",
      },
      {
        name: "pytest",
        version: "7.4.0",
        type: "pypi",
        purl: "pkg:pypi/pytest@7.4.0",
        ecosystem: "PyPI",
        dev: true,
      },
    ]);
    expect(warnings).toEqual(["[[package]] 3 has no usable name and version; skipped"]);
    expect(extractFile(poetryLockExtractor, "poetry.lock", "[[package]\nname=").warnings[0]).toMatch(
      /^not valid TOML/,
    );
  });

  it("reads uv.lock, leaving out the project itself", () => {
    const lock = [
      "version = 1",
      'requires-python = ">=3.12"',
      "",
      "[[package]]",
      'name = "certifi"',
      'version = "2024.8.30"',
      'source = { registry = "https://pypi.org/simple" }',
      'sdist = { url = "https://files.pythonhosted.org/x.tar.gz", hash = "sha256:00", size = 1 }',
      "",
      "[[package]]",
      'name = "my-app"',
      'version = "0.1.0"',
      'source = { editable = "." }',
      "dependencies = [",
      '    { name = "certifi" },',
      "]",
    ].join("\n");
    expect(uvLockExtractor.wants("srv/uv.lock")).toBe(true);
    const { packages, warnings } = extractFile(uvLockExtractor, "srv/uv.lock", lock);
    expect(warnings).toEqual([]);
    expect(packages.map((p) => [p.name, p.version, p.purl])).toEqual([
      ["certifi", "2024.8.30", "pkg:pypi/certifi@2024.8.30"],
    ]);
  });

  it("marks uv.lock packages reached only through dev-dependencies as dev", () => {
    // pytest is a dev dependency; iniconfig comes only with it; packaging comes with pytest and
    // with the runtime dependency build-tool, so it is needed at run time; rich is an extra.
    const lock = [
      "version = 1",
      'requires-python = ">=3.12"',
      "",
      ...[
        ["build-tool", "1.2.2", ['{ name = "packaging" }']],
        ["iniconfig", "2.0.0", []],
        ["packaging", "24.1", []],
        ["pytest", "8.3.3", ['{ name = "iniconfig" }', '{ name = "packaging" }']],
        ["rich", "13.9.2", []],
      ].flatMap(([name, version, deps]) => [
        "[[package]]",
        `name = "${name}"`,
        `version = "${version}"`,
        'source = { registry = "https://pypi.org/simple" }',
        `dependencies = [${(deps as string[]).join(", ")}]`,
        "",
      ]),
      "[[package]]",
      'name = "my-app"',
      'version = "0.1.0"',
      'source = { editable = "." }',
      'dependencies = [{ name = "Build_Tool" }]',
      "",
      "[package.optional-dependencies]",
      'fancy = [{ name = "rich" }]',
      "",
      "[package.dev-dependencies]",
      'dev = [{ name = "pytest" }]',
    ].join("\n");
    const { packages, warnings } = extractFile(uvLockExtractor, "uv.lock", lock);
    expect(warnings).toEqual([]);
    expect(packages.map((p) => [p.name, p.dev === true])).toEqual([
      ["build-tool", false],
      ["iniconfig", true],
      ["packaging", false],
      ["pytest", true],
      ["rich", false],
    ]);
  });

  it("marks Poetry 2 packages outside the main group as dev", () => {
    const lock = [
      ["black", "24.8.0", '["dev"]'],
      ["click", "8.1.7", '["main", "dev"]'],
      ["requests", "2.32.3", '["main"]'],
    ]
      .flatMap(([name, version, groups]) => [
        "[[package]]",
        `name = "${name}"`,
        `version = "${version}"`,
        `groups = ${groups}`,
        "",
      ])
      .concat(["[metadata]", 'lock-version = "2.1"'])
      .join("\n");
    const { packages } = extractFile(poetryLockExtractor, "poetry.lock", lock);
    expect(packages.map((p) => [p.name, p.dev === true])).toEqual([
      ["black", true],
      ["click", false],
      ["requests", false],
    ]);
  });

  it("reads Pipfile.lock's default and develop sections", () => {
    const lock = {
      _meta: { hash: { sha256: "00" }, "pipfile-spec": 6, requires: { python_version: "3.11" } },
      default: {
        "charset-normalizer": {
          hashes: ["sha256:00"],
          markers: "python_full_version >= '3.7.0'",
          version: "==3.3.2",
        },
        django: { hashes: [], index: "pypi", version: "==4.2.7" },
        mylib: { editable: true, path: "." },
      },
      develop: { black: { version: "==23.11.0" } },
    };
    expect(pipfileLockExtractor.wants("app/Pipfile.lock")).toBe(true);
    const { packages, warnings } = extractFile(
      pipfileLockExtractor,
      "app/Pipfile.lock",
      JSON.stringify(lock),
    );
    expect(warnings).toEqual([]);
    expect(packages.map((p) => [p.name, p.version, p.dev ?? false])).toEqual([
      ["charset-normalizer", "3.3.2", false],
      ["django", "4.2.7", false],
      ["black", "23.11.0", true],
    ]);
    expect(extractFile(pipfileLockExtractor, "Pipfile.lock", "{").warnings[0]).toMatch(/^not valid JSON/);
  });

  it("reads exactly pinned requirements only", () => {
    const text = [
      "# a comment",
      "-r base.txt",
      "--index-url https://pypi.org/simple",
      "-e git+https://github.com/org/repo.git#egg=repo",
      "requests==2.31.0  # pinned",
      "Flask_Login == 0.6.3",
      "uvicorn[standard]==0.32.0 ; python_version >= '3.8'",
      "urllib3==1.26.12 \\",
      "    --hash=sha256:00 \\",
      "    --hash=sha256:11",
      "django>=4.2",
      "numpy==1.26.*",
      "six",
      "attrs==23.1.0,<24",
    ].join("\n");
    expect(requirementsExtractor.wants("app/requirements.txt")).toBe(true);
    expect(requirementsExtractor.wants("app/requirements.in")).toBe(false);
    const { packages, warnings } = extractFile(requirementsExtractor, "app/requirements.txt", text);
    expect(warnings).toEqual([]);
    expect(packages.map((p) => [p.name, p.version, p.purl])).toEqual([
      ["requests", "2.31.0", "pkg:pypi/requests@2.31.0"],
      ["Flask_Login", "0.6.3", "pkg:pypi/flask-login@0.6.3"],
      ["uvicorn", "0.32.0", "pkg:pypi/uvicorn@0.32.0"],
      ["urllib3", "1.26.12", "pkg:pypi/urllib3@1.26.12"],
    ]);
    const snyk = sharedData("pkgdb/lang/python/snyk-docker-plugin/extras/requirements.txt");
    if (snyk)
      expect(
        extractFile(requirementsExtractor, "requirements.txt", readFileSync(snyk)).packages.map(
          (p) => p.name,
        ),
      ).toEqual(["fastapi"]);
  });
});

describe("a Debian 12 image with urllib3 from dpkg and from pip, end to end through the CLI", () => {
  let work: string;
  let layout: string;
  let db: string;

  const osRelease = [
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
    'NAME="Debian GNU/Linux"',
    'VERSION_ID="12"',
    'VERSION="12 (bookworm)"',
    "VERSION_CODENAME=bookworm",
    "ID=debian",
  ].join("\n");
  const debianDistInfo = "usr/lib/python3/dist-packages/urllib3-1.26.12.dist-info";
  const pipDistInfo = "usr/local/lib/python3.11/site-packages/urllib3-1.26.12.dist-info";
  const status = [
    "Package: python3-urllib3",
    "Status: install ok installed",
    "Priority: optional",
    "Section: python",
    "Installed-Size: 467",
    "Maintainer: Debian Python Team <team+python@tracker.debian.org>",
    "Architecture: all",
    "Source: python-urllib3",
    "Version: 1.26.12-1",
    "Depends: python3-certifi, python3-idna, python3:any",
    "Description: HTTP library with thread-safe connection pooling for Python3",
    "",
  ].join("\n");
  const list = [
    "/.",
    "/usr",
    "/usr/lib",
    "/usr/lib/python3",
    "/usr/lib/python3/dist-packages",
    `/${debianDistInfo}`,
    `/${debianDistInfo}/METADATA`,
    "/usr/lib/python3/dist-packages/urllib3",
    "/usr/lib/python3/dist-packages/urllib3/__init__.py",
    "",
  ].join("\n");
  const urllib3Metadata = Buffer.from(
    "Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.12\nSummary: HTTP library with thread-safe connection pooling, file post, and more.\nLicense: MIT\n\nurllib3 is a powerful, user-friendly HTTP client for Python.\n",
  );

  /** PYSEC-2023-192 as OSV's PyPI export has it (ranges and aliases), trimmed of its versions list. */
  const record = {
    id: "PYSEC-2023-192",
    modified: "2023-10-10T14:28:19.389317Z",
    published: "2023-10-04T17:15:00Z",
    aliases: ["CVE-2023-43804", "GHSA-v845-jxx5-vc9f"],
    details:
      "urllib3 does not treat the Cookie header specially, so a Cookie header set by the user can leak through an HTTP redirect to a different origin unless redirects are disabled. Fixed in 1.26.17 and 2.0.5.",
    affected: [
      {
        package: { ecosystem: "PyPI", name: "urllib3", purl: "pkg:pypi/urllib3" },
        ranges: [
          {
            type: "ECOSYSTEM",
            events: [{ introduced: "2.0.0" }, { fixed: "2.0.6" }, { introduced: "0" }, { fixed: "1.26.17" }],
          },
        ],
      },
    ],
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-python-"));
    layout = join(work, "layout");
    db = join(work, "vulndb.sqlite");
    const image = await buildImage([
      {
        createdBy: "/bin/sh -c #(nop) ADD file:debian-bookworm-rootfs.tar.xz in /",
        files: [
          { path: "etc/os-release", type: "file", content: Buffer.from(`${osRelease}\n`) },
          { path: "bin/sh", type: "file", content: Buffer.from("dash"), mode: 0o755 },
        ],
      },
      {
        createdBy: "/bin/sh -c apt-get install -y python3-urllib3",
        files: [
          { path: "var/lib/dpkg/status", type: "file", content: Buffer.from(status) },
          { path: "var/lib/dpkg/info/python3-urllib3.list", type: "file", content: Buffer.from(list) },
          { path: `${debianDistInfo}/METADATA`, type: "file", content: urllib3Metadata },
        ],
      },
      {
        createdBy: "/bin/sh -c pip install urllib3==1.26.12",
        files: [{ path: `${pipDistInfo}/METADATA`, type: "file", content: urllib3Metadata }],
      },
    ]);
    await writeOciLayout(image, layout);
    await importRecords(db, join(work, "osv"), [record]);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("reports the pip copy against PyPI and lists the Debian copy as owned by python3-urllib3", async () => {
    const scan = await cli(["--db", db, "scan", `oci:${layout}`, "--format", "json", "--no-cache"]);
    expect(scan.code).toBe(0);
    const report = JSON.parse(scan.stdout) as JsonReport;
    expect(report.packages.map((p) => [p.type, p.name, p.version, p.location, p.layer.index])).toEqual([
      ["deb", "python3-urllib3", "1.26.12-1", "var/lib/dpkg/status", 1],
      ["pypi", "urllib3", "1.26.12", `${debianDistInfo}/METADATA`, 1],
      ["pypi", "urllib3", "1.26.12", `${pipDistInfo}/METADATA`, 2],
    ]);
    const [deb, debianCopy, pipCopy] = report.packages;
    expect(debianCopy?.osOwned).toBe(deb?.purl);
    expect(debianCopy?.ecosystem).toBeUndefined();
    expect(pipCopy).toMatchObject({ purl: "pkg:pypi/urllib3@1.26.12", ecosystem: "PyPI", license: "MIT" });
    expect(pipCopy?.osOwned).toBeUndefined();
    expect(
      report.findings.map((f) => [
        f.id,
        f.aliases,
        f.package.purl,
        f.fixedVersion,
        f.ecosystem,
        f.layer.index,
      ]),
    ).toEqual([
      // The finding is named by the CVE the record is an alias of.
      [
        "CVE-2023-43804",
        ["GHSA-v845-jxx5-vc9f", "PYSEC-2023-192"],
        "pkg:pypi/urllib3@1.26.12",
        "1.26.17",
        "PyPI",
        2,
      ],
    ]);
    const schema = JSON.parse(
      await readFile(join(import.meta.dirname, "../../docs/report.schema.json"), "utf8"),
    );
    const validate = compileSchema(schema);
    expect(validate(report), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });
});
