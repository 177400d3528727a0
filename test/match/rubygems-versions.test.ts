import { describe, expect, it } from "vitest";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { compareGemVersions, rubygemsScheme } from "../../src/match/versions/rubygems.js";
import { sharedData } from "../helpers/shared-data.js";
import { checkAdvisories, osvAffectedIn, vectorFailures } from "../helpers/version-vectors.js";

describe("RubyGems version ordering", () => {
  it("orders prereleases (any segment with letters) before their release", () => {
    const ordered = ["7.1.0.alpha", "7.1.0.beta1", "7.1.0.rc1", "7.1.0.rc2", "7.1.0", "7.1.0.1", "7.1.1"];
    for (let i = 1; i < ordered.length; i++)
      expect(compareGemVersions(ordered[i - 1] as string, ordered[i] as string)).toBe(-1);
  });

  it("ignores trailing zeros, splits letters from digits and reads - as .pre.", () => {
    expect(compareGemVersions("1.0", "1.0.0")).toBe(0);
    expect(compareGemVersions("1.0.a.0", "1.0.a")).toBe(0);
    expect(compareGemVersions("1.0.rc10", "1.0.rc.10")).toBe(0);
    expect(compareGemVersions("1.0.rc10", "1.0.rc9")).toBe(1);
    expect(compareGemVersions("1.0-rc1", "1.0.pre.rc1")).toBe(0);
    expect(compareGemVersions("1.0-rc1", "1.0")).toBe(-1);
    // Strings compare by their bytes: upper case before lower case.
    expect(compareGemVersions("1.A", "1.a")).toBe(-1);
  });

  it("knows Gem::Version's shape, and is the RubyGems ecosystem's scheme", () => {
    expect(versionSchemeFor("RubyGems")).toBe(rubygemsScheme);
    expect(rubygemsScheme.isValid("7.0.8.1")).toBe(true);
    expect(rubygemsScheme.isValid("1.0-rc1")).toBe(true);
    expect(rubygemsScheme.isValid("1.x")).toBe(true);
    // The first segment must be digits; such text still orders, after 0.9 and before 1.
    expect(rubygemsScheme.isValid("1beta")).toBe(false);
    expect(compareGemVersions("1beta", "0.9")).toBe(1);
    expect(rubygemsScheme.isValid("x")).toBe(false);
    expect(rubygemsScheme.isValid("")).toBe(false);
  });

  const expected = { "rubygems-versions.txt": 25, "rubygems-versions-generated.txt": 4098 };
  for (const [file, lines] of Object.entries(expected)) {
    const path = sharedData(`versions/${file}`);
    it.skipIf(!path)(`passes every line of osv-scalibr's ${file}, both ways round`, () => {
      const { checked, failures } = vectorFailures(path as string, compareGemVersions);
      expect(checked).toBe(lines);
      expect(failures).toEqual([]);
    });
  }

  const zip = sharedData("osv/Maven/all.zip");
  it.skipIf(!zip)("puts every version GitHub's RubyGems advisories list inside their ranges", async () => {
    const { events, listed, problems } = checkAdvisories(
      await osvAffectedIn(zip as string, "RubyGems"),
      rubygemsScheme,
    );
    expect(events).toBeGreaterThan(5);
    expect(listed).toBeGreaterThan(150);
    expect(problems).toEqual([]);
  });
});
