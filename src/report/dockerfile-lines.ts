import type { ReportLayer } from "./model.js";

/**
 * Which Dockerfile line made each layer of an image, so that a SARIF result can point at a line
 * of the repository (GitHub code scanning shows results only at a file and line).
 *
 * The image's config history says how each layer was made (`created_by`), but in the builder's
 * words, not the Dockerfile's: BuildKit writes the instruction ("RUN /bin/sh -c make # buildkit",
 * "COPY app/ /app/ # buildkit"), the classic builder, buildah and podman write the shell command
 * ("/bin/sh -c make") or a digest in place of COPY's sources ("/bin/sh -c #(nop) COPY dir:3f0c...
 * in /app "). The heuristic, in order:
 *
 * 1. The Dockerfile's instructions that build the image: the last stage, preceded by the stages
 *    it is built FROM (`FROM build AS final` builds on stage `build`).
 * 2. Layers the base image supplied (known from `--base-image` or the image's labels) point at
 *    the first stage's FROM line: that is where they are changed.
 * 3. Text: walking the image's own layers and the instructions backwards together, a layer whose
 *    created_by says the same as an instruction (whitespace collapsed, builder decorations and
 *    RUN's --mount style flags dropped) is that instruction's.
 * 4. Position: between two such anchors (or before the first, after the last), the unmatched
 *    layers are paired with the layer-making instructions (RUN, COPY, ADD) from the end: the nth
 *    last layer with the nth last instruction. Layers left over before the first instruction are
 *    the base image's (FROM line); others stay unplaced.
 */

export interface DockerfileInstruction {
  /** Upper-case keyword: RUN, COPY, FROM, ... */
  keyword: string;
  /** The arguments, continuation lines joined with a space and heredoc bodies left out. */
  args: string;
  /** 1-based lines of the instruction's first and last line (heredoc bodies included). */
  startLine: number;
  endLine: number;
}

export interface DockerfileStage {
  /** The FROM instruction that opens the stage. */
  from: DockerfileInstruction;
  /** The image (or earlier stage) it is built on, and its `AS` name, lower-cased. */
  baseName: string;
  name?: string;
  instructions: DockerfileInstruction[];
}

export interface LayerLine {
  startLine: number;
  endLine: number;
  instruction: string;
  /** How the layer was placed: its base image, its created_by text, or its position. */
  by: "base-image" | "text" | "position";
}

const LAYER_MAKING = new Set(["RUN", "COPY", "ADD"]);

/** Splits a Dockerfile into stages of instructions, as BuildKit's parser reads it. */
export function parseDockerfile(text: string): DockerfileStage[] {
  const lines = text.split(/\r?\n/);
  let escapeChar = "\\";
  // Parser directives: comments of the form "# key=value" before anything else.
  for (const line of lines) {
    const directive = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!directive) break;
    if (directive[1]?.toLowerCase() === "escape" && (directive[2] === "`" || directive[2] === "\\"))
      escapeChar = directive[2];
  }
  const continues = (line: string) => {
    const trimmed = line.replace(/\s+$/, "");
    return trimmed.endsWith(escapeChar) ? trimmed.slice(0, -1) : undefined;
  };
  const instructions: DockerfileInstruction[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index] ?? "";
    if (/^\s*(#|$)/.test(line)) {
      index++;
      continue;
    }
    const startLine = index + 1;
    const parts: string[] = [];
    let current: string | undefined = line;
    // A continued instruction skips comment lines and blank lines inside it.
    for (;;) {
      const head = continues(current);
      if (head === undefined) {
        parts.push(current.trim());
        break;
      }
      parts.push(head.trim());
      index++;
      while (index < lines.length && /^\s*(#|$)/.test(lines[index] ?? "")) index++;
      if (index >= lines.length) break;
      current = lines[index] ?? "";
    }
    let endLine = index + 1;
    index++;
    const joined = parts.filter((part) => part !== "").join(" ");
    const match = /^(\S+)\s*([\s\S]*)$/.exec(joined);
    if (!match) continue;
    const keyword = (match[1] ?? "").toUpperCase();
    const args = match[2] ?? "";
    // Heredocs (RUN <<EOF ... EOF): the body lines belong to the instruction.
    if (keyword === "RUN" || keyword === "COPY" || keyword === "ADD") {
      for (const heredoc of args.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
        const word = heredoc[3] ?? "";
        const stripTabs = heredoc[1] === "-";
        while (index < lines.length) {
          const body = lines[index] ?? "";
          index++;
          endLine = index;
          if ((stripTabs ? body.replace(/^\t+/, "") : body) === word) break;
        }
      }
    }
    instructions.push({ keyword, args, startLine, endLine });
  }
  const stages: DockerfileStage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      // FROM [--platform=...] image [AS name]
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith("--"));
      const asAt = words.findIndex((word) => word.toLowerCase() === "as");
      stages.push({
        from: instruction,
        baseName: (words[0] ?? "").toLowerCase(),
        ...(asAt > 0 && words[asAt + 1] ? { name: (words[asAt + 1] as string).toLowerCase() } : {}),
        instructions: [],
      });
    } else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

/** The instructions that build the last stage, earliest first, and the FROM of the first of them. */
export function finalStageChain(stages: DockerfileStage[]): {
  from?: DockerfileInstruction;
  instructions: DockerfileInstruction[];
} {
  const chain: DockerfileStage[] = [];
  let stage = stages.at(-1);
  while (stage && !chain.includes(stage)) {
    chain.unshift(stage);
    const base = stage.baseName;
    const at = stages.indexOf(stage);
    // An earlier stage, by name or by number.
    stage = stages.slice(0, at).find((earlier, index) => earlier.name === base || String(index) === base);
  }
  return { from: chain[0]?.from, instructions: chain.flatMap((s) => s.instructions) };
}

/** The created_by text as the Dockerfile would say it ("RUN make", "COPY a b"), collapsed. */
export function normaliseCreatedBy(createdBy: string): string {
  let text = createdBy.trim().replace(/\s*#\s*buildkit$/, "");
  let run = false;
  if (/^RUN\s/.test(text)) {
    run = true;
    text = text.slice(3).trim();
  }
  // Build arguments in scope: "|2 A=1 B=2 /bin/sh -c ...".
  const args = /^\|(\d+)\s+/.exec(text);
  if (args) {
    text = text.slice(args[0].length);
    for (let n = Number(args[1]); n > 0; n--) text = text.replace(/^\S*=\S*\s*/, "");
  }
  const nop = /^\/bin\/sh -c #\(nop\)\s+/.exec(text);
  if (nop) return collapse(text.slice(nop[0].length));
  const shell = /^\/bin\/sh -c\s+/.exec(text);
  if (shell) return collapse(`RUN ${text.slice(shell[0].length)}`);
  return collapse(run ? `RUN ${text}` : text);
}

function collapse(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** The ways the instruction may appear in created_by, collapsed. */
function instructionForms(instruction: DockerfileInstruction): string[] {
  const { keyword } = instruction;
  let args = instruction.args;
  // Exec form: ["apt-get", "install"] is recorded as the words joined.
  if (args.startsWith("[")) {
    try {
      const words: unknown = JSON.parse(args);
      if (Array.isArray(words) && words.every((word) => typeof word === "string")) args = words.join(" ");
    } catch {
      // Not JSON after all: the shell form.
    }
  }
  const flags = /^(?:--\S+\s+)*/.exec(args)?.[0] ?? "";
  const operands = args.slice(flags.length);
  // BuildKit records COPY and ADD with --parents, --chown and --chmod but not --from or --link,
  // and RUN without its flags (--mount, --network).
  const kept = flags
    .split(/\s+/)
    .filter((flag) => /^--(parents|chown|chmod)\b/.test(flag))
    .join(" ");
  const forms = [`${keyword} ${args}`, `${keyword} ${operands}`, `${keyword} ${kept} ${operands}`];
  return [...new Set(forms.map(collapse))];
}

/**
 * The Dockerfile line of every layer that can be placed (see the file's header). `baseLayers` is
 * how many of the image's first layers its base image supplied, when that is known.
 */
export function layerLines(
  layers: ReportLayer[],
  stages: DockerfileStage[],
  baseLayers: number | undefined,
): Map<number, LayerLine> {
  const placed = new Map<number, LayerLine>();
  const { from, instructions } = finalStageChain(stages);
  const place = (layer: ReportLayer, instruction: DockerfileInstruction, by: LayerLine["by"]) =>
    placed.set(layer.index, {
      startLine: instruction.startLine,
      endLine: instruction.endLine,
      instruction: `${instruction.keyword} ${instruction.args}`.trim(),
      by,
    });
  const ordered = [...layers].filter((layer) => layer.index >= 0).sort((a, b) => a.index - b.index);
  const own = baseLayers === undefined ? ordered : ordered.filter((layer) => layer.index >= baseLayers);
  if (from)
    for (const layer of ordered)
      if (baseLayers !== undefined && layer.index < baseLayers) place(layer, from, "base-image");

  // Text anchors, matched backwards: the image's own layers are its last ones.
  const anchors: Array<{ layer: number; instruction: number }> = [];
  let next = instructions.length - 1;
  for (let l = own.length - 1; l >= 0 && next >= 0; l--) {
    const createdBy = own[l]?.createdBy;
    if (!createdBy) continue;
    const said = normaliseCreatedBy(createdBy);
    for (let i = next; i >= 0; i--) {
      if (instructionForms(instructions[i] as DockerfileInstruction).includes(said)) {
        anchors.unshift({ layer: l, instruction: i });
        next = i - 1;
        break;
      }
    }
  }
  for (const anchor of anchors)
    place(
      own[anchor.layer] as ReportLayer,
      instructions[anchor.instruction] as DockerfileInstruction,
      "text",
    );

  // Positions within each gap between anchors, from the gap's end.
  const bounds = [
    { layer: -1, instruction: -1 },
    ...anchors,
    { layer: own.length, instruction: instructions.length },
  ];
  for (let g = 0; g + 1 < bounds.length; g++) {
    const start = bounds[g] as { layer: number; instruction: number };
    const end = bounds[g + 1] as { layer: number; instruction: number };
    const gapLayers = own.slice(start.layer + 1, end.layer);
    const gapInstructions = instructions
      .slice(start.instruction + 1, end.instruction)
      .filter((instruction) => LAYER_MAKING.has(instruction.keyword));
    for (let k = 1; k <= gapLayers.length; k++) {
      const layer = gapLayers[gapLayers.length - k] as ReportLayer;
      const instruction = gapInstructions[gapInstructions.length - k];
      if (instruction) place(layer, instruction, "position");
      // Before the first instruction: the base image's, when the base is not known otherwise.
      else if (g === 0 && from && baseLayers === undefined) place(layer, from, "base-image");
    }
  }
  return placed;
}
