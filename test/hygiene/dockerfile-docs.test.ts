/**
 * docs/rules.md and the Dockerfile rules say the same: every rule has an entry (id, title,
 * severity), every LW-DF id the page names is a rule, and each entry's bad example is reported by
 * its rule while its good example is not.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lintDockerfile } from "../../src/hygiene/dockerfile/lint.js";
import { dockerfileRules } from "../../src/hygiene/dockerfile/rules/index.js";

const page = readFileSync(join(import.meta.dirname, "../../docs/rules.md"), "utf8");
const sectionStart = page.indexOf("## Dockerfile rules\n");
const sectionEnd = page.indexOf("\n## ", sectionStart + 1);
const section = page.slice(sectionStart, sectionEnd < 0 ? undefined : sectionEnd);

interface Entry {
  id: string;
  title: string;
  body: string;
}

const entries: Entry[] = [
  ...section.matchAll(/^### (LW-DF-\d{3}) (.+)\n([\s\S]*?)(?=^### |(?![\s\S]))/gm),
].map((match) => ({ id: match[1] as string, title: match[2] as string, body: match[3] as string }));

function example(body: string, label: "Bad" | "Good"): string | undefined {
  return new RegExp(`^${label}:\\n\\n\`\`\`dockerfile\\n([\\s\\S]*?)\`\`\``, "m").exec(body)?.[1];
}

describe("docs/rules.md, Dockerfile rules", () => {
  it("has one entry per rule, in order, with the rule's title and severity", () => {
    expect(sectionStart).toBeGreaterThanOrEqual(0);
    expect(entries.map((entry) => entry.id)).toEqual(dockerfileRules.map((rule) => rule.id));
    for (const rule of dockerfileRules) {
      const entry = entries.find((candidate) => candidate.id === rule.id);
      expect(entry?.title, rule.id).toBe(rule.title);
      expect(entry?.body, rule.id).toMatch(new RegExp(`^Severity: \\*\\*${rule.severity}\\*\\*`, "m"));
    }
  });

  it("names no LW-DF id that is not a rule, anywhere on the page", () => {
    const known = new Set(dockerfileRules.map((rule) => rule.id));
    const named = new Set(page.match(/LW-DF-\d{3}/g) ?? []);
    expect([...named].filter((id) => !known.has(id))).toEqual([]);
  });

  it.each(entries.map((entry) => [entry.id, entry] as const))(
    "%s: the bad example is reported, the good one is not",
    (id, entry) => {
      const bad = example(entry.body, "Bad");
      const good = example(entry.body, "Good");
      expect(bad, `${id} has a Bad example`).toBeDefined();
      expect(good, `${id} has a Good example`).toBeDefined();
      const ids = (text: string) =>
        lintDockerfile(text, "Dockerfile").findings.map((finding) => finding.ruleId);
      expect(ids(bad as string)).toContain(id);
      expect(ids(good as string)).not.toContain(id);
    },
  );

  it("the page's own suppression example sets its finding aside", () => {
    const snippet = /```dockerfile\n(# layerwatch:ignore[\s\S]*?)```/.exec(page)?.[1] as string;
    const { findings } = lintDockerfile(snippet, "Dockerfile");
    const pinned = findings.find((finding) => finding.ruleId === "LW-DF-002");
    expect(pinned?.suppressed?.reason).toBe("the base is rebuilt nightly and pinned by the release job");
  });
});
