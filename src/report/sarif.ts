import { createHash } from "node:crypto";
import { ruleById } from "../hygiene/rules.js";
import type { SeverityLevel } from "../match/types.js";
import { hygieneIdentity, identityOrdinals } from "../policy/hygiene-match.js";
import { type DockerfileStage, type LayerLine, layerLines } from "./dockerfile-lines.js";
import { advisoryUrl, findingPackages, versionlessPurl } from "./findings.js";
import { hygieneWhere, ruleDocUrl } from "./hygiene.js";
import type { JsonReport, ReportFinding, ReportHygieneFinding, ReportPackage } from "./model.js";

/**
 * SARIF 2.1.0 (OASIS), shaped for GitHub code scanning:
 * - one result per finding; a finding is already one alias group (CVE-x, GHSA-y and DSA-z for one
 *   package are one result), so a scan never reports one vulnerability twice for a package;
 * - one rule per vulnerability id, with the advisory's page as helpUri, `security-severity` (the
 *   CVSS score where it agrees with the level, else a number inside GitHub's band for the level;
 *   none for unknown) and the `security` tag that makes GitHub file it as a security alert;
 * - level error (critical, high), warning (medium) or note (low, unknown);
 * - a finding the policy set aside (ignore file, VEX) carries an external, accepted suppression;
 *   with `--baseline`, baselineState says whether it is new;
 * - partialFingerprints `layerwatch/v1`: a hash of the vulnerability id, the package's purl
 *   without version and qualifiers, and its path in the image: the same across rescans of a
 *   rebuilt image (the alert stays one alert until the package is fixed), distinct per package
 *   and per copy of a package;
 * - a physical location GitHub can show: with `--dockerfile`, the Dockerfile line of the
 *   instruction that made the package's layer (dockerfile-lines.ts; base image layers point at
 *   FROM), else the image's name without tag or digest as a pseudo-file at line 1.
 *
 * Build-hygiene findings are results too, under one rule per hygiene rule id (its title, and its
 * section of docs/rules.md as helpUri): a Dockerfile finding at its file and line; an image
 * finding at the Dockerfile line that made its layer, or (a config field no layer made) the final
 * stage's FROM, when `--dockerfile` is given, else at the image's pseudo-file, with the config
 * field or image path as a logical location. Their fingerprints hash the rule and the location
 * without line numbers, layer or list indices, and which of that rule's findings there it is.
 */

export interface SarifOptions {
  /** The Dockerfile, as a path relative to the repository root, and its parsed stages. */
  dockerfile?: { uri: string; stages: DockerfileStage[] };
}

const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";

const levels: Record<SeverityLevel, "error" | "warning" | "note"> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
  unknown: "note",
};

/** GitHub's bands: 9.0+ critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. */
const bandScore: Record<Exclude<SeverityLevel, "unknown">, number> = {
  critical: 9.5,
  high: 8.0,
  medium: 5.5,
  low: 2.0,
};

function bandOf(score: number): SeverityLevel {
  if (score >= 9) return "critical";
  if (score >= 7) return "high";
  if (score >= 4) return "medium";
  return score > 0 ? "low" : "unknown";
}

/**
 * The number GitHub sorts and labels security alerts by: the CVSS score when GitHub would put it
 * in the same band as the level (a CVSS v2 9.3 is "high" to NVD, "critical" to GitHub), else the
 * band's number. Unknown severity gets none.
 */
export function securitySeverity(severity: ReportFinding["severity"]): string | undefined {
  if (severity.level === "unknown") return undefined;
  const score =
    severity.score !== undefined && bandOf(severity.score) === severity.level
      ? severity.score
      : bandScore[severity.level];
  return score.toFixed(1);
}

/** The image's name as a relative URI: no transport, tag or digest, ':' escaped (not a scheme). */
export function imageArtifactUri(report: JsonReport): string {
  let name = report.image.repoTags[0] ?? report.image.source;
  name = name.replace(/^(docker-archive|oci-archive|oci|docker|podman|registry|sbom):/, "");
  name = name.replace(/@sha256:[0-9a-f]+$/, "").replace(/:[\w][\w.-]*$/, "");
  return encodeURI(name.replace(/^\/+/, "")).replace(/:/g, "%3A").replace(/#/g, "%23").replace(/\?/g, "%3F");
}

function fingerprint(finding: ReportFinding, pkg: ReportPackage | undefined): string {
  return createHash("sha256")
    .update([finding.id, versionlessPurl(finding.package.purl), pkg?.location ?? ""].join("\u0000"))
    .digest("hex");
}

function describe(
  finding: ReportFinding,
  pkg: ReportPackage | undefined,
  line: LayerLine | undefined,
): string {
  const fix =
    finding.fixedVersion !== undefined
      ? `Fixed in ${finding.fixedVersion}.`
      : finding.fixState === "will-not-fix"
        ? "No fix is planned."
        : "No fix is published yet.";
  const where = pkg ? ` at /${pkg.location}` : "";
  const layer =
    finding.layer.index < 0
      ? ""
      : ` Installed by layer ${finding.layer.index}${line ? ` (Dockerfile line ${line.startLine}: ${line.instruction})` : finding.layer.createdBy ? ` (${finding.layer.createdBy})` : ""}.`;
  const summary = finding.summary ? `: ${finding.summary}` : "";
  return `${finding.package.name} ${finding.installedVersion}${where} is affected by ${finding.id}${summary}. ${fix}${layer}`;
}

interface Rule {
  id: string;
  findings: ReportFinding[];
}

function ruleOf(rule: Rule): object {
  const first = rule.findings[0] as ReportFinding;
  // The most severe rating any package got for this id.
  const worst = rule.findings.reduce((a, b) =>
    Number(securitySeverity(b.severity) ?? 0) > Number(securitySeverity(a.severity) ?? 0) ? b : a,
  );
  const score = securitySeverity(worst.severity);
  const aliases = first.aliases.length > 0 ? ` Also known as ${first.aliases.join(", ")}.` : "";
  const summary = first.summary ?? `${rule.id} in ${first.package.name}`;
  const url = advisoryUrl(rule.id);
  return {
    id: rule.id,
    shortDescription: { text: summary },
    fullDescription: { text: `${rule.id}: ${summary}.${aliases}` },
    helpUri: url,
    help: {
      text: `${summary}. See ${url}.${aliases}`,
      markdown: `**${rule.id}**: ${escapeMarkdown(summary)}.${aliases ? ` Also known as ${first.aliases.map((a) => `[${a}](${advisoryUrl(a)})`).join(", ")}.` : ""}\n\nAdvisory: ${url}`,
    },
    defaultConfiguration: { level: levels[worst.severity.level] },
    properties: {
      ...(score !== undefined ? { "security-severity": score } : {}),
      tags: [
        "security",
        "vulnerability",
        worst.severity.level,
        ...new Set(rule.findings.map((f) => f.ecosystem)),
      ],
      precision: "very-high",
    },
  };
}

/** A repository path ("docker/Dockerfile") as a relative URI. */
function pathUri(path: string): string {
  return path.replace(/^\.\//, "").split("/").map(encodeURIComponent).join("/");
}

function hygieneRuleOf(ruleId: string, findings: ReportHygieneFinding[]): object {
  const rule = ruleById(ruleId);
  const first = findings[0] as ReportHygieneFinding;
  const severity = rule?.severity ?? first.severity;
  const title = rule?.title ?? first.title;
  const url = ruleDocUrl(ruleId);
  return {
    id: ruleId,
    shortDescription: { text: title },
    fullDescription: { text: `${ruleId}: ${title}.` },
    helpUri: url,
    help: {
      text: `${title}. See ${url}.`,
      markdown: `**${ruleId}**: ${escapeMarkdown(title)}.\n\nRule: ${url}`,
    },
    defaultConfiguration: { level: levels[severity] },
    properties: {
      "security-severity": securitySeverity({ level: severity, source: "none" }),
      tags: [
        "security",
        "hygiene",
        rule?.scope ?? (first.location.kind === "dockerfile" ? "dockerfile" : "image"),
      ],
      precision: "high",
    },
  };
}

function hygieneFingerprint(finding: ReportHygieneFinding, ordinal: number): string {
  return createHash("sha256")
    .update(["hygiene", hygieneIdentity(finding), String(ordinal)].join("\u0000"))
    .digest("hex");
}

function hygieneResults(
  report: JsonReport,
  options: SarifOptions,
  lines: Map<number, LayerLine>,
  firstRuleIndex: number,
): { rules: object[]; results: object[] } {
  const byRule = new Map<string, ReportHygieneFinding[]>();
  for (const finding of report.hygiene)
    byRule.set(finding.ruleId, [...(byRule.get(finding.ruleId) ?? []), finding]);
  const ruleIds = [...byRule.keys()];
  const ordinals = identityOrdinals(report.hygiene);
  const finalFrom = options.dockerfile?.stages.at(-1)?.from;
  const imageUri = imageArtifactUri(report);
  const results = report.hygiene.map((finding, i) => {
    const { location } = finding;
    let physicalLocation: object;
    let placedBy: string | undefined;
    if (location.kind === "dockerfile") {
      physicalLocation = {
        artifactLocation: { uri: pathUri(location.path) },
        region: { startLine: location.line, ...(location.endLine ? { endLine: location.endLine } : {}) },
      };
    } else {
      const line = finding.layer ? lines.get(finding.layer.index) : undefined;
      const at =
        line ?? (options.dockerfile && location.kind === "config" && !finding.layer ? finalFrom : undefined);
      placedBy = line ? line.by : at ? "final-stage" : undefined;
      physicalLocation =
        at && options.dockerfile
          ? {
              artifactLocation: { uri: options.dockerfile.uri },
              region: { startLine: at.startLine, endLine: at.endLine },
            }
          : { artifactLocation: { uri: imageUri }, region: { startLine: 1 } };
    }
    const logical =
      location.kind === "config"
        ? [{ fullyQualifiedName: location.field, kind: "member" }]
        : location.kind === "file"
          ? [{ fullyQualifiedName: `/${location.path}`, kind: "resource" }]
          : undefined;
    const suppressed = finding.suppressed;
    return {
      ruleId: finding.ruleId,
      ruleIndex: firstRuleIndex + ruleIds.indexOf(finding.ruleId),
      level: levels[finding.severity],
      message: { text: `${finding.message} (${hygieneWhere(finding)})` },
      locations: [{ physicalLocation, ...(logical ? { logicalLocations: logical } : {}) }],
      partialFingerprints: { "layerwatch/v1": hygieneFingerprint(finding, ordinals[i] ?? 0) },
      ...(suppressed
        ? {
            suppressions: [
              {
                kind: suppressed.by === "inline" ? "inSource" : "external",
                status: "accepted",
                justification:
                  suppressed.by === "inline"
                    ? `layerwatch:ignore at line ${suppressed.line}: ${suppressed.reason}`
                    : `${suppressed.source}: ${suppressed.reason}`,
              },
            ],
          }
        : {}),
      ...(finding.baseline ? { baselineState: finding.baseline === "new" ? "new" : "unchanged" } : {}),
      properties: {
        hygiene: true,
        severity: finding.severity,
        ...(finding.layer && finding.layer.index >= 0 ? { layer: finding.layer.index } : {}),
        ...(finding.layer?.diffId ? { layerDiffId: finding.layer.diffId } : {}),
        ...(placedBy ? { dockerfileLineBy: placedBy } : {}),
      },
    };
  });
  return {
    rules: ruleIds.map((ruleId) => hygieneRuleOf(ruleId, byRule.get(ruleId) ?? [])),
    results,
  };
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>]/g, (c) => `\\${c}`);
}

export function renderSarif(report: JsonReport, options: SarifOptions = {}): string {
  const packages = findingPackages(report);
  const lines: Map<number, LayerLine> = options.dockerfile
    ? layerLines(report.image.layers, options.dockerfile.stages, report.image.baseImage?.layers)
    : new Map();
  const rules: Rule[] = [];
  const ruleIndex = new Map<string, number>();
  for (const finding of report.findings) {
    let index = ruleIndex.get(finding.id);
    if (index === undefined) {
      index = rules.length;
      ruleIndex.set(finding.id, index);
      rules.push({ id: finding.id, findings: [] });
    }
    rules[index]?.findings.push(finding);
  }
  const imageUri = imageArtifactUri(report);
  const results = report.findings.map((finding, i) => {
    const pkg = packages[i];
    const line = lines.get(finding.layer.index);
    const physicalLocation =
      line && options.dockerfile
        ? {
            artifactLocation: { uri: options.dockerfile.uri },
            region: { startLine: line.startLine, endLine: line.endLine },
          }
        : { artifactLocation: { uri: imageUri }, region: { startLine: 1 } };
    return {
      ruleId: finding.id,
      ruleIndex: ruleIndex.get(finding.id),
      level: levels[finding.severity.level],
      message: { text: describe(finding, pkg, line) },
      locations: [{ physicalLocation }],
      partialFingerprints: { "layerwatch/v1": fingerprint(finding, pkg) },
      // Set aside by an ignore file or VEX statement: accepted outside the tool.
      ...(finding.suppressed
        ? {
            suppressions: [
              {
                kind: "external",
                status: "accepted",
                justification: `${finding.suppressed.source}: ${finding.suppressed.reason}`,
              },
            ],
          }
        : {}),
      ...(finding.baseline ? { baselineState: finding.baseline === "new" ? "new" : "unchanged" } : {}),
      properties: {
        purl: finding.package.purl,
        installedVersion: finding.installedVersion,
        ...(finding.fixedVersion ? { fixedVersion: finding.fixedVersion } : {}),
        fixState: finding.fixState,
        severity: finding.severity.level,
        ...(finding.aliases.length > 0 ? { aliases: finding.aliases } : {}),
        ...(pkg ? { location: pkg.location } : {}),
        ...(finding.layer.index >= 0 ? { layer: finding.layer.index } : {}),
        ...(finding.layer.diffId ? { layerDiffId: finding.layer.diffId } : {}),
        ...(line ? { dockerfileLineBy: line.by } : {}),
      },
    };
  });
  const hygiene = hygieneResults(report, options, lines, rules.length);
  const log = {
    $schema: SARIF_SCHEMA,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: report.tool.name,
            version: report.tool.version,
            semanticVersion: report.tool.version,
            rules: [...rules.map(ruleOf), ...hygiene.rules],
          },
        },
        results: [...results, ...hygiene.results],
        properties: {
          image: report.image.source,
          ...(report.image.configDigest ? { configDigest: report.image.configDigest } : {}),
          ...(report.image.manifestDigest ? { manifestDigest: report.image.manifestDigest } : {}),
          repoTags: report.image.repoTags,
        },
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
