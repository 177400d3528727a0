import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";

export const repeatedCmdRule: HygieneRule = {
  id: "LW-DF-017",
  severity: "low",
  title: "A stage has several CMD or ENTRYPOINT instructions",
  scope: "dockerfile",
};

/** Each CMD (ENTRYPOINT) that a later one in the same stage replaces: it has no effect. */
export function checkRepeatedCmd(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const stage of context.stages)
    for (const keyword of ["CMD", "ENTRYPOINT"]) {
      const all = stage.instructions.filter((instruction) => instruction.keyword === keyword);
      const last = all.at(-1);
      for (const instruction of all.slice(0, -1))
        hits.push({
          instruction,
          message: `${keyword} on line ${instruction.line} has no effect: the ${keyword} on line ${last?.line} replaces it`,
        });
    }
  return hits;
}
