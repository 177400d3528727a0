import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import type { DockerfileInstruction } from "../parse.js";
import { effectiveCommand, type ShellCommand } from "../shell.js";
import { mountCovers, positionalArgs, removesPath } from "./words.js";

export const aptNoYesRule: HygieneRule = {
  id: "LW-DF-008",
  severity: "low",
  title: "apt-get install without -y",
  scope: "dockerfile",
};

export const aptRecommendsRule: HygieneRule = {
  id: "LW-DF-009",
  severity: "low",
  title: "apt-get install without --no-install-recommends",
  scope: "dockerfile",
};

export const aptListsRule: HygieneRule = {
  id: "LW-DF-010",
  severity: "low",
  title: "apt package lists are left in the layer",
  scope: "dockerfile",
};

/** apt-get and apt options that take the next word as their value. */
export const APT_VALUE_OPTIONS = new Set([
  "-o",
  "--option",
  "-c",
  "--config-file",
  "-t",
  "--target-release",
  "--default-release",
  "-a",
  "--host-architecture",
]);

export interface AptCommand {
  command: ShellCommand;
  program: string;
  subcommand: string;
  args: string[];
}

/** The apt-get / apt commands of a RUN, with their subcommand (install, update, ...). */
export function aptCommands(commands: ShellCommand[]): AptCommand[] {
  const found: AptCommand[] = [];
  for (const command of commands) {
    const { name, args } = effectiveCommand(command);
    if (name !== "apt-get" && name !== "apt") continue;
    const subcommand = positionalArgs(args, APT_VALUE_OPTIONS)[0];
    if (subcommand) found.push({ command, program: name, subcommand, args });
  }
  return found;
}

/** The values of `-o Name=value` / `-oName=value` / `--option Name=value`. */
function aptOptions(args: string[]): string[] {
  const options: string[] = [];
  args.forEach((arg, k) => {
    if ((arg === "-o" || arg === "--option") && args[k + 1]) options.push(args[k + 1] as string);
    else if (arg.startsWith("-o") && arg.length > 2 && !arg.startsWith("--")) options.push(arg.slice(2));
    else if (arg.startsWith("--option=")) options.push(arg.slice("--option=".length));
  });
  return options;
}

/** -y, --yes, --assume-yes, -y inside a cluster (-qy), -qq (quiet level 2 implies -y), or the config option. */
function assumesYes(apt: AptCommand, commands: ShellCommand[]): boolean {
  for (const arg of apt.args) {
    if (arg === "--yes" || arg === "--assume-yes" || arg === "-q=2") return true;
    if (/^-[A-Za-z]+$/.test(arg) && (arg.includes("y") || (arg.match(/q/g)?.length ?? 0) >= 2)) return true;
  }
  if (aptOptions(apt.args).some((option) => /^APT::Get::Assume-Yes=(?:true|1|yes)$/i.test(option)))
    return true;
  // `yes | apt-get install ...` answers the prompt.
  return commands.some(
    (command) =>
      command.pipeline === apt.command.pipeline &&
      command.position < apt.command.position &&
      effectiveCommand(command).name === "yes",
  );
}

function skipsRecommends(apt: AptCommand): boolean {
  return (
    apt.args.includes("--no-install-recommends") ||
    aptOptions(apt.args).some((option) => /^APT::Install-Recommends=(?:false|0|no)$/i.test(option))
  );
}

function installs(context: LintContext, instruction: DockerfileInstruction): AptCommand[] {
  return aptCommands(context.runCommands(instruction)).filter((apt) => apt.subcommand === "install");
}

export function checkAptNoYes(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const instruction of context.instructions("RUN")) {
    const commands = context.runCommands(instruction);
    const missing = installs(context, instruction).find((apt) => !assumesYes(apt, commands));
    if (missing)
      hits.push({
        instruction,
        message: `${missing.program} install without -y: the build stops at the confirmation prompt`,
      });
  }
  return hits;
}

/** Only the stages that build the final image: what a build stage installs does not ship. */
export function checkAptRecommends(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const stage of context.finalChain)
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== "RUN") continue;
      const missing = installs(context, instruction).find((apt) => !skipsRecommends(apt));
      if (missing)
        hits.push({
          instruction,
          message: `${missing.program} install without --no-install-recommends: recommended packages come along`,
        });
    }
  return hits;
}

export function checkAptLists(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const stage of context.finalChain)
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== "RUN") continue;
      const commands = context.runCommands(instruction);
      const apt = aptCommands(commands);
      if (!apt.some((command) => command.subcommand === "install" || command.subcommand === "update"))
        continue;
      const cleaned =
        removesPath(commands, "/var/lib/apt/lists") ||
        apt.some((command) => command.subcommand === "distclean" || command.subcommand === "dist-clean") ||
        mountCovers(instruction, "/var/lib/apt/lists");
      if (!cleaned)
        hits.push({
          instruction,
          message:
            "apt-get update's package lists stay in the layer: remove /var/lib/apt/lists/* in the same RUN",
        });
    }
  return hits;
}
