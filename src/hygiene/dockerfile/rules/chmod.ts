import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import type { DockerfileInstruction } from "../parse.js";
import { effectiveCommand } from "../shell.js";
import { listWords, positionalArgs } from "./words.js";

export const worldWritableRule: HygieneRule = {
  id: "LW-DF-016",
  severity: "medium",
  title: "chmod makes files world-writable (777)",
  scope: "dockerfile",
};

export const setuidRule: HygieneRule = {
  id: "LW-DF-020",
  severity: "medium",
  title: "chmod sets the setuid or setgid bit",
  scope: "dockerfile",
};

/**
 * Whether a chmod mode lets every user write: a numeric mode whose "other" digit has the write bit
 * (777, 0777, 666), or a symbolic one giving o or a write (a+rwx, o+w, a=rwx). A mode with the
 * sticky bit (1777, +t) is how shared folders like /tmp are meant to be, and passes.
 */
export function isWorldWritable(mode: string): boolean {
  if (/^[0-7]{3,4}$/.test(mode)) {
    const digits = mode.padStart(4, "0");
    const sticky = (Number(digits[0]) & 1) === 1;
    return (Number(digits[3]) & 2) === 2 && !sticky;
  }
  let writable = false;
  let sticky = false;
  for (const clause of mode.split(",")) {
    const match = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(clause);
    if (!match) return false;
    const [, who = "", op, perms = ""] = match;
    if (op === "-") continue;
    if (perms.includes("t")) sticky = true;
    if (/[oa]/.test(who) && perms.includes("w")) writable = true;
  }
  return writable && !sticky;
}

/** Whether a chmod mode sets the setuid or setgid bit (4755, 2755, u+s, g+s, +s). */
export function isSetuid(mode: string): boolean {
  if (/^[0-7]{4}$/.test(mode)) return (Number(mode[0]) & 6) !== 0;
  return mode.split(",").some((clause) => /^[ugoa]*[+=][rwxXst]*s/.test(clause) && !/^o+[+=]/.test(clause));
}

const CHMOD_VALUE_OPTIONS = new Set<string>();

/** Every mode a Dockerfile gives files: `chmod MODE paths` in RUN, `--chmod=MODE` on COPY and ADD. */
function* modesSet(
  context: LintContext,
): Iterable<{ instruction: DockerfileInstruction; mode: string; what: (rest: string) => string }> {
  for (const instruction of context.instructions()) {
    if (instruction.keyword === "COPY" || instruction.keyword === "ADD") {
      const mode = instruction.flags.find((flag) => flag.name === "chmod")?.value;
      if (mode)
        yield { instruction, mode, what: (rest) => `${instruction.keyword} --chmod=${mode}: ${rest}` };
      continue;
    }
    if (instruction.keyword !== "RUN") continue;
    const commands = context.runCommands(instruction);
    for (const [index, command] of commands.entries()) {
      const { name, args } = effectiveCommand(command);
      if (name !== "chmod") continue;
      // A mode like -w (take write away) looks like an option; only a granting mode matters here.
      const [mode, ...paths] = positionalArgs(args, CHMOD_VALUE_OPTIONS);
      if (mode === undefined) continue;
      // A scratch folder the same RUN removes again (chmod 777 "$tmp" ... rm -rf "$tmp") never ships.
      const removed = commands
        .slice(index + 1)
        .filter((later) => effectiveCommand(later).name === "rm")
        .flatMap((later) => later.words.slice(1));
      if (paths.length > 0 && paths.every((path) => removed.includes(path))) continue;
      yield { instruction, mode, what: (rest) => `chmod ${mode} ${listWords(paths, 3)}: ${rest}` };
    }
  }
}

/** One finding per instruction: the first of its modes that the test accepts. */
function check(context: LintContext, test: (mode: string) => boolean, rest: string): RuleHit[] {
  const hits: RuleHit[] = [];
  const seen = new Set<DockerfileInstruction>();
  for (const { instruction, mode, what } of modesSet(context)) {
    if (seen.has(instruction) || !test(mode)) continue;
    seen.add(instruction);
    hits.push({ instruction, message: what(rest) });
  }
  return hits;
}

export function checkWorldWritable(context: LintContext): RuleHit[] {
  return check(context, isWorldWritable, "writable by every user in the container");
}

export function checkSetuid(context: LintContext): RuleHit[] {
  return check(context, isSetuid, "runs with its owner's (or group's) rights whoever starts it");
}
