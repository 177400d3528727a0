import { readFileSync } from "node:fs";

/** layerwatch's version, from package.json (found beside lib/ or src/ alike). */
export const toolVersion: string = (() => {
  try {
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return manifest.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
})();
