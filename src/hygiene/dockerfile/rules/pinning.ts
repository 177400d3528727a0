import semver from "semver";
import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import type { DockerfileInstruction } from "../parse.js";
import { effectiveCommand, type ShellCommand } from "../shell.js";
import { APK_VALUE_OPTIONS, apkCommands } from "./apk.js";
import { APT_VALUE_OPTIONS, aptCommands } from "./apt.js";
import { expandedWords, listWords } from "./words.js";

export const unpinnedPackagesRule: HygieneRule = {
  id: "LW-DF-012",
  severity: "low",
  title: "Packages are installed without a version (apt, apk, pip, npm)",
  scope: "dockerfile",
};

/** The operands of a command with their written form, options (and their values) left out. */
function operands(
  command: ShellCommand,
  args: string[],
  valueOptions: ReadonlySet<string>,
): Array<[string, string]> {
  // args is the tail of command.words; rawWords has the same tail.
  const offset = command.words.length - args.length;
  const found: Array<[string, string]> = [];
  for (let k = 0; k < args.length; k++) {
    const arg = args[k] as string;
    if (valueOptions.has(arg)) k++;
    else if (!(arg.startsWith("-") && arg.length > 1)) found.push([arg, command.rawWords[offset + k] ?? arg]);
  }
  return found;
}

/** A package file or folder rather than a name from a repository. */
const LOCAL = /^(?:\.{1,2}$|\.{0,2}\/|~\/|file:)|\.(?:deb|apk|whl|tar\.gz|tgz|zip)$/;

function packagesOf(instruction: DockerfileInstruction, pairs: Array<[string, string]>): string[] {
  return pairs.flatMap(([word, raw]) => expandedWords(word, raw, instruction));
}

function unpinnedApt(instruction: DockerfileInstruction, commands: ShellCommand[]): string[] {
  return aptCommands(commands)
    .filter((apt) => apt.subcommand === "install")
    .flatMap((apt) => packagesOf(instruction, operands(apt.command, apt.args, APT_VALUE_OPTIONS).slice(1)))
    .filter((pkg) => !pkg.includes("=") && !LOCAL.test(pkg));
}

function unpinnedApk(instruction: DockerfileInstruction, commands: ShellCommand[]): string[] {
  return (
    apkCommands(commands)
      .filter((apk) => apk.subcommand === "add")
      .flatMap((apk) => packagesOf(instruction, operands(apk.command, apk.args, APK_VALUE_OPTIONS).slice(1)))
      // name=version or name~version (fuzzy); name>=version is a range, not a pin.
      .filter((pkg) => !/^[^<>=~]+[=~][^<>]/.test(pkg) && !LOCAL.test(pkg))
  );
}

const PIP_VALUE_OPTIONS = new Set([
  "-i",
  "--index-url",
  "--extra-index-url",
  "-f",
  "--find-links",
  "-t",
  "--target",
  "--prefix",
  "--root",
  "--trusted-host",
  "--platform",
  "--python-version",
  "--implementation",
  "--abi",
  "--only-binary",
  "--no-binary",
  "--progress-bar",
  "--cache-dir",
  "--src",
  "--log",
  "--timeout",
  "--retries",
  "--proxy",
  "--cert",
  "--client-cert",
  "--exists-action",
  "--global-option",
  "--config-settings",
  "-C",
  "--upgrade-strategy",
  "--python",
  "-e",
  "--editable",
]);

/** pip install's packages without `==`: a requirements or constraints file pins by itself. */
function unpinnedPip(instruction: DockerfileInstruction, commands: ShellCommand[]): string[] {
  const unpinned: string[] = [];
  for (const command of commands) {
    const { name, args } = effectiveCommand(command);
    let pipArgs: string[] | undefined;
    if (/^pip[0-9.]*$/.test(name)) pipArgs = args;
    else if (/^python[0-9.]*$/.test(name) && args[0] === "-m" && args[1] === "pip") pipArgs = args.slice(2);
    if (pipArgs?.[0] !== "install") continue;
    const rest = (pipArgs as string[]).slice(1);
    // Versions come from a constraints file: every package is pinned by it.
    if (rest.some((arg) => /^(?:-c|--constraint)(?:=|$)/.test(arg))) continue;
    if (command.assignments.some((assignment) => assignment.startsWith("PIP_CONSTRAINT="))) continue;
    const packages = packagesOf(
      instruction,
      operands(command, rest, new Set([...PIP_VALUE_OPTIONS, "-r", "--requirement"])),
    );
    for (const pkg of packages) {
      if (/===?/.test(pkg) || LOCAL.test(pkg) || /^[A-Za-z]:\\/.test(pkg)) continue;
      // A URL is a fixed file, except a VCS URL without a ref (git+https://host/repo).
      if (pkg.includes("://") && !(/^[a-z]+\+/.test(pkg) && !/@[^/]+$/.test(pkg))) continue;
      unpinned.push(pkg);
    }
  }
  return unpinned;
}

const NPM_VALUE_OPTIONS = new Set([
  "--prefix",
  "--registry",
  "--cache",
  "--userconfig",
  "--loglevel",
  "--omit",
  "--include",
  "--tag",
  "-w",
  "--workspace",
]);

/** npm install's packages without an exact version; `npm ci` and a bare `npm install` use the lockfile. */
function unpinnedNpm(instruction: DockerfileInstruction, commands: ShellCommand[]): string[] {
  const unpinned: string[] = [];
  for (const command of commands) {
    const { name, args } = effectiveCommand(command);
    if (name !== "npm") continue;
    const words = operands(command, args, NPM_VALUE_OPTIONS);
    const subcommand = words[0]?.[0];
    if (!subcommand || !["install", "i", "add", "isntall", "in"].includes(subcommand)) continue;
    for (const pkg of packagesOf(instruction, words.slice(1))) {
      if (LOCAL.test(pkg) || /^(?:git\+|git:|github:|https?:)/.test(pkg)) continue;
      const at = pkg.lastIndexOf("@");
      const version = at > 0 ? pkg.slice(at + 1) : undefined;
      if (version && semver.valid(version)) continue;
      unpinned.push(pkg);
    }
  }
  return unpinned;
}

const MANAGERS: Array<{ label: string; hint: string; find: typeof unpinnedApt }> = [
  { label: "apt-get install", hint: "name=version", find: unpinnedApt },
  { label: "apk add", hint: "name=version", find: unpinnedApk },
  { label: "pip install", hint: "name==version or a requirements file", find: unpinnedPip },
  { label: "npm install", hint: "name@version or npm ci", find: unpinnedNpm },
];

export function checkUnpinnedPackages(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const instruction of context.instructions("RUN")) {
    const commands = context.runCommands(instruction);
    for (const manager of MANAGERS) {
      const unpinned = [...new Set(manager.find(instruction, commands))];
      if (unpinned.length > 0)
        hits.push({
          instruction,
          message: `${manager.label} without versions: ${listWords(unpinned)} (pin with ${manager.hint})`,
        });
    }
  }
  return hits;
}
