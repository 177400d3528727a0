import { Ajv2020 } from "ajv/dist/2020.js";
import formatsPlugin from "ajv-formats";

// ajv-formats is CommonJS: under NodeNext its default import is the module object, whose
// `default` is the plugin function.
const addFormats = (formatsPlugin as unknown as { default: typeof formatsPlugin.default }).default;

/** A strict JSON Schema 2020-12 validator with the standard formats (date-time, uri, ...). */
export function compileSchema(schema: object) {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(schema);
}
