import type { HygieneFinding } from "../hygiene/types.js";
import { severityLevels } from "../match/types.js";
import type { PolicyVerdict } from "../policy/types.js";
import { toolVersion } from "../version.js";
import { hygieneSection, type JsonReport, REPORT_SCHEMA_VERSION } from "./model.js";

/**
 * `layerwatch lint Dockerfile`'s report: the JSON report's shape (so every renderer and a later
 * `--baseline` read it as they read a scan's), with the Dockerfile in place of an image: no layers,
 * packages or findings, only `hygiene`.
 */
export function buildLintReport(
  dockerfile: string,
  findings: readonly HygieneFinding[],
  warnings: ReadonlyArray<{ subject: string; problem: string }>,
  verdict: PolicyVerdict,
  now: Date = new Date(),
): JsonReport {
  // A Dockerfile finding is at a line, never in a layer.
  const section = hygieneSection(findings, verdict, () => undefined);
  const bySeverity = Object.fromEntries(
    severityLevels.map((level) => [level, 0]),
  ) as JsonReport["summary"]["bySeverity"];
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: "layerwatch", version: toolVersion },
    createdAt: now.toISOString(),
    image: { source: dockerfile, repoTags: [], layers: [] },
    dockerfile,
    os: null,
    packages: [],
    findings: [],
    hygiene: section.hygiene,
    summary: {
      packages: 0,
      findings: 0,
      bySeverity,
      ...(verdict.settings?.baseline !== undefined ? { new: 0, known: 0 } : {}),
      hygiene: section.summary,
    },
    policy: {
      ...(verdict.failOn ? { failOn: verdict.failOn } : {}),
      ...verdict.settings,
      failed: verdict.failed,
      failing: section.policy.failing,
      hidden: 0,
      suppressed: 0,
      known: 0,
      hygiene: section.policy,
    },
    warnings: [...warnings, ...(verdict.warnings ?? [])],
  };
}
