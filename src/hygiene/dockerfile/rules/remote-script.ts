import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { effectiveCommand, isShell, type ShellCommand } from "../shell.js";

export const remoteScriptRule: HygieneRule = {
  id: "LW-DF-007",
  severity: "medium",
  title: "A downloaded script is run without being checked (curl | sh)",
  scope: "dockerfile",
};

const DOWNLOADERS = new Set(["curl", "wget"]);
/** Interpreters that run a script from standard input when given no script of their own. */
const INTERPRETERS = /^(?:python[0-9.]*|perl|ruby|node|php)$/;

/** Whether the command runs what comes in on its standard input as a program. */
function runsStdin(command: ShellCommand): string | undefined {
  const { name, args } = effectiveCommand(command);
  if (isShell(name)) {
    // sh -c 'script' runs its own script; stdin is data for it.
    if (args.some((arg) => /^-[a-z]*c[a-z]*$/.test(arg))) return undefined;
    // sh file.sh runs the file; `sh`, `sh -`, `sh -s -- args` read stdin.
    const operand = args.find((arg) => !arg.startsWith("-"));
    const stdinAt = args.indexOf("-s");
    if (operand !== undefined && (stdinAt < 0 || args.indexOf(operand) < stdinAt)) return undefined;
    return name;
  }
  if (INTERPRETERS.test(name)) {
    // python -c '...', perl -e '...', python -m module, python script.py: not the download.
    if (args.some((arg) => /^-[A-Za-z]*[cem]$/.test(arg))) return undefined;
    if (args.some((arg) => arg !== "-" && !arg.startsWith("-"))) return undefined;
    return name;
  }
  return undefined;
}

const FETCH_IN_SUBSTITUTION = /(?:\$\(|<\(|`)\s*(?:[\w/]*\/)?(?:curl|wget)\s/;

/** `sh -c "$(curl ...)"`, `bash <(wget -O- ...)`, `eval "$(curl ...)"`, `source <(curl ...)`. */
function runsSubstitutedDownload(command: ShellCommand): string | undefined {
  const { name, args } = effectiveCommand(command);
  if (!(isShell(name) || name === "eval" || name === "source" || name === ".")) return undefined;
  return args.some((arg) => FETCH_IN_SUBSTITUTION.test(arg)) ? name : undefined;
}

export function checkRemoteScript(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const instruction of context.instructions("RUN")) {
    const commands = context.runCommands(instruction);
    let found: string | undefined;
    for (const command of commands) {
      const substituted = runsSubstitutedDownload(command);
      if (substituted) {
        found = `a script downloaded in a command substitution is run by ${substituted}`;
        break;
      }
      const interpreter = command.position > 0 ? runsStdin(command) : undefined;
      if (!interpreter) continue;
      const downloader = commands.find(
        (earlier) =>
          earlier.pipeline === command.pipeline &&
          earlier.position < command.position &&
          DOWNLOADERS.has(effectiveCommand(earlier).name),
      );
      if (downloader) {
        found = `${effectiveCommand(downloader).name} output is piped into ${interpreter}`;
        break;
      }
    }
    if (found)
      hits.push({
        instruction,
        message: `${found}: the build runs a script nobody checked (no checksum or signature)`,
      });
  }
  return hits;
}
