import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { isWindowsImage } from "../context.js";
import { expand } from "../parse.js";

export const rootUserRule: HygieneRule = {
  id: "LW-DF-001",
  severity: "high",
  title: "The final stage runs as root",
  scope: "dockerfile",
};

/** Users that are the superuser: root and uid 0 on Linux, ContainerAdministrator on Windows. */
function isRoot(user: string): boolean {
  const name = (user.split(":")[0] ?? "").trim();
  return name === "root" || /^0+$/.test(name) || name.toLowerCase() === "containeradministrator";
}

/**
 * Only the stages that build the final image count: the last USER among them is who the
 * container runs as. A USER in a build stage the final stage does not build on changes nothing.
 */
export function checkRootUser(context: LintContext): RuleHit[] {
  const chain = context.finalChain;
  const final = chain.at(-1);
  if (!final) return [];
  const lastUser = chain.flatMap((stage) => stage.instructions.filter((i) => i.keyword === "USER")).at(-1);
  if (!lastUser) {
    const root = chain[0] ?? final;
    const base = root.image ?? root.imageText;
    // Windows images have no root; their default user depends on the image (nanoserver's is not an admin).
    if (isWindowsImage(base)) return [];
    // distroless's :nonroot tags (and others named so) set a non-root USER themselves.
    if (/[:-]nonroot\b/i.test(base)) return [];
    const runsAs =
      base.toLowerCase() === "scratch"
        ? "it runs as uid 0"
        : `it runs as ${base}'s user, root unless that image sets one`;
    return [{ instruction: final.from, message: `The final stage sets no USER: ${runsAs}` }];
  }
  const user = expand(lastUser.operands, lastUser.vars);
  // USER $APP_USER with no value known here: who it is cannot be told.
  if (user === undefined || !isRoot(user)) return [];
  return [{ instruction: lastUser, message: `USER ${user}: the final stage runs as root` }];
}
