/**
 * `sbom:FILE` on SBOMs in Syft's shape. No Syft binary can be had here, so the fixtures
 * (fixtures/sbom/syft-debian-app.*) were written for these tests, listing packages of the fixture
 * image, with the fields real Syft output was seen to use (checked against Syft 0.78 CycloneDX of a
 * distroless image and Syft 0.91 SPDX): CycloneDX `syft:package:foundBy`, `syft:location:N:path` and
 * `:layerID` (a Debian package's copyright file listed before or after its dpkg entry),
 * `syft:metadata:source` / `sourceVersion`, the operating-system component with `syft:distro:*`;
 * SPDX `sourceInfo` ("acquired package info from DPKG DB: /path, /path"), purls in externalRefs,
 * and the image as the described `SPDXRef-DocumentRoot-Image-...` package.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSbom } from "../../src/inventory/sbom/index.js";
import type { Package } from "../../src/inventory/types.js";
import type { JsonReport, ReportPackage } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { imageFromFixture, writeOciArchive } from "../helpers/image-builder.js";
import { layerlessFindingRows, withReport } from "../helpers/report.js";

const fixtures = join(import.meta.dirname, "../../fixtures");
const cycloneDx = join(fixtures, "sbom/syft-debian-app.cdx.json");
const spdx = join(fixtures, "sbom/syft-debian-app.spdx.json");

function read(path: string) {
  return readSbom(readFileSync(path, "utf8"), path);
}

/** What matching uses of a package, and where it was found. */
function row(p: Package | ReportPackage) {
  return {
    name: p.name,
    version: p.version,
    type: p.type,
    ecosystem: p.ecosystem,
    sourceName: p.sourceName,
    sourceVersion: p.sourceVersion,
    arch: p.arch,
    location: p.location,
  };
}

const deb = (name: string, version: string, sourceName: string, sourceVersion: string) => ({
  name,
  version,
  type: "deb",
  ecosystem: "Debian:12",
  sourceName,
  sourceVersion,
  arch: "amd64",
  // The dpkg database, not the copyright file Syft also lists (first, for tar).
  location: "var/lib/dpkg/status",
});
const npm = (name: string, version: string, location: string) => ({
  name,
  version,
  type: "npm",
  ecosystem: "npm",
  sourceName: undefined,
  sourceVersion: undefined,
  arch: undefined,
  location,
});

/** Read off the fixtures by hand: the dpkg Source fields and the files Syft names. */
const expectedRows = [
  deb("curl", "7.88.1-10+deb12u4", "curl", "7.88.1-10+deb12u4"),
  // A binNMU: Syft's syft:metadata:sourceVersion in CycloneDX, the upstream=bzip2@1.0.8-5 purl in SPDX.
  deb("libbz2-1.0", "1.0.8-5+b1", "bzip2", "1.0.8-5"),
  deb("libcurl4", "7.88.1-10+deb12u4", "curl", "7.88.1-10+deb12u4"),
  deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
  deb("tar", "1.34+dfsg-1.2+deb12u1", "tar", "1.34+dfsg-1.2+deb12u1"),
  // The epoch stays in the version, and the source (zlib, no version of its own) takes it.
  deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1"),
  npm("@babel/traverse", "7.23.2", "app/node_modules/@babel/traverse/package.json"),
  npm("lodash", "4.17.20", "app/node_modules/lodash/package.json"),
  npm("minimist", "1.2.5", "app/node_modules/minimist/package.json"),
  npm("qs", "6.7.0", "app/node_modules/body-parser/node_modules/qs/package.json"),
];

describe("Syft's CycloneDX", () => {
  it("reads every component with its source package, location and release", () => {
    const { format, inventory, image } = read(cycloneDx);
    expect(format).toBe("CycloneDX 1.6");
    expect(inventory.warnings).toEqual([]);
    expect(inventory.packages.map(row)).toEqual(expectedRows);
    // From the operating-system component's syft:distro:* properties.
    expect(inventory.distro).toMatchObject({
      id: "debian",
      versionId: "12",
      prettyName: "Debian GNU/Linux 12 (bookworm)",
      osvEcosystem: "Debian:12",
    });
    // Syft names each package's layer (syft:location:N:layerID) but not the image's layers in
    // order, so no package can be given a layer index.
    expect(image).toEqual({ name: "registry.example/debian-app", repoTags: [], layers: [] });
    expect(inventory.packages.every((p) => p.layer === -1)).toBe(true);
    expect(inventory.packages.find((p) => p.name === "tar")).toMatchObject({ license: "GPL-3.0-or-later" });
  });
});

describe("Syft's SPDX", () => {
  it("reads every package, its location from sourceInfo and its release from the purl", () => {
    const { format, inventory, image } = read(spdx);
    expect(format).toBe("SPDX-2.3");
    expect(inventory.warnings).toEqual([]);
    // The described image (SPDXRef-DocumentRoot-Image-..., purpose CONTAINER) is not a package.
    expect(inventory.packages.map(row)).toEqual(expectedRows);
    expect(image).toEqual({ name: "registry.example/debian-app", repoTags: [], layers: [] });
    // Syft's SPDX has no operating-system package: the release is the purls' distro=debian-12.
    expect(inventory.distro).toMatchObject({ id: "debian", versionId: "12", osvEcosystem: "Debian:12" });
  });

  it("takes sourceInfo paths only from a document Syft made", () => {
    const document = JSON.parse(readFileSync(spdx, "utf8"));
    document.creationInfo.creators = ["Tool: other-1.0"];
    const { inventory } = readSbom(JSON.stringify(document), "other.spdx.json");
    expect(new Set(inventory.packages.map((p) => p.location))).toEqual(new Set(["other.spdx.json"]));
  });
});

describe("Syft's SBOM inside an attestation (cosign attest, docker buildx --sbom)", () => {
  const statement = (path: string, predicateType: string) => ({
    _type: "https://in-toto.io/Statement/v0.1",
    predicateType,
    subject: [{ name: "registry.example/debian-app", digest: { sha256: "0".repeat(64) } }],
    predicate: JSON.parse(readFileSync(path, "utf8")),
  });
  const envelope = (value: object) => ({
    payloadType: "application/vnd.in-toto+json",
    payload: Buffer.from(JSON.stringify(value)).toString("base64"),
    signatures: [],
  });

  it("reads the SBOM an in-toto statement carries, bare or in a DSSE envelope", () => {
    for (const [path, predicateType] of [
      [cycloneDx, "https://cyclonedx.org/bom"],
      [spdx, "https://spdx.dev/Document"],
    ] as const) {
      const wrapped = statement(path, predicateType);
      for (const document of [wrapped, envelope(wrapped)]) {
        const { inventory } = readSbom(JSON.stringify(document), "attestation.json");
        expect(inventory.packages.map(row)).toEqual(expectedRows);
      }
    }
  });

  it("an attestation of something else is one error naming its predicate type", () => {
    const provenance = {
      ...statement(cycloneDx, "https://slsa.dev/provenance/v0.2"),
      predicate: { builder: {} },
    };
    expect(() => readSbom(JSON.stringify(provenance), "p.json")).toThrow(
      /p\.json: an in-toto attestation of predicate type https:\/\/slsa\.dev\/provenance\/v0\.2, not of a CycloneDX or SPDX SBOM/,
    );
    const notJson = {
      payloadType: "application/vnd.in-toto+json",
      payload: Buffer.from("{").toString("base64"),
    };
    expect(() => readSbom(JSON.stringify(notJson), "e.json")).toThrow(
      /e\.json: the attestation's payload is not JSON/,
    );
  });
});

describe("scanning Syft's SBOMs of the fixture image", () => {
  let work: string;
  let db: string;
  let imageReport: JsonReport;

  async function scanJson(source: string) {
    return withReport(
      await cli(["--db", db, "scan", source, "--format", "json", "--no-cache"], { XDG_CACHE_HOME: work }),
    );
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-sbom-syft-"));
    db = join(work, "db.sqlite");
    expect((await cli(["--db", db, "db", "import", join(fixtures, "osv")])).code).toBe(0);
    const image = await imageFromFixture(join(fixtures, "images/debian-app"), {});
    await writeOciArchive(image, join(work, "image.tar"));
    const scanned = await scanJson(`oci-archive:${join(work, "image.tar")}`);
    expect(scanned.code).toBe(0);
    imageReport = scanned.report as JsonReport;
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  for (const [format, path] of [
    ["CycloneDX", cycloneDx],
    ["SPDX", spdx],
  ] as const) {
    it(`${format}: the packages are the image's, and so are the findings`, async () => {
      const { code, stderr, report } = await scanJson(`sbom:${path}`);
      expect(stderr).toBe("");
      expect(code).toBe(0);
      const ours = report as JsonReport;
      // Each package as scanning the image records it: same source package, release and file.
      for (const pkg of ours.packages) {
        const inImage = imageReport.packages.find((p) => p.name === pkg.name && p.version === pkg.version);
        expect(inImage && row(inImage), pkg.name).toEqual(row(pkg));
      }
      // The fixture image's seven findings (fixtures/README.md), all of whose packages the SBOM lists.
      const sorted = (rows: ReturnType<typeof layerlessFindingRows>) =>
        rows.map((f) => `${f.id} ${f.pkg} ${f.installed} ${f.fixed ?? "-"}`).sort();
      expect(sorted(layerlessFindingRows(ours))).toEqual([
        "CVE-2005-2541 tar 1.34+dfsg-1.2+deb12u1 -",
        "CVE-2020-28500 lodash 4.17.20 4.17.21",
        "CVE-2021-23337 lodash 4.17.20 4.17.21",
        "CVE-2021-44906 minimist 1.2.5 1.2.6",
        "CVE-2022-24999 qs 6.7.0 6.7.3",
        "CVE-2023-46218 curl 7.88.1-10+deb12u4 7.88.1-10+deb12u5",
        "CVE-2023-46218 libcurl4 7.88.1-10+deb12u4 7.88.1-10+deb12u5",
      ]);
      expect(sorted(layerlessFindingRows(ours))).toEqual(sorted(layerlessFindingRows(imageReport)));
    });
  }
});
