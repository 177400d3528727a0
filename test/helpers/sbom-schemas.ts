/**
 * Validators for the SBOMs layerwatch writes.
 *
 * CycloneDX 1.6: the official JSON schema that @cyclonedx/cyclonedx-library ships (there is no
 * "strict" variant for 1.6, so the normal one), with the two schemas it refers to.
 *
 * SPDX 2.3: no npm or Debian package ships the official JSON schema (spdx-schema.json of
 * spdx/spdx-spec), so `spdx23Problems` is a STRUCTURAL CHECK WRITTEN HERE FROM THE SPDX 2.3
 * SPECIFICATION, not the official schema: required fields, the closed sets of field names, the
 * enumerations (checksum algorithms, external reference categories, package purposes,
 * relationship types, annotation types), SPDXID and LicenseRef syntax, and what a schema cannot
 * say: identifiers unique, relationships naming elements that exist, license expressions that
 * parse, every LicenseRef declared.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import formatsPlugin from "ajv-formats";
import parseSpdxExpression from "spdx-expression-parse";

// ajv-formats is CommonJS: under NodeNext its default import is the module object, whose
// `default` is the plugin function.
const addFormats = (formatsPlugin as unknown as { default: typeof formatsPlugin.default }).default;

const schemaDir = join(
  dirname(createRequire(import.meta.url).resolve("@cyclonedx/cyclonedx-library/package.json")),
  "res/schema",
);

function readSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(schemaDir, name), "utf8")) as Record<string, unknown>;
}

/**
 * The CycloneDX 1.6 schema as ajv (draft-07) compiles it. The BOM schema refers to
 * "spdx.SNAPSHOT.schema.json" and "jsf-0.82.SNAPSHOT.schema.json" relative to its own $id, while
 * those files declare ids without ".SNAPSHOT": they are registered under the ids the refs resolve to.
 */
export function cycloneDx16Validator(): ValidateFunction {
  const bom = readSchema("bom-1.6.SNAPSHOT.schema.json");
  const base = String(bom.$id).replace(/[^/]+$/, "");
  // Strict, except that the schema lists in `required` properties its parent declares (legal
  // JSON Schema, which ajv's strictRequired would refuse).
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  addFormats(ajv);
  // CycloneDX's annotation keyword (descriptions of enum values), which asserts nothing.
  ajv.addKeyword("meta:enum");
  // Formats JSON Schema defines but ajv-formats does not implement; checked here, not skipped.
  ajv.addFormat("iri-reference", (value: string) => !/\s/.test(value) && canParseUrl(value));
  ajv.addFormat("idn-email", /^[^\s@]+@[^\s@]+$/);
  for (const name of ["spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"])
    ajv.addSchema({ ...readSchema(name), $id: `${base}${name}` });
  return ajv.compile(bom);
}

function canParseUrl(value: string): boolean {
  try {
    new URL(value, "http://relative.invalid/");
    return true;
  } catch {
    return false;
  }
}

// ---- SPDX 2.3: a structural check from the specification (see the header) ----

const DOCUMENT_FIELDS = new Set([
  "SPDXID",
  "spdxVersion",
  "dataLicense",
  "name",
  "documentNamespace",
  "creationInfo",
  "externalDocumentRefs",
  "comment",
  "annotations",
  "revieweds",
  "hasExtractedLicensingInfos",
  "documentDescribes",
  "packages",
  "files",
  "snippets",
  "relationships",
]);

/** Package fields of SPDX 2.3 clause 7, as the JSON format names them. */
const PACKAGE_FIELDS = new Set([
  "SPDXID",
  "name",
  "versionInfo",
  "packageFileName",
  "supplier",
  "originator",
  "downloadLocation",
  "filesAnalyzed",
  "packageVerificationCode",
  "checksums",
  "homepage",
  "sourceInfo",
  "licenseConcluded",
  "licenseInfoFromFiles",
  "licenseDeclared",
  "licenseComments",
  "copyrightText",
  "summary",
  "description",
  "comment",
  "externalRefs",
  "attributionTexts",
  "primaryPackagePurpose",
  "releaseDate",
  "builtDate",
  "validUntilDate",
  "annotations",
  "hasFiles",
]);

/** Clause 7.10: the checksum algorithms. */
const CHECKSUM_ALGORITHMS = new Set([
  "SHA1",
  "SHA224",
  "SHA256",
  "SHA384",
  "SHA512",
  "SHA3-256",
  "SHA3-384",
  "SHA3-512",
  "BLAKE2b-256",
  "BLAKE2b-384",
  "BLAKE2b-512",
  "BLAKE3",
  "MD2",
  "MD4",
  "MD5",
  "MD6",
  "ADLER32",
]);

/** Hex digits each algorithm's value has (for the ones layerwatch can write). */
const CHECKSUM_LENGTHS: Record<string, number> = { SHA1: 40, SHA256: 64, SHA512: 128, MD5: 32 };

/** Clause 7.21 and annex F. */
const REFERENCE_CATEGORIES = new Set(["SECURITY", "PACKAGE-MANAGER", "PERSISTENT-ID", "OTHER"]);

/**
 * Clause 7.24. The JSON format writes the OS purpose with an underscore (the tag-value text has
 * OPERATING-SYSTEM): the JSON schema, the authority for JSON, lists only OPERATING_SYSTEM.
 */
const PACKAGE_PURPOSES = new Set([
  "APPLICATION",
  "FRAMEWORK",
  "LIBRARY",
  "CONTAINER",
  "OPERATING_SYSTEM",
  "DEVICE",
  "FIRMWARE",
  "SOURCE",
  "ARCHIVE",
  "FILE",
  "INSTALL",
  "OTHER",
]);

/** Clause 11.1: the relationship types. */
const RELATIONSHIP_TYPES = new Set([
  "DESCRIBES",
  "DESCRIBED_BY",
  "CONTAINS",
  "CONTAINED_BY",
  "DEPENDS_ON",
  "DEPENDENCY_OF",
  "DEPENDENCY_MANIFEST_OF",
  "BUILD_DEPENDENCY_OF",
  "DEV_DEPENDENCY_OF",
  "OPTIONAL_DEPENDENCY_OF",
  "PROVIDED_DEPENDENCY_OF",
  "TEST_DEPENDENCY_OF",
  "RUNTIME_DEPENDENCY_OF",
  "EXAMPLE_OF",
  "GENERATES",
  "GENERATED_FROM",
  "ANCESTOR_OF",
  "DESCENDANT_OF",
  "VARIANT_OF",
  "DISTRIBUTION_ARTIFACT",
  "PATCH_FOR",
  "PATCH_APPLIED",
  "COPY_OF",
  "FILE_ADDED",
  "FILE_DELETED",
  "FILE_MODIFIED",
  "EXPANDED_FROM_ARCHIVE",
  "DYNAMIC_LINK",
  "STATIC_LINK",
  "DATA_FILE_OF",
  "TEST_CASE_OF",
  "BUILD_TOOL_OF",
  "DEV_TOOL_OF",
  "TEST_OF",
  "TEST_TOOL_OF",
  "DOCUMENTATION_OF",
  "OPTIONAL_COMPONENT_OF",
  "METAFILE_OF",
  "PACKAGE_OF",
  "AMENDS",
  "PREREQUISITE_FOR",
  "HAS_PREREQUISITE",
  "REQUIREMENT_DESCRIPTION_FOR",
  "SPECIFICATION_FOR",
  "OTHER",
]);

const SPDX_ID = /^SPDXRef-[A-Za-z0-9.-]+$/;
const LICENSE_REF = /^LicenseRef-[A-Za-z0-9.-]+$/;
/** Clause 6.9: "YYYY-MM-DDThh:mm:ssZ". */
const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** Clause 6.8 / 12.3: "Person: ...", "Organization: ...", "Tool: ...". */
const AGENT = /^(?:Person|Organization|Tool): \S/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The license ids an expression uses, or undefined when it does not parse (NONE/NOASSERTION: []). */
function licenseIdsOf(expression: string): string[] | undefined {
  if (expression === "NONE" || expression === "NOASSERTION") return [];
  try {
    const ids: string[] = [];
    const walk = (node: parseSpdxExpression.Info): void => {
      if ("conjunction" in node) {
        walk(node.left);
        walk(node.right);
      } else ids.push(node.license);
    };
    walk(parseSpdxExpression(expression));
    return ids;
  } catch {
    return undefined;
  }
}

/**
 * What is wrong with an SPDX 2.3 JSON document, as messages naming the path; [] when nothing is.
 * A structural check from the specification, not the official JSON schema (see the header).
 */
export function spdx23Problems(document: unknown): string[] {
  const problems: string[] = [];
  const problem = (path: string, text: string) => problems.push(`${path}: ${text}`);
  if (!isObject(document)) return ["document: not an object"];

  for (const key of Object.keys(document))
    if (!DOCUMENT_FIELDS.has(key)) problem(key, "not a field of an SPDX 2.3 document");
  if (document.spdxVersion !== "SPDX-2.3") problem("spdxVersion", "must be SPDX-2.3");
  if (document.dataLicense !== "CC0-1.0") problem("dataLicense", "must be CC0-1.0 (clause 6.2)");
  if (document.SPDXID !== "SPDXRef-DOCUMENT") problem("SPDXID", "must be SPDXRef-DOCUMENT (clause 6.3)");
  if (typeof document.name !== "string" || document.name === "") problem("name", "required");
  // Clause 6.5: a unique absolute URI, without a "#".
  const namespace = document.documentNamespace;
  if (
    typeof namespace !== "string" ||
    !/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(namespace) ||
    namespace.includes("#")
  )
    problem("documentNamespace", `must be an absolute URI without "#": ${String(namespace)}`);
  const creation = document.creationInfo;
  if (!isObject(creation)) problem("creationInfo", "required");
  else {
    for (const key of Object.keys(creation))
      if (!["created", "creators", "comment", "licenseListVersion"].includes(key))
        problem(`creationInfo.${key}`, "not a field of creationInfo");
    if (typeof creation.created !== "string" || !UTC_TIME.test(creation.created))
      problem("creationInfo.created", "must be YYYY-MM-DDThh:mm:ssZ");
    const creators = creation.creators;
    if (!Array.isArray(creators) || creators.length === 0) problem("creationInfo.creators", "at least one");
    else
      creators.forEach((creator, index) => {
        if (typeof creator !== "string" || !AGENT.test(creator))
          problem(
            `creationInfo.creators[${index}]`,
            `not "Person|Organization|Tool: ...": ${String(creator)}`,
          );
      });
  }

  const ids = new Set<string>(["SPDXRef-DOCUMENT"]);
  const usedLicenseRefs = new Map<string, string>();
  const checkLicense = (path: string, value: unknown) => {
    if (value === undefined) return;
    const licenses = typeof value === "string" ? licenseIdsOf(value) : undefined;
    if (!licenses) {
      problem(path, `not an SPDX license expression: ${String(value)}`);
      return;
    }
    for (const id of licenses) if (id.startsWith("LicenseRef-")) usedLicenseRefs.set(id, path);
  };
  const checkAnnotations = (path: string, annotations: unknown) => {
    if (annotations === undefined) return;
    if (!Array.isArray(annotations)) {
      problem(path, "must be an array");
      return;
    }
    annotations.forEach((annotation, index) => {
      const at = `${path}[${index}]`;
      if (!isObject(annotation)) {
        problem(at, "not an object");
        return;
      }
      for (const key of Object.keys(annotation))
        if (!["annotationDate", "annotationType", "annotator", "comment"].includes(key))
          problem(`${at}.${key}`, "not a field of an annotation");
      if (typeof annotation.annotationDate !== "string" || !UTC_TIME.test(annotation.annotationDate))
        problem(`${at}.annotationDate`, "must be YYYY-MM-DDThh:mm:ssZ");
      if (annotation.annotationType !== "OTHER" && annotation.annotationType !== "REVIEW")
        problem(`${at}.annotationType`, "must be OTHER or REVIEW");
      if (typeof annotation.annotator !== "string" || !AGENT.test(annotation.annotator))
        problem(`${at}.annotator`, "not an agent");
      if (typeof annotation.comment !== "string") problem(`${at}.comment`, "required");
    });
  };

  const packages = document.packages;
  if (!Array.isArray(packages)) problem("packages", "must be an array");
  else
    packages.forEach((pkg, index) => {
      const at = `packages[${index}]`;
      if (!isObject(pkg)) {
        problem(at, "not an object");
        return;
      }
      for (const key of Object.keys(pkg))
        if (!PACKAGE_FIELDS.has(key)) problem(`${at}.${key}`, "not a package field");
      const id = pkg.SPDXID;
      if (typeof id !== "string" || !SPDX_ID.test(id)) problem(`${at}.SPDXID`, `bad SPDXID ${String(id)}`);
      else if (ids.has(id)) problem(`${at}.SPDXID`, `${id} is not unique`);
      else ids.add(id);
      if (typeof pkg.name !== "string" || pkg.name === "") problem(`${at}.name`, "required");
      // Clause 7.7: a URL, a VCS location, NONE or NOASSERTION.
      if (typeof pkg.downloadLocation !== "string" || pkg.downloadLocation === "")
        problem(`${at}.downloadLocation`, "required");
      for (const key of ["versionInfo", "sourceInfo", "copyrightText", "description"])
        if (pkg[key] !== undefined && typeof pkg[key] !== "string")
          problem(`${at}.${key}`, "must be a string");
      // Clause 7.8/7.9: analysed files need a verification code; unanalysed packages list none.
      if (pkg.filesAnalyzed !== false && pkg.packageVerificationCode === undefined)
        problem(`${at}.filesAnalyzed`, "true (the default) requires packageVerificationCode");
      if (pkg.filesAnalyzed === false && pkg.hasFiles !== undefined)
        problem(`${at}.hasFiles`, "a package with filesAnalyzed false has no files");
      if (pkg.checksums !== undefined) {
        if (!Array.isArray(pkg.checksums)) problem(`${at}.checksums`, "must be an array");
        else
          pkg.checksums.forEach((checksum, n) => {
            const c = `${at}.checksums[${n}]`;
            if (!isObject(checksum)) {
              problem(c, "not an object");
              return;
            }
            const algorithm = String(checksum.algorithm);
            if (!CHECKSUM_ALGORITHMS.has(algorithm))
              problem(`${c}.algorithm`, `unknown algorithm ${algorithm}`);
            const length = CHECKSUM_LENGTHS[algorithm];
            const value = checksum.checksumValue;
            if (
              typeof value !== "string" ||
              !/^[0-9a-f]+$/.test(value) ||
              (length && value.length !== length)
            )
              problem(`${c}.checksumValue`, `not lower-case hex of ${algorithm}: ${String(value)}`);
          });
      }
      if (pkg.externalRefs !== undefined) {
        if (!Array.isArray(pkg.externalRefs)) problem(`${at}.externalRefs`, "must be an array");
        else
          pkg.externalRefs.forEach((ref, n) => {
            const r = `${at}.externalRefs[${n}]`;
            if (!isObject(ref)) {
              problem(r, "not an object");
              return;
            }
            if (!REFERENCE_CATEGORIES.has(String(ref.referenceCategory)))
              problem(`${r}.referenceCategory`, `unknown category ${String(ref.referenceCategory)}`);
            if (typeof ref.referenceType !== "string" || ref.referenceType === "")
              problem(`${r}.referenceType`, "required");
            // Annex F: a locator has no spaces; a purl locator is "pkg:type/...".
            if (typeof ref.referenceLocator !== "string" || /\s/.test(ref.referenceLocator))
              problem(`${r}.referenceLocator`, "required, without spaces");
            else if (
              ref.referenceType === "purl" &&
              !/^pkg:[a-z][a-z0-9.+-]*\/\S+/.test(ref.referenceLocator)
            )
              problem(`${r}.referenceLocator`, `not a purl: ${ref.referenceLocator}`);
          });
      }
      if (pkg.primaryPackagePurpose !== undefined && !PACKAGE_PURPOSES.has(String(pkg.primaryPackagePurpose)))
        problem(`${at}.primaryPackagePurpose`, `unknown purpose ${String(pkg.primaryPackagePurpose)}`);
      checkLicense(`${at}.licenseConcluded`, pkg.licenseConcluded);
      checkLicense(`${at}.licenseDeclared`, pkg.licenseDeclared);
      checkAnnotations(`${at}.annotations`, pkg.annotations);
    });
  checkAnnotations("annotations", document.annotations);

  // Clause 10: every LicenseRef used is declared once, with its text.
  const declared = new Set<string>();
  const extracted = document.hasExtractedLicensingInfos;
  if (extracted !== undefined) {
    if (!Array.isArray(extracted)) problem("hasExtractedLicensingInfos", "must be an array");
    else
      extracted.forEach((info, index) => {
        const at = `hasExtractedLicensingInfos[${index}]`;
        if (!isObject(info)) {
          problem(at, "not an object");
          return;
        }
        for (const key of Object.keys(info))
          if (!["licenseId", "extractedText", "name", "comment", "seeAlsos", "crossRefs"].includes(key))
            problem(`${at}.${key}`, "not a field of extracted licensing info");
        const id = info.licenseId;
        if (typeof id !== "string" || !LICENSE_REF.test(id))
          problem(`${at}.licenseId`, `bad id ${String(id)}`);
        else if (declared.has(id)) problem(`${at}.licenseId`, `${id} declared twice`);
        else declared.add(id);
        if (typeof info.extractedText !== "string" || info.extractedText === "")
          problem(`${at}.extractedText`, "required");
      });
  }
  for (const [id, path] of usedLicenseRefs)
    if (!declared.has(id)) problem(path, `${id} is not in hasExtractedLicensingInfos`);

  // Clause 11: relationships between elements of this document; the document DESCRIBES something.
  const relationships = document.relationships;
  let describes = 0;
  if (!Array.isArray(relationships)) problem("relationships", "must be an array");
  else
    relationships.forEach((relationship, index) => {
      const at = `relationships[${index}]`;
      if (!isObject(relationship)) {
        problem(at, "not an object");
        return;
      }
      for (const key of Object.keys(relationship))
        if (!["spdxElementId", "relatedSpdxElement", "relationshipType", "comment"].includes(key))
          problem(`${at}.${key}`, "not a field of a relationship");
      const type = String(relationship.relationshipType);
      if (!RELATIONSHIP_TYPES.has(type)) problem(`${at}.relationshipType`, `unknown type ${type}`);
      for (const end of ["spdxElementId", "relatedSpdxElement"] as const) {
        const id = String(relationship[end]);
        if (!ids.has(id) && id !== "NONE" && id !== "NOASSERTION")
          problem(`${at}.${end}`, `no element ${id}`);
      }
      if (relationship.spdxElementId === "SPDXRef-DOCUMENT" && type === "DESCRIBES") describes++;
    });
  if (describes === 0 && !Array.isArray(document.documentDescribes))
    problem("relationships", "the document DESCRIBES nothing (clause 6.11/11.1)");
  return problems;
}
