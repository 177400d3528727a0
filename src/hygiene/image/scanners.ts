import type { FileScanner } from "../../fs/types.js";
import { secretContentScanner } from "./secret-content.js";
import { shadowScanner } from "./shadow.js";

/** What the image checks read while layers stream; the pipeline hands them to the layer reader. */
export const imageScanners: readonly FileScanner[] = [secretContentScanner, shadowScanner];

/** Whether some image check may read this file's content (for sources that skip bodies nobody reads). */
export function imageScannersRead(path: string, mode: number, size?: number): boolean {
  return imageScanners.some((scanner) => scanner.offered(path, mode, size));
}

/** Version of what the scanners note, for caches keyed by layer. */
export const imageScannersVersion = imageScanners.map((s) => `scan:${s.name}@${s.version}`).join(",");
