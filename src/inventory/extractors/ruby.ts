import { PackageURL } from "packageurl-js";
import type { ExtractContext, ExtractedPackage, Extractor } from "../types.js";

/**
 * Ruby gems: the specifications rubygems writes for every installed gem
 * (`<gem home>/specifications/NAME-VERSION.gemspec`, and `specifications/default/` for the gems
 * that ship with Ruby itself), and Bundler lockfiles (Gemfile.lock, gems.locked).
 *
 * A gemspec is Ruby source. It is read, never run: only the literal assignments rubygems
 * generates (`s.name = "rack".freeze`, `s.licenses = ["MIT".freeze]`) are understood, and a
 * name or version given any other way (`spec.version = Foo::VERSION`) skips the file with a
 * warning.
 */

/** A gem home's specifications, default gems included; Debian's rubygems-integration folders too. */
const GEMSPEC = /(?:^|\/)specifications\/(?:default\/)?[^/]+\.gemspec$/;
const LOCKFILE = /(?:^|\/)(?:Gemfile\.lock|gems\.locked)$/;
/**
 * An installed gem's own folder (`gems/rbs-2.1.0/`, Bundler's git checkouts under
 * `bundler/gems/NAME-REVISION/`): a lockfile there is the gem's development setup, not what the
 * image runs (libruby3.1 ships gems/rbs-2.1.0/steep/Gemfile.lock).
 */
const INSIDE_INSTALLED_GEM = /(?:^|\/)(?:gems\/[^/]+-\d[^/]*|bundler\/gems\/[^/]+)\//;

/** Gem names are ASCII letters, digits, `.`, `-` and `_`. */
const GEM_NAME = /^[A-Za-z0-9._-]+$/;
/** A gem version starts with a digit; segments are letters and digits split by `.` (or `-`). */
const GEM_VERSION = /^\d[0-9A-Za-z.-]*$/;

/**
 * Several licences declared for one package let the user choose (Ruby's own gems declare
 * "Ruby" and "BSD-2-Clause": Ruby is dual-licensed), so they are joined with OR; an entry that
 * is itself an expression is parenthesised.
 */
export function licenseChoice(licenses: readonly string[]): string | undefined {
  const kept = licenses.map((license) => license.trim()).filter((license) => license !== "");
  if (kept.length <= 1) return kept[0];
  return kept
    .map((license) => (/\s/.test(license) && !/^\(.*\)$/.test(license) ? `(${license})` : license))
    .join(" OR ");
}

function gemPackage(
  name: string,
  version: string,
  options: { platform?: string; vcsUrl?: string; registry: boolean },
): ExtractedPackage | undefined {
  if (!GEM_NAME.test(name) || !GEM_VERSION.test(version)) return undefined;
  const qualifiers: Record<string, string> = {};
  // The purl's default platform is "ruby" (MRI, plain Ruby code).
  if (options.platform && options.platform !== "ruby") qualifiers.platform = options.platform;
  if (options.vcsUrl) qualifiers.vcs_url = options.vcsUrl;
  const purl = new PackageURL(
    "gem",
    undefined,
    name,
    version,
    Object.keys(qualifiers).length > 0 ? qualifiers : undefined,
    undefined,
  ).toString();
  return { name, version, type: "gem", purl, ...(options.registry ? { ecosystem: "RubyGems" } : {}) };
}

/* ------------------------------------------------------------------------------------------ */
/* Ruby literals                                                                              */
/* ------------------------------------------------------------------------------------------ */

/** A literal value: a string, or an array of strings. */
export type RubyLiteral = string | string[];

const OPENING_TO_CLOSING: Record<string, string> = { "(": ")", "[": "]", "{": "}", "<": ">" };

/** The character a double-quoted string's backslash sequence stands for, and where it ends. */
function readEscape(text: string, at: number): { char: string; end: number } {
  const next = text[at] ?? "";
  const simple: Record<string, string> = {
    n: "\n",
    t: "\t",
    r: "\r",
    s: " ",
    e: "\u001b",
    a: "\u0007",
    b: "\b",
    f: "\f",
    v: "\v",
  };
  if (next in simple) return { char: simple[next] as string, end: at + 1 };
  if (next === "\n") return { char: "", end: at + 1 };
  if (next === "u") {
    if (text[at + 1] === "{") {
      const close = text.indexOf("}", at + 2);
      if (close > 0) {
        const codes = text
          .slice(at + 2, close)
          .trim()
          .split(/\s+/)
          .map((hex) => Number.parseInt(hex, 16));
        if (codes.every((code) => Number.isInteger(code) && code <= 0x10ffff))
          return { char: String.fromCodePoint(...codes), end: close + 1 };
      }
    }
    const hex = /^[0-9A-Fa-f]{4}/.exec(text.slice(at + 1, at + 5));
    if (hex) return { char: String.fromCharCode(Number.parseInt(hex[0], 16)), end: at + 5 };
  }
  if (next === "x") {
    const hex = /^[0-9A-Fa-f]{1,2}/.exec(text.slice(at + 1, at + 3));
    if (hex) return { char: String.fromCharCode(Number.parseInt(hex[0], 16)), end: at + 1 + hex[0].length };
  }
  const octal = /^[0-7]{1,3}/.exec(text.slice(at, at + 3));
  if (octal) return { char: String.fromCharCode(Number.parseInt(octal[0], 8)), end: at + octal[0].length };
  // Any other escaped character stands for itself (\" \\ \#).
  const char = String.fromCodePoint(text.codePointAt(at) ?? 0);
  return { char, end: at + char.length };
}

/**
 * The body of a string that runs from `start` up to its closing delimiter (brackets nest), or
 * undefined where it is unterminated or interpolates (`#{...}`: evaluating that would mean
 * running the file).
 */
function readDelimited(
  text: string,
  start: number,
  open: string,
  close: string,
  escapes: "all" | "delimiter",
): { body: string; end: number } | undefined {
  let body = "";
  let depth = 0;
  let at = start;
  while (at < text.length) {
    const char = text[at] as string;
    if (char === "\\") {
      if (escapes === "all") {
        const escaped = readEscape(text, at + 1);
        body += escaped.char;
        at = escaped.end;
      } else {
        const next = text[at + 1] ?? "";
        // In single-quoted strings only the delimiters and the backslash itself are escaped.
        body += next === "\\" || next === close || next === open ? next : `\\${next}`;
        at += 2;
      }
      continue;
    }
    if (escapes === "all" && char === "#" && /[{@$]/.test(text[at + 1] ?? "")) return undefined;
    if (char === close && depth === 0) return { body, end: at + 1 };
    if (open !== close) {
      if (char === open) depth++;
      else if (char === close) depth--;
    }
    body += char;
    at++;
  }
  return undefined;
}

function skipBlanks(text: string, at: number, acrossLines: boolean): number {
  let position = at;
  for (;;) {
    const char = text[position];
    if (char === " " || char === "\t" || char === "\r" || (acrossLines && char === "\n")) position++;
    else if (acrossLines && char === "#") {
      const newline = text.indexOf("\n", position);
      position = newline < 0 ? text.length : newline;
    } else return position;
  }
}

/** A string literal, `%` literal or array of them at `at`, with any `.freeze` after it. */
export function readRubyLiteral(text: string, at: number): { value: RubyLiteral; end: number } | undefined {
  const start = skipBlanks(text, at, false);
  const char = text[start];
  let result: { value: RubyLiteral; end: number } | undefined;
  if (char === '"' || char === "'") {
    const string = readDelimited(text, start + 1, char, char, char === '"' ? "all" : "delimiter");
    result = string && { value: string.body, end: string.end };
  } else if (char === "%") {
    // %q(...) is single-quoted, %Q(...) and %(...) double-quoted, %w[...] and %W[...] words.
    const letter = text[start + 1] ?? "";
    const kind = /^[qQwW]$/.test(letter) ? letter : "Q";
    const openAt = kind === letter ? start + 2 : start + 1;
    const open = text[openAt] ?? "";
    if (open === "" || /[A-Za-z0-9\s]/.test(open)) return undefined;
    const close = OPENING_TO_CLOSING[open] ?? open;
    const string = readDelimited(
      text,
      openAt + 1,
      open,
      close,
      kind === "q" || kind === "w" ? "delimiter" : "all",
    );
    if (!string) return undefined;
    const words = string.body.split(/\s+/).filter((word) => word !== "");
    result = { value: kind === "w" || kind === "W" ? words : string.body, end: string.end };
  } else if (char === "[") {
    const items: string[] = [];
    let position = skipBlanks(text, start + 1, true);
    while (text[position] !== "]") {
      const item = readRubyLiteral(text, position);
      if (!item || typeof item.value !== "string") return undefined;
      items.push(item.value);
      position = skipBlanks(text, item.end, true);
      if (text[position] === ",") position = skipBlanks(text, position + 1, true);
      else if (text[position] !== "]") return undefined;
    }
    result = { value: items, end: position + 1 };
  }
  if (!result) return undefined;
  const frozen = /^\.freeze\b/.exec(text.slice(result.end, result.end + 8));
  return frozen ? { value: result.value, end: result.end + frozen[0].length } : result;
}

/* ------------------------------------------------------------------------------------------ */
/* Gemspecs                                                                                   */
/* ------------------------------------------------------------------------------------------ */

type GemspecAttribute = "name" | "version" | "licenses" | "platform";

export interface GemspecFields {
  /** The block's variable (`s` in `Gem::Specification.new do |s|`); undefined if there is no block. */
  variable?: string;
  /** Each attribute's literal value, where its last assignment is a literal (`license` sets `licenses`). */
  values: Partial<Record<GemspecAttribute, RubyLiteral>>;
  /** The source of each attribute whose last assignment is not a literal, for the warning. */
  unreadable: Partial<Record<GemspecAttribute, string>>;
}

/** Reads the literal assignments of a gemspec's name, version, license(s) and platform. */
export function readGemspec(text: string): GemspecFields {
  const fields: GemspecFields = { values: {}, unreadable: {} };
  const block = /Gem::Specification\.new\s*(?:\(\s*\))?\s*(?:do|\{)\s*\|\s*([A-Za-z_]\w*)\s*\|/.exec(text);
  if (!block) return fields;
  const variable = block[1] as string;
  fields.variable = variable;
  const body = text.slice(block.index + block[0].length);
  const endOfLine = (at: number) => (body.indexOf("\n", at) < 0 ? body.length : body.indexOf("\n", at));
  const assignment = new RegExp(
    `^[ \\t]*${variable}\\.(name|version|licenses?|platform)[ \\t]*=(?![=~>])`,
    "gm",
  );
  // Ruby runs the assignments in order, so the last one of an attribute wins.
  for (const match of body.matchAll(assignment)) {
    const attribute: GemspecAttribute = match[1] === "license" ? "licenses" : (match[1] as GemspecAttribute);
    const valueAt = match.index + match[0].length;
    const literal = readRubyLiteral(body, valueAt);
    // After the value only a comment or the end of the statement may follow: `"1.0" + suffix`
    // is an expression, not a literal.
    const statementEnds =
      literal !== undefined && /^[ \t\r]*(?:[;#].*)?$/.test(body.slice(literal.end, endOfLine(literal.end)));
    if (literal && statementEnds && (attribute === "licenses" || typeof literal.value === "string")) {
      fields.values[attribute] = literal.value;
      delete fields.unreadable[attribute];
    } else {
      delete fields.values[attribute];
      fields.unreadable[attribute] = body.slice(valueAt, endOfLine(valueAt)).trim();
    }
  }
  return fields;
}

export const gemspecExtractor: Extractor = {
  name: "ruby-gemspec",
  version: 1,
  pathHint: { suffixes: [".gemspec"] },
  wants: (path) => GEMSPEC.test(path),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const { variable, values, unreadable } = readGemspec(content.toString("utf8"));
    if (!variable) {
      context.warn("no Gem::Specification.new block; skipped");
      return [];
    }
    for (const attribute of ["name", "version"] as const) {
      if (typeof values[attribute] === "string") continue;
      const source = unreadable[attribute];
      context.warn(
        source === undefined
          ? `gemspec sets no ${attribute}; skipped`
          : `gemspec ${attribute} is not a literal (${JSON.stringify(source.slice(0, 80))}); skipped`,
      );
      return [];
    }
    const name = values.name as string;
    const version = values.version as string;
    const pkg = gemPackage(name, version, {
      ...(typeof values.platform === "string" ? { platform: values.platform } : {}),
      registry: true,
    });
    if (!pkg) {
      context.warn(
        `gemspec name ${JSON.stringify(name.slice(0, 80))} with version ${JSON.stringify(version.slice(0, 80))} is not a gem; skipped`,
      );
      return [];
    }
    // `licenses = "MIT"` is taken as ["MIT"], as rubygems does.
    const declared = values.licenses;
    const license = licenseChoice(
      declared === undefined ? [] : typeof declared === "string" ? [declared] : declared,
    );
    return [license ? { ...pkg, license } : pkg];
  },
};

/* ------------------------------------------------------------------------------------------ */
/* Gemfile.lock                                                                               */
/* ------------------------------------------------------------------------------------------ */

/**
 * The sections that name no gems; any other unknown section is reported. BUNDLED WITH names the
 * Bundler that wrote the file, not a dependency: the Bundler that runs is an installed gem and
 * is found through its gemspec.
 */
const OTHER_SECTIONS = new Set(["PLATFORMS", "DEPENDENCIES", "RUBY VERSION", "BUNDLED WITH", "CHECKSUMS"]);
/** The sections of gem sources: GEM is a gem server, the others a checkout, folder or plugin. */
const SOURCE_SECTIONS = new Set(["GEM", "GIT", "PATH", "PLUGIN SOURCE"]);
/** A locked gem: four spaces, the name, and the version with any platform after a `-`. */
const LOCKED_SPEC = /^ {4}(\S+) \(([^-()\s]+)(?:-([^()\s]+))?\)$/;

interface LockedGem {
  name: string;
  version: string;
  platform?: string;
  section: string;
  remote?: string;
  revision?: string;
}

/**
 * Bundler's lockfile: sections at column 0; in a source section, `remote:`/`revision:` and
 * `specs:` at two spaces, each locked gem at four (`nokogiri (1.13.10-x86_64-linux)`: version,
 * then the platform it was built for) and its dependencies at six.
 */
export function readGemfileLock(text: string, warn: (problem: string) => void): LockedGem[] {
  const gems: LockedGem[] = [];
  let section: string | undefined;
  let remote: string | undefined;
  let revision: string | undefined;
  let inSpecs = false;
  const reportedSections = new Set<string>();
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "") return;
    if (!line.startsWith(" ")) {
      section = line.trim();
      remote = undefined;
      revision = undefined;
      inSpecs = false;
      return;
    }
    if (section === undefined || !SOURCE_SECTIONS.has(section)) {
      if (section !== undefined && !OTHER_SECTIONS.has(section) && !reportedSections.has(section)) {
        reportedSections.add(section);
        warn(`unknown section ${JSON.stringify(section.slice(0, 80))}; its lines are skipped`);
      }
      return;
    }
    const option = /^ {2}(\S[^:]*):(?: (.*))?$/.exec(line);
    if (option) {
      const [, key, value] = option;
      if (key === "remote") remote = value?.trim();
      else if (key === "revision") revision = value?.trim();
      inSpecs = key === "specs";
      return;
    }
    // Dependencies of a locked gem (six spaces) are requirements, not versions.
    if (!inSpecs || line.startsWith("      ")) return;
    const spec = LOCKED_SPEC.exec(line);
    if (!spec) {
      warn(`line ${index + 1} is not a locked gem (${JSON.stringify(line.trim().slice(0, 80))}); skipped`);
      return;
    }
    gems.push({
      name: spec[1] as string,
      version: spec[2] as string,
      ...(spec[3] !== undefined ? { platform: spec[3] } : {}),
      section,
      ...(remote !== undefined ? { remote } : {}),
      ...(revision !== undefined ? { revision } : {}),
    });
  });
  return gems;
}

export const gemfileLockExtractor: Extractor = {
  name: "ruby-gemfile-lock",
  version: 1,
  pathHint: { fileNames: ["Gemfile.lock", "gems.locked"] },
  wants: (path) => LOCKFILE.test(path) && !INSIDE_INSTALLED_GEM.test(path),
  extract(_path: string, content: Buffer, context: ExtractContext): ExtractedPackage[] {
    const locked = readGemfileLock(content.toString("utf8"), context.warn);
    // One version may be locked for several platforms (nokogiri for x86_64-linux and
    // arm64-darwin); the image holds one of them, so the version is listed once, with the
    // platform only where the lockfile locks just one.
    const byRelease = new Map<string, LockedGem[]>();
    for (const gem of locked) {
      const key = `${gem.section}\u0000${gem.name}\u0000${gem.version}`;
      byRelease.set(key, [...(byRelease.get(key) ?? []), gem]);
    }
    const packages: ExtractedPackage[] = [];
    for (const variants of byRelease.values()) {
      const gem = variants[0] as LockedGem;
      const platform = variants.length === 1 ? gem.platform : undefined;
      // A gem from a git checkout or a folder is not the rubygems.org release of that version
      // (a fork, a branch, the app itself), so RubyGems advisories do not describe it: it is
      // listed, without an ecosystem, and never matched.
      const registry = gem.section === "GEM";
      const vcsUrl =
        gem.section === "GIT" && gem.remote
          ? `git+${gem.remote}${gem.revision ? `@${gem.revision}` : ""}`
          : undefined;
      const pkg = gemPackage(gem.name, gem.version, {
        ...(platform ? { platform } : {}),
        ...(vcsUrl ? { vcsUrl } : {}),
        registry,
      });
      if (pkg) packages.push(pkg);
      else
        context.warn(
          `${JSON.stringify(gem.name.slice(0, 80))} (${JSON.stringify(gem.version.slice(0, 80))}) is not a gem; skipped`,
        );
    }
    return packages;
  },
};
