import type { LayerContents } from "../../fs/types.js";
import { isSecretFileName } from "../secrets.js";
import type { HygieneFinding } from "../types.js";
import { fateText, type LayerFates } from "./layer-fate.js";
import { isPublicKeyPlace } from "./public-paths.js";
import { deletedSecretFile, finding, KNOWN_FORMAT_SEVERITY, secretFile } from "./rules.js";
import { describeNotes, secretContentScanner } from "./secret-content.js";

/**
 * Files whose name says they hold credentials (an SSH key, .env, .npmrc, cloud credentials), in
 * every layer: one still in the final image, and one a later layer deleted or replaced, which
 * the image still carries in the layer that added it. Empty files hold nothing and are left out;
 * so is a hard link (the file it links to is reported).
 */
export function checkSecretFiles(layers: readonly LayerContents[], fates: LayerFates): HygieneFinding[] {
  const findings: HygieneFinding[] = [];
  layers.forEach((layer, index) => {
    for (const entry of layer.entries) {
      if (entry.type !== "file" || entry.size === 0) continue;
      const kind = isSecretFileName(entry.path);
      if (kind === undefined || isPublicKeyPlace(entry.path)) continue;
      const notes = entry.notes?.[secretContentScanner.name];
      const known = notes !== undefined && notes.length > 0;
      const holding = known ? `, holding ${describeNotes(notes)}` : "";
      const severity = known ? KNOWN_FORMAT_SEVERITY : undefined;
      const fate = fates.fate(entry.path, index);
      if (fate.kind === "kept") {
        findings.push(
          finding(
            secretFile,
            `${entry.path} (${kind}${holding}) is in the image, added by layer ${index}`,
            {
              kind: "file",
              path: entry.path,
              layer: index,
            },
            severity,
          ),
        );
      } else {
        findings.push(
          finding(
            deletedSecretFile,
            `${entry.path} (${kind}${holding}) was added by layer ${index} and ${fateText(fate)}, but layer ${index} still holds it: anyone who pulls the image can extract it`,
            { kind: "file", path: entry.path, layer: index, deleted: true },
            severity,
          ),
        );
      }
    }
  });
  return findings;
}
