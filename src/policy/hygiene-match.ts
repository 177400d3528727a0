import type { HygieneFinding, HygieneLocation } from "../hygiene/types.js";

/**
 * How the policy names and recognises hygiene findings: rule ids (compared without case), path and
 * field globs for the ignore file, and the identity a baseline and a SARIF fingerprint compare.
 */

export function normaliseRuleId(id: string): string {
  return id.trim().toUpperCase();
}

/** A path as locations give them: no leading "/" or "./" (an image path has none; a Dockerfile may). */
export function normaliseLocationPath(path: string): string {
  return path.replace(/^(\.\/|\/)+/, "");
}

export interface LocationGlob {
  /** As written in the ignore file. */
  text: string;
  matches(value: string): boolean;
}

/**
 * A glob over a path or a config field, matching the whole of it: `**` is any run of characters,
 * `*` any run without "/", `?` one character other than "/"; everything else is itself. A leading
 * "/" or "./" is ignored on both sides, so `/etc/shadow` and `etc/shadow` name the same file.
 */
export function compileLocationGlob(text: string): LocationGlob {
  const glob = normaliseLocationPath(text.trim());
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const pattern = new RegExp(`^${source}$`, "s");
  return { text, matches: (value) => pattern.test(normaliseLocationPath(value)) };
}

/**
 * A hygiene finding's identity across builds: its rule and where it is, without what an unrelated
 * edit moves: no Dockerfile line (a line added above would otherwise make every finding below it
 * new), no layer index, no list index in a config field (`config.Env[3]` is `config.Env[]`). Two
 * findings of one rule in one Dockerfile share an identity; baselines and fingerprints tell them
 * apart by counting (the first, the second, ...).
 */
export function hygieneIdentity(finding: Pick<HygieneFinding, "ruleId" | "location">): string {
  return [normaliseRuleId(finding.ruleId), ...locationIdentity(finding.location)].join("\u0000");
}

function locationIdentity(location: HygieneLocation): string[] {
  switch (location.kind) {
    case "dockerfile":
      return ["dockerfile", normaliseLocationPath(location.path)];
    case "config":
      return ["config", location.field.replace(/\[\d+\]/g, "[]")];
    case "file":
      return ["file", normaliseLocationPath(location.path)];
  }
}

/**
 * Numbers each finding among those of the same identity, in order (0, 1, ...): the n-th finding of
 * an identity is matched with the n-th of the baseline's, and fingerprinted as such.
 */
export function identityOrdinals(
  findings: ReadonlyArray<Pick<HygieneFinding, "ruleId" | "location">>,
): number[] {
  const seen = new Map<string, number>();
  return findings.map((finding) => {
    const key = hygieneIdentity(finding);
    const nth = seen.get(key) ?? 0;
    seen.set(key, nth + 1);
    return nth;
  });
}
