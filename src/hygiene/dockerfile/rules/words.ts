import { maskSecret, secretsInText } from "../../secrets.js";
import type { DockerfileInstruction } from "../parse.js";
import { expand } from "../parse.js";
import type { ShellCommand } from "../shell.js";

/** Helpers the rules share: splitting operands, naming things safely in a message. */

/** Whitespace-separated words, a quoted run kept together and unquoted. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  for (const match of text.matchAll(/(?:"[^"]*"|'[^']*'|[^\s"']+)+/g))
    words.push(match[0].replace(/"([^"]*)"|'([^']*)'/g, (_, double, single) => double ?? single ?? ""));
  return words;
}

/** The sources and destination of a COPY or ADD (exec or shell form), variables expanded where known. */
export function copyOperands(instruction: DockerfileInstruction): {
  sources: string[];
  destination?: string;
} {
  // A heredoc source is text written in the Dockerfile, not a file of the build context.
  const words = (instruction.execForm ?? splitWords(instruction.operands)).filter(
    (word) => !word.startsWith("<<"),
  );
  if (words.length < 2) return { sources: [] };
  const expanded = words.map((word) => expand(word, instruction.vars) ?? word);
  return { sources: expanded.slice(0, -1), destination: expanded.at(-1) as string };
}

/** A word fit for a message: a URL's user and password dropped, any token masked, long ones cut. */
export function safeWord(word: string): string {
  let text = word.replace(/(\w+:\/\/)[^/@\s]+@/g, "$1***@");
  if (secretsInText(text).length > 0) text = maskSecret(text);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** "a, b, c and 4 more". */
export function listWords(words: string[], max = 5): string {
  const shown = words.slice(0, max).map(safeWord).join(", ");
  return words.length > max ? `${shown} and ${words.length - max} more` : shown;
}

/**
 * The operands of a command line once options are set aside: `valueOptions` take the next word
 * (`-o X`), `--opt=value` and other options take none.
 */
export function positionalArgs(args: string[], valueOptions: ReadonlySet<string>): string[] {
  const positional: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const arg = args[k] as string;
    if (arg === "--") {
      positional.push(...args.slice(k + 1));
      break;
    }
    if (valueOptions.has(arg)) k++;
    else if (!(arg.startsWith("-") && arg.length > 1)) positional.push(arg);
  }
  return positional;
}

/**
 * Whether a RUN's `--mount=type=cache` or `--mount=type=tmpfs` covers a path: what is written
 * there does not stay in the layer.
 */
export function mountCovers(instruction: DockerfileInstruction, path: string): boolean {
  for (const flag of instruction.flags) {
    if (flag.name !== "mount" || !flag.value) continue;
    const options = new Map(
      flag.value.split(",").map((option) => {
        const [key, ...value] = option.split("=");
        return [(key ?? "").trim().toLowerCase(), value.join("=").trim()] as const;
      }),
    );
    const type = options.get("type");
    const target = options.get("target") ?? options.get("dst") ?? options.get("destination");
    if ((type === "cache" || type === "tmpfs") && target && path.startsWith(target.replace(/\/+$/, "")))
      return true;
  }
  return false;
}

/** Whether any command of the RUN names a path under `prefix` (rm -rf /var/lib/apt/lists/*). */
export function removesPath(commands: ShellCommand[], prefix: string): boolean {
  return commands.some((command) => {
    const program = (command.words[0] ?? "").replace(/^.*\//, "");
    return (
      (program === "rm" || program === "find") &&
      command.words.slice(1).some((word) => word.startsWith(prefix))
    );
  });
}

/** A word of a RUN command with the stage's build arguments and environment expanded, split as the shell would. */
export function expandedWords(word: string, rawWord: string, instruction: DockerfileInstruction): string[] {
  if (!word.includes("$")) return [word];
  const value = expand(word, instruction.vars);
  if (value === undefined) return [];
  // Unquoted, the shell splits the value into words; quoted, it stays one.
  return rawWord.startsWith('"') ? [value] : value.split(/\s+/).filter((part) => part !== "");
}
