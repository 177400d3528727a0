/**
 * Real rpm packages and rpm databases made at test time with Debian's rpm (`apt-get install rpm`):
 * tiny packages built by rpmbuild from a spec written here, named and versioned like a
 * distribution's, then recorded by rpm itself in a database under a scratch root.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findTool, run } from "./tools.js";

/** Why rpm databases cannot be made here, or undefined when they can. */
export function rpmbuildUnavailable(): string | undefined {
  const missing = ["rpm", "rpmbuild"].filter((tool) => findTool(tool) === undefined);
  return missing.length > 0 ? `${missing.join(" and ")} not found (apt-get install rpm)` : undefined;
}

/**
 * One source package and the binary packages built from it, as a distribution ships them: the
 * binaries record `<source>-<version>-<release>.src.rpm` as their source rpm.
 */
export interface TinySourcePackage {
  source: string;
  epoch?: number;
  version: string;
  release: string;
  /** The binary packages to build (the source's own name among them, or not). */
  binaries: string[];
  license?: string;
  vendor?: string;
}

/** A spec that builds each binary package holding one small file of its own. */
export function tinySpec(pkg: TinySourcePackage): string {
  const fileOf = (binary: string) => `/usr/share/doc/${binary}/layerwatch-test`;
  const lines = [
    `Name: ${pkg.source}`,
    ...(pkg.epoch !== undefined ? [`Epoch: ${pkg.epoch}`] : []),
    `Version: ${pkg.version}`,
    `Release: ${pkg.release}`,
    `Summary: ${pkg.source} built for a test`,
    `License: ${pkg.license ?? "MIT"}`,
    `Vendor: ${pkg.vendor ?? "AlmaLinux"}`,
    "%description",
    "A package built at test time.",
  ];
  for (const binary of pkg.binaries.filter((b) => b !== pkg.source)) {
    lines.push(`%package -n ${binary}`, `Summary: ${binary} built for a test`);
    lines.push(`%description -n ${binary}`, "A package built at test time.");
  }
  lines.push("%install");
  for (const binary of pkg.binaries) {
    lines.push(`mkdir -p %{buildroot}/usr/share/doc/${binary}`);
    lines.push(`echo ${binary} > %{buildroot}${fileOf(binary)}`);
  }
  // A %files section per binary: rpmbuild makes a package only where one is given.
  for (const binary of pkg.binaries) {
    lines.push(binary === pkg.source ? "%files" : `%files -n ${binary}`, fileOf(binary));
  }
  return `${lines.join("\n")}\n`;
}

/** Builds the binary rpms of each package (x86_64), returning their paths by binary package name. */
export async function buildRpms(work: string, packages: TinySourcePackage[]): Promise<Map<string, string>> {
  // A private HOME keeps the user's ~/.rpmmacros out of the build.
  const env = { ...process.env, HOME: work };
  const built = new Map<string, string>();
  for (const pkg of packages) {
    const topdir = join(work, `rpmbuild-${pkg.source}`);
    await mkdir(topdir, { recursive: true });
    const specPath = join(topdir, `${pkg.source}.spec`);
    await writeFile(specPath, tinySpec(pkg));
    const { stdout } = await run(
      "rpmbuild",
      ["--define", `_topdir ${topdir}`, "--target", "x86_64", "-bb", specPath],
      { env },
    );
    for (const [, file] of stdout.matchAll(/^Wrote: (.+\.rpm)$/gm)) {
      const { stdout: name } = await run("rpm", ["-qp", "--qf", "%{NAME}", file as string], { env });
      built.set(name.trim(), file as string);
    }
    const missing = pkg.binaries.filter((binary) => !built.has(binary));
    if (missing.length > 0) throw new Error(`rpmbuild ${pkg.source} made no ${missing.join(", ")}`);
  }
  return built;
}

/**
 * Records the rpms in a new database under `root` (/var/lib/rpm, SQLite with Debian's rpm 4.18),
 * as rpm would install them but without their files, and returns the database file's bytes.
 */
export async function installRpmdb(work: string, root: string, rpms: string[]): Promise<Buffer> {
  const env = { ...process.env, HOME: work };
  const rpmArgs = ["--root", root, "--dbpath", "/var/lib/rpm"];
  await mkdir(root, { recursive: true });
  await run("rpm", [...rpmArgs, "--initdb"], { env });
  await run("rpm", [...rpmArgs, "-i", "--nodeps", "--ignorearch", "--justdb", ...rpms], { env });
  return readFile(join(root, "var/lib/rpm/rpmdb.sqlite"));
}

/** What rpm itself says is installed under `root`: NAME EPOCH:VERSION-RELEASE SOURCERPM, sorted. */
export async function rpmQueryAll(work: string, root: string): Promise<string[]> {
  const { stdout } = await run(
    "rpm",
    [
      "--root",
      root,
      "--dbpath",
      "/var/lib/rpm",
      "-qa",
      "--qf",
      "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{SOURCERPM}\\n",
    ],
    { env: { ...process.env, HOME: work } },
  );
  return stdout.trim().split("\n").sort();
}
