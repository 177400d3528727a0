/**
 * lintDockerfile as a whole: inline suppressions, bad input (warnings, never a throw), and the
 * Dockerfiles of test/fixtures/dockerfiles with their findings worked out by hand.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lintDockerfile } from "../../src/hygiene/dockerfile/lint.js";
import { parseDockerfile } from "../../src/hygiene/dockerfile/parse.js";
import { dockerfileRules } from "../../src/hygiene/dockerfile/rules/index.js";
import { commandsOf } from "../../src/hygiene/dockerfile/shell.js";
import type { HygieneFinding } from "../../src/hygiene/types.js";

const fixtures = join(import.meta.dirname, "../fixtures/dockerfiles");
const fixture = (name: string) => readFileSync(join(fixtures, name), "utf8");

function where(finding: HygieneFinding): string {
  if (finding.location.kind !== "dockerfile") throw new Error("a Dockerfile finding outside the Dockerfile");
  const { line, endLine } = finding.location;
  return `${finding.ruleId}@${line}${endLine === undefined ? "" : `-${endLine}`}`;
}

describe("inline suppressions", () => {
  const { findings, warnings } = lintDockerfile(fixture("suppressed.Dockerfile"), "suppressed.Dockerfile");
  const suppressed = (id: string) => findings.find((finding) => where(finding) === id)?.suppressed;

  it("keeps suppressed findings, marked with the reason and the comment's line", () => {
    expect(findings.map(where).sort()).toEqual(
      [
        "LW-DF-001@15",
        "LW-DF-002@2",
        "LW-DF-010@5",
        "LW-DF-012@5",
        "LW-DF-014@7",
        "LW-DF-016@9-11",
        "LW-DF-019@2",
        "LW-DF-020@9-11",
      ].sort(),
    );
    expect(suppressed("LW-DF-002@2")).toEqual({
      reason: "the base is rebuilt nightly and pinned by the release job",
      line: 1,
    });
  });

  it("one comment may name several rules, and may sit in a block of comments above the instruction", () => {
    expect(suppressed("LW-DF-010@5")).toEqual({ reason: "a throwaway debug image", line: 3 });
    expect(suppressed("LW-DF-012@5")).toEqual({ reason: "a throwaway debug image", line: 3 });
  });

  it("a comment inside the continuation block applies to that instruction", () => {
    expect(suppressed("LW-DF-020@9-11")).toEqual({
      reason: "the helper must run as root to bind port 80",
      line: 10,
    });
  });

  it("the wrong rule id, a missing reason, a blank line or an unknown rule sets nothing aside", () => {
    expect(suppressed("LW-DF-016@9-11")).toBeUndefined();
    expect(suppressed("LW-DF-014@7")).toBeUndefined();
    expect(suppressed("LW-DF-001@15")).toBeUndefined();
    expect(suppressed("LW-DF-019@2")).toBeUndefined();
    expect(warnings).toEqual([
      {
        subject: "suppressed.Dockerfile:6",
        problem: "layerwatch:ignore LW-DF-014 gives no reason; a reason is required, nothing is set aside",
      },
      { subject: "suppressed.Dockerfile:14", problem: "layerwatch:ignore names unknown rule LW-DF-999" },
    ]);
  });
});

describe("bad input gives warnings, never a throw", () => {
  it("an empty file", () => {
    expect(lintDockerfile("", "Dockerfile")).toEqual({
      findings: [],
      warnings: [{ subject: "Dockerfile", problem: "is empty: there is nothing to check" }],
    });
  });

  it("a JSON file", () => {
    expect(lintDockerfile('{\n  "hello": "world"\n}\n', "x.json")).toEqual({
      findings: [],
      warnings: [{ subject: "x.json", problem: "has no FROM instruction: not a Dockerfile" }],
    });
  });

  it("an unknown instruction and a RUN before FROM are skipped with a warning; the rest is checked", () => {
    const { findings, warnings } = lintDockerfile(
      "RUN make\nFROM debian:12\nFETCH x\nUSER app\n",
      "Dockerfile",
    );
    expect(warnings).toEqual([
      { subject: "Dockerfile:1", problem: "RUN before the first FROM; skipped" },
      { subject: "Dockerfile:3", problem: '"FETCH" is not a Dockerfile instruction; skipped' },
    ]);
    expect(findings.map(where)).toEqual(["LW-DF-002@2", "LW-DF-019@2"]);
  });

  it("random bytes and truncated constructs do not throw", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pieces = [
      "FROM ",
      "RUN ",
      "<<EOF",
      "EOF",
      "\\\n",
      "`",
      '"',
      "'",
      "$(",
      "${",
      "|",
      "&&",
      ";;",
      "case ",
      " in ",
      ")",
      "\n",
      "# escape=`\n",
      "COPY --chmod=",
      "USER ",
      "ARG X=${",
      "\u0000",
      "é",
    ];
    for (let round = 0; round < 300; round++) {
      let text = "";
      const length = Math.floor(random() * 40);
      for (let k = 0; k < length; k++) text += pieces[Math.floor(random() * pieces.length)];
      const result = lintDockerfile(text, "fuzz");
      expect(Array.isArray(result.findings)).toBe(true);
    }
  });
});

describe("the parser", () => {
  it("joins continuations as BuildKit does, skipping comment lines, and keeps heredoc bodies apart", () => {
    const parsed = parseDockerfile(
      [
        "FROM alpine:3.20 AS base",
        "RUN apk add \\",
        "  # a comment",
        "  curl",
        "RUN <<EOF cat > /x",
        "body",
        "EOF",
        "",
      ].join("\n"),
    );
    const [run, heredoc] = parsed.stages[0]?.instructions ?? [];
    expect(run).toMatchObject({ keyword: "RUN", line: 2, endLine: 4, args: "apk add   curl" });
    expect(heredoc).toMatchObject({
      line: 5,
      endLine: 7,
      heredocs: [{ name: "EOF", body: "body", line: 6 }],
    });
    expect(parsed.stages[0]).toMatchObject({ name: "base", image: "alpine:3.20" });
  });

  it("expands global ARGs in FROM and knows a stage name from an image", () => {
    const parsed = parseDockerfile(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile's ${VAR}, not a template.
      "ARG REPO=node\nARG TAG=22\nFROM $REPO:${TAG}-slim AS build\nFROM build\nFROM other\n",
    );
    expect(parsed.stages.map((stage) => [stage.image, stage.baseStage])).toEqual([
      ["node:22-slim", undefined],
      ["build", 0],
      ["other", undefined],
    ]);
  });

  it("reads shell command lines: operators, quotes, case patterns, heredocs, substitutions, sh -c", () => {
    const commands = commandsOf(
      [
        `DEBIAN_FRONTEND=noninteractive apt-get -qy install 'a b' "c\\"d" && x || y; z | w`,
        `case "$a" in x|y) one ;; *) two ;; esac`,
        `cat <<'EOF' > f`,
        `not | a command`,
        `EOF`,
        `echo "$(id -u)" && bash -c 'p | q'`,
      ].join("\n"),
    );
    expect(commands.map((command) => [command.words.join(" "), command.position, command.nested])).toEqual([
      [`apt-get -qy install a b c"d`, 0, false],
      ["x", 0, false],
      ["y", 0, false],
      ["z", 0, false],
      ["w", 1, false],
      ["case $a in", 0, false],
      ["one", 0, false],
      ["two", 0, false],
      ["cat", 0, false],
      ["echo $(id -u)", 0, false],
      ["id -u", 0, true],
      ["bash -c p | q", 0, false],
      ["p", 0, true],
      ["q", 1, true],
    ]);
    expect(commands[0]?.assignments).toEqual(["DEBIAN_FRONTEND=noninteractive"]);
  });
});

describe("fixture Dockerfiles", () => {
  it("a careful multi-stage build has no findings", () => {
    expect(lintDockerfile(fixture("good-multistage.Dockerfile"), "good-multistage.Dockerfile")).toEqual({
      findings: [],
      warnings: [],
    });
  });

  it("a careless one has every finding it should, at its lines", () => {
    const { findings, warnings } = lintDockerfile(
      fixture("bad-everything.Dockerfile"),
      "bad-everything.Dockerfile",
    );
    expect(warnings).toEqual([]);
    expect(findings.map(where).sort()).toEqual(
      [
        "LW-DF-002@1",
        "LW-DF-003@1",
        "LW-DF-008@2",
        "LW-DF-012@2",
        "LW-DF-005@3",
        "LW-DF-001@6",
        "LW-DF-002@6",
        "LW-DF-003@6",
        "LW-DF-019@6",
        "LW-DF-004@7-8",
        "LW-DF-006@9",
        "LW-DF-015@10",
        "LW-DF-007@11-13",
        "LW-DF-009@11-13",
        "LW-DF-010@11-13",
        "LW-DF-012@11-13",
        "LW-DF-012@11-13",
        "LW-DF-013@11-13",
        "LW-DF-018@11-13",
        "LW-DF-016@14",
        "LW-DF-020@14",
        "LW-DF-014@15",
        "LW-DF-017@16",
      ].sort(),
    );
    // Severity comes from the rule, except where a finding says otherwise.
    const rules = new Map(dockerfileRules.map((rule) => [rule.id, rule.severity]));
    for (const finding of findings) expect(finding.severity).toBe(rules.get(finding.ruleId));
    expect(findings.find((finding) => finding.ruleId === "LW-DF-004")?.message).toBe(
      "ENV STRIPE_SECRET holds a secret: secret (Zx8************)",
    );
  });
});
