import { InputError } from "../../errors.js";
import { asObject, asString, type JsonObject } from "./json.js";

/**
 * SBOMs often travel as attestations: an in-toto statement whose predicate is the SBOM (cosign
 * attest, docker buildx --sbom, which both run Syft), possibly inside a DSSE envelope whose
 * payload is the statement in base64 (what cosign stores and downloads). The reader takes the SBOM
 * out of either; a signature is not checked, which is the attestation tooling's job.
 */

const IN_TOTO_STATEMENT = /^https:\/\/in-toto\.io\/Statement\/v\d/;
const IN_TOTO_PAYLOAD = "application/vnd.in-toto+json";

/** The statement a DSSE envelope carries, or the document itself when it is no envelope. */
function fromEnvelope(document: JsonObject, subject: string): JsonObject {
  const payload = asString(document.payload);
  if (asString(document.payloadType) !== IN_TOTO_PAYLOAD || payload === undefined) return document;
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(payload, "base64").toString("utf8"));
  } catch (error) {
    throw new InputError(`${subject}: the attestation's payload is not JSON (${(error as Error).message})`);
  }
  const object = asObject(statement);
  if (!object) throw new InputError(`${subject}: the attestation's payload is not an in-toto statement`);
  return object;
}

/**
 * The SBOM an attestation carries, or the document itself when it is not an attestation. An
 * attestation of something else (provenance, a vulnerability scan) is an InputError naming its
 * predicate type.
 */
export function unwrapAttestation(document: JsonObject, subject: string): JsonObject {
  const statement = fromEnvelope(document, subject);
  if (!IN_TOTO_STATEMENT.test(asString(statement._type) ?? "")) return statement;
  const predicateType = asString(statement.predicateType) ?? "(none)";
  const predicate = asObject(statement.predicate);
  // What looks like an SBOM goes on to the format checks, which say what is wrong with it.
  const sbomLike =
    predicate && ("bomFormat" in predicate || "spdxVersion" in predicate || "@context" in predicate);
  if (!predicate || !sbomLike)
    throw new InputError(
      `${subject}: an in-toto attestation of predicate type ${predicateType}, not of a CycloneDX or SPDX SBOM`,
    );
  return predicate;
}
