import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";

export const healthcheckRule: HygieneRule = {
  id: "LW-DF-019",
  severity: "low",
  title: "The final stage declares no HEALTHCHECK",
  scope: "dockerfile",
};

/**
 * The stages that build the final image have no HEALTHCHECK (`HEALTHCHECK NONE` is a decision
 * and counts). An image built FROM scratch has no shell or tool to probe with, so it is not asked.
 */
export function checkHealthcheck(context: LintContext): RuleHit[] {
  const chain = context.finalChain;
  const final = chain.at(-1);
  const root = chain[0];
  if (!final || !root || root.image?.toLowerCase() === "scratch") return [];
  if (chain.some((stage) => stage.instructions.some((instruction) => instruction.keyword === "HEALTHCHECK")))
    return [];
  return [
    {
      instruction: final.from,
      message:
        "The final stage declares no HEALTHCHECK: an orchestrator cannot tell a hung container from a working one",
    },
  ];
}
