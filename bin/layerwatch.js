#!/usr/bin/env node
import module from "node:module";

// Node 22.1+ can keep compiled code between runs: start-up then costs a fraction of compiling
// every module again. Older Node has no such cache and skips this.
module.enableCompileCache?.();
const { runCli } = await import("../lib/cli/main.js");

process.exitCode = await runCli(process.argv.slice(2));
