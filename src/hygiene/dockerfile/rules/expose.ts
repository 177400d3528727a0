import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { expand } from "../parse.js";
import { splitWords } from "./words.js";

export const sshPortRule: HygieneRule = {
  id: "LW-DF-014",
  severity: "medium",
  title: "EXPOSE 22: the image offers SSH",
  scope: "dockerfile",
};

/** Whether a port spec (22, 22/tcp, 20-25/udp) includes port 22. */
function includesSsh(spec: string): boolean {
  const match = /^(\d+)(?:-(\d+))?(?:\/\w+)?$/.exec(spec);
  if (!match) return false;
  const low = Number(match[1]);
  const high = match[2] === undefined ? low : Number(match[2]);
  return low <= 22 && 22 <= high;
}

export function checkSshPort(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const instruction of context.instructions("EXPOSE")) {
    const specs = splitWords(instruction.operands).map((word) => expand(word, instruction.vars) ?? word);
    const ssh = specs.find(includesSsh);
    if (ssh)
      hits.push({
        instruction,
        message: `EXPOSE ${ssh}: an SSH server in a container is a way in that bypasses docker exec and its audit`,
      });
  }
  return hits;
}
