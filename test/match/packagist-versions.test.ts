import { describe, expect, it } from "vitest";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import {
  comparePackagistVersions,
  packagistParts,
  packagistScheme,
} from "../../src/match/versions/packagist.js";
import { sharedData } from "../helpers/shared-data.js";
import { checkAdvisories, osvAffectedIn, vectorFailures } from "../helpers/version-vectors.js";

describe("Packagist version ordering", () => {
  it("canonicalises as PHP does: separators to dots, dots between digits and letters", () => {
    expect(packagistParts("v4.3-2RC1")).toEqual(["4", "3", "2", "RC", "1"]);
    expect(packagistParts("1.0.0_beta+2")).toEqual(["1", "0", "0", "beta", "2"]);
    expect(packagistParts("dev-main")).toEqual(["dev", "main"]);
  });

  it("orders dev < alpha < beta < RC < release < patch, knowing a word by how it starts", () => {
    const ordered = [
      "1.0.0-dev",
      "1.0.0-alpha1",
      "1.0.0-beta",
      "1.0.0-b2",
      "1.0.0-RC1",
      "1.0.0",
      "1.0.0-patch1",
    ];
    for (let i = 1; i < ordered.length; i++)
      expect(comparePackagistVersions(ordered[i - 1] as string, ordered[i] as string)).toBe(-1);
    expect(comparePackagistVersions("1.0.0-p1", "1.0.0-pl1")).toBe(0);
    expect(comparePackagistVersions("v2.1.1-pl1", "v2.1.2")).toBe(-1);
    // A branch sorts before every numbered version; an unknown word before every known one.
    expect(comparePackagistVersions("dev-master", "0.0.1")).toBe(-1);
    expect(comparePackagistVersions("1.0.0-foo", "1.0.0-dev")).toBe(-1);
    // A version is not padded: 1.0 < 1.0.0, as PHP's version_compare has it.
    expect(comparePackagistVersions("1.0", "1.0.0")).toBe(-1);
  });

  it("accepts any non-blank text, and is the Packagist ecosystem's scheme", () => {
    expect(versionSchemeFor("Packagist")).toBe(packagistScheme);
    expect(packagistScheme.isValid("2.0.0-alpha4")).toBe(true);
    expect(packagistScheme.isValid("dev-main")).toBe(true);
    expect(packagistScheme.isValid("")).toBe(false);
    expect(packagistScheme.isValid("1.0 beta")).toBe(false);
  });

  const expected = {
    "packagist-versions.txt": 95,
    "packagist-versions-generated.txt": 10630,
    "packagist_test_cases.osv-dev.txt": 85,
  };
  for (const [file, lines] of Object.entries(expected)) {
    const path = sharedData(`versions/${file}`);
    it.skipIf(!path)(`passes every line of ${file}, both ways round`, () => {
      const { checked, failures } = vectorFailures(path as string, comparePackagistVersions);
      expect(checked).toBe(lines);
      expect(failures).toEqual([]);
    });
  }

  const zip = sharedData("osv/Maven/all.zip");
  it.skipIf(!zip)("puts every version a GitHub Packagist advisory lists inside its ranges", async () => {
    const entries = await osvAffectedIn(zip as string, "Packagist");
    const { events, listed, problems } = checkAdvisories(entries, packagistScheme);
    expect(events).toBeGreaterThan(1);
    expect(listed).toBeGreaterThan(50);
    expect(problems).toEqual([]);
  });
});
