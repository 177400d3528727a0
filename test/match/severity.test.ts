import { describe, expect, it } from "vitest";
import { cvss3BaseScore } from "../../src/match/cvss.js";
import { severityOf } from "../../src/match/severity.js";

describe("CVSS v3 base scores", () => {
  it.each([
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
    ["CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10],
    ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8],
    ["CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", 7.4],
    ["CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0],
  ])("%s scores %d", (vector, score) => {
    expect(cvss3BaseScore(vector)).toBe(score);
  });

  it("refuses vectors it cannot score", () => {
    expect(cvss3BaseScore("CVSS:3.1/AV:N/AC:L")).toBeUndefined();
    expect(cvss3BaseScore("AV:N/AC:L/Au:N/C:P/I:P/A:P")).toBeUndefined();
    expect(cvss3BaseScore("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")).toBeUndefined();
  });
});

describe("severity of an advisory", () => {
  const base = { id: "X", modified: "2024-01-01T00:00:00Z" };
  it("prefers the distribution's urgency for OS packages", () => {
    expect(severityOf(base, { ecosystem_specific: { urgency: "unimportant" } })).toEqual({
      level: "low",
      source: "debian",
    });
  });
  it("uses GitHub's rating, then the CVSS vector", () => {
    expect(severityOf({ ...base, database_specific: { severity: "MODERATE" } }, {})).toEqual({
      level: "medium",
      source: "ghsa",
    });
    expect(
      severityOf(
        { ...base, severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }] },
        {},
      ),
    ).toEqual({
      level: "critical",
      source: "cvss_v3",
      score: 9.8,
      vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    });
  });
  it("says unknown when nothing rates it", () => {
    expect(severityOf(base, {})).toEqual({ level: "unknown", source: "none" });
  });
});
