/**
 * syft's package-coverage tree in the shared data (pkgdb/syft-image-pkg-coverage): the files
 * syft's image and directory scans read, and expected.json, the packages syft's own tests expect
 * of each case.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedData } from "./shared-data.js";

export interface SyftCoverageCase {
  name: string;
  type: string;
  /** "image", "directory" or both: the scans that find the case's packages. */
  scans: string[];
  packages: Array<{ name: string; version: string }>;
}

/** The tree's folder and its expected cases, or undefined (with a warning) where it is absent. */
export function syftCoverage(): { root: string; cases: SyftCoverageCase[] } | undefined {
  const root = sharedData("pkgdb/syft-image-pkg-coverage");
  if (!root) return undefined;
  const expected = JSON.parse(readFileSync(join(root, "expected.json"), "utf8")) as {
    cases: SyftCoverageCase[];
  };
  return { root, cases: expected.cases };
}
