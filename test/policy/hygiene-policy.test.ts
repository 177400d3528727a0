import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import type { HygieneFinding } from "../../src/hygiene/types.js";
import { parseBaseline } from "../../src/policy/baseline.js";
import { applyHygienePolicy, withHygiene } from "../../src/policy/hygiene.js";
import { compileLocationGlob, hygieneIdentity } from "../../src/policy/hygiene-match.js";
import { matchHygieneIgnoreEntry, matchIgnoreEntry, parseIgnoreFile } from "../../src/policy/ignore-file.js";
import { applyPolicy, type Policy } from "../../src/policy/policy.js";
import { parsePurl } from "../../src/policy/purl-pattern.js";

/**
 * The policy over build-hygiene findings: ignore-file `rule` entries (whole rule, by path, by
 * field), inline suppressions, --severity, --fail-on and baselines, on findings shaped as the
 * Dockerfile linter and the image checks write them.
 */

const rootUser: HygieneFinding = {
  ruleId: "LW-DF-001",
  severity: "high",
  message: "the final stage sets no USER, so it runs as root",
  location: { kind: "dockerfile", path: "docker/Dockerfile", line: 9 },
};
const unpinned: HygieneFinding = {
  ruleId: "LW-DF-002",
  severity: "low",
  message: "FROM debian:12 is not pinned by digest",
  location: { kind: "dockerfile", path: "docker/Dockerfile", line: 1 },
};
const unpinnedInline: HygieneFinding = {
  ...unpinned,
  location: { kind: "dockerfile", path: "docker/Dockerfile", line: 5 },
  suppressed: { reason: "rebuilt nightly", line: 4 },
};
const keyFile: HygieneFinding = {
  ruleId: "LW-IMG-006",
  severity: "critical",
  message: "a private key (PEM) is in the image",
  location: { kind: "file", path: "app/certs/server.pem", layer: 2 },
};
const envSecret: HygieneFinding = {
  ruleId: "LW-IMG-002",
  severity: "high",
  message: "config.Env sets AWS_SECRET_ACCESS_KEY=****",
  location: { kind: "config", field: "config.Env[2]" },
};

function problem(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  return "accepted";
}

const policy = (rules: Partial<Policy>): Policy => ({ ignoreUnfixed: false, vex: [], ...rules });
const today = new Date("2025-03-01T12:00:00Z");

describe("ignore-file rule entries", () => {
  const file = parseIgnoreFile(
    [
      "ignore:",
      "  - rule: lw-df-002",
      "    reason: bases are pinned by the release job",
      "  - rule: LW-IMG-006",
      "    path: /app/certs/*.pem",
      "    reason: test certificates",
      "    expires: 2025-02-28",
      "  - rule: LW-IMG-002",
      "    field: config.Env*",
      "    reason: the key is a dummy",
      "  - id: CVE-2021-44906",
      "    reason: a vulnerability entry",
    ].join("\n"),
    "i.yaml",
  );

  it("names a whole rule without case, or narrows it to paths or config fields", () => {
    expect(file.entries.map((entry) => [entry.rule, entry.path?.text, entry.field?.text])).toEqual([
      ["LW-DF-002", undefined, undefined],
      ["LW-IMG-006", "/app/certs/*.pem", undefined],
      ["LW-IMG-002", undefined, "config.Env*"],
      [undefined, undefined, undefined],
    ]);
    expect(matchHygieneIgnoreEntry(file, "LW-DF-002", unpinned.location, "2025-03-01")?.index).toBe(1);
    // A path entry never covers a config field, and a field entry never a file.
    expect(matchHygieneIgnoreEntry(file, "LW-IMG-002", envSecret.location, "2025-03-01")?.index).toBe(3);
    expect(
      matchHygieneIgnoreEntry(
        file,
        "LW-IMG-002",
        { kind: "file", path: "config.Env", layer: 0 },
        "2025-03-01",
      ),
    ).toBeUndefined();
    // Entry 2 covers the key through its last day, not after.
    expect(matchHygieneIgnoreEntry(file, "LW-IMG-006", keyFile.location, "2025-02-28")?.index).toBe(2);
    expect(matchHygieneIgnoreEntry(file, "LW-IMG-006", keyFile.location, "2025-03-01")).toBeUndefined();
  });

  it("a rule entry never suppresses a vulnerability, and an id entry never a hygiene finding", () => {
    const ruleOnly = parseIgnoreFile("ignore:\n  - rule: LW-DF-002\n    reason: r\n", "i.yaml");
    expect(
      matchIgnoreEntry(ruleOnly, new Set(["LW-DF-002"]), parsePurl("pkg:npm/minimist@1.2.5"), "2025-03-01"),
    ).toBeUndefined();
    const idOnly = parseIgnoreFile("ignore:\n  - id: LW-DF-002\n    reason: r\n", "i.yaml");
    expect(matchHygieneIgnoreEntry(idOnly, "LW-DF-002", unpinned.location, "2025-03-01")).toBeUndefined();
  });

  it("refuses entries that mix kinds or narrow nothing, naming the entry", () => {
    const parse = (entry: string) => problem(() => parseIgnoreFile(`ignore:\n${entry}`, "i.yaml"));
    expect(parse("  - rule: LW-DF-001\n    id: CVE-1\n    reason: r\n")).toBe(
      "i.yaml: entry 1 (CVE-1, LW-DF-001): rule names a hygiene rule; it cannot be combined with id or package",
    );
    expect(parse("  - rule: DF-1\n    reason: r\n")).toBe(
      "i.yaml: entry 1 (DF-1): rule must be a hygiene rule id such as LW-DF-001 (docs/rules.md)",
    );
    expect(parse("  - rule: LW-IMG-006\n    path: a\n    field: b\n    reason: r\n")).toBe(
      "i.yaml: entry 1 (LW-IMG-006, a, b): give path or field, not both: a finding is at a file or at a config field",
    );
    expect(parse("  - path: app/*\n    reason: r\n")).toBe(
      "i.yaml: entry 1 (app/*): path and field narrow a hygiene rule; give rule too",
    );
    expect(parse("  - rule: LW-DF-001\n")).toBe(
      "i.yaml: entry 1 (LW-DF-001): reason is required: say why this finding is accepted",
    );
    expect(parse("  - rule: LW-DF-001\n    paths: [a]\n    reason: r\n")).toMatch(
      /^i\.yaml: entry 1 \(LW-DF-001\): unknown key "paths"; use id, package, rule, path, field, reason, expires$/,
    );
  });
});

describe("location globs", () => {
  it("* stays within a path segment, ** crosses them, a leading / or ./ is ignored", () => {
    const pem = compileLocationGlob("app/*.pem");
    expect(pem.matches("app/server.pem")).toBe(true);
    expect(pem.matches("/app/server.pem")).toBe(true);
    expect(pem.matches("app/certs/server.pem")).toBe(false);
    const deep = compileLocationGlob("/app/**.pem");
    expect(deep.matches("app/certs/server.pem")).toBe(true);
    expect(deep.matches("app/server.pemx")).toBe(false);
    expect(compileLocationGlob("./docker/Dockerfile").matches("docker/Dockerfile")).toBe(true);
    // Regular-expression characters are themselves.
    expect(compileLocationGlob("config.Env[2]").matches("config.Env[2]")).toBe(true);
    expect(compileLocationGlob("config.Env[2]").matches("configXEnv2")).toBe(false);
    expect(compileLocationGlob("etc/?hadow").matches("etc/shadow")).toBe(true);
  });
});

describe("applyHygienePolicy", () => {
  const all = [rootUser, unpinned, unpinnedInline, keyFile, envSecret];

  it("counts each finding at its severity against --fail-on; inline and ignore-file suppressions never fail", () => {
    const ignoreFile = parseIgnoreFile("ignore:\n  - rule: LW-IMG-002\n    reason: dummy key\n", "i.yaml");
    const verdict = applyHygienePolicy(all, policy({ failOn: "high", ignoreFile }), today);
    expect(verdict.failing).toEqual([rootUser, keyFile]);
    expect(verdict.decisions.get(unpinnedInline)).toEqual({
      suppressed: { by: "inline", reason: "rebuilt nightly", source: "docker/Dockerfile", line: 4 },
    });
    expect(verdict.decisions.get(envSecret)).toEqual({
      suppressed: { by: "ignore", reason: "dummy key", source: "i.yaml", entry: 1 },
    });
    expect(verdict.decisions.get(rootUser)).toBeUndefined();
    // low: every unsuppressed finding fails, the low unpinned base included.
    expect(applyHygienePolicy(all, policy({ failOn: "low" }), today).failing).toEqual([
      rootUser,
      unpinned,
      keyFile,
      envSecret,
    ]);
    expect(applyHygienePolicy(all, policy({ failOn: "critical" }), today).failing).toEqual([keyFile]);
  });

  it("--severity hides findings at other levels; --ignore-unfixed leaves them alone", () => {
    const verdict = applyHygienePolicy(
      all,
      policy({ severities: ["critical", "high"], ignoreUnfixed: true, failOn: "low" }),
      today,
    );
    expect(verdict.decisions.get(unpinned)).toEqual({ hidden: "severity" });
    expect(verdict.decisions.get(unpinnedInline)).toEqual({ hidden: "severity" });
    expect(verdict.failing).toEqual([rootUser, keyFile, envSecret]);
  });

  it("the baseline knows a finding by rule and place, not by line or list index, and counts repeats", () => {
    const baseline = parseBaseline(
      JSON.stringify({
        schemaVersion: "1.3",
        tool: { name: "layerwatch" },
        findings: [],
        hygiene: [
          // The same instruction, two lines higher before an edit.
          { ruleId: "LW-DF-002", location: { kind: "dockerfile", path: "./docker/Dockerfile", line: 1 } },
          { ruleId: "LW-IMG-002", location: { kind: "config", field: "config.Env[5]" } },
          { ruleId: "LW-IMG-006", location: { kind: "file", path: "app/certs/other.pem", layer: 2 } },
        ],
      }),
      "b.json",
    );
    expect(baseline.hygiene.size).toBe(3);
    const movedDown: HygieneFinding = { ...unpinned, location: { ...unpinned.location, line: 3 } as never };
    const second: HygieneFinding = { ...unpinned, location: { ...unpinned.location, line: 7 } as never };
    const verdict = applyHygienePolicy(
      [rootUser, movedDown, second, keyFile, envSecret],
      policy({ failOn: "low", baseline }),
      today,
    );
    expect(
      [rootUser, movedDown, second, keyFile, envSecret].map((f) => verdict.decisions.get(f)?.baseline),
    ).toEqual(
      // One unpinned FROM in the baseline: the first now is known, the second new.
      ["new", "known", "new", "new", "known"],
    );
    expect(verdict.failing).toEqual([rootUser, second, keyFile]);
  });

  it("a 1.2 baseline has no hygiene list: every hygiene finding is new; a malformed entry is an error", () => {
    const old = parseBaseline(
      JSON.stringify({ schemaVersion: "1.2", tool: { name: "layerwatch" }, findings: [] }),
      "b.json",
    );
    expect(applyHygienePolicy([rootUser], policy({ baseline: old }), today).decisions.get(rootUser)).toEqual({
      baseline: "new",
    });
    expect(
      problem(() =>
        parseBaseline(
          JSON.stringify({
            schemaVersion: "1.3",
            tool: { name: "layerwatch" },
            findings: [],
            hygiene: [{ ruleId: "LW-DF-001", location: { kind: "dockerfile" } }],
          }),
          "b.json",
        ),
      ),
    ).toBe(
      "--baseline b.json: hygiene finding 1: needs ruleId and a location (dockerfile or file with path, config with field)",
    );
  });

  it("identities leave out lines, layers and list indices", () => {
    expect(hygieneIdentity(envSecret)).toBe(
      hygieneIdentity({ ruleId: "lw-img-002", location: { kind: "config", field: "config.Env[0]" } }),
    );
    expect(hygieneIdentity(keyFile)).toBe(
      hygieneIdentity({ ...keyFile, location: { kind: "file", path: "/app/certs/server.pem", layer: 5 } }),
    );
    expect(hygieneIdentity(keyFile)).not.toBe(hygieneIdentity({ ...keyFile, ruleId: "LW-IMG-002" }));
  });

  it("either kind of failing finding fails the build", () => {
    const hygieneOnly = withHygiene(
      applyPolicy([], [], { digests: [] }, policy({ failOn: "high" }), today),
      applyHygienePolicy([rootUser], policy({ failOn: "high" }), today),
    );
    expect(hygieneOnly.failed).toBe(true);
    expect(hygieneOnly.failing).toEqual([]);
    const neither = withHygiene(
      applyPolicy([], [], { digests: [] }, policy({ failOn: "critical" }), today),
      applyHygienePolicy([rootUser], policy({ failOn: "critical" }), today),
    );
    expect(neither.failed).toBe(false);
  });
});
