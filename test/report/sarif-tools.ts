/**
 * Microsoft's SARIF Multitool for Linux (npm @microsoft/sarif-multitool-linux, MIT), installed
 * from the npm registry at test time into .cache (no project dependency yet): it ships the SARIF
 * 2.1.0 JSON schema of microsoft/sarif-sdk (`sarif-2.1.0.json`, JSON Schema 2020-12; it differs
 * from OASIS's sarif-schema-2.1.0.json only in writing GUIDs as `format: uuid` and a tighter
 * language-tag pattern, neither of which layerwatch writes) and the validator whose "Gh" rules
 * are GitHub code scanning's ingestion rules (the ones GitHub's SARIF validator runs).
 */
import { chmod, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import formatsPlugin from "ajv-formats";
import { installNpmProject, RegistryUnreachable } from "../helpers/npm-install.js";
import { run } from "../helpers/tools.js";

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = (formatsPlugin as unknown as { default: typeof formatsPlugin.default }).default;

const PACKAGE = "@microsoft/sarif-multitool-linux";
const VERSION = "5.7.0";

export interface SarifTools {
  validate: ValidateFunction;
  /** The Multitool's findings on a SARIF file: rule id, level and message arguments. */
  multitool(file: string): Promise<Array<{ ruleId: string; level: string; where: string }>>;
}

/** The tools, or why they are not to be had here (a reason to skip with). */
export async function sarifTools(): Promise<SarifTools | { missing: string }> {
  if (process.platform !== "linux" || process.arch !== "x64")
    return { missing: `${PACKAGE} runs on linux-x64 only (here ${process.platform}-${process.arch})` };
  let projectDir: string;
  try {
    ({ projectDir } = await installNpmProject({ dependencies: { [PACKAGE]: VERSION } }));
  } catch (error) {
    if (error instanceof RegistryUnreachable) return { missing: `${PACKAGE}: ${error.message}` };
    throw error;
  }
  const home = join(projectDir, "node_modules", PACKAGE);
  const schema = JSON.parse(await readFile(join(home, "sarif-2.1.0.json"), "utf8")) as object;
  // Strict, except that the schema lists under `required` properties declared by the parent
  // (legal JSON Schema, which ajv's strictRequired refuses).
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  const exe = join(home, "Sarif.Multitool");
  // npm installed it with --ignore-scripts: the package's postinstall only sets this bit.
  await chmod(exe, 0o755);
  return {
    validate,
    multitool: async (file) => {
      const output = `${file}.validation.sarif`;
      await run(exe, ["validate", file, "--rule-kind", "Gh;Sarif", "-o", output, "--log", "ForceOverwrite"], {
        timeoutMs: 120_000,
        // A .NET program: no telemetry, no first-run work in the home directory.
        env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1", DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: "1" },
      });
      const log = JSON.parse(await readFile(output, "utf8")) as {
        runs: Array<{
          results?: Array<{
            ruleId: string;
            level?: string;
            message: { arguments?: string[] };
          }>;
        }>;
      };
      return (log.runs[0]?.results ?? []).map((result) => ({
        ruleId: result.ruleId,
        // SARIF's default level is "warning".
        level: result.level ?? "warning",
        where: result.message.arguments?.[0] ?? "",
      }));
    },
  };
}
