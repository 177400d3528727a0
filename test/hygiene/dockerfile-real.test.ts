/**
 * The Dockerfile rules on other scanners' real test Dockerfiles, read in place from the shared
 * data (pkgdb/dockerfile, see its README): trivy-checks' good/bad examples for the checks that
 * match one of ours, and Docker official-image, multi-stage, ARG and Red Hat build Dockerfiles
 * from snyk-docker-plugin, trivy and dockle, whose findings were checked by hand line by line.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { lintDockerfile } from "../../src/hygiene/dockerfile/lint.js";
import type { HygieneFinding } from "../../src/hygiene/types.js";
import { sharedData } from "../helpers/shared-data.js";

const root = sharedData("pkgdb/dockerfile");

function where(finding: HygieneFinding): string {
  if (finding.location.kind !== "dockerfile") throw new Error("a Dockerfile finding outside the Dockerfile");
  const { line, endLine } = finding.location;
  return `${finding.ruleId}@${line}${endLine === undefined ? "" : `-${endLine}`}`;
}

/** trivy-checks' YAML (by file name) and the rule of ours that checks the same thing. */
const trivyChecks: Array<[string, string]> = [
  ["root_user.yaml", "LW-DF-001"],
  ["latest_tag.yaml", "LW-DF-003"],
  ["add_instead_of_copy.yaml", "LW-DF-006"],
  ["apt_get_missing_yes_flag_to_avoid_manual_input.yaml", "LW-DF-008"],
  ["run_using_sudo.yaml", "LW-DF-013"],
  ["port22.yaml", "LW-DF-014"],
  ["workdir_path_not_absolute.yaml", "LW-DF-015"],
  ["multiple_cmd_instructions_listed.yaml", "LW-DF-017"],
  ["multiple_entrypoint_instructions_listed.yaml", "LW-DF-017"],
];

describe("trivy-checks' good and bad Dockerfiles", () => {
  it.each(trivyChecks)("%s: %s reports every bad example and no good one", (file, ruleId) => {
    if (!root) return;
    const examples = parse(readFileSync(join(root, "trivy-checks/checks/docker", file), "utf8")) as {
      dockerfile: { good?: string[]; bad?: string[] };
    };
    const { good = [], bad = [] } = examples.dockerfile;
    expect(good.length + bad.length).toBeGreaterThan(1);
    for (const text of bad)
      expect(
        lintDockerfile(text, file).findings.map((finding) => finding.ruleId),
        text,
      ).toContain(ruleId);
    for (const text of good)
      expect(
        lintDockerfile(text, file).findings.map((finding) => finding.ruleId),
        text,
      ).not.toContain(ruleId);
  });
});

function dockerfilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && !entry.name.endsWith(".yaml"))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * Each file's complete findings, worked out by reading the file: rule id @ first line (- last
 * line for a continued instruction).
 */
const expectedFindings: Record<string, string[]> = {
  "snyk-docker-plugin/fixtures/dockerfiles/bug/Dockerfile": [
    "LW-DF-001@1",
    "LW-DF-002@1",
    "LW-DF-019@1",
    // curl -fsSL https://rpm.nodesource.com/setup_10.x | bash -
    "LW-DF-007@3-6",
    "LW-DF-018@3-6",
  ],
  // FROM scratch plus a rootfs archive: root, and nothing else (ADD of a tar is what ADD is for).
  "snyk-docker-plugin/fixtures/dockerfiles/from-scratch/Dockerfile": ["LW-DF-001@1"],
  "snyk-docker-plugin/fixtures/dockerfiles/library/centos/Dockerfile": ["LW-DF-001@1"],
  "snyk-docker-plugin/fixtures/dockerfiles/library/nginx/Dockerfile": [
    "LW-DF-001@1",
    "LW-DF-002@1",
    "LW-DF-019@1",
    // nginx=${NGINX_VERSION} and friends are pinned; these four are not.
    "LW-DF-012@8-89",
    // apt-mark showmanual | xargs apt-mark auto. The case pattern amd64|i386) is not a pipe, and
    // chmod 777 "$tempDir" is on a folder the same RUN removes.
    "LW-DF-018@8-89",
  ],
  "snyk-docker-plugin/fixtures/dockerfiles/library/node/Dockerfile": [
    "LW-DF-001@1",
    "LW-DF-002@1",
    "LW-DF-019@1",
    // grep " node-v...tar.xz$" SHASUMS256.txt | sha256sum -c -
    "LW-DF-018@8-43",
  ],
  "snyk-docker-plugin/fixtures/dockerfiles/library/redis/Dockerfile": [
    "LW-DF-001@1",
    "LW-DF-002@1",
    "LW-DF-019@1",
    // 'su-exec>=0.2' is a range; the .build-deps are unpinned. echo "$SHA *redis.tar.gz" | sha256sum is not reported.
    "LW-DF-012@7",
    "LW-DF-012@14-45",
  ],
  // The final stage is FROM extended, FROM base, FROM alpine:latest: no USER anywhere in that chain.
  "snyk-docker-plugin/fixtures/dockerfiles/multi-stage-as/Dockerfile": [
    "LW-DF-002@1",
    "LW-DF-002@7",
    "LW-DF-003@7",
    "LW-DF-012@8",
    "LW-DF-001@15",
    "LW-DF-019@15",
  ],
  "snyk-docker-plugin/fixtures/dockerfiles/multi-stage-with-args/Dockerfile": [
    "LW-DF-002@2",
    "LW-DF-001@3",
    "LW-DF-019@3",
  ],
  "snyk-docker-plugin/fixtures/dockerfiles/with-args-package/Dockerfile": [
    "LW-DF-001@1",
    "LW-DF-002@1",
    "LW-DF-019@1",
    // apk add --update --no-cache $RUNTIME_PACKAGES, the ARG's value being "nodejs bash".
    "LW-DF-012@3-5",
  ],
  "snyk-docker-plugin/fixtures/dockerfiles/with-installation-instruction/Dockerfile": [
    "LW-DF-001@1",
    "LW-DF-002@1",
    "LW-DF-019@1",
    "LW-DF-008@3",
    "LW-DF-009@3",
    "LW-DF-010@3",
    "LW-DF-012@3",
  ],
  "snyk-docker-plugin/system/dockerfile-analysis/Dockerfile": [
    // USER bar on line 9: not root.
    "LW-DF-002@1",
    "LW-DF-019@1",
    "LW-DF-011@3",
    "LW-DF-012@3",
  ],
  // FROM by image id is pinned; USER jboss.
  "trivy/buildinfo/Dockerfile-jboss-base-7-base-1.1-3": ["LW-DF-019@2", "LW-DF-006@16"],
  "trivy/buildinfo/Dockerfile-ubi8-8.3-227": ["LW-DF-001@1", "LW-DF-019@1", "LW-DF-006@29"],
  "dockle/Dockerfile.base": [
    "LW-DF-001@1",
    "LW-DF-002@1",
    "LW-DF-019@1",
    "LW-DF-009@3",
    "LW-DF-010@3",
    "LW-DF-012@3",
    "LW-DF-006@5",
    // chmod u+s on line 7; chmod u-s on line 8 takes bits away and is not reported.
    "LW-DF-020@7",
  ],
};

describe("real Dockerfiles", () => {
  it("every one lints without throwing; only the empty and the invalid one give warnings", () => {
    if (!root) return;
    const files = dockerfilesUnder(root);
    expect(files.length).toBeGreaterThanOrEqual(30);
    const warned: string[] = [];
    for (const file of files) {
      const name = relative(root, file);
      const { findings, warnings } = lintDockerfile(readFileSync(file, "utf8"), name);
      if (warnings.length > 0) warned.push(name);
      for (const finding of findings)
        expect(finding.location).toMatchObject({ kind: "dockerfile", path: name });
    }
    expect(warned).toEqual([
      "snyk-docker-plugin/fixtures/dockerfiles/empty/Dockerfile",
      "snyk-docker-plugin/fixtures/dockerfiles/invalid/Dockerfile",
    ]);
  });

  it.each(Object.entries(expectedFindings))("%s", (name, expected) => {
    if (!root) return;
    const { findings } = lintDockerfile(readFileSync(join(root, name), "utf8"), name);
    expect(findings.map(where).sort()).toEqual([...expected].sort());
  });

  it("an image named by ARGs before FROM is checked as the image it expands to", () => {
    if (!root) return;
    const name = "snyk-docker-plugin/fixtures/dockerfiles/with-args-nobraces/Dockerfile";
    const { findings } = lintDockerfile(readFileSync(join(root, name), "utf8"), name);
    expect(findings.find((finding) => finding.ruleId === "LW-DF-002")?.message).toBe(
      "FROM $repo:$version (node:dubnium) is not pinned by digest: the build takes whatever the tag points to",
    );
  });
});
