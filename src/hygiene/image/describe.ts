/** "a GitHub token (ghp_****)", "an AWS access key id (AKIA****)", "an npm token (npm_****)". */
export function describeSecret(kind: string, masked: string): string {
  const article = /^(?:[aeiou]|npm)/i.test(kind) ? "an" : "a";
  return `${article} ${kind} (${masked})`;
}
