/**
 * Secret detection shared by the Dockerfile and image checks: NAME=value assignments (ENV, ARG,
 * the config's Env, build args in history), known token formats in any text, and file names that
 * hold credentials. Every match carries the secret masked; the raw value never leaves this file.
 */

export interface SecretMatch {
  /** What was found, e.g. "GitHub token", "AWS access key id", "password". */
  kind: string;
  /** The secret with all but a short prefix replaced by `*` (maskSecret). */
  masked: string;
}

/**
 * Keeps at most the first 4 characters, and never more than a quarter of the value, so a short
 * password shows nothing; every other character becomes `*`.
 */
export function maskSecret(value: string): string {
  const chars = Array.from(value);
  const shown = Math.min(4, Math.floor(chars.length / 4));
  return chars.slice(0, shown).join("") + "*".repeat(chars.length - shown);
}

/** A PEM block's body is long; the mask shows the start of it and an ellipsis, not 1,600 stars. */
const PEM_MASK_CHARS = 16;

interface TokenFormat {
  kind: string;
  pattern: RegExp;
  /** Which capture group is the secret (0: the whole match). */
  group?: number;
  /** Further checks a regular expression cannot say (a decoded value, a documented example). */
  accept?: (secret: string) => boolean;
}

/** Not a letter or digit on either side: a token inside a longer word is not that token. */
const START = "(?<![A-Za-z0-9])";
const END = "(?![A-Za-z0-9])";

/** AWS's documentation uses keys ending in EXAMPLE (AKIAIOSFODNN7EXAMPLE); they are not secrets. */
const notDocumentedExample = (secret: string) => !/EXAMPLE/i.test(secret);

/** A docker config "auth" is base64 of "user:password"; anything else is not a credential. */
function isBasicCredential(encoded: string): boolean {
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  // Printable text with a user and a non-empty password.
  return colon > 0 && colon < decoded.length - 1 && /^[\x20-\x7e]+$/.test(decoded);
}

const tokenFormats: TokenFormat[] = [
  {
    kind: "AWS access key id",
    pattern: new RegExp(`${START}(?:AKIA|ASIA)[A-Z0-9]{16}${END}`, "g"),
    accept: notDocumentedExample,
  },
  {
    kind: "AWS secret access key",
    pattern: /aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/gi,
    group: 1,
    accept: notDocumentedExample,
  },
  { kind: "GitHub token", pattern: new RegExp(`${START}gh[pousr]_[A-Za-z0-9]{36}${END}`, "g") },
  {
    kind: "GitHub token",
    pattern: new RegExp(`${START}github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}${END}`, "g"),
  },
  { kind: "GitLab token", pattern: new RegExp(`${START}glpat-[A-Za-z0-9_-]{20,}`, "g") },
  { kind: "Slack token", pattern: new RegExp(`${START}xox[baprs]-\\d{6,}-[A-Za-z0-9-]{10,}`, "g") },
  { kind: "Stripe live key", pattern: new RegExp(`${START}sk_live_[A-Za-z0-9]{24,}${END}`, "g") },
  { kind: "npm token", pattern: new RegExp(`${START}npm_[A-Za-z0-9]{36}${END}`, "g") },
  {
    // .npmrc: `//registry.npmjs.org/:_authToken=VALUE`; `${NPM_TOKEN}` is a reference, not a
    // secret, and a short word (`MYTOKEN` in npm's own docs) a placeholder: npm's tokens are UUIDs
    // or `npm_` and 36 characters.
    kind: "npm token",
    pattern: /_authToken\s*=\s*["']?([A-Za-z0-9_\-.+/=]{20,})(?![^\s"'])/g,
    group: 1,
  },
  { kind: "PyPI token", pattern: new RegExp(`${START}pypi-AgE[A-Za-z0-9_-]{50,}`, "g") },
  {
    kind: "registry credential",
    pattern: /"auth"\s*:\s*"([A-Za-z0-9+/]{6,}={0,2})"/g,
    group: 1,
    accept: isBasicCredential,
  },
];

/**
 * A PEM private key: the BEGIN line, a base64 body (with its headers, for an encrypted
 * traditional key) and the END line. A text that only names the markers (a parser's source code)
 * has no body between them and is not a key.
 */
const PEM_PRIVATE_KEY =
  /-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----\r?\n((?:[A-Za-z0-9-]+: [^\r\n]*\r?\n)*\r?\n?)([A-Za-z0-9+/=\r\n]{64,}?)-----END \1-----/g;

/**
 * A Google service-account key file: JSON whose "private_key" holds a PEM block with its line
 * breaks written as `\n`.
 */
const SERVICE_ACCOUNT_KEY =
  /"private_key"\s*:\s*"-----BEGIN (?:RSA )?PRIVATE KEY-----(?:\\n)+([A-Za-z0-9+/=]{16})[A-Za-z0-9+/=\\n]{48,}-----END (?:RSA )?PRIVATE KEY-----/g;

/**
 * Cheap test for whether any format could be in the text at all: most texts (source files,
 * configs) have none of these, and are turned away by one search.
 */
const ANY_FORMAT_HINT =
  /PRIVATE KEY-----|A[KS]IA[A-Z0-9]{16}|gh[pousr]_|github_pat_|glpat-|xox[baprs]-|sk_live_|npm_[A-Za-z0-9]{36}|_authToken|pypi-AgE|"auth"|secret_?access_?key/i;

/** At most this many matches are listed for one text: a file of a thousand keys needs no thousand lines. */
const MAX_MATCHES_PER_TEXT = 20;

function pemKind(label: string): string {
  const type = label.replace(/ ?PRIVATE KEY$/, "");
  return type ? `private key (${type === "ENCRYPTED" ? "encrypted" : type})` : "private key";
}

/** Known secret formats in any text: private keys, cloud credentials, API tokens. */
export function secretsInText(text: string): SecretMatch[] {
  if (!ANY_FORMAT_HINT.test(text)) return [];
  // Each match with where it starts, so they are listed in the order the text has them.
  const found: Array<SecretMatch & { at: number }> = [];
  for (const match of text.matchAll(PEM_PRIVATE_KEY)) {
    const body = (match[3] ?? "").replace(/\s+/g, "");
    found.push({
      kind: pemKind(match[1] ?? ""),
      masked: `${maskSecret(body.slice(0, PEM_MASK_CHARS))}…`,
      at: match.index,
    });
  }
  for (const match of text.matchAll(SERVICE_ACCOUNT_KEY)) {
    found.push({
      kind: "Google service account key",
      masked: `${maskSecret(match[1] ?? "")}…`,
      at: match.index,
    });
  }
  for (const format of tokenFormats) {
    for (const match of text.matchAll(format.pattern)) {
      const secret = match[format.group ?? 0];
      if (secret === undefined || (format.accept && !format.accept(secret))) continue;
      found.push({ kind: format.kind, masked: maskSecret(secret), at: match.index });
    }
  }
  return found
    .sort((a, b) => a.at - b.at)
    .slice(0, MAX_MATCHES_PER_TEXT)
    .map(({ kind, masked }) => ({ kind, masked }));
}

/** Names whose value is a secret whatever it looks like (when it is a literal). */
const SECRET_NAME = /(?:^|_)(?:TOKEN|PASSWORD|PASSWD|SECRET|KEY|APIKEY|API_KEY|PRIVATE_KEY)$/i;
/** Names that suggest a secret: their value counts when it looks random (high entropy). */
const SECRET_ISH_NAME = /TOKEN|PASSW|PWD|SECRET|AUTH|CREDENTIAL|APIKEY|API_KEY|PRIVATE|_PASS(?:_|$)/i;
/**
 * Names that end like a secret but name something public or a pointer to one: a GPG key's
 * fingerprint (the official python image's GPG_KEY), a public key, where a secret is kept.
 */
const NOT_SECRET_NAME =
  /GPG|PGP|FINGERPRINT|KEY_?ID|KEYSERVER|KEYRING|PUBLIC|PUBLISHABLE|(?:^|_)PUB_|(?:_FILE|_PATH|_DIR|_URL|_URI|_HOST|_PORT|_USER|_USERNAME|_NAME|_ID|_TYPE|_LENGTH|_SIZE|_HEADER)$|(?:^|_)(?:CACHE|SORT|PRIMARY|PARTITION|FOREIGN|ROUTING|HASH|INDEX|LOOKUP|HOT)_?KEY$/i;

/** Whether a variable's name says its value is a secret (`NPM_TOKEN`, `DB_PASSWORD`; not `GPG_KEY`). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

/** Values that are clearly not the secret itself: placeholders, switches, pointers to one. */
const PLACEHOLDER =
  /^(?:x+|\*+|\.+|-+|_+|<[^>]*>|\[[^\]]*\]|\{\{.*\}\}|%[A-Za-z_]+%|changeme|change[_-]me|replace[_-]?me|todo|tbd|none|null|nil|undefined|empty|dummy|sample|placeholder|secret|password|passwd|token|key|test|default|unset|redacted|foo|bar)$/i;
const PLACEHOLDER_PART = /example|placeholder|changeme|^your[_-]|^my[_-]?(?:token|password|secret|key)/i;
const SWITCH = /^(?:true|false|yes|no|on|off|enabled?|disabled?|0|1)$/i;
/** A path or file name: where a secret is, not the secret (`/run/secrets/token`, `server.key`). */
const PATH_VALUE =
  /^(?:\/|\.{1,2}\/|~\/|file:|[A-Za-z]:\\)|^[\w.-]+\.(?:pem|key|crt|cer|der|p12|pfx|jks|json|ya?ml|txt|gpg|asc|pub|env)$/i;
/** A URL without a password in it (`https://vault/...`): a pointer, not a secret. */
const PLAIN_URL = /^[a-z][a-z0-9+.-]*:\/\/[^@\s]*$/i;

/** Whether a value is a reference to another variable or command output, not a literal. */
function isReference(value: string): boolean {
  return value.startsWith("$") || value.includes("${") || value.includes("$(");
}

/** Shannon entropy of the value's characters, in bits per character. */
function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Random-looking: long, several kinds of character, and close to uniformly spread. */
function isHighEntropy(value: string): boolean {
  if (value.length < 16 || /\s/.test(value)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((c) => c.test(value)).length;
  return classes >= 2 && entropy(value) >= 3.5;
}

function nameKind(name: string): string {
  const upper = name.toUpperCase();
  if (/PRIVATE_KEY$/.test(upper)) return "private key";
  if (/API_?KEY$/.test(upper)) return "API key";
  if (/PASSW(?:OR)?D$/.test(upper)) return "password";
  if (/TOKEN$/.test(upper)) return "token";
  if (/SECRET$/.test(upper)) return "secret";
  return "key";
}

/**
 * A secret in a NAME=value pair (ENV, ARG, the config's Env, a build arg in history): a literal
 * value under a secret's name, any value in a known token format, or a random-looking value under
 * a name that suggests a secret.
 */
export function secretInAssignment(name: string, value: string): SecretMatch | undefined {
  const unquoted = value.trim().replace(/^(["'])(.*)\1$/s, "$2");
  if (unquoted === "" || isReference(unquoted)) return undefined;
  const known = secretsInText(unquoted)[0];
  if (known) return known;
  if (NOT_SECRET_NAME.test(name)) return undefined;
  const obviouslyNotSecret =
    PLACEHOLDER.test(unquoted) ||
    PLACEHOLDER_PART.test(unquoted) ||
    SWITCH.test(unquoted) ||
    PATH_VALUE.test(unquoted) ||
    PLAIN_URL.test(unquoted);
  if (obviouslyNotSecret) return undefined;
  if (SECRET_NAME.test(name)) return { kind: nameKind(name), masked: maskSecret(unquoted) };
  if (SECRET_ISH_NAME.test(name) && isHighEntropy(unquoted))
    return { kind: "high-entropy value", masked: maskSecret(unquoted) };
  return undefined;
}

/** Certificates and public keys: a name there is never a secret file. */
const PUBLIC_FILE = /(?:^|\/)ssl\/certs\/|\.(?:pub|crt|cer|csr)$/i;

/**
 * The kind of credential a file's name alone says it holds, or undefined. A `*.pem` is not named
 * here: it may be a certificate, so only its content (a private key block) counts.
 */
export function isSecretFileName(path: string): string | undefined {
  const normalized = path.replace(/\\/g, "/").replace(/^\/+/, "");
  if (PUBLIC_FILE.test(normalized)) return undefined;
  const base = normalized.slice(normalized.lastIndexOf("/") + 1);
  if (base === ".env" || /^\.env\.(?!example$|sample$|template$|dist$|defaults?$)[\w.-]+$/.test(base))
    return "dotenv file";
  if (/^id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?$/.test(base)) return "SSH private key";
  if (/\.key$/i.test(base) && base.length > 4) return "private key file";
  if (base === ".npmrc") return "npm config";
  if (base === ".pypirc") return "PyPI config";
  if (base === ".git-credentials") return "git credentials";
  if (base === ".netrc" || base === "_netrc") return "netrc credentials";
  if (/(?:^|\/)\.aws\/credentials$/.test(normalized)) return "AWS credentials";
  if (/(?:^|\/)\.docker\/config\.json$/.test(normalized)) return "Docker config";
  return undefined;
}
