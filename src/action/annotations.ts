import type { SeverityLevel } from "../match/types.js";
import type { DockerfileStage } from "../report/dockerfile-lines.js";
import { layerLines } from "../report/dockerfile-lines.js";
import { isFailing, severitiesDescending } from "../report/findings.js";
import { isHygieneFailing, ruleDocUrl } from "../report/hygiene.js";
import type { JsonReport, ReportFinding } from "../report/model.js";

/**
 * Annotations at the Dockerfile lines that made vulnerable layers: one per line, not one per
 * finding (GitHub shows only the first few annotations of each kind a step makes), naming the
 * most severe findings there. The line of each layer is the one the SARIF report points at
 * (report/dockerfile-lines.ts). Findings the policy set aside (suppressed, known to the
 * baseline) are left out: nothing about them needs doing.
 *
 * Dockerfile hygiene findings get one annotation each, at their own lines.
 */

export interface DockerfileAnnotation {
  /** error when a finding there fails the step (`fail-on`), else warning. */
  level: "error" | "warning";
  title: string;
  message: string;
  /** The Dockerfile's path relative to the repository root. */
  file: string;
  startLine: number;
  endLine: number;
}

/** Findings named in one annotation; the rest are counted. */
const LISTED = 5;

function counts(findings: ReportFinding[]): string {
  return severitiesDescending
    .map((level) => [level, findings.filter((f) => f.severity.level === level).length] as const)
    .filter(([, count]) => count > 0)
    .map(([level, count]) => `${count} ${level}`)
    .join(", ");
}

function describe(finding: ReportFinding): string {
  const fix = finding.fixedVersion ? `fixed in ${finding.fixedVersion}` : "no fix yet";
  return `${finding.id} (${finding.severity.level}) in ${finding.package.name} ${finding.installedVersion}, ${fix}`;
}

export function dockerfileAnnotations(
  report: JsonReport,
  dockerfile: { path: string; stages: DockerfileStage[] },
  failOn: SeverityLevel | undefined,
): DockerfileAnnotation[] {
  const lines = layerLines(report.image.layers, dockerfile.stages, report.image.baseImage?.layers);
  const byLine = new Map<number, { startLine: number; endLine: number; findings: ReportFinding[] }>();
  for (const finding of report.findings) {
    if (finding.suppressed || finding.baseline === "known") continue;
    const line = lines.get(finding.layer.index);
    if (!line) continue;
    const entry = byLine.get(line.startLine) ?? { ...line, findings: [] };
    entry.findings.push(finding);
    byLine.set(line.startLine, entry);
  }
  return [...byLine.values()]
    .sort((a, b) => a.startLine - b.startLine)
    .map(({ startLine, endLine, findings }) => {
      // The report lists findings most severe first.
      const listed = findings.slice(0, LISTED).map(describe);
      const more = findings.length - listed.length;
      const failing = failOn !== undefined && findings.some((finding) => isFailing(finding, failOn));
      const noun = findings.length === 1 ? "vulnerability" : "vulnerabilities";
      return {
        level: failing ? "error" : "warning",
        title: `layerwatch: ${findings.length} ${noun} (${counts(findings)}) in packages this line installs`,
        message: [...listed, ...(more > 0 ? [`…and ${more} more (see the report)`] : [])].join("\n"),
        file: dockerfile.path,
        startLine,
        endLine,
      };
    });
}

/**
 * One annotation per Dockerfile hygiene finding the policy did not set aside, at its instruction's
 * lines: error when it reaches `fail-on`, else warning. Image hygiene findings are in the summary
 * and the SARIF report (at the lines that made their layers).
 */
export function hygieneAnnotations(
  report: JsonReport,
  failOn: SeverityLevel | undefined,
): DockerfileAnnotation[] {
  return report.hygiene.flatMap((finding): DockerfileAnnotation[] => {
    const { location } = finding;
    if (location.kind !== "dockerfile" || finding.suppressed || finding.baseline === "known") return [];
    return [
      {
        level: failOn !== undefined && isHygieneFailing(finding, failOn) ? "error" : "warning",
        title: `layerwatch ${finding.ruleId} (${finding.severity}): ${finding.title}`,
        message: `${finding.message}\n${ruleDocUrl(finding.ruleId)}`,
        file: location.path,
        startLine: location.line,
        endLine: location.endLine ?? location.line,
      },
    ];
  });
}
