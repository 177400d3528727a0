import { describe, expect, it } from "vitest";
import { evaluateAffected } from "../../src/match/ranges.js";
import { cargoScheme } from "../../src/match/versions/cargo.js";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { sharedData } from "../helpers/shared-data.js";
import { checkAdvisories, osvAffectedIn, vectorFailures } from "../helpers/version-vectors.js";

const compare = cargoScheme.compare;

describe("crates.io version ordering", () => {
  it("orders SemVer 2.0 precedence, with 0.0.0-0 the lowest version of all", () => {
    // The precedence example of the SemVer 2.0 specification, item 11.
    const ordered = [
      "0.0.0-0",
      "0.0.0-alpha",
      "0.0.0",
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "1.0.1",
    ];
    for (let i = 1; i < ordered.length; i++)
      expect(compare(ordered[i - 1] as string, ordered[i] as string)).toBe(-1);
    expect(compare("1.0.0+build.5", "1.0.0")).toBe(0);
    expect(compare("0.10.0", "0.9.99")).toBe(1);
  });

  it("knows which versions it can order, and is the crates.io ecosystem's scheme", () => {
    expect(versionSchemeFor("crates.io")).toBe(cargoScheme);
    expect(cargoScheme.isValid("0.7.0-0")).toBe(true);
    expect(cargoScheme.isValid("1.0.0-rc.1+build")).toBe(true);
    expect(cargoScheme.isValid("1.2.3.4")).toBe(false);
    expect(cargoScheme.isValid("*")).toBe(false);
    expect(cargoScheme.isValid("")).toBe(false);
  });

  const vectors = sharedData("versions/semver-versions.txt");
  it.skipIf(!vectors)("passes every line of osv-scalibr's semver-versions.txt, both ways round", () => {
    const { checked, failures } = vectorFailures(vectors as string, compare);
    expect(checked).toBe(86);
    expect(failures).toEqual([]);
  });

  const zip = sharedData("osv/crates.io/all.zip");
  it.skipIf(!zip)("orders every range of RustSec's advisories, and matches one by hand", async () => {
    const entries = await osvAffectedIn(zip as string, "crates.io");
    const { events, problems } = checkAdvisories(entries, cargoScheme);
    expect(events).toBeGreaterThan(2000);
    expect(problems).toEqual([]);
    // RUSTSEC-2018-0003 (smallvec): [0.3.2, 0.3.4), [0.4.0-0, 0.4.5), [0.5.0-0, 0.5.1), [0.6.0-0, 0.6.3).
    const smallvec = entries.find((e) => e.id === "RUSTSEC-2018-0003")?.affected;
    expect(smallvec?.package?.name).toBe("smallvec");
    const verdict = (version: string) => evaluateAffected(version, smallvec ?? {}, cargoScheme);
    expect(verdict("0.3.1").affected).toBe(false);
    expect(verdict("0.3.3")).toEqual({ affected: true, fixed: "0.3.4" });
    expect(verdict("0.3.4").affected).toBe(false);
    expect(verdict("0.4.0-alpha.1")).toEqual({ affected: true, fixed: "0.4.5" });
    expect(verdict("0.6.2")).toEqual({ affected: true, fixed: "0.6.3" });
    expect(verdict("0.6.3").affected).toBe(false);
  });
});
