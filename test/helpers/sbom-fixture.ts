/**
 * The image the SBOM tests render: the e2e fixture (fixtures/images/debian-app: a Debian 12 dpkg
 * database and npm packages over three layers) plus a fourth layer with what the fixture lacks:
 * a second copy of lodash 4.17.20 at another path (the same purl twice), a declared license that
 * is no SPDX expression, an SPDX expression that is a LicenseRef, and a Maven jar (a SHA-1).
 */
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import yazl from "yazl";
import {
  type BuiltImage,
  buildImage,
  type FixtureLayer,
  filesFromDirectory,
  type LayerFile,
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
