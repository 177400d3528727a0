import type { HygieneRule, HygieneSeverity } from "../types.js";
import {
  type DockerfileInstruction,
  type DockerfileStage,
  finalStageChain,
  type ParsedDockerfile,
} from "./parse.js";
import { commandsOf, effectiveCommand, isShell, type ShellCommand } from "./shell.js";

/** What a rule's check says: where (an instruction) and what, in one line. */
export interface RuleHit {
  instruction: DockerfileInstruction;
  message: string;
  /** When one finding matters more than the rule's usual severity (a known token format). */
  severity?: HygieneSeverity;
}

export interface DockerfileCheck {
  rule: HygieneRule;
  check: (context: LintContext) => RuleHit[];
}

/** The parsed Dockerfile with what several rules ask of it, worked out once. */
export class LintContext {
  readonly finalChain: DockerfileStage[];
  private readonly commandCache = new Map<DockerfileInstruction, ShellCommand[]>();

  constructor(readonly dockerfile: ParsedDockerfile) {
    this.finalChain = finalStageChain(dockerfile);
  }

  get stages(): DockerfileStage[] {
    return this.dockerfile.stages;
  }

  /** Every instruction after a FROM, in file order. */
  *instructions(keyword?: string): Iterable<DockerfileInstruction> {
    for (const stage of this.dockerfile.stages)
      for (const instruction of stage.instructions)
        if (keyword === undefined || instruction.keyword === keyword) yield instruction;
  }

  /** The stages an instruction's stage is built on, nearest first, the stage itself included. */
  private lineage(stage: DockerfileStage): DockerfileStage[] {
    const stages: DockerfileStage[] = [];
    let current: DockerfileStage | undefined = stage;
    while (current && !stages.includes(current)) {
      stages.push(current);
      current = current.baseStage === undefined ? undefined : this.stages[current.baseStage];
    }
    return stages;
  }

  /**
   * The shell a shell-form RUN runs with: the last SHELL before it, in its stage or the stages it
   * is built on, else the platform's default (cmd on Windows base images, /bin/sh elsewhere).
   */
  shellOf(instruction: DockerfileInstruction): string[] {
    const stage = this.stages[instruction.stage];
    if (!stage) return ["/bin/sh", "-c"];
    const lineage = this.lineage(stage);
    for (const [index, current] of lineage.entries()) {
      const before =
        index === 0 ? current.instructions.filter((i) => i.line < instruction.line) : current.instructions;
      const shell = before.filter((i) => i.keyword === "SHELL" && i.execForm).at(-1);
      if (shell?.execForm) return shell.execForm;
    }
    const root = lineage.at(-1) as DockerfileStage;
    // The escape directive says nothing about the platform: a backtick is also used on Linux.
    return isWindowsImage(root.image ?? root.imageText) ? ["cmd", "/S", "/C"] : ["/bin/sh", "-c"];
  }

  /** Whether a shell-form RUN of this instruction runs in a POSIX-like shell. */
  runsPosixShell(instruction: DockerfileInstruction): boolean {
    const program = (this.shellOf(instruction)[0] ?? "").replace(/^.*\//, "");
    return isShell(program);
  }

  /**
   * The simple commands a RUN runs: its shell-form script (heredoc scripts included), or its exec
   * form's words (and the script of an exec-form `sh -c`). Empty in a non-POSIX shell.
   */
  runCommands(instruction: DockerfileInstruction): ShellCommand[] {
    const cached = this.commandCache.get(instruction);
    if (cached) return cached;
    const commands = this.computeRunCommands(instruction);
    this.commandCache.set(instruction, commands);
    return commands;
  }

  private computeRunCommands(instruction: DockerfileInstruction): ShellCommand[] {
    if (instruction.keyword !== "RUN") return [];
    const counter = { pipeline: 0 };
    if (instruction.execForm) {
      const words = instruction.execForm;
      const command: ShellCommand = {
        words,
        rawWords: words,
        assignments: [],
        pipeline: counter.pipeline++,
        position: 0,
        nested: false,
      };
      const { name, args } = effectiveCommand(command);
      const inline = args.findIndex((arg) => /^-[a-z]*c[a-z]*$/.test(arg));
      const script = isShell(name) && inline >= 0 ? args[inline + 1] : undefined;
      return script === undefined ? [command] : [command, ...commandsOf(script, counter)];
    }
    if (!this.runsPosixShell(instruction)) return [];
    const commands: ShellCommand[] = [];
    for (const script of runScripts(instruction)) commands.push(...commandsOf(script, counter));
    return commands;
  }
}

/**
 * The scripts a shell-form RUN hands its shell. `RUN <<EOF` alone runs each heredoc as a script
 * (unless its `#!` line names another interpreter); otherwise the heredocs are the command line's
 * data, and the shell reads them as such.
 */
export function runScripts(instruction: DockerfileInstruction): string[] {
  const { operands, heredocs } = instruction;
  if (heredocs.length > 0 && /^(?:<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\1\s*)+$/.test(operands))
    return heredocs
      .filter((heredoc) => {
        const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(heredoc.body);
        if (!shebang) return true;
        const program = (shebang[1] as string).replace(/^.*\//, "");
        return isShell(program === "env" ? (shebang[2] ?? "") : program);
      })
      .map((heredoc) => heredoc.body);
  const bodies = heredocs.map((heredoc) => `${heredoc.body}\n${heredoc.name}`);
  return [[operands, ...bodies].join("\n")];
}

export function isWindowsImage(image: string): boolean {
  return /windows|nanoserver|servercore|dotnet\/framework/i.test(image);
}
