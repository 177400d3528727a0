import { describe, expect, it } from "vitest";
import { evaluateAffected } from "../../src/match/ranges.js";
import { compareGoVersions, goScheme, goTagToSemver } from "../../src/match/versions/go.js";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { sharedData } from "../helpers/shared-data.js";
import { checkAdvisories, osvAffectedIn, vectorFailures } from "../helpers/version-vectors.js";

describe("Go version ordering", () => {
  it("orders pseudo-versions as the prereleases they are", () => {
    // Go modules reference: vX.0.0-time-hash has no base tag; vX.Y.(Z+1)-0.time-hash follows
    // vX.Y.Z; vX.Y.Z-pre.0.time-hash follows vX.Y.Z-pre. All sort before the next release.
    const ordered = [
      "v0.0.0-20191109021931-daa7c04131f5",
      "v0.0.0-20200101000000-0123456789ab",
      "v0.1.0",
      "v1.2.3",
      "v1.2.4-0.20191109021931-daa7c04131f5",
      "v1.2.4-pre",
      "v1.2.4-pre.0.20191109021931-daa7c04131f5",
      "v1.2.4",
    ];
    for (let i = 1; i < ordered.length; i++)
      expect(compareGoVersions(ordered[i - 1] as string, ordered[i] as string)).toBe(-1);
  });

  it("takes the v prefix as optional and +incompatible as build metadata", () => {
    expect(compareGoVersions("1.2.3", "v1.2.3")).toBe(0);
    expect(compareGoVersions("v2.0.0+incompatible", "2.0.0")).toBe(0);
    expect(compareGoVersions("v2.0.0+incompatible", "v2.0.1")).toBe(-1);
    expect(compareGoVersions("v1.10.0", "v1.9.9")).toBe(1);
  });

  it("reads Go release tags the way OSV writes the stdlib's versions", () => {
    expect(goTagToSemver("go1.19.8")).toBe("1.19.8");
    expect(goTagToSemver("go1.21rc2")).toBe("1.21.0-rc.2");
    expect(goTagToSemver("go1.9beta1")).toBe("1.9.0-beta.1");
    expect(goTagToSemver("go1.20")).toBe("1.20.0");
    expect(goTagToSemver("go1")).toBe("1.0.0");
    // From 1.21 on a bare go1.N is the language version, below 1.N's release candidates.
    expect(goTagToSemver("go1.21")).toBe("1.21.0-0");
    // A custom toolchain's suffix and runtime.Version's experiment list do not count.
    expect(goTagToSemver("go1.21.0-bigcorp")).toBe("1.21.0");
    expect(goTagToSemver("go1.22.1 X:boringcrypto")).toBe("1.22.1");
    expect(goTagToSemver("1.21rc2")).toBe("1.21.0-rc.2");
    expect(compareGoVersions("go1.21rc2", "1.21.0-rc.2")).toBe(0);
    expect(compareGoVersions("go1.21rc2", "1.21.0")).toBe(-1);
    expect(compareGoVersions("go1.21", "go1.21rc1")).toBe(-1);
    expect(compareGoVersions("go1.20", "go1.20rc3")).toBe(1);
    expect(compareGoVersions("go1.19.10", "1.19.9")).toBe(1);
  });

  it("knows which versions it can order, and is the Go ecosystem's scheme", () => {
    expect(versionSchemeFor("Go")).toBe(goScheme);
    expect(goScheme.isValid("v0.0.0-20191109021931-daa7c04131f5")).toBe(true);
    expect(goScheme.isValid("go1.21rc2")).toBe(true);
    expect(goScheme.isValid("2.0.0+incompatible")).toBe(true);
    // osv-scanner sends "(devel)" for a main module built from a checkout: not a version.
    expect(goScheme.isValid("(devel)")).toBe(false);
    expect(goScheme.isValid("1.2.3.4")).toBe(false);
    expect(goScheme.isValid("latest")).toBe(false);
    expect(compareGoVersions("(devel)", "v0.0.1")).toBe(-1);
  });

  const vectors = sharedData("versions/semver-versions.txt");
  it.skipIf(!vectors)("passes every line of osv-scalibr's semver-versions.txt, both ways round", () => {
    const { checked, failures } = vectorFailures(vectors as string, compareGoVersions);
    expect(checked).toBe(86);
    expect(failures).toEqual([]);
  });

  const zip = sharedData("osv/Go/all.zip");
  // The zip holds some 4,300 records; read it once for both tests.
  let entries: ReturnType<typeof osvAffectedIn> | undefined;
  const goEntries = () => {
    entries ??= osvAffectedIn(zip as string, "Go");
    return entries;
  };
  it.skipIf(!zip)("matches a stdlib advisory against versions a Go binary reports", async () => {
    // GO-2023-1987: stdlib affected in [0, 1.19.12), [1.20.0-0, 1.20.7), [1.21.0-0, 1.21.0-rc.4).
    const stdlib = (await goEntries()).find(
      (e) => e.id === "GO-2023-1987" && e.affected.package?.name === "stdlib",
    );
    expect(stdlib).toBeDefined();
    const verdict = (version: string) => evaluateAffected(version, stdlib?.affected ?? {}, goScheme);
    expect(verdict("go1.19.11")).toEqual({ affected: true, fixed: "1.19.12" });
    expect(verdict("go1.19.12").affected).toBe(false);
    expect(verdict("go1.20")).toEqual({ affected: true, fixed: "1.20.7" });
    expect(verdict("go1.20.7").affected).toBe(false);
    expect(verdict("go1.21rc3")).toEqual({ affected: true, fixed: "1.21.0-rc.4" });
    expect(verdict("go1.21rc4").affected).toBe(false);
    expect(verdict("go1.21.0").affected).toBe(false);
  });

  it.skipIf(!zip)("orders every range of the Go vulnerability database", async () => {
    const { events, problems } = checkAdvisories(await goEntries(), goScheme);
    expect(events).toBeGreaterThan(12000);
    expect(problems).toEqual([]);
  });
});
