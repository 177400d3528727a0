import correctLicense from "spdx-correct";
import parseSpdx from "spdx-expression-parse";

/**
 * Declared licenses as SPDX expressions. Package databases write licenses in their own ways:
 * rpm's Fedora names joined by "and"/"or" ("GPLv2+ and LGPLv2+"), Alpine's SPDX expressions or
 * older space-separated lists ("MIT BSD GPL2+"), PyPI's free text ("Apache 2.0"), npm's SPDX.
 * A valid SPDX expression is kept (written canonically); otherwise each license name is corrected
 * with spdx-correct, but only where the correction says no more and no less than the text did.
 * Anything else has no expression, and reports show the declared text as a license name.
 */

export interface SpdxLicense {
  /** The SPDX expression the declared text means, when it could be told without guessing. */
  expression?: string;
  /** The text as the package declared it. */
  declared: string;
}

type SpdxNode = parseSpdx.Info;
type SpdxLeaf = parseSpdx.LicenseInfo;

/** Longer texts are a whole license's wording, not a name. */
const MAX_DECLARED_LENGTH = 200;

/**
 * Licenses that exist in one version only: spdx-correct adds that version to an unversioned
 * name ("Boost" → BSL-1.0), and here that is not a guess.
 */
const SINGLE_VERSION_LICENSES = new Set(["BSL-1.0", "CC0-1.0", "PSF-2.0"]);

/** The GNU licenses, which SPDX writes as -only or -or-later. */
const GNU_FAMILY = /^(?:A|L)?GPL-\d+(?:\.\d+)?|^GFDL-\d+(?:\.\d+)?/;

const cache = new Map<string, string | undefined>();

export function toSpdxExpression(declared: string): SpdxLicense {
  let expression = cache.get(declared);
  if (!cache.has(declared)) {
    expression = expressionOf(declared.trim());
    // Declared licenses repeat across packages; the cache stays small, but is bounded anyway.
    if (cache.size > 10_000) cache.clear();
    cache.set(declared, expression);
  }
  return expression ? { expression, declared } : { declared };
}

function expressionOf(text: string): string | undefined {
  if (text === "" || text.length > MAX_DECLARED_LENGTH || /[\r\n]/.test(text)) return undefined;
  const valid = parsed(text);
  if (valid) return render(valid);
  const compound = parseCompound(text);
  return compound ? render(compound) : undefined;
}

function parsed(text: string): SpdxNode | undefined {
  try {
    return parseSpdx(text);
  } catch {
    return undefined;
  }
}

/** Operators upper-cased, parentheses only where AND would otherwise bind an OR's operand. */
function render(node: SpdxNode, parent?: "and" | "or"): string {
  if (!("conjunction" in node))
    return `${node.license}${node.plus ? "+" : ""}${node.exception ? ` WITH ${node.exception}` : ""}`;
  const text = `${render(node.left, node.conjunction)} ${node.conjunction.toUpperCase()} ${render(node.right, node.conjunction)}`;
  return parent === "and" && node.conjunction === "or" ? `(${text})` : text;
}

/**
 * rpm-style text: license names joined by "and"/"or" in any case, grouped by parentheses. A
 * level that mixes "and" and "or" without parentheses is ambiguous (rpm gives them no
 * precedence), so it has no expression; nor does text where any one name cannot be corrected.
 */
function parseCompound(text: string): SpdxNode | undefined {
  // "GPLv2 or later" is one license, not a choice between "GPLv2" and "later".
  const normalised = text.replace(/\s+or\s+(?:any\s+)?(?:later|newer)(?:\s+version)?\b/gi, "+");
  const tokens: string[] = normalised.match(/\(|\)|[^\s()]+/g) ?? [];
  let position = 0;
  const isOperator = (token: string | undefined) => token !== undefined && /^(?:and|or)$/i.test(token);

  const parseLevel = (): SpdxNode | undefined => {
    let node = parseTerm();
    let conjunction: "and" | "or" | undefined;
    while (node && isOperator(tokens[position])) {
      const next = (tokens[position++] as string).toLowerCase() as "and" | "or";
      if (conjunction && next !== conjunction) return undefined;
      conjunction = next;
      const right = parseTerm();
      node = right ? { left: node, conjunction, right } : undefined;
    }
    return node;
  };

  const parseTerm = (): SpdxNode | undefined => {
    if (tokens[position] === "(") {
      position++;
      const inner = parseLevel();
      if (tokens[position] !== ")") return undefined;
      position++;
      return inner;
    }
    const words: string[] = [];
    while (
      position < tokens.length &&
      !isOperator(tokens[position]) &&
      !/^[()]$/.test(tokens[position] ?? "")
    )
      words.push(tokens[position++] as string);
    if (words.length === 0) return undefined;
    // "Mozilla Public License 2.0 (MPL 2.0)": a name followed by its abbreviation.
    let alias: string | undefined;
    if (tokens[position] === "(") {
      const close = tokens.indexOf(")", position);
      const inside = close < 0 ? [] : tokens.slice(position + 1, close);
      if (inside.length > 0 && !inside.some((token) => token === "(" || isOperator(token))) {
        alias = inside.join(" ");
        position = close + 1;
      }
    }
    const name = words.join(" ");
    return (alias ? singleLicense(alias) : undefined) ?? singleLicense(name);
  };

  const node = parseLevel();
  return node && position === tokens.length ? node : undefined;
}

/** One license name as an SPDX license (with `+` or a WITH exception where it says so). */
function singleLicense(text: string): SpdxLeaf | undefined {
  const valid = parsed(text);
  if (valid) return "conjunction" in valid ? undefined : valid;
  // "with exceptions" names no exception, and SPDX has no way to say "some exception".
  if (/exception/i.test(text)) return undefined;
  // npm's "UNLICENSED" means proprietary, which spdx-correct turns into the Unlicense; Alpine's
  // "custom" and "custom:zlib" are a project's own terms, not the standard license.
  if (/^(?:unlicensed$|custom\b)/i.test(text)) return undefined;
  // Fedora's short name for the Apache License, unknown to spdx-correct.
  const asl = /^ASL[\s-]*(\d+\.\d+)$/i.exec(text);
  if (asl) return leaf(`Apache-${asl[1]}`);
  const orLater = /\+$/.test(text);
  const id = correctedId(orLater ? text.slice(0, -1).trim() : text);
  if (!id) return undefined;
  if (GNU_FAMILY.test(id)) {
    const base = id.replace(/(?:-only|-or-later|\+)$/, "");
    return leaf(`${base}${orLater ? "-or-later" : "-only"}`);
  }
  if (/(?:-or-later|\+)$/.test(id)) return orLater ? leaf(id) : undefined;
  return leaf(orLater ? `${id}+` : id);
}

function leaf(text: string): SpdxLeaf | undefined {
  const node = parsed(text);
  return node && !("conjunction" in node) ? node : undefined;
}

/**
 * spdx-correct's answer, when it keeps to what the text says. It happily drops words: "MIT BSD
 * GPL2+" becomes BSD-2-Clause, "Eclipse Public License v2.0" EPL-1.0, a bare "GPL"
 * GPL-3.0-or-later. So a correction is refused when the text names more than one license, or
 * when the id carries a version the text does not give. "License" and "The" are tried without.
 */
function correctedId(text: string): string | undefined {
  const candidates = [text, text.replace(/\b(?:the|licen[cs]e)\b/gi, " ").trim()];
  for (const candidate of candidates) {
    if (candidate === "") continue;
    const valid = parsed(candidate);
    if (valid && !("conjunction" in valid)) return candidate;
    const id = correctLicense(candidate);
    if (id && !namesSeveral(candidate) && versionsAgree(candidate, id)) return id;
  }
  return undefined;
}

/**
 * Whether words of the text name licenses of different families on their own ("MIT BSD GPL2+",
 * "MIT/Apache-2.0"); "BSD 3-Clause" names BSD twice, which is one license.
 */
function namesSeveral(text: string): boolean {
  const words = text.split(/[\s/,;:]+/).filter((word) => word !== "");
  if (words.length < 2) return false;
  const families = new Set(
    words.flatMap((word) => {
      const id = correctLicense(word);
      return id ? [id.split("-")[0]] : [];
    }),
  );
  return families.size > 1;
}

/** "2.0" and "2" are the same version; "v2" is 2. */
function versionsIn(text: string): Set<string> {
  return new Set((text.match(/\d+(?:\.\d+)*/g) ?? []).map((version) => version.replace(/(?:\.0)+$/, "")));
}

function versionsAgree(text: string, id: string): boolean {
  if (SINGLE_VERSION_LICENSES.has(id)) return true;
  const declared = versionsIn(text);
  for (const version of versionsIn(id)) if (!declared.has(version)) return false;
  return true;
}
