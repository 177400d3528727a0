/**
 * CVSS v4.0 base scores (CVSS-B). v4.0 scores a vector by looking its MacroVector up in a table of
 * 270 scores that FIRST publishes with the specification, then interpolating; that table is a
 * specification artifact, so the scoring comes from a library that ships it (ae-cvss-calculator,
 * Apache-2.0, no dependencies). It is CommonJS without named ESM exports, so it is imported whole.
 */
import cvssCalculator from "ae-cvss-calculator";

/** The base metrics, in the specification's order, and the values each may take. */
const BASE_METRICS: ReadonlyArray<[string, readonly string[]]> = [
  ["AV", ["N", "A", "L", "P"]],
  ["AC", ["L", "H"]],
  ["AT", ["N", "P"]],
  ["PR", ["N", "L", "H"]],
  ["UI", ["N", "P", "A"]],
  ["VC", ["H", "L", "N"]],
  ["VI", ["H", "L", "N"]],
  ["VA", ["H", "L", "N"]],
  ["SC", ["H", "L", "N"]],
  ["SI", ["H", "L", "N"]],
  ["SA", ["H", "L", "N"]],
];

/**
 * The vector reduced to its base metrics in the specification's order, or undefined when it is
 * not a v4.0 vector with every base metric given once with a defined value. Threat,
 * environmental and supplemental metrics are dropped: the base score ignores them.
 */
export function cvss4BaseVector(vector: string): string | undefined {
  const match = /^CVSS:4\.0\/(.+)$/.exec(vector.trim());
  if (!match) return undefined;
  const metrics = new Map<string, string>();
  for (const part of (match[1] ?? "").split("/")) {
    const [key, value, extra] = part.split(":");
    if (!key || !value || extra !== undefined || metrics.has(key)) return undefined;
    metrics.set(key, value);
  }
  const parts: string[] = [];
  for (const [key, allowed] of BASE_METRICS) {
    const value = metrics.get(key);
    if (value === undefined || !allowed.includes(value)) return undefined;
    parts.push(`${key}:${value}`);
  }
  return `CVSS:4.0/${parts.join("/")}`;
}

/**
 * Scores by vector, as scored: the calculator builds a whole object model per vector, and one
 * vector rates many findings (every package an advisory affects). Bounded, restarting when full.
 */
const scored = new Map<string, number | undefined>();
const SCORES_KEPT = 10_000;

/** The CVSS-B score of a v4.0 vector; undefined when it is not one. */
export function cvss4BaseScore(vector: string): number | undefined {
  if (scored.has(vector)) return scored.get(vector);
  const score = scoreVector(vector);
  if (scored.size >= SCORES_KEPT) scored.clear();
  scored.set(vector, score);
  return score;
}

function scoreVector(vector: string): number | undefined {
  const base = cvss4BaseVector(vector);
  if (!base) return undefined;
  try {
    const scores = new cvssCalculator.Cvss4P0(base).calculateScores();
    const score = scores.base ?? scores.overall;
    return typeof score === "number" && score >= 0 && score <= 10 ? score : undefined;
  } catch {
    return undefined;
  }
}
