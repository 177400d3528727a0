import {
  type DescribedElement,
  propertyMap,
  type SbomDocument,
  type SbomEntry,
  subjectAndOs,
} from "./entry.js";
import { asObject, asString, type JsonObject, objectsIn } from "./json.js";

/**
 * CycloneDX JSON (spec 1.2 to 1.7: the component model the reader uses, name, group, version,
 * purl, licenses, hashes and properties, is the same in all of them). Components nest; every
 * level is read. The operating-system component names the release; components that are not
 * packages (container, file, device, data...) are left out unless they carry a purl.
 */

export const cycloneDxSpecVersions: readonly string[] = ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"];

/** Component types that stand for a package even when a tool gave them no purl. */
const packageTypes: ReadonlySet<string> = new Set(["library", "framework", "application"]);
/** Component types that are never packages, whatever they carry. */
const notPackages: ReadonlySet<string> = new Set(["operating-system", "container"]);

function properties(component: JsonObject): Map<string, string[]> {
  return propertyMap(
    objectsIn(component.properties).flatMap((property): Array<[string, string]> => {
      const name = asString(property.name);
      return name ? [[name, asString(property.value) ?? ""]] : [];
    }),
  );
}

/**
 * The declared license as the component gives it: its expression, or its licenses' ids or names.
 * Several entries all apply, so they are joined with AND (compound parts in parentheses).
 */
function license(component: JsonObject): string | undefined {
  const parts = objectsIn(component.licenses).flatMap((choice) => {
    const expression = asString(choice.expression);
    if (expression) return [expression];
    const licence = asObject(choice.license);
    const text = asString(licence?.id) ?? asString(licence?.name);
    return text ? [text] : [];
  });
  if (parts.length <= 1) return parts[0];
  return parts.map((part) => (/\s/.test(part) ? `(${part})` : part)).join(" AND ");
}

function sha1(component: JsonObject): string | undefined {
  const hash = objectsIn(component.hashes).find((h) => asString(h.alg)?.toUpperCase() === "SHA-1");
  return asString(hash?.content)?.toLowerCase();
}

function entryOf(component: JsonObject): SbomEntry {
  const name = asString(component.name) ?? "";
  const group = asString(component.group) ?? "";
  const version = asString(component.version);
  const purl = asString(component.purl);
  const declared = license(component);
  const hash = sha1(component);
  return {
    label: asString(component["bom-ref"]) ?? `${name}${version ? ` ${version}` : ""}`,
    ...(purl ? { purl } : {}),
    // npm scopes, Maven groupIds and Go namespaces may stand in `group`; each join is a candidate.
    names: group ? [name, `${group}/${name}`, `${group}:${name}`] : [name],
    ...(version ? { version } : {}),
    ...(declared ? { license: declared } : {}),
    ...(hash ? { sha1: hash } : {}),
    properties: properties(component),
  };
}

function describedElement(component: JsonObject | undefined): DescribedElement | undefined {
  return (
    component && {
      name: asString(component.name),
      version: asString(component.version),
      properties: properties(component),
    }
  );
}

/** Every component, nested ones included, depth first in document order. */
function allComponents(components: unknown): JsonObject[] {
  return objectsIn(components).flatMap((component) => [component, ...allComponents(component.components)]);
}

export function readCycloneDx(document: JsonObject, specVersion: string): SbomDocument {
  const subject = asObject(asObject(document.metadata)?.component);
  const components = allComponents(document.components);
  const os = components.find((component) => component.type === "operating-system");
  const entries = components
    .filter((component) => {
      const type = asString(component.type) ?? "library";
      if (notPackages.has(type)) return false;
      return packageTypes.has(type) || asString(component.purl) !== undefined;
    })
    .map(entryOf);
  return {
    format: "cyclonedx",
    specVersion,
    ...subjectAndOs(describedElement(subject), describedElement(os)),
    entries,
  };
}
