import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { effectiveCommand } from "../shell.js";

export const pipefailRule: HygieneRule = {
  id: "LW-DF-018",
  severity: "low",
  title: "RUN uses a pipe without set -o pipefail",
  scope: "dockerfile",
};

/**
 * A shell-form RUN in a POSIX shell whose SHELL does not set pipefail: a pipeline's status is its
 * last command's, so `curl ... | tar x` passes when curl fails. A `set -o pipefail` earlier in the
 * same script counts. Exec-form RUN runs no shell; cmd and PowerShell have no such pipelines.
 */
export function checkPipefail(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const instruction of context.instructions("RUN")) {
    if (instruction.execForm || !context.runsPosixShell(instruction)) continue;
    if (context.shellOf(instruction).includes("pipefail")) continue;
    const commands = context.runCommands(instruction).filter((command) => !command.nested);
    let pipefail = false;
    for (const command of commands) {
      if (command.words[0] === "set" && command.words.includes("pipefail")) pipefail = true;
      if (command.position === 0 || pipefail) continue;
      const feeding = commands.filter(
        (c) => c.pipeline === command.pipeline && c.position < command.position,
      );
      // echo and printf write a string: there is no failure of theirs for the pipe to hide.
      if (feeding.every((c) => ["echo", "printf"].includes(effectiveCommand(c).name))) continue;
      const first = feeding[0];
      const from = first ? effectiveCommand(first).name : "a command";
      hits.push({
        instruction,
        message: `RUN pipes ${from} into ${effectiveCommand(command).name} without pipefail: a failure before the last command goes unnoticed`,
      });
      break;
    }
  }
  return hits;
}
