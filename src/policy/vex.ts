import { readFile } from "node:fs/promises";
import { describeError, InputError } from "../errors.js";
import { namesAnyOf } from "./identity.js";
import {
  compilePurlPattern,
  type PurlParts,
  type PurlPattern,
  PurlSyntaxError,
  parsePurl,
} from "./purl-pattern.js";
import type { Suppression } from "./types.js";

/**
 * OpenVEX documents (`--vex FILE`, spec v0.2.0, and v0.0.1's string forms of `vulnerability` and
 * `products`): statements that a vulnerability does or does not affect a product.
 *
 * A statement applies to a finding when its vulnerability (`name` or an alias) is any id of the
 * finding's alias group and one of its products covers the finding's package:
 * - a product that is the scanned image: a `pkg:oci` purl whose version is the image's manifest
 *   or config digest (`pkg:oci/app@sha256:...`), or a `sha-256` hash equal to one; it covers
 *   every package, or with `subcomponents`, the packages a subcomponent's purl matches;
 * - a product that is a package purl (`@id` or `identifiers.purl`): it covers the packages it
 *   matches (purl-pattern.ts, without wildcards); with `subcomponents`, layerwatch cannot tell
 *   which package contains which, so it covers the subcomponents' packages whenever the image
 *   holds a package the product matches.
 * Of the statements that apply, the latest (its `timestamp`, else its document's; a tie goes to
 * the one given later) decides: `not_affected` and `fixed` suppress the finding, `affected` and
 * `under_investigation` leave it counting, even over an earlier `not_affected`.
 */

export const vexStatuses = ["not_affected", "affected", "fixed", "under_investigation"] as const;
export type VexStatus = (typeof vexStatuses)[number];

/** The VEX working group's justification labels for `not_affected`. */
export const vexJustifications = [
  "component_not_present",
  "vulnerable_code_not_present",
  "vulnerable_code_not_in_execute_path",
  "vulnerable_code_cannot_be_controlled_by_adversary",
  "inline_mitigations_already_exist",
] as const;

interface VexComponent {
  purls: Array<{ parts: PurlParts; pattern: PurlPattern }>;
  /** `sha-256` hashes, lower-case hex. */
  sha256: string[];
}

interface VexProduct extends VexComponent {
  subcomponents: VexComponent[];
}

export interface VexStatement {
  /** The document, as named with --vex. */
  source: string;
  /** Counting from 1 within its document. */
  index: number;
  /** Position among every statement of every document, in the order given: breaks timestamp ties. */
  order: number;
  /** The vulnerability's name and aliases. */
  names: string[];
  products: VexProduct[];
  status: VexStatus;
  justification?: string;
  impactStatement?: string;
  statusNotes?: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface VexDocument {
  path: string;
  statements: VexStatement[];
}

/** What a statement is matched against: the scanned image and its packages. */
export interface VexImage {
  /** The image's manifest and config digests (`sha256:...`). */
  digests: string[];
  packagePurls: PurlParts[];
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

function parseTimestamp(value: unknown, fail: (problem: string) => never, what: string): number | undefined {
  if (value === undefined) return undefined;
  const time = typeof value === "string" && RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) fail(`${what} ${JSON.stringify(value)} is not an RFC 3339 date-time`);
  return time;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function parseComponent(value: unknown, fail: (problem: string) => never, what: string): VexComponent {
  const texts: string[] = [];
  const sha256: string[] = [];
  if (typeof value === "string") {
    texts.push(value);
  } else if (isObject(value)) {
    const id = value["@id"];
    if (id !== undefined && typeof id !== "string") fail(`${what}: @id must be a string`);
    if (typeof id === "string" && /^pkg:/i.test(id)) texts.push(id);
    const identifiers = value.identifiers;
    if (identifiers !== undefined) {
      if (!isObject(identifiers)) fail(`${what}: identifiers must be an object`);
      const purl = (identifiers as Record<string, unknown>).purl;
      if (purl !== undefined && typeof purl !== "string") fail(`${what}: identifiers.purl must be a string`);
      if (typeof purl === "string" && !texts.includes(purl)) texts.push(purl);
    }
    const hashes = value.hashes;
    if (hashes !== undefined) {
      if (!isObject(hashes)) fail(`${what}: hashes must be an object`);
      const hash = (hashes as Record<string, unknown>)["sha-256"];
      if (typeof hash === "string") sha256.push(hash.toLowerCase());
    }
  } else {
    fail(`${what} must be an object or a purl`);
  }
  const purls = texts.map((text) => {
    try {
      return { parts: parsePurl(text), pattern: compilePurlPattern(text, { globs: false }) };
    } catch (error) {
      if (error instanceof PurlSyntaxError) return fail(`${what}: ${text}: ${error.message}`);
      throw error;
    }
  });
  return { purls, sha256 };
}

function parseStatement(
  value: unknown,
  index: number,
  documentTime: number | undefined,
  path: string,
): Omit<VexStatement, "order"> {
  let label = `statement ${index}`;
  const fail = (problem: string): never => {
    throw new InputError(`--vex ${path}: ${label}: ${problem}`);
  };
  if (!isObject(value)) return fail("not an object");
  const vulnerability = value.vulnerability;
  let names: string[];
  if (typeof vulnerability === "string" && vulnerability.trim() !== "") {
    names = [vulnerability];
  } else if (
    isObject(vulnerability) &&
    typeof vulnerability.name === "string" &&
    vulnerability.name.trim() !== ""
  ) {
    const aliases = vulnerability.aliases ?? [];
    if (!Array.isArray(aliases) || aliases.some((alias) => typeof alias !== "string")) {
      fail("vulnerability.aliases must be a list of ids");
    }
    names = [vulnerability.name, ...(aliases as string[])];
  } else {
    return fail("vulnerability.name is required");
  }
  label = `statement ${index} (${names[0]})`;
  const status = value.status;
  if (typeof status !== "string" || !(vexStatuses as readonly string[]).includes(status)) {
    fail(`status ${JSON.stringify(status)}: use one of ${vexStatuses.join(", ")}`);
  }
  const justification = value.justification;
  if (
    justification !== undefined &&
    (typeof justification !== "string" || !(vexJustifications as readonly string[]).includes(justification))
  ) {
    fail(`justification ${JSON.stringify(justification)}: use one of ${vexJustifications.join(", ")}`);
  }
  for (const key of ["impact_statement", "status_notes"]) {
    if (value[key] !== undefined && typeof value[key] !== "string") fail(`${key} must be a string`);
  }
  const impactStatement = value.impact_statement as string | undefined;
  if (status === "not_affected" && justification === undefined && !impactStatement) {
    fail("a not_affected statement needs a justification or an impact_statement");
  }
  const products = value.products;
  if (!Array.isArray(products) || products.length === 0) fail("products must list at least one product");
  const parsedProducts = (products as unknown[]).map((product, i) => {
    const what = `product ${i + 1}`;
    const component = parseComponent(product, fail, what);
    const subcomponents = isObject(product) ? product.subcomponents : undefined;
    if (subcomponents !== undefined && !Array.isArray(subcomponents))
      fail(`${what}: subcomponents must be a list`);
    return {
      ...component,
      subcomponents: ((subcomponents as unknown[] | undefined) ?? []).map((sub, j) =>
        parseComponent(sub, fail, `${what} subcomponent ${j + 1}`),
      ),
    };
  });
  const timestamp = parseTimestamp(value.timestamp, fail, "timestamp") ?? documentTime;
  if (timestamp === undefined) fail("no timestamp, and the document has none");
  return {
    source: path,
    index,
    names,
    products: parsedProducts,
    status: status as VexStatus,
    ...(justification !== undefined ? { justification: justification as string } : {}),
    ...(impactStatement ? { impactStatement } : {}),
    ...(typeof value.status_notes === "string" && value.status_notes
      ? { statusNotes: value.status_notes }
      : {}),
    timestamp: timestamp as number,
  };
}

/**
 * Reads an OpenVEX document. `firstOrder` numbers its statements after those of the documents
 * given before it. Every problem is an InputError naming the file and the statement.
 */
export function parseVex(text: string, path: string, firstOrder = 0): VexDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`--vex ${path}: not JSON: ${describeError(error)}`);
  }
  const fail = (problem: string): never => {
    throw new InputError(`--vex ${path}: ${problem}`);
  };
  if (!isObject(json)) return fail("not an OpenVEX document (expected a JSON object)");
  const context = json["@context"];
  if (typeof context !== "string" || !context.startsWith("https://openvex.dev/ns")) {
    fail(
      `not an OpenVEX document (@context ${JSON.stringify(context)}, expected https://openvex.dev/ns/...)`,
    );
  }
  const documentTime = parseTimestamp(json.timestamp, fail, "timestamp");
  if (!Array.isArray(json.statements)) return fail("statements must be a list");
  return {
    path,
    statements: json.statements.map((statement, i) => ({
      ...parseStatement(statement, i + 1, documentTime, path),
      order: firstOrder + i,
    })),
  };
}

/** Reads the --vex documents in the order given. */
export async function loadVexDocuments(paths: readonly string[]): Promise<VexDocument[]> {
  const documents: VexDocument[] = [];
  let order = 0;
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new InputError(`--vex ${path}: ${describeError(error)}`);
    }
    const document = parseVex(text, path, order);
    order += document.statements.length;
    documents.push(document);
  }
  return documents;
}

function isTheImage(component: VexComponent, image: VexImage): boolean {
  return (
    component.purls.some(
      ({ parts }) =>
        parts.type === "oci" && parts.version !== undefined && image.digests.includes(parts.version),
    ) || component.sha256.some((hex) => image.digests.includes(`sha256:${hex}`))
  );
}

function matchesPackage(component: VexComponent, purl: PurlParts | undefined): boolean {
  return purl !== undefined && component.purls.some(({ pattern }) => pattern.matches(purl));
}

function covers(product: VexProduct, purl: PurlParts | undefined, image: VexImage): boolean {
  const isImage = isTheImage(product, image);
  if (product.subcomponents.length === 0) return isImage || matchesPackage(product, purl);
  const present = isImage || image.packagePurls.some((other) => matchesPackage(product, other));
  return present && product.subcomponents.some((sub) => matchesPackage(sub, purl));
}

/** The statement that decides a finding's VEX status: the latest that applies, if any does. */
export function decidingStatement(
  documents: readonly VexDocument[],
  ids: ReadonlySet<string>,
  /** Undefined for a package whose purl could not be read: only statements about the whole image apply. */
  purl: PurlParts | undefined,
  image: VexImage,
): VexStatement | undefined {
  let latest: VexStatement | undefined;
  for (const document of documents) {
    for (const statement of document.statements) {
      if (!namesAnyOf(statement.names, ids)) continue;
      if (!statement.products.some((product) => covers(product, purl, image))) continue;
      if (
        latest === undefined ||
        statement.timestamp > latest.timestamp ||
        (statement.timestamp === latest.timestamp && statement.order > latest.order)
      ) {
        latest = statement;
      }
    }
  }
  return latest;
}

/** The suppression a deciding statement makes: only `not_affected` and `fixed` suppress. */
export function vexSuppression(statement: VexStatement | undefined): Suppression | undefined {
  if (statement === undefined) return undefined;
  if (statement.status !== "not_affected" && statement.status !== "fixed") return undefined;
  const label = statement.justification
    ? `${statement.status} (${statement.justification})`
    : statement.status;
  return {
    by: "vex",
    reason: statement.impactStatement ?? statement.statusNotes ?? label,
    source: statement.source,
    entry: statement.index,
    status: statement.status,
    ...(statement.justification ? { justification: statement.justification } : {}),
  };
}
