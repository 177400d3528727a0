/**
 * The image the SBOM tests render: the e2e fixture (fixtures/images/debian-app: a Debian 12 dpkg
 * database and npm packages over three layers) plus a fourth layer with what the fixture lacks:
 * a second copy of lodash 4.17.20 at another path (the same purl twice), a declared license that
 * is no SPDX expression, an SPDX expression that is a LicenseRef, and a Maven jar (a SHA-1).
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import yazl from "yazl";
import type { JsonReport, ReportPackage } from "../../src/report/model.js";
import { builtCli, cli } from "./cli.js";
import { buildDebianImage, type DebianImage, listDpkgPackages } from "./debian-image.js";
import {
  type BuiltImage,
  buildImage,
  type FixtureLayer,
  filesFromDirectory,
  type LayerFile,
  writeDockerArchive,
} from "./image-builder.js";

const fixtureImage = join(import.meta.dirname, "../../fixtures/images/debian-app");

function packageJson(name: string, version: string, license: string): Buffer {
  return Buffer.from(`${JSON.stringify({ name, version, license }, null, 2)}\n`);
}

/** A jar as Maven writes one: its coordinates in META-INF/maven/GROUP/ARTIFACT/pom.properties. */
async function mavenJar(group: string, artifact: string, version: string): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(
    Buffer.from(`groupId=${group}\nartifactId=${artifact}\nversion=${version}\n`),
    `META-INF/maven/${group}/${artifact}/pom.properties`,
    { mtime: new Date(0) },
  );
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface SbomFixture {
  image: BuiltImage;
  /** The layer index of the added layer. */
  addedLayer: number;
  /** lodash 4.17.20 is at both paths. */
  duplicate: { purl: string; locations: string[]; layers: number[] };
  /** A declared license that is no SPDX expression. */
  customLicense: { name: string; location: string; text: string };
  /** A declared license that is a valid expression naming a LicenseRef. */
  licenseRef: { name: string; location: string; id: string };
  jar: { purl: string; location: string; sha1: string };
}

export async function buildSbomFixture(): Promise<SbomFixture> {
  const layers: FixtureLayer[] = [];
  for (const name of (await readdir(fixtureImage)).sort())
    layers.push({
      files: await filesFromDirectory(join(fixtureImage, name)),
      createdBy: `/bin/sh -c #(nop) layer ${name}`,
    });
  const addedLayer = layers.length;
  const jar = await mavenJar("org.apache.logging.log4j", "log4j-core", "2.14.1");
  const customText = "Acme Corp Commercial License";
  const licenseRefId = "LicenseRef-Acme-Internal";
  const added: LayerFile[] = [
    { path: "srv", type: "directory" },
    { path: "srv/node_modules", type: "directory" },
    { path: "srv/node_modules/lodash", type: "directory" },
    {
      path: "srv/node_modules/lodash/package.json",
      type: "file",
      content: packageJson("lodash", "4.17.20", "MIT"),
    },
    { path: "srv/node_modules/acme-widget", type: "directory" },
    {
      path: "srv/node_modules/acme-widget/package.json",
      type: "file",
      content: packageJson("acme-widget", "2.0.0", customText),
    },
    { path: "srv/node_modules/@acme", type: "directory" },
    { path: "srv/node_modules/@acme/internal", type: "directory" },
    {
      path: "srv/node_modules/@acme/internal/package.json",
      type: "file",
      content: packageJson("@acme/internal", "0.3.1", licenseRefId),
    },
    { path: "srv/lib", type: "directory" },
    { path: "srv/lib/log4j-core-2.14.1.jar", type: "file", content: jar },
  ];
  layers.push({ files: added, createdBy: "COPY srv/ /srv/" });
  const image = await buildImage(layers);
  return {
    image,
    addedLayer,
    duplicate: {
      purl: "pkg:npm/lodash@4.17.20",
      locations: ["app/node_modules/lodash/package.json", "srv/node_modules/lodash/package.json"],
      layers: [1, addedLayer],
    },
    customLicense: {
      name: "acme-widget",
      location: "srv/node_modules/acme-widget/package.json",
      text: customText,
    },
    licenseRef: {
      name: "@acme/internal",
      location: "srv/node_modules/@acme/internal/package.json",
      id: licenseRefId,
    },
    jar: {
      purl: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
      location: "srv/lib/log4j-core-2.14.1.jar",
      sha1: createHash("sha1").update(jar).digest("hex"),
    },
  };
}

/** Replaces what differs between two runs over one image: timestamps and the random UUIDs. */
export function normaliseSbom(text: string): string {
  return text
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g, "TIMESTAMP")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "UUID");
}

export type SbomFormat = "cyclonedx" | "spdx";

/** The fixture image as a docker-archive, with the JSON report and the SBOM the CLI makes of it. */
export interface RenderedSbomFixture {
  /** A scratch folder holding the archive; the caller removes it. */
  work: string;
  fixture: SbomFixture;
  /** The image source the CLI was given (docker-archive:PATH). */
  source: string;
  report: JsonReport;
  /** The SBOM as the CLI printed it. */
  text: string;
}

export async function renderSbomFixture(format: SbomFormat): Promise<RenderedSbomFixture> {
  const work = await mkdtemp(join(tmpdir(), `layerwatch-${format}-`));
  const fixture = await buildSbomFixture();
  const archive = join(work, "image.tar");
  await writeDockerArchive(fixture.image, archive);
  const source = `docker-archive:${archive}`;
  const json = await cli(["sbom", source, "--format", "json"]);
  expect(json.code).toBe(0);
  const report = JSON.parse(json.stdout) as JsonReport;
  const run = await cli(["sbom", source, "--format", format]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return { work, fixture, source, report, text: run.stdout };
}

/**
 * Renders the image's SBOM again: the text differs (a new timestamp and random UUIDs) and is the
 * same once those are replaced.
 */
export async function expectSameSbomAgain(source: string, format: SbomFormat, text: string): Promise<void> {
  const again = await cli(["sbom", source, "--format", format]);
  expect(again.stdout).not.toBe(text);
  expect(normaliseSbom(again.stdout)).toBe(normaliseSbom(text));
}

/**
 * Has the installed binary write the SBOM to `output` with -o, saying nothing on stderr and
 * exiting 0; returns what it printed on stdout and the parsed file.
 */
export async function writeSbomWithBinary(
  source: string,
  format: SbomFormat,
  output: string,
): Promise<{ stdout: string; written: unknown }> {
  const run = await builtCli(["sbom", source, "--format", format, "-o", output]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return { stdout: run.stdout, written: JSON.parse(await readFile(output, "utf8")) };
}

/** A debootstrapped bookworm (test/helpers/debian-image.ts) and the SBOM the CLI makes of its OCI layout. */
export async function renderDebianSbom(format: SbomFormat): Promise<{ debian: DebianImage; text: string }> {
  const debian = await buildDebianImage();
  const run = await cli(["sbom", `oci:${debian.layoutDir}:${debian.refName}`, "--format", format]);
  expect(run.code).toBe(0);
  return { debian, text: run.stdout };
}

/** What the Debian-image check needs of one SBOM package, whichever format describes it. */
export interface SbomPackageView {
  name: string;
  version: string | undefined;
  /** The value of a layerwatch:KEY property or annotation. */
  fact(key: string): string | undefined;
}

/**
 * The SBOM's deb packages of the debootstrapped image are exactly the packages dpkg lists there,
 * each found in the status file of the image's first layer.
 */
export async function expectDpkgPackagesListed(debian: DebianImage, debs: SbomPackageView[]): Promise<void> {
  const dpkg = await listDpkgPackages(debian.rootfsDir);
  expect(dpkg.length).toBeGreaterThan(50);
  expect(debs.map((deb) => `${deb.name} ${deb.version}`).sort()).toEqual(
    dpkg.map((p) => `${p.name} ${p.version}`).sort(),
  );
  for (const deb of debs) {
    expect(deb.fact("layerwatch:layer")).toBe("0");
    expect(deb.fact("layerwatch:location")).toBe("var/lib/dpkg/status");
    expect(deb.fact("layerwatch:layer:diffId")).toBe(debian.layers[0]?.diffId);
  }
}

/**
 * A package's facts as the contract (notes/sbom-contract.md) names them, from the JSON report:
 * what a CycloneDX component's properties and an SPDX package's annotations must both say.
 */
export function expectedSbomFacts(pkg: ReportPackage): Record<string, string[]> {
  const facts: Record<string, string | number | boolean | undefined> = {
    location: pkg.location,
    layer: pkg.layer?.index,
    "layer:diffId": pkg.layer?.diffId,
    foundBy: (pkg as { foundBy?: string }).foundBy,
    ecosystem: pkg.ecosystem,
    sourceName: pkg.sourceName,
    sourceVersion: pkg.sourceVersion,
    arch: pkg.arch,
    epoch: pkg.epoch,
    vendor: pkg.vendor,
    modularityLabel: pkg.modularityLabel,
    dev: pkg.dev,
    osOwned: pkg.osOwned,
    license: pkg.license,
  };
  const out: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(facts))
    if (value !== undefined && value !== "") out[`layerwatch:${key}`] = [String(value)];
  return out;
}
