import { dockerfileRules } from "./dockerfile/rules/index.js";
import { imageRules } from "./image/rules.js";
import type { HygieneRule } from "./types.js";

/** Every hygiene rule: the Dockerfile rules (LW-DF-nnn), then the image rules (LW-IMG-nnn). */
export const allRules: readonly HygieneRule[] = [...dockerfileRules, ...imageRules];

const byId = new Map(allRules.map((rule) => [rule.id.toUpperCase(), rule]));

/** The rule with this id (without case), or undefined. */
export function ruleById(id: string): HygieneRule | undefined {
  return byId.get(id.trim().toUpperCase());
}

/** Where docs/rules.md is published: SARIF rules link each hygiene rule's section there. */
export const RULES_DOC_URL = "https://github.com/layerwatch/layerwatch/blob/main/docs/rules.md";
