import type { Finding } from "../match/types.js";

/**
 * `--ignore-unfixed`: a finding no published version fixes (`not-fixed`, or `will-not-fix` where
 * the distribution says none is planned) is hidden, since upgrading cannot clear it.
 */
export function hiddenAsUnfixed(finding: Finding, ignoreUnfixed: boolean): boolean {
  return ignoreUnfixed && finding.fixState !== "fixed";
}
