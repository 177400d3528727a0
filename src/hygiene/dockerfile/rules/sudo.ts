import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { effectiveCommand } from "../shell.js";

export const sudoRule: HygieneRule = {
  id: "LW-DF-013",
  severity: "medium",
  title: "RUN uses sudo",
  scope: "dockerfile",
};

export function checkSudo(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const instruction of context.instructions("RUN")) {
    const uses = context
      .runCommands(instruction)
      .some((command) => effectiveCommand(command).via.includes("sudo") || command.words[0] === "sudo");
    if (uses)
      hits.push({
        instruction,
        message: "RUN uses sudo: its TTY and signal handling misbehave in a build; switch with USER instead",
      });
  }
  return hits;
}
