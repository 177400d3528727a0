import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apkExtractor, parseApkDatabase } from "../../src/inventory/extractors/apk.js";
import { isEndOfLife } from "../../src/inventory/os-release.js";
import type { Distro } from "../../src/inventory/types.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { buildImage, writeOciLayout } from "../helpers/image-builder.js";
import { importRecords } from "../helpers/osv-zip.js";
import { compileSchema } from "../helpers/schema.js";
import { sharedData } from "../helpers/shared-data.js";

const alpine319: Distro = {
  id: "alpine",
  versionId: "3.19.0",
  osvEcosystem: "Alpine:v3.19",
  source: "etc/os-release",
};

function extract(text: string | Buffer, distro?: Distro) {
  const warnings: string[] = [];
  const packages = apkExtractor.extract(
    "lib/apk/db/installed",
    Buffer.isBuffer(text) ? text : Buffer.from(text),
    {
      ...(distro ? { distro } : {}),
      warn: (w) => warnings.push(w),
      readFile: () => undefined,
    },
  );
  return { packages, warnings };
}

/**
 * A few entries of alpine:3.19.0's database as apk writes it (the versions are that release's;
 * checksums and most file lines left out). openssl's libraries come in a later layer.
 */
const baseEntries = [
  "C:Q1p5Y5XFZ5Ek4Ihp5M1ZrTwJ3L9Fs=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:407484\nI:651264\nT:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Timo Teräs <timo.teras@iki.fi>\nt:1700000000\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1ngkkrXYIWkBaddh6fknDN8ZMnh0=\nR:libc.musl-x86_64.so.1",
  "P:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\nF:bin\nR:busybox\na:0:0:755\nF:etc\nR:securetty\nF:etc/busybox-paths.d\nR:busybox",
  "P:busybox-binsh\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\nF:bin\nR:sh",
  "P:zlib\nV:1.3-r2\nA:x86_64\nL:Zlib\no:zlib\nF:lib\nR:libz.so.1\nR:libz.so.1.3",
];
const opensslEntries = [
  "P:libcrypto3\nV:3.1.4-r1\nA:x86_64\nL:Apache-2.0\no:openssl\nF:usr/lib\nR:libcrypto.so.3",
  "P:libssl3\nV:3.1.4-r1\nA:x86_64\nL:Apache-2.0\no:openssl\nF:usr/lib\nR:libssl.so.3",
];

describe("apk installed database", () => {
  it("reads name, version, arch, origin, license and the files each package owns", () => {
    const { packages, warnings } = extract(`${baseEntries.join("\n\n")}\n\n`, alpine319);
    expect(warnings).toEqual([]);
    expect(packages[0]).toEqual({
      name: "musl",
      version: "1.2.4_git20230717-r4",
      type: "apk",
      purl: "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.0",
      sourceName: "musl",
      sourceVersion: "1.2.4_git20230717-r4",
      arch: "x86_64",
      license: "MIT",
      files: ["lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1"],
      ecosystem: "Alpine:v3.19",
    });
    expect(packages.map((p) => [p.name, p.sourceName])).toEqual([
      ["musl", "musl"],
      ["busybox", "busybox"],
      ["busybox-binsh", "busybox"],
      ["zlib", "zlib"],
    ]);
    expect(packages[1]?.files).toEqual(["bin/busybox", "etc/securetty", "etc/busybox-paths.d/busybox"]);
  });

  it("names Wolfi and Chainguard packages by their own distribution", () => {
    const wolfi: Distro = {
      id: "wolfi",
      versionId: "20230201",
      osvEcosystem: "Wolfi",
      source: "etc/os-release",
    };
    const [pkg] = extract("P:glibc\nV:2.38-r1\nA:aarch64\no:glibc\n", wolfi).packages;
    expect(pkg).toMatchObject({
      purl: "pkg:apk/wolfi/glibc@2.38-r1?arch=aarch64&distro=wolfi-20230201",
      ecosystem: "Wolfi",
    });
    const chainguard: Distro = { id: "chainguard", osvEcosystem: "Chainguard", source: "etc/os-release" };
    expect(extract("P:glibc\nV:2.38-r1\n", chainguard).packages[0]?.purl).toBe(
      "pkg:apk/chainguard/glibc@2.38-r1",
    );
    // Without any os-release the packages are still listed, as Alpine's, but not matched.
    expect(extract("P:zlib\nV:1.3-r2\n").packages[0]).toMatchObject({ purl: "pkg:apk/alpine/zlib@1.3-r2" });
    expect(extract("P:zlib\nV:1.3-r2\n").packages[0]?.ecosystem).toBeUndefined();
  });

  it("skips entries without P: or V: and corrupt lines, naming them, and reads the rest", () => {
    const { packages, warnings } = extract(
      "P:noversion\nA:x86_64\n\nV:1.0-r0\n\njunk line\nP:good\nV:1.0-r0\nalso junk\nA:x86_64\n\n\n\nP:last\nV:2-r0",
    );
    expect(packages.map((p) => [p.name, p.arch])).toEqual([
      ["good", "x86_64"],
      ["last", undefined],
    ]);
    expect(warnings).toEqual([
      "line 6: not a 'K:value' line; skipped",
      "line 9: not a 'K:value' line; skipped",
      "the entry at line 1 (noversion) has no V:; skipped",
      "the entry at line 4 (unnamed) has no P:; skipped",
    ]);
  });

  it("keeps a file before any F: line at the root, and takes CRLF line ends", () => {
    const entries = parseApkDatabase("P:a\r\nV:1-r0\r\nR:top\r\nF:/usr/bin/\r\nR:x\r\n", () => undefined);
    expect(entries[0]?.files).toEqual(["top", "usr/bin/x"]);
    expect(entries[0]?.fields.get("V")).toBe("1-r0");
  });

  it("wants only the installed database", () => {
    expect(apkExtractor.wants("lib/apk/db/installed")).toBe(true);
    expect(apkExtractor.wants("lib/apk/db/triggers")).toBe(false);
    // Where lib is a symlink to usr/lib (merged /usr), the database's own path is this one.
    expect(apkExtractor.wants("usr/lib/apk/db/installed")).toBe(true);
  });
});

/** Each real database of the shared data: how many packages, and a few (name, version, origin). */
const sharedDatabases: Array<{
  path: string;
  count: number;
  triples: Array<[string, string, string]>;
  warnings?: string[];
}> = [
  { path: "apk/syft/base", count: 1, triples: [["alpine-baselayout", "3.2.0-r6", "alpine-baselayout"]] },
  { path: "apk/syft/single", count: 1, triples: [["musl-utils", "1.1.24-r2", "musl"]] },
  {
    path: "apk/syft/extra-file-attributes",
    count: 1,
    triples: [["openjdk8-jre", "8.212.04-r0", "openjdk8"]],
  },
  {
    path: "apk/syft/empty-deps-and-provides",
    count: 1,
    triples: [["alpine-baselayout-data", "3.4.0-r0", "alpine-baselayout"]],
  },
  {
    path: "apk/syft/multiple-1/lib/apk/db/installed",
    count: 4,
    triples: [
      ["bash", "5.2.21-r0", "bash"],
      ["busybox-binsh", "1.36.1-r15", "busybox"],
      ["musl", "1.2.4_git20230717-r4", "musl"],
      ["readline", "8.2.1-r2", "readline"],
    ],
  },
  {
    path: "apk/syft/multiple-2/lib/apk/db/installed",
    count: 14,
    triples: [
      ["musl", "1.2.3-r0", "musl"],
      ["busybox", "1.35.0-r17", "busybox"],
      ["libcrypto1.1", "1.1.1q-r0", "openssl"],
      ["libc-utils", "0.7.2-r3", "libc-dev"],
    ],
  },
  {
    path: "apk/syft/corrupt/lib/apk/db/installed",
    count: 1,
    triples: [["alpine-baselayout-data", "3.2.0-r22", "alpine-baselayout"]],
    warnings: ["line 1: not a 'K:value' line; skipped"],
  },
  {
    path: "apk/trivy/apk",
    count: 15,
    triples: [
      ["musl", "1.1.14-r10", "musl"],
      ["busybox", "1.24.2-r9", "busybox"],
      ["libssl1.0", "1.0.2h-r1", "openssl"],
      ["test", "2.9.11_pre20061021-r2", "test-parent"],
    ],
    warnings: ["the entry at line 23 (invalidPackageWithoutAVersion) has no V:; skipped"],
  },
  {
    path: "apk/scalibr/installed",
    count: 15,
    triples: [
      ["busybox-binsh", "1.36.0-r9", "busybox"],
      ["ssl_client", "1.36.0-r9", "busybox"],
      ["libcrypto3", "3.1.0-r4", "openssl"],
      ["libssl3", "3.1.0-r4", "openssl"],
      ["libc-utils", "0.7.2-r5", "libc-dev"],
    ],
  },
  {
    path: "apk/scalibr/single",
    count: 1,
    triples: [["alpine-baselayout-data", "3.4.3-r1", "alpine-baselayout"]],
  },
  {
    path: "apk/scalibr/different-arch",
    count: 1,
    triples: [["alpine-baselayout-data", "3.4.3-r1", "alpine-baselayout"]],
  },
  // No o: line: the package is its own source.
  { path: "apk/scalibr/no-origin", count: 1, triples: [["pkgname", "1.2.3", "pkgname"]] },
  {
    path: "apk/snyk-docker-plugin/alpine_3_7_0/fs/lib/apk/db/installed",
    count: 11,
    triples: [
      ["musl", "1.1.18-r2", "musl"],
      ["libressl2.6-libcrypto", "2.6.3-r0", "libressl"],
    ],
  },
];

describe("the apk databases in the shared data", () => {
  it.each(sharedDatabases)("$path: $count packages", ({ path, count, triples, warnings }) => {
    const file = sharedData(`pkgdb/${path}`);
    if (!file) return;
    const result = extract(readFileSync(file), alpine319);
    expect(result.warnings).toEqual(warnings ?? []);
    expect(result.packages).toHaveLength(count);
    const found = result.packages.map((p) => [p.name, p.version, p.sourceName]);
    for (const triple of triples) expect(found).toContainEqual(triple);
  });

  it("lists every file syft's fixtures give a package, root-relative", () => {
    const single = sharedData("pkgdb/apk/syft/single");
    const extra = sharedData("pkgdb/apk/syft/extra-file-attributes");
    if (!single || !extra) return;
    expect(extract(readFileSync(single)).packages[0]?.files).toEqual([
      "sbin/ldconfig",
      "usr/bin/iconv",
      "usr/bin/ldd",
      "usr/bin/getconf",
      "usr/bin/getent",
    ]);
    // 4-field a: lines between F: and R: change nothing.
    expect(extract(readFileSync(extra)).packages[0]?.files).toEqual([
      "usr/lib/jvm/java-1.8-openjdk/bin/policytool",
    ]);
    const base = sharedData("pkgdb/apk/syft/base");
    if (base) expect(extract(readFileSync(base)).packages[0]?.files).toHaveLength(27);
  });

  it("reads the arch, and the licence as written", () => {
    const file = sharedData("pkgdb/apk/scalibr/different-arch");
    const installed = sharedData("pkgdb/apk/scalibr/installed");
    if (!file || !installed) return;
    expect(extract(readFileSync(file)).packages[0]?.arch).toBe("noarch");
    const ca = extract(readFileSync(installed)).packages.find((p) => p.name === "ca-certificates-bundle");
    expect(ca?.license).toBe("MPL-2.0 AND MIT");
  });

  it("agrees with snyk's golden for the Alpine 2.6.6 database (name, version, origin)", () => {
    const db = sharedData("pkgdb/apk/snyk-docker-plugin/alpine_2_6_6/fs/lib/apk/db/installed");
    const golden = sharedData("pkgdb/apk/snyk-docker-plugin/alpine_2_6_6/analyzer-expect.json");
    if (!db || !golden) return;
    const expected = (
      JSON.parse(readFileSync(golden, "utf8")) as {
        results: Array<{ Analysis: Array<{ Name: string; Version: string; Source: string }> }>;
      }
    ).results[0]?.Analysis.map((a) => [a.Name, a.Version, a.Source]);
    const { packages, warnings } = extract(readFileSync(db));
    expect(warnings).toEqual([]);
    expect(packages.map((p) => [p.name, p.version, p.sourceName])).toEqual(expected);
  });
});

describe("an Alpine 3.19 image, end to end through the CLI", () => {
  let work: string;
  let layout: string;
  let db: string;

  const osRelease = [
    'NAME="Alpine Linux"',
    "ID=alpine",
    "VERSION_ID=3.19.0",
    'PRETTY_NAME="Alpine Linux v3.19"',
    'HOME_URL="https://alpinelinux.org/"',
    'BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"',
  ].join("\n");

  /** Advisories written for this test in OSV's shape; only the first applies to the image. */
  const records = [
    {
      id: "CVE-2024-0727",
      modified: "2024-02-01T00:00:00Z",
      summary: "openssl: denial of service via null dereference in PKCS12 parsing",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H" }],
      affected: [
        {
          package: { ecosystem: "Alpine:v3.19", name: "openssl" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "3.1.4-r5" }] }],
        },
      ],
    },
    {
      // Fixed before the installed revision: 1.36.1-r2 < 1.36.1-r15 in apk's order, not in text.
      id: "ALPINE-TEST-0001",
      modified: "2024-02-01T00:00:00Z",
      affected: [
        {
          package: { ecosystem: "Alpine:v3.19", name: "busybox" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.36.1-r2" }] }],
        },
      ],
    },
    {
      // Another release branch: not this image's.
      id: "ALPINE-TEST-0002",
      modified: "2024-02-01T00:00:00Z",
      affected: [
        {
          package: { ecosystem: "Alpine:v3.18", name: "zlib" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.3.1-r0" }] }],
        },
      ],
    },
  ];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-apk-"));
    db = join(work, "db.sqlite");
    layout = join(work, "layout");
    const baseDb = Buffer.from(`${baseEntries.join("\n\n")}\n\n`);
    const fullDb = Buffer.from(`${[...baseEntries, ...opensslEntries].join("\n\n")}\n\n`);
    const image = await buildImage([
      {
        createdBy: "/bin/sh -c #(nop) ADD file:alpine-minirootfs-3.19.0-x86_64.tar.gz in /",
        files: [
          { path: "etc", type: "directory" },
          { path: "etc/os-release", type: "file", content: Buffer.from(`${osRelease}\n`) },
          { path: "etc/alpine-release", type: "file", content: Buffer.from("3.19.0\n") },
          { path: "bin", type: "directory" },
          { path: "bin/busybox", type: "file", content: Buffer.from("busybox"), mode: 0o755 },
          { path: "bin/sh", type: "symlink", linkname: "/bin/busybox" },
          { path: "lib/apk/db/installed", type: "file", content: baseDb },
        ],
      },
      {
        createdBy: "/bin/sh -c apk add --no-cache libssl3",
        files: [{ path: "lib/apk/db/installed", type: "file", content: fullDb }],
      },
    ]);
    await writeOciLayout(image, layout);
    await importRecords(db, join(work, "osv"), records);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("lists the apk packages with origins and layers, and matches the origin's advisory", async () => {
    const run = await cli(["--db", db, "scan", `oci:${layout}`, "--format", "json", "--no-cache"]);
    const eol = isEndOfLife({ endOfLife: "2025-11-01" }, new Date());
    const eolProblem = "Alpine Linux v3.19 reached end of life on 2025-11-01; it gets no security fixes";
    // The scan's warnings go to standard error too; end of life is the only one here.
    expect(run.stderr).toBe(eol ? `layerwatch: warning: etc/os-release: ${eolProblem}\n` : "");
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.os).toEqual({
      id: "alpine",
      versionId: "3.19.0",
      prettyName: "Alpine Linux v3.19",
      ecosystem: "Alpine:v3.19",
      endOfLife: "2025-11-01",
      eol,
    });
    expect(report.packages.map((p) => [p.name, p.version, p.sourceName, p.layer.index])).toEqual([
      ["busybox", "1.36.1-r15", "busybox", 0],
      ["busybox-binsh", "1.36.1-r15", "busybox", 0],
      ["libcrypto3", "3.1.4-r1", "openssl", 1],
      ["libssl3", "3.1.4-r1", "openssl", 1],
      ["musl", "1.2.4_git20230717-r4", "musl", 0],
      ["zlib", "1.3-r2", "zlib", 0],
    ]);
    expect(report.packages.find((p) => p.name === "libssl3")).toMatchObject({
      type: "apk",
      purl: "pkg:apk/alpine/libssl3@3.1.4-r1?arch=x86_64&distro=alpine-3.19.0",
      ecosystem: "Alpine:v3.19",
      license: "Apache-2.0",
      location: "lib/apk/db/installed",
    });
    expect(
      report.findings.map((f) => [
        f.id,
        f.package.name,
        f.installedVersion,
        f.fixedVersion,
        f.severity.level,
        f.layer.index,
      ]),
    ).toEqual([
      ["CVE-2024-0727", "libcrypto3", "3.1.4-r1", "3.1.4-r5", "medium", 1],
      ["CVE-2024-0727", "libssl3", "3.1.4-r1", "3.1.4-r5", "medium", 1],
    ]);
    expect(report.warnings).toEqual(eol ? [{ subject: "etc/os-release", problem: eolProblem }] : []);
    const schema = JSON.parse(
      await readFile(join(import.meta.dirname, "../../docs/report.schema.json"), "utf8"),
    );
    const validate = compileSchema(schema);
    expect(validate(report), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it("warns in the table output when the release is past its end of life", async () => {
    const run = await cli(["--db", db, "scan", `oci:${layout}`, "--format", "table", "--no-cache"]);
    expect(run.code).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines[0]).toBe(`oci:${layout} (Alpine Linux v3.19, 6 packages, 2 layers)`);
    const warning =
      "WARNING: Alpine Linux v3.19 reached end of life on 2025-11-01; it gets no security fixes";
    if (isEndOfLife({ endOfLife: "2025-11-01" }, new Date())) expect(lines[1]).toBe(warning);
    else expect(run.stdout).not.toContain("WARNING:");
    expect(run.stdout).toContain("CVE-2024-0727");
  });
});
