/** The Action's entry point (esbuild bundles it into dist/index.js; action.yml runs that on node24). */
import { runAction } from "./main.js";

process.exitCode = await runAction();
