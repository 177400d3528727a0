import { describe, expect, it } from "vitest";
import { evaluateAffected } from "../../src/match/ranges.js";
import { compareHackageVersions, hackageScheme } from "../../src/match/versions/hackage.js";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { sharedData } from "../helpers/shared-data.js";
import { checkAdvisories, osvAffectedIn, vectorFailures } from "../helpers/version-vectors.js";

describe("Hackage version ordering", () => {
  it("compares dotted numbers as lists: a prefix sorts first", () => {
    expect(compareHackageVersions("1.0", "1.0.0")).toBe(-1);
    expect(compareHackageVersions("1.0.0", "1.0.0.1")).toBe(-1);
    expect(compareHackageVersions("0.10", "0.9")).toBe(1);
    expect(compareHackageVersions("6.20170818", "5.20140919")).toBe(1);
    expect(compareHackageVersions("2.0.1.0", "2.0.1.0")).toBe(0);
  });

  it("knows which versions it can order, and is the Hackage ecosystem's scheme", () => {
    expect(versionSchemeFor("Hackage")).toBe(hackageScheme);
    expect(hackageScheme.isValid("0.4.0.0")).toBe(true);
    expect(hackageScheme.isValid("1.0-beta")).toBe(false);
    expect(hackageScheme.isValid("")).toBe(false);
  });

  const path = sharedData("versions/hackage-versions.txt");
  it.skipIf(!path)("passes every line of osv-scalibr's hackage-versions.txt, both ways round", () => {
    const { checked, failures } = vectorFailures(path as string, compareHackageVersions);
    expect(checked).toBe(11);
    expect(failures).toEqual([]);
  });

  const zip = sharedData("osv/Hackage/all.zip");
  it.skipIf(!zip)("orders every range of the Haskell advisories, and matches one by hand", async () => {
    const entries = await osvAffectedIn(zip as string, "Hackage");
    const { events, problems } = checkAdvisories(entries, hackageScheme);
    expect(events).toBeGreaterThan(50);
    expect(problems).toEqual([]);
    // HSEC-2023-0001 (aeson): affected from 0.4.0.0, fixed in 2.0.1.0.
    const aeson = entries.find((e) => e.id === "HSEC-2023-0001")?.affected;
    expect(aeson?.package?.name).toBe("aeson");
    const verdict = (version: string) => evaluateAffected(version, aeson ?? {}, hackageScheme);
    expect(verdict("0.3.2.8").affected).toBe(false);
    expect(verdict("0.4")).toEqual({ affected: false });
    expect(verdict("1.5.6.0")).toEqual({ affected: true, fixed: "2.0.1.0" });
    expect(verdict("2.0.0.0")).toEqual({ affected: true, fixed: "2.0.1.0" });
    expect(verdict("2.0.1.0").affected).toBe(false);
  });
});
