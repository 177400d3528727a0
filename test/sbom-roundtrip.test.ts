/**
 * layerwatch's own SBOMs carry everything a scan needs: for the fixture image and a real
 * debootstrapped Debian image, `layerwatch sbom IMAGE --format cyclonedx|spdx` and then
 * `layerwatch scan sbom:FILE` give exactly the report that `layerwatch scan IMAGE` gives: the same
 * findings, the same packages (purls, layers, locations, source packages, licenses), the same OS
 * and the same image section, all but its source.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import yazl from "yazl";
import type { JsonReport } from "../src/report/model.js";
import { cli } from "./helpers/cli.js";
import { buildDebianImage } from "./helpers/debian-image.js";
import { buildImage, filesFromDirectory, imageFromFixture, writeOciLayout } from "./helpers/image-builder.js";
import { compileSchema } from "./helpers/schema.js";
import { sharedData } from "./helpers/shared-data.js";
import { missingTools } from "./helpers/tools.js";

const fixtureImage = join(import.meta.dirname, "../fixtures/images/debian-app");
const fixtureOsv = join(import.meta.dirname, "../fixtures/osv");
const validate = compileSchema(
  JSON.parse(readFileSync(join(import.meta.dirname, "../docs/report.schema.json"), "utf8")),
);
const noDebootstrap = missingTools(["debootstrap"])?.message;
if (noDebootstrap) console.warn(`skipping the Debian SBOM round trip: ${noDebootstrap}`);

let work: string;
let db: string;

interface Member {
  name: string;
  content: Buffer;
  store?: boolean;
}

/** A jar in memory, as a jar tool writes one. */
async function zip(members: Member[]): Promise<Buffer> {
  const file = new yazl.ZipFile();
  for (const member of members)
    file.addBuffer(member.content, member.name, { compress: !member.store, mtime: new Date(0) });
  file.end();
  const chunks: Buffer[] = [];
  for await (const chunk of file.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every file under a shared jar-metadata folder, as jar members named relative to it. */
function membersOf(dir: string): Member[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .sort()
    .filter((name) => !statSync(join(dir, name)).isDirectory())
    .map((name) => ({ name: relative(dir, join(dir, name)), content: readFileSync(join(dir, name)) }));
}

async function scan(source: string, extra: string[] = []): Promise<JsonReport> {
  const result = await cli(["--db", db, "scan", source, "--format", "json", "--no-cache", ...extra], {
    XDG_CACHE_HOME: work,
  });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const report = JSON.parse(result.stdout) as JsonReport;
  expect(validate(report), JSON.stringify(validate.errors, null, 2)).toBe(true);
  return report;
}

async function writeSbom(
  source: string,
  format: string,
  name: string,
  extra: string[] = [],
): Promise<string> {
  const out = join(work, name);
  const result = await cli(["sbom", source, "--format", format, "-o", out, ...extra], {
    XDG_CACHE_HOME: work,
  });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return out;
}

/** Everything a report says about the image, less when it was made and how the image was named. */
function comparable(report: JsonReport) {
  const { createdAt: _createdAt, image, ...rest } = report;
  const { source: _source, ...imageRest } = image;
  return { ...rest, image: imageRest };
}

async function expectRoundTrip(source: string, label: string): Promise<JsonReport> {
  // An SBOM lists packages; the image checks (build hygiene) need the image, so they are left out.
  const direct = await scan(source, ["--no-hygiene"]);
  expect(direct.packages.length).toBeGreaterThan(0);
  for (const format of ["cyclonedx", "spdx"] as const) {
    const sbom = await writeSbom(source, format, `${label}.${format}.json`);
    const viaSbom = await scan(`sbom:${sbom}`);
    expect(viaSbom.image.source).toBe(`sbom:${sbom}`);
    expect(viaSbom.findings).toEqual(direct.findings);
    expect(viaSbom.packages).toEqual(direct.packages);
    expect(comparable(viaSbom)).toEqual(comparable(direct));
  }
  return direct;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-sbom-roundtrip-"));
  db = join(work, "db.sqlite");
  const shared = [sharedData("osv/npm/all.zip"), sharedData("osv/Maven/all.zip")].filter(
    (path): path is string => path !== undefined,
  );
  expect((await cli(["--db", db, "db", "import", fixtureOsv, ...shared])).code).toBe(0);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("scanning layerwatch's own SBOM gives the image's report", () => {
  it("for the fixture image (three layers, OS and npm findings)", async () => {
    const image = await imageFromFixture(fixtureImage, {
      emptyHistory: ["/bin/sh -c #(nop)  ENV NODE_ENV=production"],
    });
    await writeOciLayout(image, join(work, "fixture"), { refName: "app" });
    const direct = await expectRoundTrip(`oci:${join(work, "fixture")}:app`, "fixture");
    // The fixture's findings come from layers 0, 1 and 2, and so do the SBOM's (test/scan.e2e.test.ts).
    expect(new Set(direct.findings.map((f) => f.layer.index))).toEqual(new Set([0, 1, 2]));
    expect(direct.findings.map((f) => f.id)).toEqual(
      expect.arrayContaining(["CVE-2021-44906", "CVE-2005-2541", "CVE-2023-46218"]),
    );
  });

  it("for the same image with its base image marked (--base-image)", async () => {
    const layers = await Promise.all(
      ["0-base", "1-app", "2-upgrade"].map(async (name) => ({
        files: await filesFromDirectory(join(fixtureImage, name)),
        createdBy: name,
      })),
    );
    await writeOciLayout(await buildImage(layers.slice(0, 1)), join(work, "base"), { refName: "base" });
    await writeOciLayout(await buildImage(layers), join(work, "app"), { refName: "app" });
    const source = `oci:${join(work, "app")}:app`;
    const withBase = ["--base-image", `oci:${join(work, "base")}:base`];
    const direct = await scan(source, [...withBase, "--no-hygiene"]);
    expect(direct.image.baseImage).toMatchObject({ layers: 1, from: "option" });
    for (const format of ["cyclonedx", "spdx"] as const) {
      const sbom = await writeSbom(source, format, `app.${format}.json`, withBase);
      const viaSbom = await scan(`sbom:${sbom}`);
      expect(comparable(viaSbom)).toEqual(comparable(direct));
      expect(viaSbom.findings.find((f) => f.package.name === "tar")?.layer.baseImage).toBe(true);
    }
  });

  it.skipIf(noDebootstrap !== undefined)(
    "for a real debootstrapped Debian image (a dpkg database and node_modules)",
    async () => {
      const debian = await buildDebianImage({ include: ["openssl", "curl", "ca-certificates"] });
      const direct = await expectRoundTrip(`oci:${debian.layoutDir}:${debian.refName}`, "debian");
      expect(direct.packages.filter((p) => p.type === "deb").length).toBeGreaterThan(100);
      expect(direct.packages.filter((p) => p.type === "npm").map((p) => p.name)).toEqual(
        expect.arrayContaining(["lodash", "minimist"]),
      );
    },
  );

  const jarMetadata = sharedData("pkgdb/lang/java/syft/jar-metadata");
  it.skipIf(!jarMetadata)(
    "for an image with Java archives (Maven and generic packages, SHA-1s, a nested jar)",
    async () => {
      const root = jarMetadata as string;
      const jar = (folder: string) => zip(membersOf(join(root, folder)));
      const jackson = await jar("com.fasterxml.jackson.core.jackson-core-2.15.2");
      // Spring Boot stores nested jars uncompressed.
      const app = await zip([
        ...membersOf(join(root, "opensaml-core-3.4.6")),
        { name: "BOOT-INF/lib/jackson-core-2.15.2.jar", content: jackson, store: true },
      ]);
      const layers = await Promise.all(
        ["0-base", "1-app", "2-upgrade"].map(async (name) => ({
          files: await filesFromDirectory(join(fixtureImage, name)),
          createdBy: name,
        })),
      );
      const java = {
        createdBy: "COPY lib/ /opt/lib/",
        files: [
          { path: "opt/lib", type: "directory" as const },
          { path: "opt/lib/app.jar", type: "file" as const, content: app },
          {
            path: "opt/lib/commons-lang3-3.12.0.jar",
            type: "file" as const,
            content: await jar("commons-lang3-3.12.0"),
          },
        ],
      };
      await writeOciLayout(await buildImage([...layers, java]), join(work, "java"), { refName: "java" });
      const direct = await expectRoundTrip(`oci:${join(work, "java")}:java`, "java");
      const javaPackages = direct.packages.filter((p) => p.sha1 !== undefined);
      expect(javaPackages.map((p) => [p.name, p.type, p.location, p.layer.index])).toEqual([
        ["commons-lang3", "generic", "opt/lib/commons-lang3-3.12.0.jar", 3],
        [
          "com.fasterxml.jackson.core:jackson-core",
          "maven",
          "opt/lib/app.jar!BOOT-INF/lib/jackson-core-2.15.2.jar",
          3,
        ],
        ["org.opensaml:opensaml-core", "maven", "opt/lib/app.jar", 3],
      ]);
    },
  );

  it("converts one SBOM format into the other without losing a finding", async () => {
    const image = await imageFromFixture(fixtureImage);
    await writeOciLayout(image, join(work, "convert"), { refName: "app" });
    const source = `oci:${join(work, "convert")}:app`;
    const direct = await scan(source);
    const cyclonedx = await writeSbom(source, "cyclonedx", "convert.cdx.json");
    const spdx = await writeSbom(`sbom:${cyclonedx}`, "spdx", "convert.spdx.json");
    const viaBoth = await scan(`sbom:${spdx}`);
    expect(viaBoth.findings).toEqual(direct.findings);
    expect(viaBoth.packages).toEqual(direct.packages);
  });
});
