/**
 * Reads a txtar archive (Go's golang.org/x/tools/txtar format, which trivy's fixtures use): an
 * optional comment, then files, each introduced by a line "-- NAME --" and running to the next
 * such line or the end.
 */
export function parseTxtar(text: string): Map<string, string> {
  const files = new Map<string, string>();
  let name: string | undefined;
  let body: string[] = [];
  const flush = () => {
    if (name !== undefined) files.set(name, body.length > 0 ? `${body.join("\n")}\n` : "");
  };
  const lines = text.split("\n");
  // A final newline ends the last line; it does not start another.
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) {
    const header = /^-- (.+) --$/.exec(line);
    if (header) {
      flush();
      name = header[1]?.trim();
      body = [];
    } else if (name !== undefined) body.push(line);
  }
  flush();
  return files;
}
