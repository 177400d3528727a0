/**
 * Reading untrusted JSON one field at a time: an SBOM is whatever some tool wrote, so every value
 * is checked for the type the reader expects, and a value of the wrong type counts as absent.
 */

export type JsonObject = Readonly<Record<string, unknown>>;

export function asObject(value: unknown): JsonObject | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The objects in an array; anything else in it is left out. */
export function objectsIn(value: unknown): JsonObject[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown): JsonObject[] => {
    const object = asObject(item);
    return object ? [object] : [];
  });
}

export function stringsIn(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}
