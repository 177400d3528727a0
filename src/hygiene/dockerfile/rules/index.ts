import type { HygieneRule } from "../../types.js";
import type { DockerfileCheck } from "../context.js";
import { addInsteadOfCopyRule, checkAddInsteadOfCopy } from "./add.js";
import { apkCacheRule, checkApkCache } from "./apk.js";
import {
  aptListsRule,
  aptNoYesRule,
  aptRecommendsRule,
  checkAptLists,
  checkAptNoYes,
  checkAptRecommends,
} from "./apt.js";
import { checkLatestTag, checkUnpinnedBase, latestTagRule, unpinnedBaseRule } from "./base-image.js";
import { checkSecretBuildArg, secretBuildArgRule } from "./build-arg.js";
import { checkSetuid, checkWorldWritable, setuidRule, worldWritableRule } from "./chmod.js";
import { checkRepeatedCmd, repeatedCmdRule } from "./cmd-entrypoint.js";
import { checkSshPort, sshPortRule } from "./expose.js";
import { checkHealthcheck, healthcheckRule } from "./healthcheck.js";
import { checkUnpinnedPackages, unpinnedPackagesRule } from "./pinning.js";
import { checkPipefail, pipefailRule } from "./pipefail.js";
import { checkRemoteScript, remoteScriptRule } from "./remote-script.js";
import {
  checkSecretFileCopied,
  checkSecretInDockerfile,
  secretFileCopiedRule,
  secretInDockerfileRule,
} from "./secrets.js";
import { checkSudo, sudoRule } from "./sudo.js";
import { checkRootUser, rootUserRule } from "./user.js";
import { checkRelativeWorkdir, relativeWorkdirRule } from "./workdir.js";

/** Every Dockerfile check, in rule id order. */
export const dockerfileChecks: DockerfileCheck[] = [
  { rule: rootUserRule, check: checkRootUser },
  { rule: unpinnedBaseRule, check: checkUnpinnedBase },
  { rule: latestTagRule, check: checkLatestTag },
  { rule: secretInDockerfileRule, check: checkSecretInDockerfile },
  { rule: secretFileCopiedRule, check: checkSecretFileCopied },
  { rule: addInsteadOfCopyRule, check: checkAddInsteadOfCopy },
  { rule: remoteScriptRule, check: checkRemoteScript },
  { rule: aptNoYesRule, check: checkAptNoYes },
  { rule: aptRecommendsRule, check: checkAptRecommends },
  { rule: aptListsRule, check: checkAptLists },
  { rule: apkCacheRule, check: checkApkCache },
  { rule: unpinnedPackagesRule, check: checkUnpinnedPackages },
  { rule: sudoRule, check: checkSudo },
  { rule: sshPortRule, check: checkSshPort },
  { rule: relativeWorkdirRule, check: checkRelativeWorkdir },
  { rule: worldWritableRule, check: checkWorldWritable },
  { rule: repeatedCmdRule, check: checkRepeatedCmd },
  { rule: pipefailRule, check: checkPipefail },
  { rule: healthcheckRule, check: checkHealthcheck },
  { rule: setuidRule, check: checkSetuid },
  { rule: secretBuildArgRule, check: checkSecretBuildArg },
];

export const dockerfileRules: HygieneRule[] = dockerfileChecks.map((check) => check.rule);
