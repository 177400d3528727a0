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
