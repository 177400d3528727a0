import { readFileSync } from "node:fs";
import { PackageURL } from "packageurl-js";
import { describe, expect, it } from "vitest";
import { cargoLockExtractor } from "../../src/inventory/extractors/cargo-lock.js";
import { extractFile } from "../helpers/inventory.js";
import { sharedData } from "../helpers/shared-data.js";
import { syftCoverage } from "../helpers/syft-coverage.js";

/** The shared package databases; the tests that read them skip without them. */
const pkgdb = sharedData("pkgdb");

const run = (text: string | Buffer) => extractFile(cargoLockExtractor, "app/Cargo.lock", text);

/** name@version of a shared-data lockfile's crates.io packages, checking each one's purl. */
function cratesOf(relative: string): string[] | undefined {
  const file = sharedData(`pkgdb/${relative}`);
  if (!file) return undefined;
  const { packages, warnings } = run(readFileSync(file));
  expect(warnings, relative).toEqual([]);
  for (const pkg of packages) {
    expect(pkg).toEqual({
      name: pkg.name,
      version: pkg.version,
      type: "cargo",
      purl: `pkg:cargo/${pkg.name}@${pkg.version}`,
      ecosystem: "crates.io",
    });
  }
  return packages.map((pkg) => `${pkg.name}@${pkg.version}`);
}

describe("Rust Cargo.lock", () => {
  it("wants an application's Cargo.lock, not one inside a dependency's source", () => {
    for (const path of ["app/Cargo.lock", "Cargo.lock", "usr/src/myapp/Cargo.lock"])
      expect(cargoLockExtractor.wants(path), path).toBe(true);
    for (const path of [
      "root/.cargo/registry/src/index.crates.io-6f17d22bba15001f/ripgrep-14.1.0/Cargo.lock",
      "usr/local/cargo/registry/src/index.crates.io-6f17d22bba15001f/bat-0.24.0/Cargo.lock",
      "home/dev/.cargo/git/checkouts/regex-3e3ef5c3b4a6dd25/1a069b9/Cargo.lock",
      // Debian's librust-*-dev packages unpack crate sources here.
      "usr/share/cargo/registry/bat-0.22.1/Cargo.lock",
      "app/cargo.lock",
      "app/Cargo.toml",
    ])
      expect(cargoLockExtractor.wants(path), path).toBe(false);
  });

  // Each list was read by hand from the file's [[package]] tables: those with a `source`.
  it.skipIf(!pkgdb)(
    "reads v1 lockfiles, whose checksums are in a [metadata] table, and skips the project",
    () => {
      const v1 = [
        "libc@0.2.54",
        "unsafe-any@0.4.2",
        "typemap@0.3.3",
        "idna@0.1.5",
        "matches@0.1.8",
        "percent-encoding@1.0.1",
        "url@1.7.2",
      ];
      // "normal" 0.1.0 has no source: it is the project.
      expect(cratesOf("lang/rust/trivy/cargo_normal.lock")).toEqual(v1);
      // The same crates in another order, [[package]] tables after [metadata], and url's version
      // written as a multi-line string ("""1.7.2""").
      expect(cratesOf("lang/rust/trivy/cargo_mixed.lock")?.sort()).toEqual([...v1].sort());
    },
  );

  it.skipIf(!pkgdb)(
    "reads v3 and v4 lockfiles with inline checksums, two versions of one crate included",
    () => {
      expect(cratesOf("lang/rust/trivy/cargo_v3.lock")).toEqual([
        "aho-corasick@0.7.20",
        "libc@0.2.140",
        "memchr@1.0.2",
        "memchr@2.5.0",
        "regex@1.7.3",
        "regex-syntax@0.5.6",
        "regex-syntax@0.6.29",
        "ucd-util@0.1.10",
      ]);
      // version = 4; hello_world is the project.
      expect(cratesOf("lang/rust/syft/image-audit/Cargo.lock")).toEqual([
        "argh@0.1.12",
        "argh_derive@0.1.12",
        "argh_shared@0.1.12",
        "proc-macro2@1.0.92",
        "quote@1.0.37",
        "serde@1.0.215",
        "serde_derive@1.0.215",
        "syn@2.0.90",
        "unicode-ident@1.0.14",
      ]);
      // No version line (an old v2 file): all 14 packages come from crates.io.
      expect(cratesOf("lang/rust/syft/Cargo.lock")).toHaveLength(14);
      // "app" and its path dependency "telemetry" have neither source nor checksum: the project.
      expect(cratesOf("lang/rust/syft/path-deps/Cargo.lock")).toEqual(["memchr@2.7.4"]);
    },
  );

  it("agrees with syft's expectation for its coverage tree", () => {
    const coverage = syftCoverage();
    const found = cratesOf("syft-image-pkg-coverage/pkgs/rust/Cargo.lock");
    if (!coverage || !found) return;
    const syftCase = coverage.cases.find((c) => c.name === "find rust crates");
    expect(found.sort()).toEqual((syftCase?.packages ?? []).map((p) => `${p.name}@${p.version}`).sort());
    expect(found).toHaveLength(3);
  });

  it("reports git and other-registry crates without an ecosystem, the sparse crates.io index with one", () => {
    const { packages, warnings } = run(
      [
        "version = 4",
        "",
        "[[package]]",
        'name = "regex"',
        'version = "1.11.1"',
        'source = "git+https://github.com/rust-lang/regex.git?branch=main#1a069b9232c607b34c4937122361aa075ef573fa"',
        "",
        "[[package]]",
        'name = "serde"',
        'version = "1.0.215"',
        'source = "sparse+https://index.crates.io/"',
        "",
        "[[package]]",
        'name = "internal-auth"',
        'version = "2.3.0"',
        'source = "sparse+https://crates.example.com/index/"',
        "",
        "[[package]]",
        'name = "wasi"',
        'version = "0.11.0+wasi-snapshot-preview1"',
        'source = "registry+https://github.com/rust-lang/crates.io-index"',
      ].join("\n"),
    );
    expect(warnings).toEqual([]);
    expect(packages).toEqual([
      {
        name: "regex",
        version: "1.11.1",
        type: "cargo",
        purl: "pkg:cargo/regex@1.11.1?vcs_url=git%2Bhttps%3A%2F%2Fgithub.com%2Frust-lang%2Fregex.git%401a069b9232c607b34c4937122361aa075ef573fa",
      },
      {
        name: "serde",
        version: "1.0.215",
        type: "cargo",
        purl: "pkg:cargo/serde@1.0.215",
        ecosystem: "crates.io",
      },
      {
        name: "internal-auth",
        version: "2.3.0",
        type: "cargo",
        purl: "pkg:cargo/internal-auth@2.3.0?repository_url=https%3A%2F%2Fcrates.example.com%2Findex%2F",
      },
      {
        name: "wasi",
        version: "0.11.0+wasi-snapshot-preview1",
        type: "cargo",
        purl: expect.any(String),
        ecosystem: "crates.io",
      },
    ]);
    // Build metadata survives the purl's round trip.
    const wasi = PackageURL.fromString(packages[3]?.purl ?? "");
    expect([wasi.type, wasi.name, wasi.version]).toEqual(["cargo", "wasi", "0.11.0+wasi-snapshot-preview1"]);
  });

  it("skips malformed packages and files with warnings", () => {
    expect(run('[[package]]\nname = "a"\nversion = ').warnings[0]).toMatch(/^not valid TOML/);
    const { packages, warnings } = run(
      [
        "[[package]]",
        'name = "no-version"',
        'source = "registry+https://github.com/rust-lang/crates.io-index"',
        "",
        "[[package]]",
        'name = "fine"',
        'version = "1.0.0"',
        'source = "registry+https://github.com/rust-lang/crates.io-index"',
        "",
        "[[package]]",
        'name = "bad name"',
        'version = "1.0.0"',
        'source = "registry+https://github.com/rust-lang/crates.io-index"',
      ].join("\n"),
    );
    expect(packages.map((p) => p.purl)).toEqual(["pkg:cargo/fine@1.0.0"]);
    expect(warnings).toEqual([
      "[[package]] 1 has no usable name, version and source; skipped",
      "[[package]] 3 has no usable name, version and source; skipped",
    ]);
  });
});
