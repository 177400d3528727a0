import type { Distro } from "./types.js";

/**
 * Parses os-release(5): KEY=value lines, values optionally in single or double quotes, with
 * backslash escapes inside double quotes. Lines that do not parse are ignored, as systemd does.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const [, key = "", rawValue = ""] = match;
    let value = rawValue.trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value.slice(1, -1).replace(/\\(["\\`$])/g, "$1");
    } else if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) {
      value = value.slice(1, -1);
    }
    fields[key] = value;
  }
  return fields;
}

interface DistroRule {
  ids: string[];
  /** OSV ecosystem for a release, or undefined when the release is unknown. */
  ecosystem(versionId: string | undefined): string | undefined;
}

/** One row per distribution family: how its os-release maps to the OSV ecosystem string. */
const distroRules: DistroRule[] = [
  {
    ids: ["debian"],
    // Advisories name the major release; 12.x point releases all read "Debian:12".
    ecosystem: (version) => (version ? `Debian:${version.split(".")[0]}` : undefined),
  },
  {
    ids: ["ubuntu"],
    ecosystem: (version) => {
      if (!version) return undefined;
      const [year = "", month = ""] = version.split(".");
      // Even years' April releases are LTS.
      const lts = month === "04" && Number(year) % 2 === 0;
      return `Ubuntu:${version}${lts ? ":LTS" : ""}`;
    },
  },
  {
    ids: ["alpine"],
    ecosystem: (version) => {
      const [major, minor] = (version ?? "").split(".");
      return major && minor ? `Alpine:v${major}.${minor}` : undefined;
    },
  },
];

export function osvEcosystemFor(id: string, versionId: string | undefined): string | undefined {
  const rule = distroRules.find((candidate) => candidate.ids.includes(id));
  return rule?.ecosystem(versionId);
}

export function distroFromOsRelease(text: string, source: string): Distro | undefined {
  const fields = parseOsRelease(text);
  const id = fields.ID?.toLowerCase();
  if (!id) return undefined;
  const versionId = fields.VERSION_ID;
  const ecosystem = osvEcosystemFor(id, versionId);
  return {
    id,
    source,
    ...(versionId ? { versionId } : {}),
    ...(fields.VERSION_CODENAME ? { versionCodename: fields.VERSION_CODENAME } : {}),
    ...(fields.PRETTY_NAME ? { prettyName: fields.PRETTY_NAME } : {}),
    ...(ecosystem ? { osvEcosystem: ecosystem } : {}),
  };
}

/** Files the OS detection reads, in order of preference. */
export const osReleasePaths = ["etc/os-release", "usr/lib/os-release"];
export const debianVersionPath = "etc/debian_version";

/** Debian's own release file: "12.5" on a release, "trixie/sid" on testing. */
export function distroFromDebianVersion(text: string, source: string): Distro {
  const version = text.trim();
  const major = /^(\d+)(?:\.\d+)*$/.exec(version)?.[1];
  return {
    id: "debian",
    source,
    ...(major ? { versionId: major, osvEcosystem: `Debian:${major}` } : {}),
  };
}
