import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../errors.js";
import { parseSeverityLevel } from "../policy/threshold.js";

/**
 * The Action's inputs (action.yml), read and checked before anything else runs. The runner fills
 * in action.yml's defaults; the same defaults are applied here, so dist/index.js run by hand (as
 * the tests do) behaves as it does under the runner. test/action/action.test.ts checks that the two
 * lists agree.
 */
export const inputDefaults = {
  image: "",
  "fail-on": "",
  severity: "",
  "ignore-unfixed": "false",
  format: "json",
  output: "",
  "sarif-file": "",
  dockerfile: "",
  hygiene: "true",
  "ignore-file": "",
  vex: "",
  baseline: "",
  platform: "",
  "registry-username": "",
  "registry-password": "",
  db: "",
  "db-cache": "true",
  "db-update": "true",
  "osv-url": "",
  nvd: "false",
  "nvd-api-key": "",
  summary: "true",
} as const;

export type InputName = keyof typeof inputDefaults;

export interface ActionInputs {
  image: string;
  failOn?: string;
  severity?: string;
  ignoreUnfixed: boolean;
  format: string;
  /** Where the format without `=FILE` goes. */
  output: string;
  sarifFile: string;
  dockerfile?: string;
  /** Build-hygiene checks of the image and the Dockerfile (`--no-hygiene` when false). */
  hygiene: boolean;
  ignoreFile?: string;
  vex: string[];
  baseline?: string;
  platform?: string;
  username?: string;
  password?: string;
  db: string;
  dbCache: boolean;
  dbUpdate: boolean;
  osvUrl?: string;
  nvd: boolean;
  nvdApiKey?: string;
  summary: boolean;
}

/** Reads one input as the runner hands it over: an environment variable, empty when not given. */
export type InputReader = (name: InputName) => string;

function booleanInput(name: InputName, text: string): boolean {
  const word = text.trim().toLowerCase();
  if (word === "true") return true;
  if (word === "false") return false;
  throw new InputError(`${name}: '${text}' is not true or false`);
}

/** Where the Action keeps its files when an input names none: the runner's temp dir, cleaned after the job. */
export function actionTempDir(env: NodeJS.ProcessEnv): string {
  return join(env.RUNNER_TEMP && env.RUNNER_TEMP !== "" ? env.RUNNER_TEMP : tmpdir(), "layerwatch");
}

/** The file name a format gets when `output` names none. */
const defaultReportNames: Record<string, string> = {
  json: "report.json",
  table: "report.txt",
  sarif: "report.sarif",
  cyclonedx: "report.cdx.json",
  junit: "report.xml",
  markdown: "report.md",
};

/** The first format of `format` that names no file: the one `output` is for. */
function mainFormat(format: string): string {
  const entry = format.split(",").find((part) => !part.includes("=")) ?? "json";
  return entry.trim().toLowerCase();
}

/**
 * Every input, checked. The registry credentials and the NVD key are first handed to `mask`
 * (core.setSecret), before anything else can print them.
 */
export function readInputs(
  read: InputReader,
  env: NodeJS.ProcessEnv,
  mask: (secret: string) => void,
): ActionInputs {
  const value = (name: InputName): string => {
    const given = read(name).trim();
    return given === "" ? inputDefaults[name] : given;
  };
  const optional = (name: InputName): string | undefined => {
    const text = value(name);
    return text === "" ? undefined : text;
  };
  const username = optional("registry-username");
  const password = optional("registry-password");
  const nvdApiKey = optional("nvd-api-key");
  for (const secret of [username, password, nvdApiKey]) if (secret !== undefined) mask(secret);

  const image = value("image");
  if (image === "")
    throw new InputError("image: required; name the image to scan (e.g. ghcr.io/org/app:1.2)");
  const failOn = optional("fail-on");
  if (failOn !== undefined) parseSeverityLevel(failOn, "fail-on:");
  const osvUrl = optional("osv-url");
  if (osvUrl !== undefined && (!URL.canParse(osvUrl) || !/^https?:$/.test(new URL(osvUrl).protocol)))
    throw new InputError(`osv-url: ${osvUrl} is not an http(s) URL`);
  const temp = actionTempDir(env);
  const format = value("format");
  const dockerfile = optional("dockerfile");
  const ignoreFile = optional("ignore-file");
  const baseline = optional("baseline");
  const platform = optional("platform");
  const severity = optional("severity");
  return {
    image,
    ...(failOn !== undefined ? { failOn } : {}),
    ...(severity !== undefined ? { severity } : {}),
    ignoreUnfixed: booleanInput("ignore-unfixed", value("ignore-unfixed")),
    format,
    output: optional("output") ?? join(temp, defaultReportNames[mainFormat(format)] ?? "report"),
    sarifFile: optional("sarif-file") ?? join(temp, "layerwatch.sarif"),
    ...(dockerfile !== undefined ? { dockerfile } : {}),
    hygiene: booleanInput("hygiene", value("hygiene")),
    ...(ignoreFile !== undefined ? { ignoreFile } : {}),
    vex: value("vex")
      .split(/[\n,]/)
      .map((path) => path.trim())
      .filter((path) => path !== ""),
    ...(baseline !== undefined ? { baseline } : {}),
    ...(platform !== undefined ? { platform } : {}),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    db:
      optional("db") ??
      (env.LAYERWATCH_DB && env.LAYERWATCH_DB !== "" ? env.LAYERWATCH_DB : join(temp, "db", "vulndb.sqlite")),
    dbCache: booleanInput("db-cache", value("db-cache")),
    dbUpdate: booleanInput("db-update", value("db-update")),
    ...(osvUrl !== undefined ? { osvUrl } : {}),
    nvd: booleanInput("nvd", value("nvd")),
    ...(nvdApiKey !== undefined ? { nvdApiKey } : {}),
    summary: booleanInput("summary", value("summary")),
  };
}

/** The CLI's flag names in messages from the code the CLI shares, said as the Action's input names. */
const flagInputs: Record<string, InputName> = {
  "--fail-on": "fail-on",
  "--severity": "severity",
  "--format": "format",
  "-o": "output",
  "--dockerfile": "dockerfile",
  "--ignore-file": "ignore-file",
  "--vex": "vex",
  "--baseline": "baseline",
  "--platform": "platform",
};

export function inputMessage(message: string): string {
  const flag = /^(--?[a-z-]+) /.exec(message)?.[1];
  const input = flag === undefined ? undefined : flagInputs[flag];
  return input === undefined || flag === undefined ? message : `${input}: ${message.slice(flag.length + 1)}`;
}
