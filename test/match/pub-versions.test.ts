import { describe, expect, it } from "vitest";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { comparePubVersions, pubScheme } from "../../src/match/versions/pub.js";
import { sharedData } from "../helpers/shared-data.js";
import { vectorFailures } from "../helpers/version-vectors.js";

describe("Pub version ordering", () => {
  it("orders SemVer prereleases, and builds after the release they belong to", () => {
    const ordered = [
      "1.0.0-dev.1",
      "1.0.0-dev.1+1",
      "1.0.0-dev.2",
      "1.0.0",
      "1.0.0+1",
      "1.0.0+2",
      "1.0.0+a",
      "1.0.1",
    ];
    for (let i = 1; i < ordered.length; i++)
      expect(comparePubVersions(ordered[i - 1] as string, ordered[i] as string)).toBe(-1);
    expect(comparePubVersions("1.0.0+build.1", "1.0.0+build.1")).toBe(0);
    expect(comparePubVersions("1.0.0+build.10", "1.0.0+build.9")).toBe(1);
  });

  it("knows which versions it can order, and is the Pub ecosystem's scheme", () => {
    expect(versionSchemeFor("Pub")).toBe(pubScheme);
    expect(pubScheme.isValid("2.0.0-nullsafety.0")).toBe(true);
    expect(pubScheme.isValid("1.2.3+4")).toBe(true);
    expect(pubScheme.isValid("1.2.3.4")).toBe(false);
    expect(pubScheme.isValid("any")).toBe(false);
  });

  const path = sharedData("versions/pub-versions.txt");
  it.skipIf(!path)("passes every line of osv-scalibr's pub-versions.txt, both ways round", () => {
    const { checked, failures } = vectorFailures(path as string, comparePubVersions);
    expect(checked).toBe(100);
    expect(failures).toEqual([]);
  });
});
