import { describe, expect, it } from "vitest";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { compareNugetVersions, nugetScheme } from "../../src/match/versions/nuget.js";
import { sharedData } from "../helpers/shared-data.js";
import { checkAdvisories, osvAffectedIn, vectorFailures } from "../helpers/version-vectors.js";

describe("NuGet version ordering", () => {
  it("compares up to four numbers, a missing one being 0", () => {
    expect(compareNugetVersions("1.0", "1.0.0.0")).toBe(0);
    expect(compareNugetVersions("1.0.0.1", "1.0.0")).toBe(1);
    expect(compareNugetVersions("3.7.10.6", "3.7.10.16")).toBe(-1);
    expect(compareNugetVersions("13.0.3", "13.0.1")).toBe(1);
  });

  it("orders prerelease labels as SemVer does, without regard to case, and ignores metadata", () => {
    expect(compareNugetVersions("1.0.0-RC.1", "1.0.0-rc.1")).toBe(0);
    expect(compareNugetVersions("1.0.0-rc.10", "1.0.0-rc.9")).toBe(1);
    expect(compareNugetVersions("1.0.0-rc", "1.0.0-rc.1")).toBe(-1);
    expect(compareNugetVersions("1.0.0-2", "1.0.0-a")).toBe(-1);
    expect(compareNugetVersions("1.0.0-rc.1", "1.0.0")).toBe(-1);
    expect(compareNugetVersions("4.0.0+sha.abc", "4.0.0")).toBe(0);
  });

  it("knows which versions it can order, and is the NuGet ecosystem's scheme", () => {
    expect(versionSchemeFor("NuGet")).toBe(nugetScheme);
    expect(nugetScheme.isValid("6.0.0-preview.7.21377.19")).toBe(true);
    expect(nugetScheme.isValid("1.0.0.0.0")).toBe(false);
    expect(nugetScheme.isValid("v1.0")).toBe(false);
    expect(nugetScheme.isValid("")).toBe(false);
  });

  const path = sharedData("versions/nuget-versions.txt");
  it.skipIf(!path)("passes every line of osv-scalibr's nuget-versions.txt, both ways round", () => {
    const { checked, failures } = vectorFailures(path as string, compareNugetVersions);
    expect(checked).toBe(35);
    expect(failures).toEqual([]);
  });

  const zip = sharedData("osv/Maven/all.zip");
  it.skipIf(!zip)("puts every version GitHub's NuGet advisories list inside their ranges", async () => {
    const { events, listed, problems } = checkAdvisories(
      await osvAffectedIn(zip as string, "NuGet"),
      nugetScheme,
    );
    expect(events).toBeGreaterThan(10);
    expect(listed).toBeGreaterThan(100);
    expect(problems).toEqual([]);
  });
});
