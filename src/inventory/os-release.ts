import type { Distro } from "./types.js";

/**
 * Parses os-release(5): KEY=value lines, values in single or double quotes or bare, with
 * backslash escapes outside single quotes. Real files are not always well formed (an unclosed
 * quote, quoted and bare text run together, CRLF line ends, a byte-order mark), so a value is
 * read as the shell would read it as far as it can be, and an unclosed quote runs to the end
 * of the line. Lines that are not KEY=value are ignored, as systemd does.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const rawLine of text.replace(/^\uFEFF/, "").split(/\r?\n|\r/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const [, key = "", rawValue = ""] = match;
    fields[key] = unquote(rawValue.trim());
  }
  return fields;
}

function unquote(raw: string): string {
  let value = "";
  let i = 0;
  while (i < raw.length) {
    const c = raw.charAt(i);
    if (c === "'") {
      const end = raw.indexOf("'", i + 1);
      value += raw.slice(i + 1, end < 0 ? raw.length : end);
      i = end < 0 ? raw.length : end + 1;
    } else if (c === '"') {
      i++;
      while (i < raw.length && raw.charAt(i) !== '"') {
        // Inside double quotes only these four are escapes; any other backslash is literal.
        if (raw.charAt(i) === "\\" && '"\\`$'.includes(raw.charAt(i + 1)) && i + 1 < raw.length) i++;
        value += raw.charAt(i);
        i++;
      }
      i++;
    } else if (c === "\\" && i + 1 < raw.length) {
      value += raw.charAt(i + 1);
      i += 2;
    } else {
      value += c;
      i++;
    }
  }
  return value.trim();
}

/** What the ecosystem and end-of-life rules see of a release. */
interface Release {
  versionId: string | undefined;
  fields: Readonly<Record<string, string>>;
}

interface DistroRow {
  /** os-release IDs this row covers. */
  ids: readonly string[];
  /** The OSV ecosystem string the release's advisories use; undefined where OSV has none. */
  ecosystem(release: Release): string | undefined;
  /** The release's key in `endOfLife` (by default its major version). */
  releaseKey?(release: Release): string | undefined;
  /**
   * The date (UTC) the vendor's security support for each release ends: for Debian the end of
   * LTS, for Ubuntu the end of standard support (not paid ESM), for RHEL and its rebuilds the end
   * of maintenance support, for SUSE the end of general support (not paid LTSS).
   */
  endOfLife?: Readonly<Record<string, string>>;
}

function versionParts(versionId: string | undefined): string[] {
  return (versionId ?? "").split(".");
}

function major(versionId: string | undefined): string | undefined {
  const value = versionParts(versionId)[0];
  return value && /^\d+$/.test(value) ? value : undefined;
}

function majorMinor(versionId: string | undefined): string | undefined {
  const [first, second] = versionParts(versionId);
  return first && second && /^\d+$/.test(first) && /^\d+$/.test(second) ? `${first}.${second}` : undefined;
}

function prefixed(prefix: string, release: string | undefined): string | undefined {
  return release === undefined ? undefined : `${prefix}${release}`;
}

function isCentOsStream(release: Release): boolean {
  return /\bStream\b/i.test(`${release.fields.NAME ?? ""} ${release.fields.PRETTY_NAME ?? ""}`);
}

function isAlpineEdge(release: Release): boolean {
  // edge reports the next release with an _alpha date ("3.22.0_alpha20250108"); it has no
  // release branch of its own in Alpine's security database.
  return /_alpha/.test(release.versionId ?? "") || /\bedge$/i.test(release.fields.PRETTY_NAME ?? "");
}

/**
 * SUSE's own ecosystem strings are the product's marketing name without the vendor word, as
 * PRETTY_NAME spells it: "SUSE Linux Enterprise Micro 5.3" → "SUSE:Linux Enterprise Micro 5.3".
 */
function suseProductFromPrettyName(release: Release): string | undefined {
  const pretty = release.fields.PRETTY_NAME?.trim();
  return pretty?.startsWith("SUSE ") ? `SUSE:${pretty.slice("SUSE ".length)}` : undefined;
}

/**
 * One row per distribution: how its os-release maps to the OSV ecosystem its advisories use
 * (names from the OSV schema's ecosystem list), and when its releases stop getting fixes.
 */
const distroTable: readonly DistroRow[] = [
  {
    ids: ["debian"],
    // Advisories name the major release; 12.x point releases all read "Debian:12".
    ecosystem: (r) => prefixed("Debian:", major(r.versionId)),
    endOfLife: {
      "6": "2016-02-29",
      "7": "2018-05-31",
      "8": "2020-06-30",
      "9": "2022-06-30",
      "10": "2024-06-30",
      "11": "2026-08-31",
      "12": "2028-06-30",
    },
  },
  {
    ids: ["ubuntu"],
    ecosystem: (r) => {
      const [year = "", month = ""] = versionParts(r.versionId);
      if (!/^\d\d$/.test(year) || !/^\d\d$/.test(month)) return undefined;
      // Even years' April releases are LTS, and OSV writes that into the ecosystem string.
      const lts = month === "04" && Number(year) % 2 === 0;
      return `Ubuntu:${year}.${month}${lts ? ":LTS" : ""}`;
    },
    releaseKey: (r) => majorMinor(r.versionId),
    endOfLife: {
      "12.04": "2017-04-28",
      "14.04": "2019-04-25",
      "16.04": "2021-04-30",
      "18.04": "2023-05-31",
      "20.04": "2025-05-29",
      "22.04": "2027-06-01",
      "22.10": "2023-07-20",
      "23.04": "2024-01-25",
      "23.10": "2024-07-11",
      "24.04": "2029-05-31",
      "24.10": "2025-07-10",
    },
  },
  {
    ids: ["alpine"],
    ecosystem: (r) => (isAlpineEdge(r) ? undefined : prefixed("Alpine:v", majorMinor(r.versionId))),
    releaseKey: (r) => (isAlpineEdge(r) ? undefined : majorMinor(r.versionId)),
    endOfLife: {
      "3.4": "2018-05-01",
      "3.5": "2018-11-01",
      "3.6": "2019-05-01",
      "3.7": "2019-11-01",
      "3.8": "2020-05-01",
      "3.9": "2020-11-01",
      "3.10": "2021-05-01",
      "3.11": "2021-11-01",
      "3.12": "2022-05-01",
      "3.13": "2022-11-01",
      "3.14": "2023-05-01",
      "3.15": "2023-11-01",
      "3.16": "2024-05-23",
      "3.17": "2024-11-22",
      "3.18": "2025-05-09",
      "3.19": "2025-11-01",
      "3.20": "2026-04-01",
      "3.21": "2026-11-01",
      "3.22": "2027-05-01",
    },
  },
  // Rolling distributions: one ecosystem without a release, and no end of life.
  { ids: ["wolfi"], ecosystem: () => "Wolfi" },
  { ids: ["chainguard"], ecosystem: () => "Chainguard" },
  {
    ids: ["rhel"],
    // OSV's "Red Hat" ecosystem is keyed by product stream, "Red Hat:enterprise_linux:9::baseos"
    // and "...::appstream" apart, and os-release does not say which stream a package came from;
    // the matcher needs the release to agree exactly, so one guessed stream would silently miss
    // the others. Left open until the rpm inventory can tell streams apart.
    ecosystem: () => undefined,
    endOfLife: { "6": "2020-11-30", "7": "2024-06-30", "8": "2029-05-31", "9": "2032-05-31" },
  },
  {
    // CentOS Linux and CentOS Stream share ID=centos; OSV has no CentOS ecosystem.
    ids: ["centos"],
    ecosystem: () => undefined,
    releaseKey: (r) => (isCentOsStream(r) ? prefixed("stream-", major(r.versionId)) : major(r.versionId)),
    endOfLife: {
      "5": "2017-03-31",
      "6": "2020-11-30",
      "7": "2024-06-30",
      "8": "2021-12-31",
      "stream-8": "2024-05-31",
      "stream-9": "2027-05-31",
    },
  },
  {
    ids: ["rocky"],
    ecosystem: (r) => prefixed("Rocky Linux:", major(r.versionId)),
    endOfLife: { "8": "2029-05-31", "9": "2032-05-31" },
  },
  {
    ids: ["almalinux"],
    ecosystem: (r) => prefixed("AlmaLinux:", major(r.versionId)),
    endOfLife: { "8": "2029-03-01", "9": "2032-05-31" },
  },
  // No OSV ecosystem for these: Oracle Linux, Amazon Linux, Fedora.
  { ids: ["ol"], ecosystem: () => undefined },
  {
    ids: ["amzn"],
    ecosystem: () => undefined,
    // Amazon Linux AMI numbers releases by date ("2018.03"), 2 and 2023 by one number.
    releaseKey: (r) => r.versionId,
    endOfLife: { "2018.03": "2023-12-31", "2": "2026-06-30", "2023": "2029-06-30" },
  },
  {
    ids: ["fedora"],
    ecosystem: () => undefined,
    endOfLife: {
      "29": "2019-11-26",
      "31": "2020-11-24",
      "36": "2023-05-16",
      "37": "2023-12-05",
      "38": "2024-05-21",
      "39": "2024-11-26",
      "40": "2025-05-13",
    },
  },
  {
    ids: ["sles"],
    // VERSION_ID "15.5" is 15 SP5; "15" (or "15.0") is the first release, without an SP.
    ecosystem: (r) => {
      const [first, second] = versionParts(r.versionId);
      if (!first || !/^\d+$/.test(first)) return undefined;
      const sp = second && /^[1-9]\d*$/.test(second) ? ` SP${second}` : "";
      return `SUSE:Linux Enterprise Server ${first}${sp}`;
    },
    releaseKey: (r) => majorMinor(r.versionId) ?? major(r.versionId),
    endOfLife: {
      "12.5": "2024-10-31",
      "15": "2019-12-31",
      "15.1": "2021-01-31",
      "15.2": "2021-12-31",
      "15.3": "2022-12-31",
      "15.4": "2023-12-31",
      "15.5": "2024-12-31",
      "15.6": "2025-12-31",
    },
  },
  { ids: ["sle-micro", "sle-micro-rancher", "sl-micro", "sles_sap"], ecosystem: suseProductFromPrettyName },
  {
    // "opensuse" is the ID Leap 42.x used.
    ids: ["opensuse-leap", "opensuse"],
    // Leap numbers its releases 42.x and 15.x on; openSUSE 13.2 and before were not Leap.
    ecosystem: (r) =>
      Number(major(r.versionId)) >= 15 ? prefixed("openSUSE:Leap ", majorMinor(r.versionId)) : undefined,
    releaseKey: (r) => majorMinor(r.versionId),
    endOfLife: {
      "42.3": "2019-07-01",
      "15.2": "2022-01-04",
      "15.3": "2022-12-31",
      "15.4": "2023-12-07",
      "15.5": "2024-12-31",
      "15.6": "2026-04-30",
    },
  },
  { ids: ["opensuse-tumbleweed"], ecosystem: () => "openSUSE:Tumbleweed" },
  {
    ids: ["photon"],
    // Photon's releases are "3.0", "4.0", "5.0", and OSV writes them so.
    ecosystem: (r) => {
      const first = major(r.versionId);
      return first ? `Photon OS:${majorMinor(r.versionId) ?? `${first}.0`}` : undefined;
    },
  },
  {
    // CBL-Mariner was renamed Azure Linux from 3.0 on; Microsoft publishes the advisories of
    // both under "Azure Linux:<major>" (Mariner 2.0 is "Azure Linux:2").
    ids: ["azurelinux", "mariner"],
    ecosystem: (r) => prefixed("Azure Linux:", major(r.versionId)),
    endOfLife: { "2": "2025-07-31" },
  },
];

function rowFor(id: string): DistroRow | undefined {
  return distroTable.find((row) => row.ids.includes(id));
}

function releaseOf(fields: Readonly<Record<string, string>>): Release {
  return { versionId: fields.VERSION_ID || undefined, fields };
}

/** The OSV ecosystem of a release, when OSV has one for it. */
export function osvEcosystemFor(
  id: string,
  versionId: string | undefined,
  fields: Readonly<Record<string, string>> = {},
): string | undefined {
  return rowFor(id)?.ecosystem({ versionId, fields: { ...fields, ID: id } });
}

/** The date the release stops getting security fixes, when the table knows it. */
export function endOfLifeFor(
  id: string,
  versionId: string | undefined,
  fields: Readonly<Record<string, string>> = {},
): string | undefined {
  const row = rowFor(id);
  const release = { versionId, fields: { ...fields, ID: id } };
  const key = row?.releaseKey ? row.releaseKey(release) : major(versionId);
  return key === undefined ? undefined : row?.endOfLife?.[key];
}

/** Whether the release's vendor support had ended by `now` (the end date itself still counts). */
export function isEndOfLife(distro: Pick<Distro, "endOfLife">, now: Date): boolean {
  return distro.endOfLife !== undefined && now.toISOString().slice(0, 10) > distro.endOfLife;
}

/** A Distro from os-release-style fields (ID, VERSION_ID, VERSION_CODENAME, PRETTY_NAME). */
function distroFromFields(fields: Readonly<Record<string, string>>, source: string): Distro | undefined {
  const id = fields.ID?.trim().toLowerCase();
  if (!id) return undefined;
  const normalized = { ...fields, ID: id };
  const { versionId } = releaseOf(normalized);
  const ecosystem = rowFor(id)?.ecosystem(releaseOf(normalized));
  const endOfLife = endOfLifeFor(id, versionId, normalized);
  return {
    id,
    source,
    ...(versionId ? { versionId } : {}),
    ...(fields.VERSION_CODENAME ? { versionCodename: fields.VERSION_CODENAME } : {}),
    ...(fields.PRETTY_NAME ? { prettyName: fields.PRETTY_NAME } : {}),
    ...(ecosystem ? { osvEcosystem: ecosystem } : {}),
    ...(endOfLife ? { endOfLife } : {}),
  };
}

export function distroFromOsRelease(text: string, source: string): Distro | undefined {
  return distroFromFields(parseOsRelease(text), source);
}

/**
 * A Distro from a release named elsewhere than in os-release (an SBOM's operating-system
 * component, a purl's distro qualifier): the same table gives its ecosystem and end of life.
 */
export function distroFromRelease(
  release: { id: string; versionId?: string; prettyName?: string },
  source: string,
): Distro | undefined {
  return distroFromFields(
    {
      ID: release.id,
      ...(release.versionId ? { VERSION_ID: release.versionId } : {}),
      ...(release.prettyName ? { PRETTY_NAME: release.prettyName } : {}),
    },
    source,
  );
}

/** Files the OS detection reads, in order of preference. */
export const osReleasePaths = ["etc/os-release", "usr/lib/os-release"];
export const debianVersionPath = "etc/debian_version";
const alpineReleasePath = "etc/alpine-release";

/** Debian's own release file: "12.5" on a release, "trixie/sid" on testing. */
export function distroFromDebianVersion(text: string, source: string): Distro {
  const version = text.trim();
  const first = /^(\d+)(?:\.\d+)*$/.exec(version)?.[1];
  return (
    distroFromFields({ ID: "debian", ...(first ? { VERSION_ID: first } : {}) }, source) ?? {
      id: "debian",
      source,
    }
  );
}

/** Alpine's release file: "3.19.1". */
export function distroFromAlpineRelease(text: string, source: string): Distro {
  const version = text.trim().split(/\s+/)[0] ?? "";
  const valid = /^\d+\.\d+/.test(version);
  return (
    distroFromFields({ ID: "alpine", ...(valid ? { VERSION_ID: version } : {}) }, source) ?? {
      id: "alpine",
      source,
    }
  );
}

/** lsb-release: what Ubuntu images before os-release (10.04) identify themselves with. */
export function distroFromLsbRelease(text: string, source: string): Distro | undefined {
  const lsb = parseOsRelease(text);
  if (!lsb.DISTRIB_ID) return undefined;
  return distroFromFields(
    {
      ID: lsb.DISTRIB_ID,
      ...(lsb.DISTRIB_RELEASE ? { VERSION_ID: lsb.DISTRIB_RELEASE } : {}),
      ...(lsb.DISTRIB_CODENAME ? { VERSION_CODENAME: lsb.DISTRIB_CODENAME } : {}),
      ...(lsb.DISTRIB_DESCRIPTION ? { PRETTY_NAME: lsb.DISTRIB_DESCRIPTION } : {}),
    },
    source,
  );
}

/** The one-line release files of the Red Hat family: "<Name> release <version> (<codename>)". */
const redHatReleaseLines: ReadonlyArray<{ pattern: RegExp; id: string; name?: string }> = [
  { pattern: /^CentOS Stream release (\d[\d.]*)/i, id: "centos", name: "CentOS Stream" },
  { pattern: /^CentOS(?: Linux)? release (\d[\d.]*)/i, id: "centos" },
  { pattern: /^Rocky Linux release (\d[\d.]*)/i, id: "rocky" },
  { pattern: /^AlmaLinux release (\d[\d.]*)/i, id: "almalinux" },
  // Oracle Linux 5 says "Enterprise Linux Enterprise Linux Server" in enterprise-release.
  {
    pattern: /^(?:Oracle Linux Server|Enterprise Linux Enterprise Linux Server) release (\d[\d.]*)/i,
    id: "ol",
  },
  // "Red Hat Linux release 6.2" is the RHEL predecessor; it is read as RHEL, long out of support.
  { pattern: /^Red Hat (?:Enterprise )?Linux\b.*? release (\d[\d.]*)/i, id: "rhel" },
  { pattern: /^Fedora(?: Linux)? release (\d+)/i, id: "fedora" },
  { pattern: /^Scientific Linux release (\d[\d.]*)/i, id: "scientific" },
  { pattern: /^Amazon Linux AMI release (\d[\d.]*)/i, id: "amzn" },
  { pattern: /^Amazon Linux release (\d+)/i, id: "amzn" },
];

export function distroFromRedHatRelease(text: string, source: string): Distro | undefined {
  const line = text.split(/\r?\n/)[0]?.trim() ?? "";
  for (const { pattern, id, name } of redHatReleaseLines) {
    const version = pattern.exec(line)?.[1];
    if (version === undefined) continue;
    return distroFromFields(
      { ID: id, VERSION_ID: version, PRETTY_NAME: line, ...(name ? { NAME: name } : {}) },
      source,
    );
  }
  return undefined;
}

/** SUSE's release file before os-release: a name line, then "VERSION = 11", "PATCHLEVEL = 4". */
export function distroFromSuseRelease(text: string, source: string): Distro | undefined {
  const [first = "", ...rest] = text.split(/\r?\n/);
  const values = Object.fromEntries(
    rest.flatMap((line) => {
      const match = /^\s*([A-Z_]+)\s*=\s*(.*?)\s*$/.exec(line);
      return match ? [[match[1] as string, match[2] as string]] : [];
    }),
  );
  const version = values.VERSION;
  if (!version) return undefined;
  const name = first.replace(/\s*\([^)]*\)\s*$/, "").trim();
  const opensuse = /^openSUSE/i.test(name);
  const versionId =
    !opensuse && values.PATCHLEVEL && values.PATCHLEVEL !== "0" ? `${version}.${values.PATCHLEVEL}` : version;
  return distroFromFields(
    { ID: opensuse ? "opensuse" : "sles", VERSION_ID: versionId, PRETTY_NAME: name },
    source,
  );
}

/**
 * Release files read when an image has no usable os-release, in order. lsb-release comes before
 * debian_version: an old Ubuntu has both, and its debian_version names a Debian codename.
 * oracle-release and centos-release come before redhat-release, which both also have.
 */
const releaseFiles: ReadonlyArray<
  [path: string, read: (text: string, source: string) => Distro | undefined]
> = [
  ["etc/lsb-release", distroFromLsbRelease],
  [alpineReleasePath, unlessEmpty(distroFromAlpineRelease)],
  ["etc/oracle-release", distroFromRedHatRelease],
  ["etc/enterprise-release", distroFromRedHatRelease],
  ["etc/centos-release", distroFromRedHatRelease],
  ["etc/almalinux-release", distroFromRedHatRelease],
  ["etc/rocky-release", distroFromRedHatRelease],
  ["etc/fedora-release", distroFromRedHatRelease],
  ["etc/redhat-release", distroFromRedHatRelease],
  ["etc/system-release", distroFromRedHatRelease],
  ["etc/SuSE-release", distroFromSuseRelease],
  [debianVersionPath, unlessEmpty(distroFromDebianVersion)],
];

/** An empty release file says nothing about the distribution. */
function unlessEmpty(
  read: (text: string, source: string) => Distro,
): (text: string, source: string) => Distro | undefined {
  return (text, source) => (text.trim() === "" ? undefined : read(text, source));
}

/** Every file the OS detection may read. */
export const distroPaths: readonly string[] = [...osReleasePaths, ...releaseFiles.map(([path]) => path)];

/**
 * The distribution and release of an image, from its os-release, else from the older release
 * files. `read` gives a file's text as the image has it, or undefined.
 */
export function detectRelease(read: (path: string) => string | undefined): Distro | undefined {
  for (const path of osReleasePaths) {
    const text = read(path);
    const distro = text === undefined ? undefined : distroFromOsRelease(text, path);
    if (distro) return distro.versionId ? distro : withVersionFromReleaseFile(distro, read);
  }
  for (const [path, parse] of releaseFiles) {
    const text = read(path);
    const distro = text === undefined ? undefined : parse(text, path);
    if (distro) return distro;
  }
  return undefined;
}

/**
 * An os-release without VERSION_ID (older distroless images, Debian testing) leaves the release
 * to the distribution's own release file: distroless Debian 10 says only ID=debian, and its
 * debian_version says 10.8.
 */
function withVersionFromReleaseFile(distro: Distro, read: (path: string) => string | undefined): Distro {
  const path =
    distro.id === "debian" ? debianVersionPath : distro.id === "alpine" ? alpineReleasePath : undefined;
  const text = path === undefined ? undefined : read(path);
  if (path === undefined || text === undefined) return distro;
  const fromFile =
    distro.id === "debian" ? distroFromDebianVersion(text, path) : distroFromAlpineRelease(text, path);
  if (!fromFile.versionId) return distro;
  return { ...fromFile, ...distro, ...pickRelease(fromFile) };
}

function pickRelease(distro: Distro): Partial<Distro> {
  return {
    ...(distro.versionId ? { versionId: distro.versionId } : {}),
    ...(distro.osvEcosystem ? { osvEcosystem: distro.osvEcosystem } : {}),
    ...(distro.endOfLife ? { endOfLife: distro.endOfLife } : {}),
  };
}
