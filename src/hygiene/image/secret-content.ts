import type { FileScanner, LayerContents, ScanNote, StreamScanner } from "../../fs/types.js";
import { isSecretFileName, secretsInText } from "../secrets.js";
import type { HygieneFinding } from "../types.js";
import { describeSecret } from "./describe.js";
import { fateText, type LayerFates } from "./layer-fate.js";
import { isPublicKeyPlace } from "./public-paths.js";
import { finding, secretInFile } from "./rules.js";

/** Larger files are not read: keys, tokens and config files are small; logs and data are not. */
export const MAX_SCANNED_FILE_BYTES = 256 * 1024;

/** Formats whose bytes never hold a readable key (compressed, compiled, images, fonts). */
const BINARY_NAME =
  /\.(?:so(?:\.\d+)*|a|o|ko|pyc|pyo|class|jar|war|ear|zip|whl|egg|gz|tgz|xz|txz|bz2|zst|lz4|lzma|7z|deb|rpm|png|jpe?g|gif|ico|webp|bmp|tiff?|woff2?|ttf|otf|eot|mo|gmo|wasm|node|db|sqlite3?|pdf|mp[34]|ogg|wav)$/i;

/**
 * Files installed from published packages: the distribution's libraries and data, and language
 * packages wherever an application keeps them. Their bytes are the package's, public wherever the
 * package is; reading every one of them (a node_modules tree is tens of thousands of files) doubled
 * the time to read such a layer. Their names are still checked (secret-files.ts).
 */
const INSTALLED_PACKAGE_FILES =
  /^usr\/(?:share|include|lib|lib32|lib64|libexec)\/|(?:^|\/)(?:node_modules|site-packages|dist-packages|gems|go\/pkg\/mod)\//;

/**
 * Holds a file's first bytes (up to MAX_SCANNED_FILE_BYTES) and looks for secrets in them at the
 * end; a NUL byte says the file is binary, and it stops there holding nothing.
 */
class SecretTextScanner implements StreamScanner {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private binary = false;

  write(chunk: Buffer): boolean {
    if (chunk.includes(0)) {
      this.binary = true;
      this.chunks = [];
      return false;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    return this.bytes < MAX_SCANNED_FILE_BYTES;
  }

  end(): ScanNote[] {
    if (this.binary || this.bytes === 0) return [];
    const text = Buffer.concat(this.chunks).subarray(0, MAX_SCANNED_FILE_BYTES).toString("latin1");
    this.chunks = [];
    return secretsInText(text).map((match) => ({ kind: match.kind, detail: match.masked }));
  }
}

/** Reads small text files as the layer streams and notes the secrets in them, masked. */
export const secretContentScanner: FileScanner = {
  name: "secrets",
  // Bump when secrets.ts's formats, the size limit or the skipped places change.
  version: "2",
  offered(path, _mode, size) {
    if (size !== undefined && (size === 0 || size > MAX_SCANNED_FILE_BYTES)) return false;
    return !BINARY_NAME.test(path) && !INSTALLED_PACKAGE_FILES.test(path) && !isPublicKeyPlace(path);
  },
  open: () => new SecretTextScanner(),
};

/** "a GitHub token (ghp_****…)", "a private key (RSA) (MIIE****…) and 2 more". */
export function describeNotes(notes: readonly ScanNote[]): string {
  const [first] = notes;
  if (!first) return "";
  const more = notes.length > 1 ? ` and ${notes.length - 1} more` : "";
  return `${describeSecret(first.kind, first.detail)}${more}`;
}

/**
 * Secrets the scanner noted in file contents, one finding per file version, in every layer (a
 * version deleted or replaced later is still in its layer). Files whose name already says they
 * hold credentials are reported by the secret-file rules instead.
 */
export function checkSecretContents(layers: readonly LayerContents[], fates: LayerFates): HygieneFinding[] {
  const findings: HygieneFinding[] = [];
  layers.forEach((layer, index) => {
    for (const entry of layer.entries) {
      const notes = entry.notes?.[secretContentScanner.name];
      if (!notes || notes.length === 0 || isSecretFileName(entry.path)) continue;
      const fate = fates.fate(entry.path, index);
      const holds = describeNotes(notes);
      if (fate.kind === "kept") {
        findings.push(
          finding(secretInFile, `${entry.path} (layer ${index}) holds ${holds}`, {
            kind: "file",
            path: entry.path,
            layer: index,
          }),
        );
      } else {
        findings.push(
          finding(
            secretInFile,
            `${entry.path} in layer ${index} holds ${holds}; it was ${fateText(fate)}, but layer ${index} still has it`,
            { kind: "file", path: entry.path, layer: index, deleted: true },
          ),
        );
      }
    }
  });
  return findings;
}
