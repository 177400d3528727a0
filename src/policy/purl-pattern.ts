/**
 * Package URLs as patterns: an ignore entry's `package` and a VEX product both name packages by
 * purl, and both are matched against the purls of the scanned image's packages.
 *
 * A pattern is `pkg:TYPE/PATH[@VERSION][?QUALIFIERS]`, where PATH is the namespace and name
 * (`lodash`, `@babel/traverse`, `debian/openssl`). A pattern without a version matches every
 * version; each qualifier a pattern gives must be in the package's purl with that value (the
 * package may have more). In an ignore file, `*` in the type, path, version or a qualifier value
 * matches any run of characters, `/` included. Components are compared percent-decoded (so
 * `@babel` and `%40babel` are the same), the type without case, the rest exactly.
 */

/** A purl taken apart, each component percent-decoded. */
export interface PurlParts {
  type: string;
  /** Namespace and name joined by `/`. */
  path: string;
  version?: string;
  qualifiers: Map<string, string>;
  subpath?: string;
}

/** Why a text is not a purl; the caller names the file and entry it came from. */
export class PurlSyntaxError extends Error {
  override readonly name = "PurlSyntaxError";
}

function decode(component: string, what: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    throw new PurlSyntaxError(`bad percent-encoding in the ${what} ${JSON.stringify(component)}`);
  }
}

/** Parses a purl (or a pattern, whose `*` are kept as written). */
export function parsePurl(text: string): PurlParts {
  if (!/^pkg:/i.test(text)) throw new PurlSyntaxError("not a package URL: it must start with pkg:");
  // The purl spec lets slashes follow the scheme (`pkg://npm/...`) and ignores them.
  let rest = text.slice(4).replace(/^\/+/, "");
  let subpath: string | undefined;
  const hash = rest.indexOf("#");
  if (hash >= 0) {
    subpath = decode(rest.slice(hash + 1), "subpath");
    rest = rest.slice(0, hash);
  }
  const qualifiers = new Map<string, string>();
  const question = rest.indexOf("?");
  if (question >= 0) {
    for (const pair of rest.slice(question + 1).split("&")) {
      if (pair === "") continue;
      const equals = pair.indexOf("=");
      if (equals <= 0) throw new PurlSyntaxError(`qualifier ${JSON.stringify(pair)} is not key=value`);
      const value = decode(pair.slice(equals + 1), "qualifier");
      // An empty value is the same as no qualifier (purl spec).
      if (value !== "") qualifiers.set(pair.slice(0, equals).toLowerCase(), value);
    }
    rest = rest.slice(0, question);
  }
  const slash = rest.indexOf("/");
  if (slash <= 0) throw new PurlSyntaxError("no type and name: write pkg:TYPE/NAME, e.g. pkg:npm/lodash");
  const type = rest.slice(0, slash).toLowerCase();
  if (!/^[a-z0-9.+*-]+$/.test(type))
    throw new PurlSyntaxError(`type ${JSON.stringify(type)} is not a purl type`);
  const segments = rest
    .slice(slash + 1)
    .split("/")
    .filter((segment) => segment !== "");
  let last = segments.pop();
  if (last === undefined) throw new PurlSyntaxError("no name after the type");
  // The version follows the name's `@`; an `@` starting the segment belongs to the name (an npm
  // scope written without percent-encoding, `pkg:npm/@babel` on its own).
  let version: string | undefined;
  const at = last.indexOf("@");
  if (at > 0) {
    version = decode(last.slice(at + 1), "version");
    if (version === "") throw new PurlSyntaxError("an empty version after @");
    last = last.slice(0, at);
  }
  const path = [...segments, last].map((segment) => decode(segment, "name")).join("/");
  return {
    type,
    path,
    ...(version !== undefined ? { version } : {}),
    qualifiers,
    ...(subpath ? { subpath } : {}),
  };
}

/** `*` matches any run of characters; everything else matches itself. */
function globMatcher(pattern: string): (text: string) => boolean {
  if (!pattern.includes("*")) return (text) => text === pattern;
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  const regex = new RegExp(`^${source}$`, "s");
  return (text) => regex.test(text);
}

function exactMatcher(pattern: string): (text: string) => boolean {
  return (text) => text === pattern;
}

/** A pattern ready to match packages' purls. */
export interface PurlPattern {
  text: string;
  matches(purl: PurlParts): boolean;
}

/**
 * Compiles a purl pattern; `globs` makes `*` a wildcard (ignore files), otherwise it is a literal
 * character (VEX products, which the OpenVEX spec gives no wildcards). A subpath is refused: a
 * package's purl names the package, never a file inside it.
 */
export function compilePurlPattern(text: string, options: { globs: boolean }): PurlPattern {
  const parts = parsePurl(text.trim());
  if (parts.subpath !== undefined) throw new PurlSyntaxError("a subpath (#...) does not name a package");
  const matcher = options.globs ? globMatcher : exactMatcher;
  const type = matcher(parts.type);
  const path = matcher(parts.path);
  const version = parts.version === undefined ? undefined : matcher(parts.version);
  const qualifiers = [...parts.qualifiers].map(([key, value]) => ({ key, value: matcher(value) }));
  return {
    text,
    matches: (purl) =>
      type(purl.type) &&
      path(purl.path) &&
      (version === undefined || (purl.version !== undefined && version(purl.version))) &&
      qualifiers.every(({ key, value }) => {
        const actual = purl.qualifiers.get(key);
        return actual !== undefined && value(actual);
      }),
  };
}
