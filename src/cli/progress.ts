import type { UpdateReporter } from "../vulndb/update.js";
import type { CliIo } from "./io.js";

/** Redraws at most this often: a terminal is slower than a download's chunks. */
const REDRAW_MS = 100;
const BAR_WIDTH = 24;

function amount(value: number, unit: "bytes" | "records"): string {
  if (unit === "records") return value.toLocaleString("en-US");
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * `db update`'s output on standard error: a progress bar (bytes downloaded, records imported)
 * redrawn in place when standard error is a terminal; otherwise only the lines that stay.
 */
export function updateReporter(stderr: CliIo["stderr"]): UpdateReporter & { finish(): void } {
  const tty = Boolean(stderr.isTTY);
  let barShown = false;
  let lastDraw = 0;
  let lastPhase = "";
  const clear = () => {
    if (barShown) stderr.write("\r\x1b[K");
    barShown = false;
  };
  return {
    line(text) {
      clear();
      stderr.write(`layerwatch: ${text}\n`);
    },
    progress(label, unit, done, total) {
      if (!tty) return;
      const now = Date.now();
      // A new phase (another source, or records after bytes) is drawn at once.
      const phase = `${label}\u0000${unit}`;
      if (phase === lastPhase && now - lastDraw < REDRAW_MS && done !== total) return;
      lastDraw = now;
      lastPhase = phase;
      const suffix = unit === "records" ? " records" : "";
      let text = `${label} ${amount(done, unit)}${suffix}`;
      if (total !== undefined && total > 0) {
        const share = Math.min(done / total, 1);
        const filled = Math.round(share * BAR_WIDTH);
        const bar = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
        text = `${label} ${bar} ${Math.floor(share * 100)}% ${amount(done, unit)}/${amount(total, unit)}${suffix}`;
      }
      const columns = stderr.columns ?? 80;
      stderr.write(`\r${text.slice(0, Math.max(columns - 1, 10))}\x1b[K`);
      barShown = true;
    },
    finish: clear,
  };
}
