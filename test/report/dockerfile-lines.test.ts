/**
 * The Dockerfile reading behind `--dockerfile`: instructions and their lines as BuildKit's parser
 * reads them (continuations, comments inside them, the escape directive, heredocs, stages built
 * on stages), and layers placed when the base image's layer count is known.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  finalStageChain,
  layerLines,
  normaliseCreatedBy,
  parseDockerfile,
} from "../../src/report/dockerfile-lines.js";
import type { ReportLayer } from "../../src/report/model.js";
import { fixtureDockerfile } from "./fixture-scan.js";

describe("parseDockerfile", () => {
  it("reads the fixture Dockerfile's stages and lines", async () => {
    const text = await readFile(join(import.meta.dirname, "../..", fixtureDockerfile), "utf8");
    const stages = parseDockerfile(text);
    expect(stages.map((s) => [s.baseName, s.name, s.from.startLine])).toEqual([
      ["node:20-bookworm", "deps", 5],
      ["debian:12", "runtime", 10],
    ]);
    expect(stages[1]?.instructions.map((i) => [i.keyword, i.startLine, i.endLine])).toEqual([
      ["ENV", 11, 11],
      ["COPY", 12, 13],
      ["RUN", 16, 18],
      ["CMD", 19, 19],
    ]);
    expect(stages[1]?.instructions[2]?.args).toBe(
      "--mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y --no-install-recommends curl libcurl4 openssl",
    );
  });

  it("follows the escape directive, skips comments inside a continuation, and keeps heredoc bodies", () => {
    const text = [
      "# escape=`", // 1
      "FROM mcr.microsoft.com/windows/servercore AS base", // 2
      "RUN echo one `", // 3
      "# a comment inside the instruction", // 4
      "    two", // 5
      "FROM base", // 6
      "RUN <<EOF", // 7
      "apt-get update", // 8
      "EOF", // 9
      "COPY <<-END /etc/motd", // 10
      "\thello", // 11
      "\tEND", // 12
      "USER app", // 13
    ].join("\n");
    const stages = parseDockerfile(text);
    expect(stages[0]?.instructions).toEqual([
      { keyword: "RUN", args: "echo one two", startLine: 3, endLine: 5 },
    ]);
    // The last stage is built FROM the first: its chain holds both stages' instructions.
    const chain = finalStageChain(stages);
    expect(chain.from?.startLine).toBe(2);
    expect(chain.instructions.map((i) => [i.keyword, i.startLine, i.endLine])).toEqual([
      ["RUN", 3, 5],
      ["RUN", 7, 9],
      ["COPY", 10, 12],
      ["USER", 13, 13],
    ]);
  });
});

describe("normaliseCreatedBy", () => {
  it("reads each builder's words as the Dockerfile's", () => {
    expect(normaliseCreatedBy("RUN /bin/sh -c apt-get update  && apt-get install -y curl # buildkit")).toBe(
      "RUN apt-get update && apt-get install -y curl",
    );
    expect(normaliseCreatedBy("RUN |2 VERSION=1.2 DEBUG= /bin/sh -c make install # buildkit")).toBe(
      "RUN make install",
    );
    expect(normaliseCreatedBy("|1 VERSION=1.2 /bin/sh -c make install")).toBe("RUN make install");
    expect(normaliseCreatedBy("/bin/sh -c #(nop)  ENV NODE_ENV=production")).toBe("ENV NODE_ENV=production");
    expect(normaliseCreatedBy("COPY . /app # buildkit")).toBe("COPY . /app");
  });
});

describe("layerLines", () => {
  it("points the base image's layers at FROM when its layer count is known", () => {
    const stages = parseDockerfile("FROM debian:12\nRUN apt-get update\nCOPY . /app\n");
    // Two base layers (a debian image of two layers, say); created_by that matches nothing.
    const layers: ReportLayer[] = [0, 1, 2, 3].map((index) => ({ index, createdBy: `step ${index}` }));
    const placed = layerLines(layers, stages, 2);
    expect([...placed].map(([index, line]) => [index, line.startLine, line.by])).toEqual([
      [0, 1, "base-image"],
      [1, 1, "base-image"],
      [3, 3, "position"],
      [2, 2, "position"],
    ]);
  });
});
