import { ruleById } from "../hygiene/rules.js";
import type { HygieneFinding, HygieneLocation, HygieneSeverity } from "../hygiene/types.js";
import type { HistoryEntry } from "../image/types.js";
import type { Package } from "../inventory/types.js";
import type { Finding, SeverityLevel } from "../match/types.js";
import { severityLevels } from "../match/types.js";
import type { ScanResult } from "../pipeline.js";
import type { PolicyVerdict } from "../policy/threshold.js";
import type { HygieneSuppression, PolicySettings, Suppression } from "../policy/types.js";
import { toolVersion } from "../version.js";

/** Version of the JSON report's shape (docs/report-schema.md). Minor: fields added; major: changed. */
export const REPORT_SCHEMA_VERSION = "1.3";

export interface ReportLayer {
  /** 0 is the base; -1 when an SBOM (`sbom:FILE`) does not say which layer (no diffId then). */
  index: number;
  diffId?: string;
  digest?: string;
  createdBy?: string;
  /** Whether the base image supplied this layer; present only when the base image is known. */
  baseImage?: boolean;
}

export interface ReportPackage {
  name: string;
  version: string;
  type: string;
  purl: string;
  ecosystem?: string;
  sourceName?: string;
  sourceVersion?: string;
  arch?: string;
  epoch?: number;
  license?: string;
  /** `license` as a valid SPDX expression, when it could be told without guessing. */
  licenseExpression?: string;
  vendor?: string;
  modularityLabel?: string;
  dev?: boolean;
  sha1?: string;
  /** A language package an OS package installed: the owning package's purl. */
  osOwned?: string;
  location: string;
  layer: ReportLayer;
}

export interface ReportFinding {
  id: string;
  aliases: string[];
  package: { name: string; version: string; type: string; purl: string; sourceName?: string };
  installedVersion: string;
  fixedVersion?: string;
  fixState: Finding["fixState"];
  severity: Finding["severity"];
  summary?: string;
  ecosystem: string;
  layer: ReportLayer;
  /** An ignore entry or a VEX statement set it aside: it stays listed but never fails the build. */
  suppressed?: Suppression;
  /** With `--baseline`: whether the baseline report had it. */
  baseline?: "new" | "known";
}

/** A build-hygiene finding (a Dockerfile or image check), as the report lists it. */
export interface ReportHygieneFinding {
  ruleId: string;
  severity: HygieneSeverity;
  /** The rule's one-line title (docs/rules.md). */
  title: string;
  message: string;
  location: HygieneLocation;
  /** For a file, the layer it is in; for a `history[n]` config field, the layer that entry made. */
  layer?: ReportLayer;
  /** An inline `# layerwatch:ignore` comment or an ignore-file `rule` entry set it aside. */
  suppressed?: HygieneSuppression;
  /** With `--baseline`: whether the baseline report had it. */
  baseline?: "new" | "known";
}

/** The hygiene severities, most severe last, as the summary counts them. */
export const hygieneSeverities: readonly HygieneSeverity[] = ["low", "medium", "high", "critical"];

export interface JsonReport {
  schemaVersion: string;
  tool: { name: "layerwatch"; version: string };
  createdAt: string;
  image: {
    source: string;
    manifestDigest?: string;
    /** Absent only for an SBOM (`sbom:FILE`) that names no config digest. */
    configDigest?: string;
    repoTags: string[];
    os?: string;
    architecture?: string;
    baseImage?: { reference: string; layers: number; from: "option" | "label" };
    layers: ReportLayer[];
  };
  /** The Dockerfile linted (`scan --dockerfile`, `lint`), as named. */
  dockerfile?: string;
  os: {
    id: string;
    versionId?: string;
    prettyName?: string;
    ecosystem?: string;
    /** The date the release's vendor support ends (YYYY-MM-DD), when known. */
    endOfLife?: string;
    /** Whether that date had passed at scan time. */
    eol?: boolean;
  } | null;
  packages: ReportPackage[];
  findings: ReportFinding[];
  /** Build-hygiene findings, most severe first (Dockerfile ones before image ones at a level). */
  hygiene: ReportHygieneFinding[];
  summary: {
    packages: number;
    findings: number;
    bySeverity: Record<SeverityLevel, number>;
    /** With `--baseline`: the listed findings it did not have, and those it had. */
    new?: number;
    known?: number;
    hygiene: {
      findings: number;
      bySeverity: Record<HygieneSeverity, number>;
      new?: number;
      known?: number;
    };
  };
  policy: PolicySettings & {
    failOn?: SeverityLevel;
    failed: boolean;
    /** What trips `--fail-on`: findings and hygiene findings (`hygiene.failing` of them). */
    failing: number;
    /** Findings left out of `findings` (by `--severity` or `--ignore-unfixed`). */
    hidden: number;
    /** Listed findings marked `suppressed`. */
    suppressed: number;
    /** Listed findings the baseline had. */
    known: number;
    /** The same counts for the hygiene findings. */
    hygiene: { failing: number; hidden: number; suppressed: number; known: number };
  };
  warnings: Array<{ subject: string; problem: string }>;
}

/** The report's view of a package: what identifies it and where it came from, not its file list. */
function reportPackage(pkg: Package, layer: ReportLayer): ReportPackage {
  return {
    name: pkg.name,
    version: pkg.version,
    type: pkg.type,
    purl: pkg.purl,
    ...(pkg.ecosystem ? { ecosystem: pkg.ecosystem } : {}),
    ...(pkg.sourceName ? { sourceName: pkg.sourceName } : {}),
    ...(pkg.sourceVersion ? { sourceVersion: pkg.sourceVersion } : {}),
    ...(pkg.arch ? { arch: pkg.arch } : {}),
    ...(pkg.epoch !== undefined ? { epoch: pkg.epoch } : {}),
    ...(pkg.license ? { license: pkg.license } : {}),
    ...(pkg.licenseExpression ? { licenseExpression: pkg.licenseExpression } : {}),
    ...(pkg.vendor ? { vendor: pkg.vendor } : {}),
    ...(pkg.modularityLabel ? { modularityLabel: pkg.modularityLabel } : {}),
    ...(pkg.dev ? { dev: true } : {}),
    ...(pkg.sha1 ? { sha1: pkg.sha1 } : {}),
    ...(pkg.osOwned ? { osOwned: pkg.osOwned } : {}),
    location: pkg.location,
    layer,
  };
}

/** The layer a history entry made: history entries marked empty_layer make none. */
function historyLayerIndex(history: readonly HistoryEntry[] | undefined, entry: number): number | undefined {
  const target = history?.[entry];
  if (!history || !target || target.empty_layer) return undefined;
  return history.slice(0, entry).filter((earlier) => !earlier.empty_layer).length;
}

const severityOrder: Record<HygieneSeverity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** The hygiene section: the findings the policy did not hide, most severe first, and their counts. */
export function hygieneSection(
  findings: readonly HygieneFinding[],
  verdict: PolicyVerdict,
  layerOf: (location: HygieneLocation) => ReportLayer | undefined,
): {
  hygiene: ReportHygieneFinding[];
  summary: JsonReport["summary"]["hygiene"];
  policy: JsonReport["policy"]["hygiene"];
} {
  const decisionOf = (finding: HygieneFinding) => verdict.hygiene?.decisions.get(finding) ?? {};
  // Sort is stable: at one level the linter's order (Dockerfile lines) then the image checks'.
  const listed = findings
    .filter((finding) => !decisionOf(finding).hidden)
    .sort((a, b) => severityOrder[a.severity] - severityOrder[b.severity]);
  const bySeverity = Object.fromEntries(hygieneSeverities.map((level) => [level, 0])) as Record<
    HygieneSeverity,
    number
  >;
  for (const finding of listed) bySeverity[finding.severity]++;
  const known = listed.filter((finding) => decisionOf(finding).baseline === "known").length;
  return {
    hygiene: listed.map((finding) => {
      const decision = decisionOf(finding);
      const layer = layerOf(finding.location);
      return {
        ruleId: finding.ruleId,
        severity: finding.severity,
        title: ruleById(finding.ruleId)?.title ?? finding.ruleId,
        message: finding.message,
        location: finding.location,
        ...(layer ? { layer } : {}),
        ...(decision.suppressed ? { suppressed: decision.suppressed } : {}),
        ...(decision.baseline ? { baseline: decision.baseline } : {}),
      };
    }),
    summary: {
      findings: listed.length,
      bySeverity,
      ...(verdict.settings?.baseline !== undefined ? { new: listed.length - known, known } : {}),
    },
    policy: {
      failing: verdict.hygiene?.failing.length ?? 0,
      hidden: findings.length - listed.length,
      suppressed: listed.filter((finding) => decisionOf(finding).suppressed !== undefined).length,
      known,
    },
  };
}

export function buildReport(
  result: ScanResult,
  verdict: PolicyVerdict,
  now: Date = new Date(),
  options: { dockerfile?: string } = {},
): JsonReport {
  const layers: ReportLayer[] = result.image.layers.map((layer) => ({
    index: layer.index,
    diffId: layer.diffId,
    ...(layer.digest ? { digest: layer.digest } : {}),
    ...(layer.createdBy ? { createdBy: layer.createdBy } : {}),
    ...(result.baseImage ? { baseImage: layer.index < result.baseImage.layers } : {}),
  }));
  // An SBOM may name only some layers, or none (Package.layer -1): a layer it does not name is
  // the unknown layer, index -1 without a diff id.
  const layerAt = (index: number): ReportLayer =>
    layers.find((layer) => layer.index === index) ?? { index: -1 };
  const packages = result.inventory.packages;
  const bySeverity = Object.fromEntries(severityLevels.map((level) => [level, 0])) as Record<
    SeverityLevel,
    number
  >;
  const decisionOf = (finding: Finding) => verdict.decisions?.get(finding) ?? {};
  // Hidden findings are only counted; suppressed and known ones stay listed, marked.
  const listed = result.findings.filter((finding) => !decisionOf(finding).hidden);
  for (const finding of listed) bySeverity[finding.severity.level]++;
  const count = (test: (finding: Finding) => boolean) => listed.filter(test).length;
  const known = count((finding) => decisionOf(finding).baseline === "known");
  const distro = result.inventory.distro;
  const history = result.image.config.history;
  const hygiene = hygieneSection(result.hygiene ?? [], verdict, (location) => {
    if (location.kind === "file") return layerAt(location.layer);
    const entry = location.kind === "config" ? /^history\[(\d+)\]/.exec(location.field) : null;
    const index = entry ? historyLayerIndex(history, Number(entry[1])) : undefined;
    return index === undefined ? undefined : layerAt(index);
  });
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: "layerwatch", version: toolVersion },
    createdAt: now.toISOString(),
    image: {
      source: result.image.source.text,
      ...(result.image.manifestDigest ? { manifestDigest: result.image.manifestDigest } : {}),
      ...(result.image.configDigest ? { configDigest: result.image.configDigest } : {}),
      repoTags: result.image.repoTags,
      ...(result.image.config.os ? { os: result.image.config.os } : {}),
      ...(result.image.config.architecture ? { architecture: result.image.config.architecture } : {}),
      ...(result.baseImage
        ? {
            baseImage: {
              reference: result.baseImage.reference,
              layers: result.baseImage.layers,
              from: result.baseImage.from,
            },
          }
        : {}),
      layers,
    },
    ...(options.dockerfile !== undefined ? { dockerfile: options.dockerfile } : {}),
    os: distro
      ? {
          id: distro.id,
          ...(distro.versionId ? { versionId: distro.versionId } : {}),
          ...(distro.prettyName ? { prettyName: distro.prettyName } : {}),
          ...(distro.osvEcosystem ? { ecosystem: distro.osvEcosystem } : {}),
          ...(distro.endOfLife ? { endOfLife: distro.endOfLife } : {}),
          ...(distro.eol !== undefined ? { eol: distro.eol } : {}),
        }
      : null,
    packages: packages.map((pkg) => reportPackage(pkg, layerAt(pkg.layer))),
    findings: listed.map((finding) => {
      const pkg = packages[finding.packageIndex];
      const decision = decisionOf(finding);
      if (!pkg)
        throw new Error(
          `finding ${finding.id} names package ${finding.packageIndex}, which the inventory lacks`,
        );
      return {
        id: finding.id,
        aliases: finding.aliases,
        package: {
          name: pkg.name,
          version: pkg.version,
          type: pkg.type,
          purl: pkg.purl,
          ...(pkg.sourceName && pkg.sourceName !== pkg.name ? { sourceName: pkg.sourceName } : {}),
        },
        installedVersion: finding.installedVersion,
        ...(finding.fixedVersion ? { fixedVersion: finding.fixedVersion } : {}),
        fixState: finding.fixState,
        severity: finding.severity,
        ...(finding.summary ? { summary: finding.summary } : {}),
        ecosystem: finding.ecosystem,
        layer: layerAt(pkg.layer),
        ...(decision.suppressed ? { suppressed: decision.suppressed } : {}),
        ...(decision.baseline ? { baseline: decision.baseline } : {}),
      };
    }),
    hygiene: hygiene.hygiene,
    summary: {
      packages: packages.length,
      findings: listed.length,
      bySeverity,
      ...(verdict.settings?.baseline !== undefined ? { new: listed.length - known, known } : {}),
      hygiene: hygiene.summary,
    },
    policy: {
      ...(verdict.failOn ? { failOn: verdict.failOn } : {}),
      ...verdict.settings,
      failed: verdict.failed,
      failing: verdict.failing.length + hygiene.policy.failing,
      hidden: result.findings.length - listed.length,
      suppressed: count((finding) => decisionOf(finding).suppressed !== undefined),
      known,
      hygiene: hygiene.policy,
    },
    warnings: [...result.warnings, ...(verdict.warnings ?? [])],
  };
}
