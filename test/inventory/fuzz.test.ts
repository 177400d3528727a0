/**
 * Property-based fuzzing of the parsers that read what an image author controls: random bytes,
 * stanza-like text with continuation lines, and truncations and byte flips of real files. Each
 * property must not throw, must finish quickly, and every package it reports must have a name
 * and a version. Runs are bounded (numRuns, and a time limit on the whole property) so the
 * suite stays fast; a failure prints the seed and the shrunk input to replay it.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { apkExtractor } from "../../src/inventory/extractors/apk.js";
import { chiselExtractor } from "../../src/inventory/extractors/chisel.js";
import { dpkgExtractor, parseControlStanzas, parseFileList } from "../../src/inventory/extractors/dpkg.js";
import { npmInstalledExtractor } from "../../src/inventory/extractors/npm.js";
import { rpmExtractor } from "../../src/inventory/extractors/rpm.js";
import {
  distroFromDebianVersion,
  distroFromOsRelease,
  parseOsRelease,
} from "../../src/inventory/os-release.js";
import type { Distro, ExtractedPackage, Extractor } from "../../src/inventory/types.js";
import { sharedData } from "../helpers/shared-data.js";
import { parseTxtar } from "../helpers/txtar.js";

/** LAYERWATCH_FUZZ_RUNS=5000 fuzzes deeper locally; the time budget grows with it. */
const RUNS = Number(process.env.LAYERWATCH_FUZZ_RUNS ?? 300);
/** Whole-property budget: fast-check stops generating (and passes) once it is spent. */
const PROPERTY_MS = Math.max(5_000, RUNS * 20);
/** One input must never take this long: the parsers are linear, this catches a runaway loop. */
const ONE_INPUT_MS = 2_000;
const options = { numRuns: RUNS, interruptAfterTimeLimit: PROPERTY_MS };

const debian12: Distro = {
  id: "debian",
  versionId: "12",
  osvEcosystem: "Debian:12",
  source: "etc/os-release",
};

/** Runs an extractor the way the inventory does, timing it, and checks what every package must have. */
function checkExtract(
  extractor: Extractor,
  path: string,
  content: Uint8Array,
  readFile: (path: string) => Buffer | undefined = () => undefined,
  distro: Distro | undefined = debian12,
): ExtractedPackage[] {
  const started = performance.now();
  const packages = extractor.extract(path, Buffer.from(content), {
    ...(distro ? { distro } : {}),
    warn: (problem) => {
      if (typeof problem !== "string" || problem === "") throw new Error("empty warning");
    },
    readFile,
  });
  expect(performance.now() - started).toBeLessThan(ONE_INPUT_MS);
  for (const pkg of packages) {
    expect(typeof pkg.name === "string" && pkg.name.trim() !== "").toBe(true);
    expect(typeof pkg.version === "string" && pkg.version.trim() !== "").toBe(true);
    // The purl must name the same package and version. (Read by hand: packageurl-js's own parser
    // decodes qualifiers twice and so cannot read back a correctly encoded "%25".)
    const purl = /^pkg:([a-z]+)\/(?:[^?#@]*\/)?([^/?#@]+)@([^?#@]+)(?:\?[^#]*)?$/.exec(pkg.purl);
    expect(purl, pkg.purl).not.toBeNull();
    expect(purl?.[1]).toBe(pkg.type);
    expect(decodeURIComponent(purl?.[3] ?? "")).toBe(pkg.version);
    // The purl's name is the package's (an npm scope goes to the namespace; purls lower-case some types).
    expect(pkg.name.toLowerCase().endsWith(decodeURIComponent(purl?.[2] ?? "").toLowerCase())).toBe(true);
    for (const file of pkg.files ?? []) expect(file.startsWith("/")).toBe(false);
  }
  return packages;
}

/** A real file's bytes cut at a random point, or with a few bytes overwritten. */
function mutationsOf(bytes: Buffer): fc.Arbitrary<Uint8Array> {
  const truncation = fc.nat({ max: bytes.length }).map((end) => bytes.subarray(0, end));
  const flips = fc
    .array(fc.tuple(fc.nat({ max: Math.max(0, bytes.length - 1) }), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 8,
    })
    .map((changes) => {
      const copy = Buffer.from(bytes);
      for (const [at, value] of changes) if (at < copy.length) copy[at] = value;
      return copy;
    });
  // A flipped byte anywhere, then the result cut short: both kinds of damage at once.
  const both = fc.tuple(flips, fc.nat({ max: bytes.length })).map(([copy, end]) => copy.subarray(0, end));
  return fc.oneof(truncation, flips, both);
}

/** Real files from the shared data, where it is present (none is copied into the repo). */
function sharedFiles(paths: string[], unpack: (text: string) => string = (t) => t): Buffer[] {
  return paths.flatMap((relative) => {
    const path = sharedData(relative);
    return path ? [Buffer.from(unpack(readFileSync(path, "utf8")))] : [];
  });
}

const randomBytes = fc.uint8Array({ maxLength: 4096 });
const text = (arbitrary: fc.Arbitrary<string>) => arbitrary.map((t) => new TextEncoder().encode(t));

// ---------------------------------------------------------------------------------------------
// dpkg

const osReleaseLine = fc.oneof(
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom("ID", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME", "NAME"),
        fc.string({ maxLength: 10 }),
      ),
      fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 20 }).map((s) => `"${s}"`),
        fc.string({ maxLength: 20 }).map((s) => `'${s}`),
        fc.constantFrom(
          '"',
          "'",
          '"\\"',
          "\\",
          '"12"',
          "debian",
          "ubuntu",
          "alpine",
          "3.19.1",
          "22.04",
          "0",
          ".",
        ),
      ),
    )
    .map(([key, value]) => `${key}=${value}`),
  fc.constantFrom("", "#", "=", "ID=", "ID", " ID = debian", "\r"),
  fc.string({ maxLength: 30 }),
);
const osReleaseText = fc.array(osReleaseLine, { maxLength: 20 }).map((lines) => lines.join("\n"));

const fieldName = fc.oneof(
  fc.constantFrom("Package", "Version", "Status", "Source", "Architecture", "Multi-Arch", "Description"),
  fc.constantFrom("package", "VERSION", "status", "Pre-Depends", "Conffiles"),
  fc.string({ maxLength: 12 }),
);
const fieldValue = fc.oneof(
  fc.constantFrom(
    "install ok installed",
    "hold ok installed",
    "deinstall ok config-files",
    "install ok",
    "installed",
    "openssl (3.0.11-1~deb12u1)",
    "openssl (",
    "(1.0)",
    "1:2.5.1-4",
    "same",
    "amd64",
    "",
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
);
const stanzaLine = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fieldName, fieldValue).map(([name, value]) => `${name}: ${value}`) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(" ", "\t", "  "), fc.string({ maxLength: 30 }))
      .map((p) => p.join("")),
  },
  { weight: 2, arbitrary: fc.constantFrom("", " ", "\t", " .", "\r") },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(":", ": value", "Package:", "Version:", "Package:\tx", "Version: \r"),
  },
);
const stanzaText = fc
  .tuple(fc.array(stanzaLine, { maxLength: 60 }), fc.constantFrom("\n", "\r\n"))
  .map(([lines, newline]) => lines.join(newline));
/** Mostly well-formed stanzas, so many inputs get past the Package/Version/Status checks. */
const plausibleStanzas = fc
  .array(
    fc.record({
      name: fc.oneof(
        fc.constantFrom("bash", "libc6", "libssl3", "x"),
        fc.string({ minLength: 1, maxLength: 10 }),
      ),
      version: fc.oneof(fc.constantFrom("1.0", "1:2.5.1-4", "5.2.15-2+b2"), fc.string({ maxLength: 10 })),
      status: fc.constantFrom(
        "install ok installed",
        "hold ok installed",
        "deinstall ok config-files",
        undefined,
      ),
      arch: fc.constantFrom("amd64", "all", "", undefined),
      extra: fc.array(stanzaLine, { maxLength: 4 }),
    }),
    { maxLength: 12 },
  )
  .map((stanzas) =>
    stanzas
      .map((s) =>
        [
          `Package: ${s.name}`,
          ...(s.status === undefined ? [] : [`Status: ${s.status}`]),
          ...(s.arch === undefined ? [] : [`Architecture: ${s.arch}`]),
          `Version: ${s.version}`,
          ...s.extra,
        ].join("\n"),
      )
      .join("\n\n"),
  );

const dpkgStatusFiles = [
  ...sharedFiles(["pkgdb/dpkg/trivy/valid.txtar"], (t) => parseTxtar(t).get("var/lib/dpkg/status") ?? ""),
  ...sharedFiles([
    "pkgdb/dpkg/snyk-docker-plugin/ubuntu_10_04/fs/var/lib/dpkg/status",
    "pkgdb/dpkg/scalibr/dpkg/statusfield",
    "pkgdb/dpkg/syft/var/lib/dpkg/status.d/multiple",
    "pkgdb/dpkg/syft/var/lib/dpkg/status.d/doc-examples",
  ]),
];

/** A file list for any package the status names: random text, or list-shaped lines. */
const fileListText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom("/.", "/", "//", "/usr", "/usr/bin", "", "\r"),
        fc.string({ maxLength: 20 }).map((s) => `/${s}`),
      ),
      {
        maxLength: 30,
      },
    )
    .map((lines) => lines.join("\n")),
);

describe("fuzz: dpkg", () => {
  it("parses random bytes as a status file and as status.d", () => {
    fc.assert(
      fc.property(randomBytes, (bytes) => {
        checkExtract(dpkgExtractor, "var/lib/dpkg/status", bytes);
        checkExtract(dpkgExtractor, "var/lib/dpkg/status.d/x", bytes);
      }),
      options,
    );
  });

  it("parses stanza-like text with continuation lines, and reads any file list", () => {
    fc.assert(
      fc.property(fc.oneof(stanzaText, plausibleStanzas), fileListText, (status, list) => {
        const listBytes = Buffer.from(list);
        const packages = checkExtract(
          dpkgExtractor,
          "var/lib/dpkg/status",
          new TextEncoder().encode(status),
          (path) => (path.endsWith(".list") ? listBytes : undefined),
        );
        for (const pkg of packages) {
          // A name that is no file name (a damaged stanza) is given no list at all.
          const listed = !pkg.name.includes("/") && !pkg.arch?.includes("/");
          expect(pkg.files).toEqual(listed ? parseFileList(list) : undefined);
        }
        const stanzas = parseControlStanzas(status, () => undefined);
        for (const stanza of stanzas) for (const name of stanza.keys()) expect(name).toBe(name.toLowerCase());
      }),
      options,
    );
  });

  it("names packages under whatever distro an os-release file gives", () => {
    fc.assert(
      fc.property(osReleaseText, plausibleStanzas, (release, status) => {
        const distro = distroFromOsRelease(release, "etc/os-release");
        checkExtract(
          dpkgExtractor,
          "var/lib/dpkg/status",
          new TextEncoder().encode(status),
          undefined,
          distro,
        );
      }),
      options,
    );
  });

  it.skipIf(dpkgStatusFiles.length === 0)("survives truncations and byte flips of real status files", () => {
    fc.assert(
      fc.property(fc.constantFrom(...dpkgStatusFiles).chain(mutationsOf), (bytes) => {
        checkExtract(dpkgExtractor, "var/lib/dpkg/status", bytes);
      }),
      options,
    );
  });

  it("stays linear on pathological files", () => {
    const huge = [
      `Package: a\nVersion: 1\nDescription: x\n${" more\n".repeat(200_000)}`,
      "\n".repeat(500_000),
      `Package: ${"a".repeat(1_000_000)}\nVersion: 1\nStatus: install ok installed\n`,
      "Package: a\nVersion: 1\n\n".repeat(50_000),
    ];
    for (const content of huge) {
      const started = performance.now();
      dpkgExtractor.extract("var/lib/dpkg/status", Buffer.from(content), {
        warn: () => undefined,
        readFile: () => undefined,
      });
      expect(performance.now() - started).toBeLessThan(3_000);
    }
    const started = performance.now();
    parseFileList(Array.from({ length: 200_000 }, (_, i) => `/usr/share/doc/p${i % 50}/f${i}`).join("\n"));
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

// ---------------------------------------------------------------------------------------------
// os-release

const osReleaseFiles = sharedFiles(
  [
    "pkgdb/dpkg/syft/image-dpkg/etc/os-release",
    "pkgdb/apk/snyk-docker-plugin/alpine_3_7_0/fs/etc/os-release",
    "pkgdb/dpkg/snyk-docker-plugin/ubuntu_10_04/fs/etc/debian_version",
  ].filter((path) => sharedData(path) !== undefined),
);

function checkOsRelease(content: string): void {
  const started = performance.now();
  const fields = parseOsRelease(content);
  for (const [key, value] of Object.entries(fields)) {
    expect(typeof key).toBe("string");
    expect(typeof value).toBe("string");
  }
  const distro = distroFromOsRelease(content, "etc/os-release");
  if (distro) {
    expect(distro.id).not.toBe("");
    expect(distro.source).toBe("etc/os-release");
  }
  const fromDebianVersion = distroFromDebianVersion(content, "etc/debian_version");
  expect(fromDebianVersion.id).not.toBe("");
  expect(performance.now() - started).toBeLessThan(ONE_INPUT_MS);
}

describe("fuzz: os-release", () => {
  it("parses random bytes and os-release-like text", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          randomBytes.map((b) => Buffer.from(b).toString("utf8")),
          osReleaseText,
        ),
        checkOsRelease,
      ),
      options,
    );
  });

  it.skipIf(osReleaseFiles.length === 0)("survives truncations and byte flips of real release files", () => {
    fc.assert(
      fc.property(fc.constantFrom(...osReleaseFiles).chain(mutationsOf), (bytes) =>
        checkOsRelease(Buffer.from(bytes).toString("utf8")),
      ),
      options,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// npm

const npmPath = "app/node_modules/x/package.json";
const npmManifest = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc
    .record(
      {
        name: fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.constantFrom("@", "@scope", "@scope/", "@/x", "@scope/name", "lodash", " ", "a/b", "@a/b/c"),
          fc.anything({ maxDepth: 1 }),
        ),
        version: fc.oneof(
          fc.string({ maxLength: 12 }),
          fc.constantFrom("1.2.3", "", " ", "1.0.0-rc.1+build", "latest"),
          fc.anything({ maxDepth: 1 }),
        ),
      },
      { requiredKeys: [] },
    )
    .map((manifest) => JSON.stringify(manifest) ?? "null"),
);

const npmManifests = sharedFiles(
  [
    "pkgdb/lang/npm/trivy/analyzer/happy/node_modules/@babel/parser/package.json",
    "pkgdb/lang/npm/trivy/analyzer/happy/node_modules/body-parser/package.json",
    "pkgdb/lang/npm/snyk-docker-plugin/npm-without-lockfiles/home/app/node_modules/yaml/package.json",
  ].filter((path) => sharedData(path) !== undefined),
);

describe("fuzz: npm package.json", () => {
  it("parses random bytes and random manifests", () => {
    fc.assert(
      fc.property(fc.oneof(randomBytes, text(npmManifest)), (bytes) => {
        checkExtract(npmInstalledExtractor, npmPath, bytes);
      }),
      options,
    );
  });

  it.skipIf(npmManifests.length === 0)("survives truncations and byte flips of real manifests", () => {
    fc.assert(
      fc.property(fc.constantFrom(...npmManifests).chain(mutationsOf), (bytes) => {
        checkExtract(npmInstalledExtractor, npmPath, bytes);
      }),
      options,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// apk

const apkLine = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.constantFrom("P", "V", "A", "o", "L", "F", "R", "a", "M", "Z", "D", "p", "i", "C"),
        fieldValue,
      )
      .map(([key, value]) => `${key}:${value}`),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom("", "\r", " ", "P:", "V:", "F:", "R:", "F:/", "R:/", "F:..", "R:.."),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);
const apkText = fc
  .tuple(fc.array(apkLine, { maxLength: 60 }), fc.constantFrom("\n", "\r\n"))
  .map(([lines, newline]) => lines.join(newline));

const apkDatabases = sharedFiles(
  [
    "pkgdb/apk/scalibr/installed",
    "pkgdb/apk/syft/multiple-2/lib/apk/db/installed",
    "pkgdb/apk/syft/extra-file-attributes",
    "pkgdb/apk/trivy/apk",
    "pkgdb/apk/snyk-docker-plugin/alpine_2_6_6/fs/lib/apk/db/installed",
  ].filter((path) => sharedData(path) !== undefined),
);

describe("fuzz: apk installed database", () => {
  it("parses random bytes and K:value-like text", () => {
    fc.assert(
      fc.property(fc.oneof(randomBytes, text(apkText)), (bytes) => {
        checkExtract(apkExtractor, "lib/apk/db/installed", bytes);
      }),
      options,
    );
  });

  it.skipIf(apkDatabases.length === 0)("survives truncations and byte flips of real databases", () => {
    fc.assert(
      fc.property(fc.constantFrom(...apkDatabases).chain(mutationsOf), (bytes) => {
        checkExtract(apkExtractor, "lib/apk/db/installed", bytes);
      }),
      options,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// rpm (binary databases: BerkeleyDB hash, NDB, SQLite)

const rpmDatabases = [
  "pkgdb/rpm/go-rpmdb/libuuid/Packages",
  "pkgdb/rpm/scalibr/Packages_epoch",
  "pkgdb/rpm/syft/Packages",
  "pkgdb/rpm/rpm-parser/fixtures/rpm4_empty",
  "pkgdb/rpm/snyk-docker-plugin/Packages.db",
  "pkgdb/rpm/go-rpmdb/sle15-bci/Packages.db",
  "pkgdb/rpm/go-rpmdb/amazonlinux2023-plain/rpmdb.sqlite",
].flatMap((relative) => {
  const path = sharedData(relative);
  const name = relative.split("/").at(-1) as string;
  // The extractor chooses the reader from the bytes; the path only has to be one it wants.
  const imagePath =
    name === "rpmdb.sqlite"
      ? "var/lib/rpm/rpmdb.sqlite"
      : name === "Packages.db"
        ? "var/lib/rpm/Packages.db"
        : "var/lib/rpm/Packages";
  return path ? [{ imagePath, bytes: readFileSync(path) }] : [];
});

describe("fuzz: rpm databases", () => {
  it("refuses random bytes, and random bytes behind each format's magic, without throwing", () => {
    const magics = [
      Buffer.from("SQLite format 3\0"),
      // NDB's "RpmP" magic, and a BerkeleyDB hash page's magic at byte 12.
      Buffer.from("RpmP"),
      Buffer.concat([Buffer.alloc(12), Buffer.from([0x61, 0x15, 0x06, 0x00])]),
      Buffer.concat([Buffer.alloc(12), Buffer.from([0x00, 0x06, 0x15, 0x61])]),
    ];
    fc.assert(
      fc.property(fc.option(fc.constantFrom(...magics)), randomBytes, (magic, bytes) => {
        const content = magic ? Buffer.concat([magic, bytes]) : Buffer.from(bytes);
        for (const path of ["var/lib/rpm/Packages", "var/lib/rpm/rpmdb.sqlite"])
          checkExtract(rpmExtractor, path, content);
      }),
      options,
    );
  });

  it.skipIf(rpmDatabases.length === 0)("survives truncations and byte flips of real databases", () => {
    fc.assert(
      fc.property(
        fc
          .constantFrom(...rpmDatabases)
          .chain(({ imagePath, bytes }) => mutationsOf(bytes).map((m) => ({ imagePath, m }))),
        ({ imagePath, m }) => {
          checkExtract(rpmExtractor, imagePath, m);
        },
      ),
      options,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// chisel. Its input is zstd: random bytes exercise the decoder's refusal; for the JSON lines,
// random manifests are wrapped in zstd frames of raw (stored) blocks, which need no compressor.

/** A zstd frame (RFC 8878) holding `content` in raw blocks. */
function rawZstdFrame(content: Uint8Array): Buffer {
  const MAX_BLOCK = 128 * 1024;
  // Magic; a descriptor with no content size, checksum or dictionary; a 128 KiB window.
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3])];
  let offset = 0;
  do {
    const size = Math.min(MAX_BLOCK, content.length - offset);
    const last = offset + size >= content.length ? 1 : 0;
    const header = (size << 3) | last; // block type 0: raw
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]));
    parts.push(Buffer.from(content.subarray(offset, offset + size)));
    offset += size;
  } while (offset < content.length);
  return Buffer.concat(parts);
}

const chiselRecord = fc.oneof(
  fc.record({
    kind: fc.constant("package"),
    name: fc.oneof(
      fc.constantFrom("libc6", "openssl", "", " "),
      fc.string({ maxLength: 10 }),
      fc.anything({ maxDepth: 0 }),
    ),
    version: fc.oneof(
      fc.constantFrom("2.35-0ubuntu3.8", "", " "),
      fc.string({ maxLength: 10 }),
      fc.anything({ maxDepth: 0 }),
    ),
    arch: fc.option(fc.oneof(fc.constantFrom("amd64", "/", ""), fc.string({ maxLength: 6 }))),
  }),
  fc.record({
    kind: fc.constant("path"),
    path: fc.oneof(fc.constantFrom("/", "/usr/", "/usr/bin/x", "", "//x"), fc.string({ maxLength: 20 })),
    slices: fc.oneof(
      fc.array(
        fc.oneof(
          fc.constantFrom("libc6_libs", "openssl_bins", "_x", "x_", "nounderscore"),
          fc.string({ maxLength: 12 }),
        ),
        {
          maxLength: 3,
        },
      ),
      fc.anything({ maxDepth: 1 }),
    ),
  }),
  fc.record({ kind: fc.constantFrom("slice", "content", "other"), name: fc.string({ maxLength: 10 }) }),
  fc.anything({ maxDepth: 2 }),
);
const chiselManifest = fc
  .tuple(
    fc.oneof(fc.constant('{"jsonwall":"1.0","schema":"1.0","count":1}'), fc.string({ maxLength: 40 })),
    fc.array(
      fc.oneof(
        chiselRecord.map((record) => JSON.stringify(record) ?? "null"),
        fc.string({ maxLength: 30 }),
      ),
      {
        maxLength: 30,
      },
    ),
  )
  .map(([header, lines]) => new TextEncoder().encode([header, ...lines].join("\n")));

describe("fuzz: chisel manifest", () => {
  it("refuses random bytes without throwing", () => {
    fc.assert(
      fc.property(randomBytes, (bytes) => {
        expect(checkExtract(chiselExtractor, "var/lib/chisel/manifest.wall", bytes)).toEqual([]);
      }),
      options,
    );
  });

  it("reads random manifests, whole, cut short or damaged", () => {
    const damaged = chiselManifest.chain((content) =>
      fc.oneof(fc.constant(rawZstdFrame(content)), mutationsOf(rawZstdFrame(content))),
    );
    fc.assert(
      fc.property(damaged, (bytes) => {
        checkExtract(chiselExtractor, "var/lib/chisel/manifest.wall", bytes);
      }),
      options,
    );
  });
});
