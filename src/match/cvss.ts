/** CVSS v3.0 and v3.1 base scores from a vector string (FIRST's specification formulas). */

const weights = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

function privilegesWeight(value: string, scopeChanged: boolean): number | undefined {
  if (value === "N") return 0.85;
  if (value === "L") return scopeChanged ? 0.68 : 0.62;
  if (value === "H") return scopeChanged ? 0.5 : 0.27;
  return undefined;
}

/** v3.1's Roundup: the smallest one-decimal number not below the input, robust to float error. */
function roundUp31(value: number): number {
  const scaled = Math.round(value * 100000);
  return scaled % 10000 === 0 ? scaled / 100000 : (Math.floor(scaled / 10000) + 1) / 10;
}

export function cvss3BaseScore(vector: string): number | undefined {
  const match = /^CVSS:3\.([01])\/(.+)$/.exec(vector.trim());
  if (!match) return undefined;
  const metrics = new Map<string, string>();
  for (const part of (match[2] ?? "").split("/")) {
    const [key, value] = part.split(":");
    if (key && value) metrics.set(key, value);
  }
  const pick = <T extends Record<string, number>>(table: T, key: string): number | undefined =>
    table[metrics.get(key) as keyof T];
  const scope = metrics.get("S");
  if (scope !== "U" && scope !== "C") return undefined;
  const changed = scope === "C";
  const av = pick(weights.AV, "AV");
  const ac = pick(weights.AC, "AC");
  const pr = privilegesWeight(metrics.get("PR") ?? "", changed);
  const ui = pick(weights.UI, "UI");
  const c = pick(weights.CIA, "C");
  const i = pick(weights.CIA, "I");
  const a = pick(weights.CIA, "A");
  if ([av, ac, pr, ui, c, i, a].some((w) => w === undefined)) return undefined;
  const iss = 1 - (1 - (c as number)) * (1 - (i as number)) * (1 - (a as number));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  if (impact <= 0) return 0;
  const exploitability = 8.22 * (av as number) * (ac as number) * (pr as number) * (ui as number);
  const raw = Math.min(changed ? 1.08 * (impact + exploitability) : impact + exploitability, 10);
  return match[1] === "1" ? roundUp31(raw) : Math.ceil(raw * 10) / 10;
}

const weights2 = {
  AV: { L: 0.395, A: 0.646, N: 1 },
  AC: { H: 0.35, M: 0.61, L: 0.71 },
  Au: { M: 0.45, S: 0.56, N: 0.704 },
  CIA: { N: 0, P: 0.275, C: 0.66 },
} as const;

/**
 * CVSS v2 base scores (FIRST's v2 guide, section 3.2.1) from the six base metrics, as OSV's
 * CVSS_V2 entries and NVD write them ("AV:N/AC:L/Au:N/C:P/I:P/A:P", parentheses allowed).
 */
export function cvss2BaseScore(vector: string): number | undefined {
  const text = vector.trim().replace(/^\((.*)\)$/, "$1");
  const metrics = new Map<string, string>();
  for (const part of text.split("/")) {
    const [key, value, extra] = part.split(":");
    if (!key || !value || extra !== undefined || metrics.has(key)) return undefined;
    metrics.set(key, value);
  }
  const pick = <T extends Record<string, number>>(table: T, key: string): number | undefined =>
    table[metrics.get(key) as keyof T];
  const av = pick(weights2.AV, "AV");
  const ac = pick(weights2.AC, "AC");
  const au = pick(weights2.Au, "Au");
  const c = pick(weights2.CIA, "C");
  const i = pick(weights2.CIA, "I");
  const a = pick(weights2.CIA, "A");
  if (av === undefined || ac === undefined || au === undefined) return undefined;
  if (c === undefined || i === undefined || a === undefined) return undefined;
  const impact = 10.41 * (1 - (1 - c) * (1 - i) * (1 - a));
  const exploitability = 20 * av * ac * au;
  const raw = (0.6 * impact + 0.4 * exploitability - 1.5) * (impact === 0 ? 0 : 1.176);
  return Math.round(raw * 10 + 1e-9) / 10;
}
