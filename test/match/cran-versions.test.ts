import { describe, expect, it } from "vitest";
import { evaluateAffected } from "../../src/match/ranges.js";
import { compareCranVersions, cranScheme } from "../../src/match/versions/cran.js";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { sharedData } from "../helpers/shared-data.js";
import { checkAdvisories, osvAffectedIn, vectorFailures } from "../helpers/version-vectors.js";

describe("CRAN version ordering", () => {
  it("reads . and - alike and compares the numbers one by one", () => {
    expect(compareCranVersions("1.0-1", "1.0.1")).toBe(0);
    expect(compareCranVersions("0.1-10", "0.1-9")).toBe(1);
    expect(compareCranVersions("1.2.2-2", "1.2.2")).toBe(1);
    expect(compareCranVersions("0.9", "0.75")).toBe(-1);
    expect(compareCranVersions("0.01", "0.1")).toBe(0);
  });

  it("knows which versions it can order, and is the CRAN ecosystem's scheme", () => {
    expect(versionSchemeFor("CRAN")).toBe(cranScheme);
    expect(cranScheme.isValid("0.1-3")).toBe(true);
    expect(cranScheme.isValid("1.0.0-beta")).toBe(false);
    expect(cranScheme.isValid("")).toBe(false);
  });

  const expected = { "cran-versions.txt": 21, "cran-versions-generated.txt": 57 };
  for (const [file, lines] of Object.entries(expected)) {
    const path = sharedData(`versions/${file}`);
    it.skipIf(!path)(`passes every line of osv-scalibr's ${file}, both ways round`, () => {
      const { checked, failures } = vectorFailures(path as string, compareCranVersions);
      expect(checked).toBe(lines);
      expect(failures).toEqual([]);
    });
  }

  const zip = sharedData("osv/CRAN/all.zip");
  it.skipIf(!zip)("puts every version the R advisories list inside their ranges", async () => {
    const entries = await osvAffectedIn(zip as string, "CRAN");
    const { events, listed, problems } = checkAdvisories(entries, cranScheme);
    expect(events).toBeGreaterThan(20);
    expect(listed).toBeGreaterThan(100);
    expect(problems).toEqual([]);
    // RSEC-2026-1 (png): affected from 0.1-3, fixed in 0.1-9.
    const png = entries.find((e) => e.id === "RSEC-2026-1")?.affected;
    expect(png?.package?.name).toBe("png");
    expect(evaluateAffected("0.1-8", png ?? {}, cranScheme)).toEqual({ affected: true, fixed: "0.1-9" });
    expect(evaluateAffected("0.1-9", png ?? {}, cranScheme).affected).toBe(false);
    expect(evaluateAffected("0.1-10", png ?? {}, cranScheme).affected).toBe(false);
  });
});
