import type { Command } from "commander";
import { InputError } from "../errors.js";
import type { PipelineOptions } from "../pipeline.js";
import { cacheDirectory } from "./paths.js";

/** The options every command that reads an image takes, as commander hands them over. */
export interface ImageCliOptions {
  platform?: string;
  insecure?: boolean;
  caFile?: string;
  username?: string;
  password?: string;
  timeout?: string;
  retries?: string;
  cacheDir?: string;
  cache?: boolean;
  maxLayerSize?: string;
  baseImage?: string;
}

export function addImageOptions(command: Command): Command {
  return command
    .option(
      "--platform <os/arch[/variant]>",
      "image to read from a multi-platform index (default linux/amd64)",
    )
    .option(
      "--base-image <source>",
      "the image this one was built FROM, to mark its layers (default: the org.opencontainers.image.base.* labels)",
    )
    .option("--username <user>", "registry user name (env LAYERWATCH_REGISTRY_USERNAME)")
    .option("--password <password>", "registry password or token (env LAYERWATCH_REGISTRY_PASSWORD)")
    .option("--insecure", "registries: skip TLS verification and allow plain HTTP")
    .option("--ca-file <file>", "registries: also trust the CA certificates in this PEM file")
    .option("--timeout <seconds>", "registries: seconds to wait for an answer (default 60)")
    .option("--retries <n>", "registries: retries after 5xx, 429 or a lost connection (default 4)")
    .option("--cache-dir <dir>", "where layer results are kept between scans (default: the user cache dir)")
    .option("--no-cache", "neither use nor fill the layer cache")
    .option("--max-layer-size <size>", "stop when a layer inflates past this size (default 20GiB)");
}

export function parseByteSize(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?$/i.exec(text.trim());
  if (!match) throw new InputError(`${flag} ${text}: not a size (e.g. 20GiB, 500MB, 1048576)`);
  const unit = (match[2] ?? "B").toUpperCase().replace(/I?B$/, "");
  const power = ["", "K", "M", "G", "T"].indexOf(unit);
  return Math.floor(Number(match[1]) * 1024 ** Math.max(power, 0));
}

function parseCount(text: string, flag: string, allowZero: boolean): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < (allowZero ? 0 : 0.001))
    throw new InputError(`${flag} ${text}: not a ${allowZero ? "count" : "positive number"}`);
  return value;
}

export function parsePlatform(text: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant, extra] = text.split("/");
  if (!os || !architecture || extra !== undefined)
    throw new InputError(`--platform ${text}: use os/arch or os/arch/variant (linux/arm64/v8)`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/** Turns the command-line options into the pipeline's options. */
export function imageReadOptions(options: ImageCliOptions, env: NodeJS.ProcessEnv): PipelineOptions {
  return {
    env,
    ...(options.platform ? { platform: parsePlatform(options.platform) } : {}),
    ...(options.baseImage ? { baseImage: options.baseImage } : {}),
    ...(options.baseImage ? { baseImage: options.baseImage } : {}),
    ...(options.maxLayerSize
      ? { maxLayerBytes: parseByteSize(options.maxLayerSize, "--max-layer-size") }
      : {}),
    ...(options.cache === false ? {} : { cacheDir: options.cacheDir ?? cacheDirectory(env) }),
    registry: {
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.caFile ? { caFile: options.caFile } : {}),
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
      ...(options.timeout ? { timeoutMs: parseCount(options.timeout, "--timeout", false) * 1000 } : {}),
      ...(options.retries ? { retries: Math.floor(parseCount(options.retries, "--retries", true)) } : {}),
    },
  };
}
