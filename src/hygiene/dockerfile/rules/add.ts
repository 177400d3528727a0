import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { copyOperands, listWords } from "./words.js";

export const addInsteadOfCopyRule: HygieneRule = {
  id: "LW-DF-006",
  severity: "low",
  title: "ADD is used where COPY is meant",
  scope: "dockerfile",
};

/** What ADD does that COPY does not: fetch a URL (or a git repository), unpack a local tar archive. */
const REMOTE = /^(?:[a-z][a-z0-9+.-]*:\/\/|git@)/i;
const TAR_ARCHIVE = /\.(?:tar|tar\.(?:gz|bz2|xz|zst|lz|lzma|z)|tgz|tbz2?|txz|tzst|tlz)$/i;

export function checkAddInsteadOfCopy(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const instruction of context.instructions("ADD")) {
    const { sources } = copyOperands(instruction);
    // An unknown variable may name a URL or an archive.
    const plain = sources.filter(
      (source) => !REMOTE.test(source) && !TAR_ARCHIVE.test(source) && !source.includes("$"),
    );
    if (plain.length > 0)
      hits.push({
        instruction,
        message: `ADD ${listWords(plain)}: a plain file or folder, which COPY copies without ADD's unpacking and downloading`,
      });
  }
  return hits;
}
