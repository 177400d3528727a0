import type { HygieneRule } from "../../types.js";
import type { LintContext, RuleHit } from "../context.js";
import { baseImageOf, type DockerfileStage } from "../parse.js";

export const unpinnedBaseRule: HygieneRule = {
  id: "LW-DF-002",
  severity: "low",
  title: "The base image is not pinned by digest",
  scope: "dockerfile",
};

export const latestTagRule: HygieneRule = {
  id: "LW-DF-003",
  severity: "medium",
  title: "The base image uses the latest tag or no tag",
  scope: "dockerfile",
};

/** `registry:5000/name:tag@sha256:...` into its tag and digest. */
export function imageReference(image: string): { name: string; tag?: string; digest?: string } {
  const at = image.indexOf("@");
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = withoutDigest.lastIndexOf(":");
  // A colon before the last slash is a registry's port, not a tag.
  const hasTag = colon > withoutDigest.lastIndexOf("/");
  return {
    name: hasTag ? withoutDigest.slice(0, colon) : withoutDigest,
    ...(hasTag ? { tag: withoutDigest.slice(colon + 1) } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** FROM by image id (`sha256:<64 hex>` or the bare hex): pinned to content, like a digest. */
function isImageId(image: string): boolean {
  return /^(?:sha256:)?[a-f0-9]{64}$/i.test(image);
}

function described(stage: DockerfileStage, image: string): string {
  return stage.imageText === image ? `FROM ${image}` : `FROM ${stage.imageText} (${image})`;
}

export function checkUnpinnedBase(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const stage of context.stages) {
    const image = baseImageOf(stage);
    if (!image || isImageId(image) || /^[a-z0-9]+:[a-f0-9]{32,}$/i.test(imageReference(image).digest ?? ""))
      continue;
    hits.push({
      instruction: stage.from,
      message: `${described(stage, image)} is not pinned by digest: the build takes whatever the tag points to`,
    });
  }
  return hits;
}

export function checkLatestTag(context: LintContext): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const stage of context.stages) {
    const image = baseImageOf(stage);
    if (!image || isImageId(image)) continue;
    const { tag, digest } = imageReference(image);
    // A digest pins the image whatever the tag says.
    if (digest !== undefined) continue;
    if (tag === undefined)
      hits.push({
        instruction: stage.from,
        message: `${described(stage, image)} has no tag: it means :latest`,
      });
    else if (tag.toLowerCase() === "latest")
      hits.push({ instruction: stage.from, message: `${described(stage, image)} uses the latest tag` });
  }
  return hits;
}
