import { isSecretFileName, secretInAssignment, secretsInText } from "../../secrets.js";
import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import type { DockerfileInstruction } from "../parse.js";
import { copyOperands, safeWord } from "./words.js";

export const secretInDockerfileRule: HygieneRule = {
  id: "LW-DF-004",
  severity: "high",
  title: "A secret is written in the Dockerfile (ENV, ARG or a command)",
  scope: "dockerfile",
};

export const secretFileCopiedRule: HygieneRule = {
  id: "LW-DF-005",
  severity: "high",
  title: "COPY or ADD puts a credential file into the image",
  scope: "dockerfile",
};

/**
 * ENV and ARG values by name and by content (secretInAssignment); any other instruction's text,
 * heredocs included, by known token formats only. A known format is critical: it is a live
 * credential of a known service, not only a value under a secret's name.
 */
export function checkSecretInDockerfile(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  const instructions: DockerfileInstruction[] = [
    ...context.dockerfile.globalArgs,
    ...context.stages.flatMap((stage) => [stage.from, ...stage.instructions]),
  ];
  for (const instruction of instructions) {
    if (instruction.keyword === "ENV" || instruction.keyword === "ARG") {
      for (const { name, value } of instruction.properties) {
        if (value === undefined) continue;
        const match = secretInAssignment(name, value);
        if (!match) continue;
        hits.push({
          instruction,
          message: `${instruction.keyword} ${safeWord(name)} holds a secret: ${match.kind} (${match.masked})`,
          ...(secretsInText(value).length > 0 ? { severity: "critical" as const } : {}),
        });
      }
      continue;
    }
    const text = [instruction.args, ...instruction.heredocs.map((heredoc) => heredoc.body)].join("\n");
    for (const match of secretsInText(text))
      hits.push({
        instruction,
        message: `${instruction.keyword} holds a secret: ${match.kind} (${match.masked})`,
        severity: "critical",
      });
  }
  return hits;
}

/** Files a name says hold credentials, beyond the shared list: a PEM named as a key, credential folders. */
function secretFileKind(source: string): string | undefined {
  const path = source.replace(/\/+$/, "");
  const shared = isSecretFileName(path);
  if (shared) return shared;
  const base = path.slice(path.lastIndexOf("/") + 1);
  // A *.pem may be a certificate; one named as a key (key.pem, server-key.pem, privkey.pem) is not.
  if (/\.pem$/i.test(base) && /key|priv/i.test(base)) return "private key file";
  if (base === ".ssh") return "SSH folder";
  if (base === ".aws") return "AWS credentials folder";
  if (base === ".gnupg") return "GnuPG keyring folder";
  return undefined;
}

export function checkSecretFileCopied(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const instruction of context.instructions()) {
    if (instruction.keyword !== "COPY" && instruction.keyword !== "ADD") continue;
    for (const source of copyOperands(instruction).sources) {
      const kind = secretFileKind(source);
      if (kind)
        hits.push({
          instruction,
          message: `${instruction.keyword} ${safeWord(source)} copies a credential file into the image (${kind})`,
        });
    }
  }
  return hits;
}
