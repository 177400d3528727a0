/**
 * The extractors' path hints are only a fast pre-filter: wants() and needs() decide. A hint
 * that left out a path wants() accepts would lose that file's packages without a word, so the
 * fast path is checked against every extractor's wants() and needs() on large lists of real
 * paths (the machine's own /usr, /etc, /var/lib and /opt; this repository's node_modules; the
 * node_modules bench tree; a debootstrapped Debian rootfs) and on generated ones.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEPENDENCIES as BENCH_DEPENDENCIES } from "../../bench/node-modules.js";
import { extractors } from "../../src/inventory/extractors/index.js";
import { candidateExtractors, inventoryWants } from "../../src/inventory/inventory.js";
import { distroPaths } from "../../src/inventory/os-release.js";
import { buildDebianImage } from "../helpers/debian-image.js";
import { installNpmProject, npmCacheDir, RegistryUnreachable } from "../helpers/npm-install.js";
import { missingTools } from "../helpers/tools.js";

const osPaths = new Set(distroPaths);

/** What inventoryWants answered before the hints: every extractor asked about every path. */
function wantedByAnyExtractor(path: string): boolean {
  return osPaths.has(path) || extractors.some((e) => e.wants(path) || e.needs?.(path) === true);
}

/** Every path below `dir` (files, links, directories), as `prefix/relative/path`. */
async function walk(dir: string, prefix: string): Promise<string[]> {
  const paths: string[] = [];
  const visit = async (full: string, relative: string): Promise<void> => {
    let children: import("node:fs").Dirent[];
    try {
      children = await readdir(full, { withFileTypes: true });
    } catch {
      return; // unreadable (a permission, a file gone meanwhile): nothing to list
    }
    for (const child of children) {
      const path = relative === "" ? child.name : `${relative}/${child.name}`;
      paths.push(path);
      if (child.isDirectory()) await visit(join(full, child.name), path);
    }
  };
  await visit(dir, prefix);
  return paths;
}

interface Agreement {
  paths: number;
  /** extractor name → paths its wants() or needs() accepted. */
  accepted: Map<string, number>;
  /** Paths no hint let through (turned away by the fast path alone). */
  turnedAway: number;
}

/** Checks the fast path against every extractor on every path; returns what it saw. */
function expectAgreement(paths: readonly string[]): Agreement {
  const accepted = new Map<string, number>();
  let turnedAway = 0;
  const dropped: string[] = [];
  const disagreements: string[] = [];
  for (const path of paths) {
    const candidates = candidateExtractors(path);
    if (candidates.length === 0) turnedAway++;
    for (const extractor of extractors) {
      if (!extractor.wants(path) && extractor.needs?.(path) !== true) continue;
      accepted.set(extractor.name, (accepted.get(extractor.name) ?? 0) + 1);
      if (!candidates.includes(extractor)) dropped.push(`${extractor.name}: ${path}`);
    }
    if (inventoryWants(path) !== wantedByAnyExtractor(path)) disagreements.push(path);
  }
  expect(dropped, "paths a hint held back from the extractor that wants them").toEqual([]);
  expect(disagreements, "paths where inventoryWants disagrees with asking every extractor").toEqual([]);
  return { paths: paths.length, accepted, turnedAway };
}

describe("path hints agree with wants() and needs()", () => {
  it("on the paths of this machine's /usr, /etc, /var/lib and /opt", async () => {
    const paths = (
      await Promise.all(["usr", "etc", "var/lib", "opt"].map((dir) => walk(join("/", dir), dir)))
    ).flat();
    expect(paths.length).toBeGreaterThan(10_000);
    const seen = expectAgreement(paths);
    // This is a Debian machine: dpkg's database and its file lists are among the paths.
    expect(seen.accepted.get("dpkg")).toBeGreaterThan(100);
    expect(seen.turnedAway / seen.paths).toBeGreaterThan(0.9);
  }, 120_000);

  it("on this repository's node_modules, laid out as an app's", async () => {
    const paths = await walk(join(import.meta.dirname, "../../node_modules"), "app/node_modules");
    const seen = expectAgreement(paths);
    expect(seen.accepted.get("npm-installed")).toBeGreaterThan(100);
    expect(seen.turnedAway / seen.paths).toBeGreaterThan(0.9);
  }, 120_000);

  it("on the node_modules bench tree (22,000 files of real packages)", async (context) => {
    let projectDir: string;
    try {
      projectDir = (await installNpmProject({ dependencies: BENCH_DEPENDENCIES }, npmCacheDir("bench/npm")))
        .projectDir;
    } catch (error) {
      if (!(error instanceof RegistryUnreachable)) throw error;
      context.skip(`skipping the bench tree: ${error.message}`);
      return;
    }
    const paths = await walk(projectDir, "app");
    expect(paths.length).toBeGreaterThan(20_000);
    const seen = expectAgreement(paths);
    expect(seen.accepted.get("npm-installed")).toBeGreaterThan(400);
    expect(seen.accepted.get("npm-lockfile")).toBe(1);
  }, 600_000);

  const debootstrapMissing = missingTools(["debootstrap"])?.message;
  it.skipIf(debootstrapMissing !== undefined)(
    `on a debootstrapped Debian rootfs${debootstrapMissing ? ` (skipped: ${debootstrapMissing})` : ""}`,
    async () => {
      const image = await buildDebianImage();
      const paths = await walk(image.rootfsDir, "");
      const seen = expectAgreement(paths);
      expect(seen.accepted.get("dpkg")).toBeGreaterThan(80);
      expect(paths).toContain("var/lib/dpkg/status");
    },
    600_000,
  );

  it("on generated paths made of the names the extractors look for, in any case", () => {
    const parts = [
      ...["var", "lib", "usr", "sysimage", "dpkg", "status", "status.d", "info", "bash.list", "x.md5sums"],
      ...["rpm", "Packages", "Packages.db", "rpmdb.sqlite", "rpmdb.sqlite-wal", "apk", "db", "installed"],
      ...["chisel", "manifest.wall", "node_modules", "@scope", "pkg", "package.json", "package-lock.json"],
      ...["yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json", "site-packages", "dist-packages"],
      ...["x-1.0.dist-info", "x.egg-info", "METADATA", "PKG-INFO", "poetry.lock", "uv.lock", "Pipfile.lock"],
      ...["requirements.txt", "specifications", "default", "x.gemspec", "Gemfile.lock", "gems.locked"],
      ...["gems", "x-1.2", "vendor", "composer", "installed.json", "composer.lock", "app.deps.json"],
      ...["Cargo.lock", ".cargo", "registry", "src", "a.jar", "b.war", "c.ear", "d.jpi", "e.hpi"],
      ...["etc", "os-release", "debian_version", ".", "..", "", "x", ".wh.x"],
    ];
    /** The places the extractors' files live, so that generated paths often land on one. */
    const places = [
      ...[
        "var/lib/dpkg",
        "var/lib/dpkg/info",
        "var/lib/dpkg/status.d",
        "var/lib/rpm",
        "usr/lib/sysimage/rpm",
      ],
      ...[
        "lib/apk/db",
        "usr/lib/apk/db",
        "var/lib/chisel",
        "app/node_modules",
        "app/node_modules/@scope/pkg",
      ],
      ...["usr/lib/python3/dist-packages", "usr/local/lib/python3.11/site-packages/x-1.0.dist-info"],
      ...["usr/local/bundle/specifications", "usr/local/bundle/gems/x-1.2", "app/vendor/composer"],
      ...["root/.cargo/registry/src", "usr/share/cargo/registry", "etc", "usr/lib", ""],
    ];
    const inAnyCase = (names: readonly string[]) =>
      fc.oneof(
        fc.constantFrom(...names),
        // The same names in other cases: the hints must still let through what wants() takes.
        fc
          .tuple(fc.constantFrom(...names), fc.boolean())
          .map(([name, upper]) => (upper ? name.toUpperCase() : name.replace(/^./, (c) => c.toUpperCase()))),
      );
    const path = fc
      .tuple(
        fc.array(inAnyCase(parts), { maxLength: 3 }),
        fc.constantFrom(...places),
        fc.array(inAnyCase(parts), { maxLength: 2 }),
        inAnyCase(parts),
      )
      .map(([before, place, after, name]) => [...before, place, ...after, name].join("/"));
    fc.assert(
      fc.property(path, (path) => {
        const candidates = candidateExtractors(path);
        for (const extractor of extractors)
          if (extractor.wants(path) || extractor.needs?.(path) === true)
            expect(candidates, `${extractor.name} wants ${path}`).toContain(extractor);
        expect(inventoryWants(path)).toBe(wantedByAnyExtractor(path));
      }),
      { numRuns: 20_000 },
    );
  });
});
