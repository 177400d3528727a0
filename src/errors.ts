/**
 * Errors that reach the user as one line. Every stage throws these for bad input so the
 * entry points can print the message without a stack trace and exit with a documented code.
 */

/** Exit codes, documented in README.md. */
export const ExitCode = {
  ok: 0,
  findings: 1,
  usage: 2,
  internal: 3,
} as const;

/** Bad input: a missing file, a corrupt layer, a malformed record. Exit code 2. */
export class InputError extends Error {
  override readonly name: string = "InputError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The image is not where this source looked (no such image, nothing listening, no access), as
 * opposed to an image that was found and is broken. A bare image name tries the next source.
 */
export class ImageNotFoundError extends InputError {
  override readonly name = "ImageNotFoundError";
}

/** Text of an unknown thrown value, for wrapping library errors into one line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "no such file or directory";
    if (code === "EACCES") return "permission denied";
    if (code === "EISDIR") return "is a directory";
    if (code === "ENOTDIR") return "not a directory";
    return error.message;
  }
  return String(error);
}
