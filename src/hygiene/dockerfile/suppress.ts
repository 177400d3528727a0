import type { HygieneFinding } from "../types.js";

/**
 * Inline suppressions: `# layerwatch:ignore LW-DF-nnn[,LW-DF-mmm] reason`. A comment sets aside
 * the findings of the named rules on the instruction right below it (the comment may be one of
 * several comment lines directly above the instruction) or on the instruction whose continuation
 * block it is in. The reason is required: a comment without one sets nothing aside and is
 * reported, so every suppression says why.
 */

export interface IgnoreComment {
  line: number;
  ruleIds: string[];
  reason: string;
}

const IGNORE = /^\s*#\s*layerwatch:ignore\b(.*)$/i;
const RULE_ID = /^LW-DF-\d{3}$/;

/** The ignore comments of a Dockerfile, and a warning for each malformed one. */
export function ignoreComments(
  lines: string[],
  knownIds: ReadonlySet<string>,
): { comments: IgnoreComment[]; problems: Array<{ line: number; problem: string }> } {
  const comments: IgnoreComment[] = [];
  const problems: Array<{ line: number; problem: string }> = [];
  lines.forEach((text, index) => {
    const match = IGNORE.exec(text);
    if (!match) return;
    const line = index + 1;
    const [idList = "", ...reasonWords] = (match[1] ?? "").trim().split(/\s+/);
    const ruleIds = idList
      .split(",")
      .filter((id) => id !== "")
      .map((id) => id.toUpperCase());
    const reason = reasonWords.join(" ").trim();
    if (ruleIds.length === 0) {
      problems.push({ line, problem: "layerwatch:ignore names no rule (LW-DF-nnn); it sets nothing aside" });
      return;
    }
    const unknown = ruleIds.filter((id) => !RULE_ID.test(id) || !knownIds.has(id));
    if (unknown.length > 0)
      problems.push({ line, problem: `layerwatch:ignore names unknown rule ${unknown.join(", ")}` });
    if (reason === "") {
      problems.push({
        line,
        problem: `layerwatch:ignore ${ruleIds.join(",")} gives no reason; a reason is required, nothing is set aside`,
      });
      return;
    }
    comments.push({ line, ruleIds: ruleIds.filter((id) => !unknown.includes(id)), reason });
  });
  return { comments, problems };
}

/** Marks each finding an ignore comment covers as suppressed (it stays in the list). */
export function applyIgnoreComments(
  findings: HygieneFinding[],
  comments: IgnoreComment[],
  lines: string[],
): void {
  const byLine = new Map(comments.map((comment) => [comment.line, comment]));
  for (const finding of findings) {
    if (finding.location.kind !== "dockerfile") continue;
    const { line, endLine = line } = finding.location;
    const candidates: IgnoreComment[] = [];
    // Comment lines directly above the instruction, nearest first.
    for (let above = line - 1; above >= 1 && /^\s*#/.test(lines[above - 1] ?? ""); above--) {
      const comment = byLine.get(above);
      if (comment) candidates.push(comment);
    }
    for (let inside = line; inside <= endLine; inside++) {
      const comment = byLine.get(inside);
      if (comment) candidates.push(comment);
    }
    const applies = candidates.find((comment) => comment.ruleIds.includes(finding.ruleId));
    if (applies) finding.suppressed = { reason: applies.reason, line: applies.line };
  }
}
