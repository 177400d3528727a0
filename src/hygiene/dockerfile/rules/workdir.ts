import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { splitWords } from "./words.js";

export const relativeWorkdirRule: HygieneRule = {
  id: "LW-DF-015",
  severity: "low",
  title: "WORKDIR is a relative path",
  scope: "dockerfile",
};

export function checkRelativeWorkdir(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const instruction of context.instructions("WORKDIR")) {
    const path = splitWords(instruction.operands)[0] ?? "";
    // An absolute POSIX or Windows path (C:\app, C:/app, \app), or a variable that may be one.
    if (path === "" || /^(?:\/|\\|[A-Za-z]:|\$)/.test(path)) continue;
    hits.push({
      instruction,
      message: `WORKDIR ${path} is relative: it depends on the WORKDIR before it, possibly the base image's`,
    });
  }
  return hits;
}
