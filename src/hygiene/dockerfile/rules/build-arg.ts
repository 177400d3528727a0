import { isSecretName } from "../../secrets.js";
import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { safeWord } from "./words.js";

export const secretBuildArgRule: HygieneRule = {
  id: "LW-DF-021",
  severity: "high",
  title: "A secret passed as a build argument is recorded in the image history",
  scope: "dockerfile",
};

/**
 * An ARG named like a secret in a stage of the final image, with a RUN after it: the legacy
 * builder and BuildKit record every build argument a RUN sees (`|1 NPM_TOKEN=... /bin/sh -c ...`)
 * in the image's history, where `docker history` shows it. A literal default is LW-DF-004's; this
 * is the value given with `--build-arg`, which the Dockerfile does not show.
 */
export function checkSecretBuildArg(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const stage of context.finalChain) {
    stage.instructions.forEach((instruction, position) => {
      if (instruction.keyword !== "ARG") return;
      const laterRun = stage.instructions.slice(position + 1).some((later) => later.keyword === "RUN");
      if (!laterRun) return;
      for (const { name } of instruction.properties) {
        if (!isSecretName(name)) continue;
        hits.push({
          instruction,
          message: `ARG ${safeWord(name)}: a value given with --build-arg is written into the image history by every later RUN; use RUN --mount=type=secret`,
        });
      }
    });
  }
  return hits;
}
