import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { effectiveCommand, type ShellCommand } from "../shell.js";
import { mountCovers, positionalArgs, removesPath } from "./words.js";

export const apkCacheRule: HygieneRule = {
  id: "LW-DF-011",
  severity: "low",
  title: "apk add without --no-cache",
  scope: "dockerfile",
};

/** apk options that take the next word as their value. */
export const APK_VALUE_OPTIONS = new Set([
  "-X",
  "--repository",
  "-t",
  "--virtual",
  "-p",
  "--root",
  "--arch",
  "--keys-dir",
  "--cache-dir",
  "--repositories-file",
  "--cache-max-age",
]);

export interface ApkCommand {
  command: ShellCommand;
  subcommand: string;
  args: string[];
}

export function apkCommands(commands: ShellCommand[]): ApkCommand[] {
  const found: ApkCommand[] = [];
  for (const command of commands) {
    const { name, args } = effectiveCommand(command);
    if (name !== "apk") continue;
    const subcommand = positionalArgs(args, APK_VALUE_OPTIONS)[0];
    if (subcommand) found.push({ command, subcommand, args });
  }
  return found;
}

/** Only the stages that build the final image: a build stage's cache does not ship. */
export function checkApkCache(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const stage of context.finalChain)
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== "RUN") continue;
      const commands = context.runCommands(instruction);
      const adds = apkCommands(commands).filter((apk) => apk.subcommand === "add");
      if (adds.length === 0 || adds.every((apk) => apk.args.includes("--no-cache"))) continue;
      // The index apk downloaded is gone when the RUN removes it or never writes it to the layer.
      if (removesPath(commands, "/var/cache/apk") || mountCovers(instruction, "/var/cache/apk")) continue;
      hits.push({ instruction, message: "apk add without --no-cache: the package index stays in the layer" });
    }
  return hits;
}
