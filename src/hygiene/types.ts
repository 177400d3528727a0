/**
 * The hygiene stage: build habits checked in a Dockerfile and in a built image (who the image runs
 * as, whether its base is pinned, whether secrets are in it). It sits beside the inventory: it reads
 * the image stage's config and the fs stage's layers, and hands findings to policy/ and report/.
 */

/** How much a hygiene finding matters, in the words a vulnerability's severity uses, so one `--fail-on` serves both. */
export type HygieneSeverity = "low" | "medium" | "high" | "critical";

/** A check with a stable id: `LW-DF-nnn` for Dockerfile rules, `LW-IMG-nnn` for image rules. */
export interface HygieneRule {
  id: string;
  severity: HygieneSeverity;
  /** One line saying what is wrong, e.g. "The final stage runs as root". */
  title: string;
  scope: "dockerfile" | "image";
}

/** Where a hygiene finding is. */
export type HygieneLocation =
  /** Lines count from 1; `endLine` when the instruction spans continuation lines. */
  | { kind: "dockerfile"; path: string; line: number; endLine?: number }
  /** A field of the image config: "config.User", "config.Env[2]", "history[4].created_by". */
  | { kind: "config"; field: string }
  /** A file in a layer (path without a leading slash); `deleted` when a later layer removed it. */
  | { kind: "file"; path: string; layer: number; deleted?: boolean };

export interface HygieneFinding {
  ruleId: string;
  severity: HygieneSeverity;
  /** One line naming the thing found; any secret in it is masked. */
  message: string;
  location: HygieneLocation;
  /** An inline `# layerwatch:ignore LW-DF-nnn reason` comment set it aside. */
  suppressed?: { reason: string; line: number };
}
