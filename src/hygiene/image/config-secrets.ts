import type { ImageConfig } from "../../image/types.js";
import { type SecretMatch, secretInAssignment, secretsInText } from "../secrets.js";
import type { HygieneFinding, HygieneSeverity } from "../types.js";
import { describeSecret } from "./describe.js";
import { finding, KNOWN_FORMAT_SEVERITY, secretInEnv, secretInHistory } from "./rules.js";

interface Assignment {
  name: string;
  value: string;
  /** How the history recorded it. */
  how: "build argument" | "ENV" | "ARG";
}

/** The legacy builder's prefix for instructions that made no layer: `/bin/sh -c #(nop) `. */
const NOP_PREFIX = /^\/bin\/sh -c #\(nop\)\s+/;
/** BuildKit's `RUN |2 A=x B=y /bin/sh -c ...` and the legacy `|2 A=x B=y /bin/sh -c ...`. */
const BUILD_ARGS = /^(?:RUN\s+)?\|(\d+)\s+/;
const BUILD_ARG = /\s*([A-Za-z_][A-Za-z0-9_.-]*)=(\S*)/y;
const INSTRUCTION = /^(ENV|ARG)\s+(.*)$/s;
const PAIR = /([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;

function unquote(value: string): string {
  return value.replace(/^(["'])(.*)\1$/s, "$2");
}

/** The NAME=value pairs a history entry recorded: build args of a RUN, or an ENV/ARG instruction. */
export function historyAssignments(createdBy: string): Assignment[] {
  const text = createdBy.replace(NOP_PREFIX, "");
  const args = BUILD_ARGS.exec(text);
  if (args) {
    const found: Assignment[] = [];
    BUILD_ARG.lastIndex = args[0].length;
    // Docker writes the args space-separated without quoting: a value with a space is cut short.
    for (let i = 0; i < Number(args[1]); i++) {
      const match = BUILD_ARG.exec(text);
      if (!match) break;
      found.push({ name: match[1] as string, value: match[2] as string, how: "build argument" });
    }
    return found;
  }
  const instruction = INSTRUCTION.exec(text);
  if (!instruction) return [];
  const how = instruction[1] as "ENV" | "ARG";
  const rest = (instruction[2] as string).trim();
  const firstSpace = rest.search(/\s/);
  const firstEquals = rest.indexOf("=");
  // The old `ENV NAME value` form: one variable, the rest of the line its value.
  if (how === "ENV" && firstSpace > 0 && (firstEquals < 0 || firstEquals > firstSpace))
    return [{ name: rest.slice(0, firstSpace), value: rest.slice(firstSpace).trim(), how }];
  return [...rest.matchAll(PAIR)].map((match) => ({
    name: match[1] as string,
    value: unquote(match[2] as string),
    how,
  }));
}

/** Critical for a value in a known token format, the rule's own severity for one told by its name. */
function severityOf(value: string): HygieneSeverity | undefined {
  return secretsInText(value).length > 0 ? KNOWN_FORMAT_SEVERITY : undefined;
}

function describe(match: SecretMatch): string {
  return describeSecret(match.kind, match.masked);
}

/**
 * Secrets in the config's Env (every container gets them, and `docker inspect` shows them) and
 * in the history (build args and ENV/ARG values are recorded there, and so is every RUN line).
 * An ENV in the history whose NAME=value is still in Env is reported once, on Env.
 */
export function checkConfigSecrets(config: ImageConfig): HygieneFinding[] {
  const findings: HygieneFinding[] = [];
  const env = config.config?.Env ?? [];
  env.forEach((entry, index) => {
    const equals = entry.indexOf("=");
    if (equals <= 0) return;
    const name = entry.slice(0, equals);
    const value = entry.slice(equals + 1);
    const match = secretInAssignment(name, value);
    if (!match) return;
    findings.push(
      finding(
        secretInEnv,
        `config.Env sets ${name} to ${describe(match)}: every container and anyone who pulls the image can read it`,
        { kind: "config", field: `config.Env[${index}]` },
        severityOf(value),
      ),
    );
  });
  const envPairs = new Set(env);
  (config.history ?? []).forEach((entry, index) => {
    const createdBy = entry.created_by;
    if (!createdBy) return;
    const field = `history[${index}].created_by`;
    const reported = new Set<string>();
    for (const assignment of historyAssignments(createdBy)) {
      const match = secretInAssignment(assignment.name, assignment.value);
      if (!match) continue;
      reported.add(`${match.kind}\u0000${match.masked}`);
      // Reported on config.Env already; the command text below must not report it again either.
      if (assignment.how === "ENV" && envPairs.has(`${assignment.name}=${assignment.value}`)) continue;
      const what =
        assignment.how === "build argument"
          ? `build argument ${assignment.name}`
          : `${assignment.how} ${assignment.name}`;
      findings.push(
        finding(
          secretInHistory,
          `${field} records ${what} as ${describe(match)}: anyone who pulls the image can read its history`,
          { kind: "config", field },
          severityOf(assignment.value),
        ),
      );
    }
    for (const match of secretsInText(createdBy)) {
      const key = `${match.kind}\u0000${match.masked}`;
      if (reported.has(key)) continue;
      reported.add(key);
      findings.push(
        finding(
          secretInHistory,
          `${field} holds ${describe(match)} in the build step's command: anyone who pulls the image can read its history`,
          { kind: "config", field },
          KNOWN_FORMAT_SEVERITY,
        ),
      );
    }
  });
  return findings;
}
