/**
 * Just enough of the POSIX shell to find the simple commands in a RUN script: words with quotes
 * removed, commands split on `&&`, `||`, `;`, `&`, `|` and line breaks, pipelines numbered,
 * backslash-newline continuations joined, comments and heredoc bodies (data, not commands)
 * skipped, redirections and leading `NAME=value` assignments set apart, and the commands inside
 * `$(...)`, backticks, `<(...)` and `sh -c '...'` read as commands too. It is not a shell: it
 * never expands anything and gives up on nothing (an unterminated quote ends at the end).
 */

export interface ShellCommand {
  /** The words, quotes removed; assignments and redirections left out. */
  words: string[];
  /** The same words as written (quotes kept), to tell `"$X"` from `X`. */
  rawWords: string[];
  /** `NAME=value` words before the command. */
  assignments: string[];
  /** Which pipeline of the script it is in, and where: 0 is the first command of the pipeline. */
  pipeline: number;
  position: number;
  /** Inside a command substitution, a process substitution or an `sh -c` script. */
  nested: boolean;
}

interface Word {
  text: string;
  raw: string;
}

/** Words that open or continue a compound command; the command proper follows them. */
const RESERVED = new Set([
  "!",
  "{",
  "}",
  "if",
  "then",
  "else",
  "elif",
  "fi",
  "do",
  "done",
  "while",
  "until",
  "time",
]);

const SHELLS = new Set(["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"]);

/** The simple commands of a script; `counter` numbers pipelines across several scripts. */
export function parseShell(script: string, counter = { pipeline: 0 }): ShellCommand[] {
  return parseScript(script, counter, false);
}

function parseScript(script: string, counter: { pipeline: number }, nested: boolean): ShellCommand[] {
  const commands: ShellCommand[] = [];
  let words: Word[] = [];
  let current: Word | undefined;
  let position = 0;
  let pipeline = counter.pipeline++;
  let skipNextWord = false;
  const pendingHeredocs: Array<{ delimiter: string; stripTabs: boolean }> = [];
  const substitutions: string[] = [];
  // Open `case` statements: reading a pattern list (`a|b)`: `|` is not a pipe) or a branch's commands.
  const cases: Array<"patterns" | "body"> = [];

  const word = (): Word => {
    current ??= { text: "", raw: "" };
    return current;
  };
  const finishWord = () => {
    if (!current) return;
    const finished = current;
    current = undefined;
    if (skipNextWord) {
      skipNextWord = false;
      return;
    }
    if (words.length === 0 && finished.raw === "esac" && cases.length > 0) {
      cases.pop();
      return;
    }
    words.push(finished);
    if (finished.raw === "in" && words.length === 3 && words[0]?.raw === "case") {
      finishCommand(";");
      cases.push("patterns");
    }
  };
  const finishCommand = (operator: string) => {
    finishWord();
    skipNextWord = false;
    const command = buildCommand(words, pipeline, position, nested);
    if (command) commands.push(command);
    words = [];
    if (operator === "|") position++;
    else if (operator !== "(" && operator !== ")") {
      position = 0;
      pipeline = counter.pipeline++;
    }
    for (const inner of substitutions.splice(0)) commands.push(...parseScript(inner, counter, true));
  };

  let i = 0;
  const n = script.length;
  while (i < n) {
    const c = script[i] as string;
    const next = script[i + 1];
    if (c === "\\") {
      if (next === "\n") {
        i += 2;
        continue;
      }
      if (next === "\r" && script[i + 2] === "\n") {
        i += 3;
        continue;
      }
      const w = word();
      w.text += next ?? "";
      w.raw += c + (next ?? "");
      i += 2;
      continue;
    }
    if (c === "'") {
      const close = script.indexOf("'", i + 1);
      const end = close < 0 ? n : close;
      const w = word();
      w.text += script.slice(i + 1, end);
      w.raw += script.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      const w = word();
      let j = i + 1;
      let text = "";
      while (j < n && script[j] !== '"') {
        const d = script[j] as string;
        if (d === "\\" && j + 1 < n) {
          const escaped = script[j + 1] as string;
          if (escaped === "\n") j += 2;
          else {
            text += '"\\$`'.includes(escaped) ? escaped : d + escaped;
            j += 2;
          }
          continue;
        }
        if ((d === "$" && script[j + 1] === "(") || d === "`") {
          const end = d === "`" ? closingBacktick(script, j) : closingParen(script, j + 1);
          const inner = d === "`" ? script.slice(j + 1, end) : script.slice(j + 2, end);
          if (!(d === "$" && inner.startsWith("("))) substitutions.push(inner);
          text += script.slice(j, end + 1);
          j = end + 1;
          continue;
        }
        text += d;
        j++;
      }
      w.text += text;
      w.raw += script.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if ((c === "$" || c === "<" || c === ">") && next === "(" && (c === "$" || !current)) {
      // $(...) command substitution, $((...)) arithmetic, <(...) and >(...) process substitution.
      const end = closingParen(script, i + 1);
      const inner = script.slice(i + 2, end);
      if (!(c === "$" && inner.startsWith("("))) substitutions.push(inner);
      const w = word();
      w.text += script.slice(i, end + 1);
      w.raw += script.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (c === "$" && next === "{") {
      const close = script.indexOf("}", i);
      const end = close < 0 ? n - 1 : close;
      const w = word();
      w.text += script.slice(i, end + 1);
      w.raw += script.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (c === "`") {
      const end = closingBacktick(script, i);
      substitutions.push(script.slice(i + 1, end));
      const w = word();
      w.text += script.slice(i, end + 1);
      w.raw += script.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (c === "#" && !current) {
      while (i < n && script[i] !== "\n") i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      finishWord();
      i++;
      continue;
    }
    if (c === "\n") {
      finishCommand("\n");
      i++;
      // Heredoc bodies start on the next line: data for the command, not commands.
      for (const heredoc of pendingHeredocs.splice(0)) {
        while (i < n) {
          const lineEnd = script.indexOf("\n", i) < 0 ? n : script.indexOf("\n", i);
          let line = script.slice(i, lineEnd).replace(/\r$/, "");
          if (heredoc.stripTabs) line = line.replace(/^\t+/, "");
          i = lineEnd + 1;
          if (line === heredoc.delimiter) break;
        }
      }
      continue;
    }
    if (c === ";") {
      finishCommand(";");
      // `;;`, `;&` and `;;&` end a case branch: a pattern list follows.
      if ((next === ";" || next === "&") && cases.at(-1) === "body") cases[cases.length - 1] = "patterns";
      i += next === ";" ? (script[i + 2] === "&" ? 3 : 2) : next === "&" ? 2 : 1;
      continue;
    }
    if (c === "&") {
      if (next === "&") {
        finishCommand("&&");
        i += 2;
      } else if (next === ">") {
        finishWord();
        skipNextWord = true;
        i += script[i + 2] === ">" ? 3 : 2;
      } else {
        finishCommand("&");
        i++;
      }
      continue;
    }
    if (c === "|" && cases.at(-1) === "patterns") {
      finishWord();
      i++;
      continue;
    }
    if (c === "|") {
      if (next === "|") {
        finishCommand("||");
        i += 2;
      } else {
        finishCommand("|");
        i += next === "&" ? 2 : 1;
      }
      continue;
    }
    if ((c === "(" || c === ")") && cases.at(-1) === "patterns") {
      // `(a|b)` or `a|b)`: the pattern is not a command.
      finishWord();
      if (c === ")") {
        words = [];
        cases[cases.length - 1] = "body";
      }
      i++;
      continue;
    }
    if (c === "(" || c === ")") {
      finishCommand(c);
      i++;
      continue;
    }
    if (c === "<" || c === ">") {
      // A file descriptor number right before the operator belongs to it (2>&1).
      if (current && /^\d+$/.test(current.raw)) current = undefined;
      else finishWord();
      if (c === "<" && next === "<" && script[i + 2] !== "<") {
        const marker = /^<<(-?)\s*(["']?)([^\s"'<>|&;()]+)\2/.exec(script.slice(i));
        if (marker) {
          pendingHeredocs.push({ delimiter: marker[3] as string, stripTabs: marker[1] === "-" });
          i += marker[0].length;
          continue;
        }
      }
      let j = i + 1;
      while (j < n && "<>|".includes(script[j] as string)) j++;
      if (script[j] === "&") {
        // >&2, <&0, >&-: a descriptor, not a file name.
        j++;
        while (j < n && /[0-9-]/.test(script[j] as string)) j++;
        i = j;
        continue;
      }
      skipNextWord = true;
      i = j;
      continue;
    }
    const w = word();
    w.text += c;
    w.raw += c;
    i++;
  }
  finishCommand("\n");
  return commands;
}

function buildCommand(
  words: Word[],
  pipeline: number,
  position: number,
  nested: boolean,
): ShellCommand | undefined {
  let start = 0;
  const assignments: string[] = [];
  for (; start < words.length; start++) {
    const w = words[start] as Word;
    if (RESERVED.has(w.raw)) continue;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w.raw)) {
      assignments.push(w.text);
      continue;
    }
    break;
  }
  const rest = words.slice(start).filter((w) => w.raw !== "}");
  if (rest.length === 0 && assignments.length === 0) return undefined;
  return {
    words: rest.map((w) => w.text),
    rawWords: rest.map((w) => w.raw),
    assignments,
    pipeline,
    position,
    nested,
  };
}

function closingParen(script: string, open: number): number {
  let depth = 0;
  for (let j = open; j < script.length; j++) {
    const c = script[j];
    if (c === "\\") j++;
    else if (c === "'") {
      const close = script.indexOf("'", j + 1);
      j = close < 0 ? script.length : close;
    } else if (c === "(") depth++;
    else if (c === ")") {
      depth--;
      if (depth === 0) return j;
    }
  }
  return script.length - 1;
}

function closingBacktick(script: string, open: number): number {
  for (let j = open + 1; j < script.length; j++) {
    if (script[j] === "\\") j++;
    else if (script[j] === "`") return j;
  }
  return script.length - 1;
}

/** The program a path names: `/usr/bin/apt-get` is `apt-get`. */
function programName(word: string): string {
  return word.slice(word.lastIndexOf("/") + 1);
}

/** Options of the wrappers below that take a value in the next word. */
const WRAPPER_VALUE_OPTIONS: Record<string, Set<string>> = {
  sudo: new Set(["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "--user", "--group"]),
  env: new Set(["-u", "--unset", "-C", "--chdir", "-S", "--split-string"]),
  nice: new Set(["-n", "--adjustment"]),
  exec: new Set(["-a"]),
  timeout: new Set(["-s", "--signal", "-k", "--kill-after"]),
  stdbuf: new Set(["-i", "-o", "-e"]),
};

/** Programs that run the rest of their words as a command. */
const WRAPPERS = new Set([
  "sudo",
  "env",
  "nice",
  "nohup",
  "command",
  "exec",
  "timeout",
  "stdbuf",
  "eatmydata",
  "gosu",
  "su-exec",
  "doas",
]);

/**
 * The command a simple command runs once wrappers are taken off (`sudo -E apt-get install` runs
 * apt-get), and the wrappers it went through.
 */
export function effectiveCommand(command: ShellCommand): { name: string; args: string[]; via: string[] } {
  const via: string[] = [];
  let words = command.words;
  for (;;) {
    const name = programName(words[0] ?? "");
    if (!WRAPPERS.has(name) || words.length < 2) break;
    via.push(name);
    let k = 1;
    const valueOptions = WRAPPER_VALUE_OPTIONS[name] ?? new Set<string>();
    while (k < words.length) {
      const w = words[k] as string;
      if (w === "--") {
        k++;
        break;
      }
      if (valueOptions.has(w)) k += 2;
      else if (w.startsWith("-") && w.length > 1) k++;
      else if (name === "env" && /^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) k++;
      else break;
    }
    // timeout DURATION COMMAND; gosu USER COMMAND; su-exec USER COMMAND.
    if (name === "timeout" || name === "gosu" || name === "su-exec") k++;
    words = words.slice(k);
  }
  return { name: programName(words[0] ?? ""), args: words.slice(1), via };
}

/** Whether a program name is a POSIX-like shell (sh, bash, ...). */
export function isShell(name: string): boolean {
  return SHELLS.has(name);
}

/**
 * The commands of a script, and of every `sh -c 'script'` inside it, nested ones marked. A
 * `bash -c` inside a `bash -c` is followed too.
 */
export function commandsOf(script: string, counter = { pipeline: 0 }): ShellCommand[] {
  const all: ShellCommand[] = [];
  const visit = (commands: ShellCommand[], depth: number) => {
    for (const command of commands) {
      all.push(command);
      const { name, args } = effectiveCommand(command);
      if (depth < 4 && isShell(name)) {
        const inline = args.findIndex((arg) => /^-[a-z]*c[a-z]*$/.test(arg));
        const inner = inline >= 0 ? args[inline + 1] : undefined;
        if (inner !== undefined)
          visit(
            parseShell(inner, counter).map((c) => ({ ...c, nested: true })),
            depth + 1,
          );
      }
    }
  };
  visit(parseShell(script, counter), 0);
  return all;
}
