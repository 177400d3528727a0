import { compareDecimal } from "./semver2.js";

/**
 * Compares two lists of numbers (as digit strings) item by item; where one list is a prefix of
 * the other, the shorter sorts first (`1.0` < `1.0.0`).
 */
export function compareNumberLists(a: readonly string[], b: readonly string[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const order = compareDecimal(a[i] as string, b[i] as string);
    if (order !== 0) return order;
  }
  return Math.sign(a.length - b.length);
}
