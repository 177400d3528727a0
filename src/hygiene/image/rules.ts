import type { HygieneFinding, HygieneLocation, HygieneRule, HygieneSeverity } from "../types.js";

/** The image checks' rules, documented in docs/rules.md ("Image rules"). */
export const rootUser: HygieneRule = {
  id: "LW-IMG-001",
  severity: "high",
  title: "The image runs as root",
  scope: "image",
};

export const secretInEnv: HygieneRule = {
  id: "LW-IMG-002",
  severity: "high",
  title: "A secret is in the image's environment",
  scope: "image",
};

export const secretInHistory: HygieneRule = {
  id: "LW-IMG-003",
  severity: "high",
  title: "A secret is in the image's build history",
  scope: "image",
};

export const secretFile: HygieneRule = {
  id: "LW-IMG-004",
  severity: "high",
  title: "A file that holds credentials is in the image",
  scope: "image",
};

export const deletedSecretFile: HygieneRule = {
  id: "LW-IMG-005",
  severity: "high",
  title: "A credentials file removed by a later layer is still in an earlier one",
  scope: "image",
};

export const secretInFile: HygieneRule = {
  id: "LW-IMG-006",
  severity: "critical",
  title: "A private key or token is in a file",
  scope: "image",
};

export const addedSetuid: HygieneRule = {
  id: "LW-IMG-007",
  severity: "medium",
  title: "A setuid or setgid file was added above the base image",
  scope: "image",
};

export const worldWritable: HygieneRule = {
  id: "LW-IMG-008",
  severity: "medium",
  title: "A file or directory is world-writable",
  scope: "image",
};

export const emptyPassword: HygieneRule = {
  id: "LW-IMG-009",
  severity: "high",
  title: "An account has an empty password",
  scope: "image",
};

export const imageRules: HygieneRule[] = [
  rootUser,
  secretInEnv,
  secretInHistory,
  secretFile,
  deletedSecretFile,
  secretInFile,
  addedSetuid,
  worldWritable,
  emptyPassword,
];

/**
 * Secret rules report a value in a known token format (a GitHub token, an AWS key, a private key)
 * as critical, above their own severity: it is a working credential, not a guess from a name.
 */
export const KNOWN_FORMAT_SEVERITY: HygieneSeverity = "critical";

export function finding(
  rule: HygieneRule,
  message: string,
  location: HygieneLocation,
  severity: HygieneSeverity = rule.severity,
): HygieneFinding {
  return { ruleId: rule.id, severity, message, location };
}
