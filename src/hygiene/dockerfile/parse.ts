import { DockerfileParser, Keyword, type PropertyInstruction } from "dockerfile-ast";

/**
 * A Dockerfile as the hygiene rules read it: stages of instructions with 1-based lines, the
 * arguments with continuation lines joined (as BuildKit joins them: the escape character and the
 * line break dropped, comment lines inside the block skipped), heredoc bodies apart, and the
 * build arguments and environment each instruction sees. dockerfile-ast finds where each
 * instruction starts and ends, the escape directive and ENV/ARG properties; the rest is here.
 */

export interface Heredoc {
  /** The delimiter word, without quotes or `-`. */
  name: string;
  /** `<<-`: leading tabs are stripped from the body and the delimiter line. */
  stripTabs: boolean;
  body: string;
  /** 1-based line of the body's first line. */
  line: number;
}

export interface DockerfileInstruction {
  /** Upper-case keyword: RUN, COPY, FROM, ... */
  keyword: string;
  /** 1-based first and last line (continuations and heredoc bodies included). */
  line: number;
  endLine: number;
  /** The arguments, flags included, continuation lines joined; heredoc bodies left out. */
  args: string;
  /** Leading `--name[=value]` flags (RUN --mount, COPY --from, FROM --platform), and the rest. */
  flags: Array<{ name: string; value?: string }>;
  operands: string;
  /** The arguments as a JSON array of strings (exec form), when they are one. */
  execForm?: string[];
  heredocs: Heredoc[];
  /** ENV and ARG pairs, values unquoted (undefined: `ARG NAME` without a default). */
  properties: Array<{ name: string; value: string | undefined }>;
  /** Build arguments and environment variables known before this instruction, with their values. */
  vars: ReadonlyMap<string, string>;
  /** Index of the stage it belongs to; -1 for the ARGs before the first FROM. */
  stage: number;
}

export interface DockerfileStage {
  index: number;
  from: DockerfileInstruction;
  /** The image as written, and after expanding the global ARGs (undefined: an ARG without a value). */
  imageText: string;
  image?: string;
  /** The `AS` name, lower-cased. */
  name?: string;
  /** The earlier stage it is built on (`FROM build`), when it is one. */
  baseStage?: number;
  instructions: DockerfileInstruction[];
}

export interface ParsedDockerfile {
  escapeChar: string;
  /** The ARG instructions before the first FROM. */
  globalArgs: DockerfileInstruction[];
  stages: DockerfileStage[];
  /** The file's lines, for inline comments. */
  lines: string[];
  /** Instructions that were skipped, with why (an unknown keyword, something before FROM). */
  problems: Array<{ line: number; problem: string }>;
}

const KEYWORDS = new Set<string>(Object.values(Keyword));

/** Parses a Dockerfile; never throws on odd content, it lists what it skipped in `problems`. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const ast = DockerfileParser.parse(text);
  const escapeChar = ast.getEscapeCharacter();
  const lines = text.split(/\r?\n/);
  const parsed: ParsedDockerfile = { escapeChar, globalArgs: [], stages: [], lines, problems: [] };
  let vars = new Map<string, string>();
  // Each stage's ENV so far: a stage built on it starts with it (build arguments do not carry over).
  const stageEnvs: Array<Map<string, string>> = [];
  const globalValues = new Map<string, string>();
  for (const node of ast.getInstructions()) {
    const keyword = node.getKeyword();
    const range = node.getRange();
    const line = range.start.line + 1;
    if (!KEYWORDS.has(keyword)) {
      parsed.problems.push({ line, problem: `"${keyword.slice(0, 40)}" is not a Dockerfile instruction` });
      continue;
    }
    const stage = parsed.stages.at(-1);
    if (!stage && keyword !== "ARG" && keyword !== "FROM") {
      parsed.problems.push({ line, problem: `${keyword} before the first FROM` });
      continue;
    }
    const { args, heredocs } = joinLines(lines, range.start.line, range.end.line, escapeChar);
    const argsText = args.replace(new RegExp(`^\\s*${escapeRegExp(node.getInstruction())}`), "").trim();
    const properties =
      keyword === "ENV" || keyword === "ARG"
        ? (node as PropertyInstruction).getProperties().map((property) => ({
            name: property.getName(),
            value: property.getValue() ?? undefined,
          }))
        : [];
    const { flags, operands } = splitFlags(argsText);
    const instruction: DockerfileInstruction = {
      keyword,
      line,
      endLine: range.end.line + 1,
      args: argsText,
      flags,
      operands,
      heredocs,
      properties,
      vars: new Map(vars),
      stage: stage ? stage.index : -1,
    };
    const execForm = parseExecForm(operands);
    if (execForm) instruction.execForm = execForm;

    if (keyword === "FROM") {
      const words = operands.split(/\s+/).filter((word) => word !== "");
      const imageText = words[0] ?? "";
      const image = expand(imageText, globalValues);
      const name = words[1]?.toLowerCase() === "as" ? words[2]?.toLowerCase() : undefined;
      const index = parsed.stages.length;
      instruction.stage = index;
      const base = image?.toLowerCase();
      const baseStage = parsed.stages.findIndex(
        (earlier) => earlier.name !== undefined && earlier.name === base,
      );
      parsed.stages.push({
        index,
        from: instruction,
        imageText,
        ...(image !== undefined ? { image } : {}),
        ...(name ? { name } : {}),
        ...(baseStage >= 0 ? { baseStage } : {}),
        instructions: [],
      });
      const env = new Map(baseStage >= 0 ? stageEnvs[baseStage] : []);
      stageEnvs.push(env);
      vars = new Map(env);
      continue;
    }
    if (!stage) {
      parsed.globalArgs.push(instruction);
      for (const { name, value } of properties) {
        const expanded = value === undefined ? undefined : expand(value, globalValues);
        if (expanded !== undefined) globalValues.set(name, expanded);
      }
      continue;
    }
    stage.instructions.push(instruction);
    if (keyword === "ARG")
      for (const { name, value } of properties) {
        // `ARG NAME` in a stage takes the global default; `ARG NAME=x` its own.
        const resolved = value === undefined ? globalValues.get(name) : expand(value, vars);
        if (resolved !== undefined) vars.set(name, resolved);
        else vars.delete(name);
      }
    if (keyword === "ENV")
      for (const { name, value } of properties) {
        const resolved = expand(value ?? "", vars);
        if (resolved === undefined) continue;
        vars.set(name, resolved);
        stageEnvs[stage.index]?.set(name, resolved);
      }
  }
  return parsed;
}

/**
 * The instruction's lines [start, end] (0-based): the instruction with continuations joined, and
 * the heredoc bodies that follow it.
 */
function joinLines(
  lines: string[],
  start: number,
  end: number,
  escapeChar: string,
): { args: string; heredocs: Heredoc[] } {
  let args = "";
  let index = start;
  const continuation = new RegExp(`${escapeRegExp(escapeChar)}[ \\t]*$`);
  for (;;) {
    const line = lines[index] ?? "";
    index++;
    const match = continuation.exec(line);
    if (!match) {
      args += line;
      break;
    }
    args += line.slice(0, match.index);
    // Comment lines and empty lines inside a continued instruction are dropped.
    while (index <= end && /^\s*(#|$)/.test(lines[index] ?? "")) index++;
    if (index > end) break;
  }
  const heredocs: Heredoc[] = [];
  for (const marker of args.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
    // A here-string (<<<) is not a heredoc.
    if (args[(marker.index ?? 0) + 2] === "<" || args[(marker.index ?? 1) - 1] === "<") continue;
    const name = marker[3] ?? "";
    const stripTabs = marker[1] === "-";
    const bodyLines: string[] = [];
    const bodyStart = index + 1;
    while (index <= end) {
      const body = lines[index] ?? "";
      index++;
      const clean = stripTabs ? body.replace(/^\t+/, "") : body;
      if (clean === name) break;
      bodyLines.push(clean);
    }
    heredocs.push({ name, stripTabs, body: bodyLines.join("\n"), line: bodyStart });
  }
  return { args, heredocs };
}

function splitFlags(args: string): { flags: Array<{ name: string; value?: string }>; operands: string } {
  const flags: Array<{ name: string; value?: string }> = [];
  let rest = args;
  for (;;) {
    const match = /^--([A-Za-z][\w-]*)(?:=("[^"]*"|\S*))?\s*/.exec(rest);
    if (!match) break;
    const value = match[2]?.replace(/^"(.*)"$/, "$1");
    flags.push({ name: (match[1] as string).toLowerCase(), ...(value !== undefined ? { value } : {}) });
    rest = rest.slice(match[0].length);
  }
  return { flags, operands: rest.trim() };
}

function parseExecForm(operands: string): string[] | undefined {
  if (!operands.startsWith("[")) return undefined;
  try {
    const words: unknown = JSON.parse(operands);
    if (Array.isArray(words) && words.every((word) => typeof word === "string")) return words;
  } catch {
    // Not JSON: the shell form, as the builder would take it.
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Expands `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}` and `${NAME+word}`
 * as the builder does; undefined when a name it needs has no value.
 */
export function expand(text: string, vars: ReadonlyMap<string, string>): string | undefined {
  let unknown = false;
  const result = text.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced: string | undefined, operator: string | undefined, word: string | undefined, bare) => {
      if (whole === "\\$") return "$";
      const name = (braced ?? bare) as string;
      const value = vars.get(name);
      const set = value !== undefined && (operator?.startsWith(":") ? value !== "" : true);
      if (operator?.endsWith("-")) return set ? (value as string) : (word ?? "");
      if (operator?.endsWith("+")) return set ? (word ?? "") : "";
      if (value === undefined) unknown = true;
      return value ?? "";
    },
  );
  return unknown ? undefined : result;
}

/** The stages that build the final image: the last stage and the stages it is built FROM, earliest first. */
export function finalStageChain(dockerfile: ParsedDockerfile): DockerfileStage[] {
  const chain: DockerfileStage[] = [];
  let stage = dockerfile.stages.at(-1);
  while (stage && !chain.includes(stage)) {
    chain.unshift(stage);
    stage = stage.baseStage === undefined ? undefined : dockerfile.stages[stage.baseStage];
  }
  return chain;
}

/** Whether a stage's FROM names an image (not `scratch`, not an earlier stage, not an unknown ARG). */
export function baseImageOf(stage: DockerfileStage): string | undefined {
  if (stage.baseStage !== undefined || stage.image === undefined) return undefined;
  if (stage.image.toLowerCase() === "scratch") return undefined;
  return stage.image;
}
