/**
 * `layerwatch scan --format markdown` on the fixture image (seven findings against fixtures/osv):
 * the counts table, the findings table most severe first, the row cap with its "and N more" line,
 * and package names that would otherwise break the table, inject Markdown or HTML, or mention
 * someone on GitHub.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderMarkdown } from "../../src/report/markdown.js";
import type { JsonReport } from "../../src/report/model.js";
import { buildFixtureImage, type FixtureScan, fixtureStore } from "./fixture-scan.js";

let store: FixtureScan;
let source: string;
let report: JsonReport;
let markdown: string;

/** A GFM table row's cells: split at pipes not escaped with a backslash, outer pipes dropped. */
function cells(row: string): string[] {
  const parts = row.trim().split(/(?<!\\)\|/);
  return parts.slice(1, -1).map((cell) => cell.trim());
}

/** What a code span cell shows: the text between its fences, `\|` read as "|" (GFM tables). */
function codeText(cell: string): string {
  const match = /^(`+)( ?)([\s\S]*?)\2\1$/.exec(cell);
  if (!match) throw new Error(`not a code span: ${cell}`);
  return (match[3] ?? "").replace(/\\\|/g, "|");
}

function findingRows(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("| [") || line.startsWith("| \\["))
    .map(cells);
}

beforeAll(async () => {
  store = await fixtureStore("markdown");
  source = await store.archive(await buildFixtureImage(), "image");
  report = await store.report(source);
  const run = await store.scan(source, ["--format", "markdown", "--fail-on", "high"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(1);
  markdown = run.stdout;
});

afterAll(async () => {
  await rm(store.work, { recursive: true, force: true });
});

describe("layerwatch scan --format markdown", () => {
  it("counts findings by severity and lists them most severe first, with links and fixes", () => {
    // fixtures/README.md: one critical, two high, one medium, one low, two unknown.
    for (const row of [
      "| Critical | 1 |",
      "| High | 2 |",
      "| Medium | 1 |",
      "| Low | 1 |",
      "| Unknown | 2 |",
    ])
      expect(markdown).toContain(`\n${row}\n`);
    expect(markdown).toContain("**7 findings** in 15 packages (Debian GNU/Linux 12 (bookworm)).");
    const rows = findingRows(markdown);
    expect(rows).toHaveLength(7);
    for (const row of rows) expect(row).toHaveLength(5);
    expect(rows[0]).toEqual([
      "[CVE-2021-44906](https://osv.dev/vulnerability/CVE-2021-44906)",
      "Critical",
      "`minimist`",
      "`1.2.5` → `1.2.6`",
      "1 `/bin/sh -c #(nop) layer 1-app`",
    ]);
    expect(rows.map((row) => codeText(row[2] as string))).toEqual(report.findings.map((f) => f.package.name));
    // tar: Debian plans no fix.
    expect(rows[4]?.[3]).toBe("`1.34+dfsg-1.2+deb12u1` → no fix planned");
    expect(markdown).not.toContain("more finding");
    // After the findings, the image check's one hygiene finding: its config sets no User.
    expect(markdown).toContain("\n#### Build hygiene\n\n**1 hygiene finding** (1 high).\n");
    expect(markdown).toMatch(/\n\| High \| \[LW-IMG-001\]\(\S+\) \| `config\.User` \| .+ \|\n/);
    // The three findings at or above high, and the root user (LW-IMG-001, high).
    expect(
      markdown.trimEnd().endsWith("**FAIL**: 4 findings at or above high (1 of them build hygiene)."),
    ).toBe(true);
  });

  it("caps the findings table and says how many more there are", () => {
    const capped = renderMarkdown(report, { maxRows: 3 });
    const rows = findingRows(capped);
    expect(rows.map((row) => row[0])).toEqual([
      "[CVE-2021-44906](https://osv.dev/vulnerability/CVE-2021-44906)",
      "[CVE-2021-23337](https://osv.dev/vulnerability/CVE-2021-23337)",
      "[CVE-2022-24999](https://osv.dev/vulnerability/CVE-2022-24999)",
    ]);
    expect(capped).toContain("\n…and 4 more findings (see the full report).\n");
    // The counts still cover every finding.
    expect(capped).toContain("| Unknown | 2 |");
    const one = renderMarkdown(report, { maxRows: 6 });
    expect(findingRows(one)).toHaveLength(6);
    expect(one).toContain("…and 1 more finding (see the full report).");
  });

  it("shows hostile package names as they are, one cell each, with no Markdown, HTML or mention", () => {
    const names = [
      "a|b||c\\|",
      "x`y``z",
      "`edge`",
      '<img src=x onerror="alert(1)">',
      "**bold** _it_ [link](https://example.invalid) ~~gone~~",
      "@babel/traverse",
      "two\nlines",
    ];
    const edited = structuredClone(report);
    names.forEach((name, index) => {
      const finding = edited.findings[index];
      if (finding) finding.package.name = name;
    });
    const text = renderMarkdown(edited);
    const rows = findingRows(text);
    expect(rows).toHaveLength(7);
    rows.forEach((row, index) => {
      expect(row, names[index]).toHaveLength(5);
      expect(codeText(row[2] as string)).toBe((names[index] as string).replace("\n", " "));
    });
    // Outside code spans nothing of them is left to render.
    const outsideCode = text.replace(/(`+)[\s\S]*?\1/g, "");
    expect(outsideCode).not.toContain("<img");
    expect(outsideCode).not.toContain("@babel");
    expect(outsideCode).not.toContain("**bold**");
  });
});
