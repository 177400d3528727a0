/**
 * `layerwatch sbom --format spdx` on real images: the e2e fixture image with an added layer
 * (test/helpers/sbom-fixture.ts) and, where debootstrap is available, a debootstrapped Debian
 * bookworm. Every document must pass the SPDX 2.3 check of test/helpers/sbom-schemas.ts — a
 * STRUCTURAL CHECK WRITTEN FROM THE SPEC, because no npm or Debian package ships the official
 * SPDX 2.3 JSON schema — and say what the JSON report of the same image says.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport, ReportPackage } from "../../src/report/model.js";
import { isBuilt } from "../helpers/cli.js";
import type { DebianImage } from "../helpers/debian-image.js";
import {
  expectDpkgPackagesListed,
  expectedSbomFacts,
  expectSameSbomAgain,
  normaliseSbom,
  renderDebianSbom,
  renderSbomFixture,
  type SbomFixture,
  writeSbomWithBinary,
} from "../helpers/sbom-fixture.js";
import { spdx23Problems } from "../helpers/sbom-schemas.js";
import { skipUnlessTools } from "../helpers/tools.js";

interface Annotation {
  annotationDate: string;
  annotationType: string;
  annotator: string;
  comment: string;
}
interface SpdxPackage {
  name: string;
  SPDXID: string;
  versionInfo?: string;
  downloadLocation: string;
  filesAnalyzed?: boolean;
  checksums?: Array<{ algorithm: string; checksumValue: string }>;
  sourceInfo?: string;
  licenseConcluded?: string;
  licenseDeclared?: string;
  description?: string;
  externalRefs?: Array<{ referenceCategory: string; referenceType: string; referenceLocator: string }>;
  primaryPackagePurpose?: string;
  annotations?: Annotation[];
}
interface SpdxDocument {
  spdxVersion: string;
  SPDXID: string;
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  packages: SpdxPackage[];
  hasExtractedLicensingInfos?: Array<{ licenseId: string; extractedText: string; name?: string }>;
  relationships: Array<{ spdxElementId: string; relationshipType: string; relatedSpdxElement: string }>;
}

let work: string;
let fixture: SbomFixture;
let source: string;
let report: JsonReport;
let text: string;
let doc: SpdxDocument;

function purlOf(pkg: SpdxPackage): string | undefined {
  return pkg.externalRefs?.find((ref) => ref.referenceType === "purl")?.referenceLocator;
}

/** "layerwatch:<key>=<value>" annotations as key → values. */
function annotationsOf(pkg: SpdxPackage): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const annotation of pkg.annotations ?? []) {
    const split = annotation.comment.indexOf("=");
    const key = annotation.comment.slice(0, split);
    out[key] = [...(out[key] ?? []), annotation.comment.slice(split + 1)];
  }
  return out;
}

function annotation(pkg: SpdxPackage, key: string): string | undefined {
  return annotationsOf(pkg)[key]?.[0];
}

function packageFor(pkg: ReportPackage, packages: SpdxPackage[]): SpdxPackage {
  const matches = packages.filter(
    (p) => purlOf(p) === pkg.purl && annotation(p, "layerwatch:location") === pkg.location,
  );
  expect(matches, `${pkg.purl} at ${pkg.location}`).toHaveLength(1);
  return matches[0] as SpdxPackage;
}

function byName(name: string): SpdxPackage {
  return doc.packages.find((p) => p.name === name) as SpdxPackage;
}

beforeAll(async () => {
  ({ work, fixture, source, report, text } = await renderSbomFixture("spdx"));
  doc = JSON.parse(text) as SpdxDocument;
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("layerwatch sbom --format spdx", () => {
  it("passes the SPDX 2.3 structural check, which finds broken documents", () => {
    expect(spdx23Problems(doc)).toEqual([]);
    expect(doc.spdxVersion).toBe("SPDX-2.3");
    expect(doc.name).toBe(source);
    expect(doc.documentNamespace).toMatch(
      /^https:\/\/layerwatch\.invalid\/spdx\/[A-Za-z0-9.-]+-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(doc.creationInfo.creators).toEqual([`Tool: layerwatch-${report.tool.version}`]);
    // The check is not vacuous.
    const broken = structuredClone(doc);
    const renamed = (broken.packages[2] as SpdxPackage).SPDXID;
    (broken.packages[2] as SpdxPackage).SPDXID = "SPDXRef-has space";
    broken.relationships.push({
      spdxElementId: "SPDXRef-Image",
      relationshipType: "CONTAINS",
      relatedSpdxElement: "SPDXRef-missing",
    });
    (broken.packages[3] as SpdxPackage).licenseDeclared = "LicenseRef-undeclared";
    (broken.packages[4] as SpdxPackage).primaryPackagePurpose = "OPERATING-SYSTEM";
    expect(spdx23Problems(broken)).toEqual([
      "packages[2].SPDXID: bad SPDXID SPDXRef-has space",
      "packages[4].primaryPackagePurpose: unknown purpose OPERATING-SYSTEM",
      "packages[3].licenseDeclared: LicenseRef-undeclared is not in hasExtractedLicensingInfos",
      // The image CONTAINS packages[2] under the id it had.
      `relationships[2].relatedSpdxElement: no element ${renamed}`,
      `relationships[${broken.relationships.length - 1}].relatedSpdxElement: no element SPDXRef-missing`,
    ]);
  });

  it("has one package per package of the JSON report, with its purl, version, license, layer and location", () => {
    expect(report.packages.length).toBe(19);
    const libraries = doc.packages.filter((p) => p.primaryPackagePurpose === "LIBRARY");
    expect(libraries).toHaveLength(report.packages.length);
    const extracted = new Map((doc.hasExtractedLicensingInfos ?? []).map((info) => [info.licenseId, info]));
    for (const pkg of report.packages) {
      const spdx = packageFor(pkg, libraries);
      expect(spdx.name).toBe(pkg.name);
      expect(spdx.versionInfo).toBe(pkg.version);
      expect(spdx.externalRefs).toEqual([
        { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: pkg.purl },
      ]);
      expect(spdx.filesAnalyzed).toBe(false);
      expect(spdx.licenseConcluded).toBe("NOASSERTION");
      if (pkg.licenseExpression) expect(spdx.licenseDeclared).toBe(pkg.licenseExpression);
      else if (pkg.license)
        expect(extracted.get(spdx.licenseDeclared as string)?.extractedText).toBe(pkg.license);
      else expect(spdx.licenseDeclared).toBe("NOASSERTION");
      expect(annotationsOf(spdx)).toEqual(expectedSbomFacts(pkg));
      expect(annotation(spdx, "layerwatch:layer:diffId")).toBe(fixture.image.diffIds[pkg.layer?.index ?? -1]);
      expect(spdx.sourceInfo).toContain(`in ${pkg.location}, layer ${pkg.layer?.index}`);
      for (const note of spdx.annotations ?? []) {
        expect(note.annotationType).toBe("OTHER");
        expect(note.annotator).toBe(`Tool: layerwatch-${report.tool.version}`);
        expect(note.annotationDate).toBe(doc.creationInfo.created);
      }
    }
  });

  it("names the image and the OS, and the image CONTAINS every package", () => {
    const image = doc.packages.filter((p) => p.primaryPackagePurpose === "CONTAINER");
    expect(image).toHaveLength(1);
    const container = image[0] as SpdxPackage;
    expect(container.name).toBe(source);
    expect(container.versionInfo).toBe(fixture.image.configDigest);
    const imageFacts = annotationsOf(container);
    fixture.image.diffIds.forEach((diffId, index) => {
      expect(imageFacts[`layerwatch:layer:${index}:diffId`]).toEqual([diffId]);
    });
    const os = doc.packages.filter((p) => p.primaryPackagePurpose === "OPERATING_SYSTEM");
    expect(os.map((p) => [p.name, p.versionInfo, p.description])).toEqual([
      ["debian", "12", "Debian GNU/Linux 12 (bookworm)"],
    ]);
    expect(annotationsOf(os[0] as SpdxPackage)).toEqual({
      "layerwatch:os:ecosystem": ["Debian:12"],
      "layerwatch:os:prettyName": ["Debian GNU/Linux 12 (bookworm)"],
      "layerwatch:os:endOfLife": ["2028-06-30"],
    });

    expect(doc.relationships.filter((r) => r.spdxElementId === "SPDXRef-DOCUMENT")).toEqual([
      {
        spdxElementId: "SPDXRef-DOCUMENT",
        relationshipType: "DESCRIBES",
        relatedSpdxElement: container.SPDXID,
      },
    ]);
    const contained = doc.relationships
      .filter((r) => r.spdxElementId === container.SPDXID && r.relationshipType === "CONTAINS")
      .map((r) => r.relatedSpdxElement)
      .sort();
    const others = doc.packages.filter((p) => p !== container).map((p) => p.SPDXID);
    expect(contained).toEqual(others.sort());
    expect(doc.relationships).toHaveLength(1 + others.length);
  });

  it("gives two copies of one purl at two paths distinct SPDXIDs", () => {
    const copies = doc.packages.filter((p) => purlOf(p) === fixture.duplicate.purl);
    expect(copies.map((p) => annotation(p, "layerwatch:location")).sort()).toEqual(
      fixture.duplicate.locations,
    );
    expect(copies.map((p) => Number(annotation(p, "layerwatch:layer"))).sort()).toEqual(
      fixture.duplicate.layers,
    );
    const ids = copies.map((p) => p.SPDXID);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(id).toMatch(/^SPDXRef-Package-npm-lodash-4\.17\.20-[0-9a-f]{12}$/);
  });

  it("writes a declared license that is no SPDX expression as a LicenseRef with its text", () => {
    const custom = byName(fixture.customLicense.name);
    expect(custom.licenseDeclared).toMatch(/^LicenseRef-Acme-Corp-Commercial-License-[0-9a-f]{12}$/);
    expect(doc.hasExtractedLicensingInfos).toContainEqual({
      licenseId: custom.licenseDeclared,
      extractedText: fixture.customLicense.text,
      name: fixture.customLicense.text,
    });
    // A LicenseRef the package itself declared is kept, and declared in the document.
    const scoped = byName(fixture.licenseRef.name);
    expect(scoped.licenseDeclared).toBe(fixture.licenseRef.id);
    expect(doc.hasExtractedLicensingInfos?.map((info) => info.licenseId)).toContain(fixture.licenseRef.id);
    // MIT is on the SPDX list: no LicenseRef for it.
    expect(byName("minimist").licenseDeclared).toBe("MIT");
    expect(doc.hasExtractedLicensingInfos).toHaveLength(2);
  });

  it("gives a Maven jar its SHA-1 checksum", () => {
    const jar = doc.packages.find((p) => purlOf(p) === fixture.jar.purl) as SpdxPackage;
    expect(jar.name).toBe("org.apache.logging.log4j:log4j-core");
    expect(jar.checksums).toEqual([{ algorithm: "SHA1", checksumValue: fixture.jar.sha1 }]);
  });

  it("is the same for the same image except the creation time and the namespace's UUID", async () => {
    await expectSameSbomAgain(source, "spdx", text);
  });

  it.skipIf(!isBuilt())("is written by the installed binary with -o (needs npm run build)", async () => {
    const { written } = await writeSbomWithBinary(source, "spdx", join(work, "sbom.spdx.json"));
    expect(spdx23Problems(written)).toEqual([]);
    expect(normaliseSbom(JSON.stringify(written))).toBe(normaliseSbom(JSON.stringify(doc)));
  });
});

describe.skipIf(skipUnlessTools(["debootstrap"], "the SPDX test on a debootstrapped image"))(
  "layerwatch sbom --format spdx on a debootstrapped bookworm",
  () => {
    let debian: DebianImage;
    let debianDoc: SpdxDocument;
    // Built in a hook: a cold debootstrap takes longer than a test may (hookTimeout is 300 s).
    beforeAll(async () => {
      const rendered = await renderDebianSbom("spdx");
      debian = rendered.debian;
      debianDoc = JSON.parse(rendered.text) as SpdxDocument;
    });

    it("passes the check and lists exactly the packages dpkg lists, and the npm layer", async () => {
      expect(spdx23Problems(debianDoc)).toEqual([]);
      const debs = debianDoc.packages.filter((p) => purlOf(p)?.startsWith("pkg:deb/"));
      await expectDpkgPackagesListed(
        debian,
        debs.map((p) => ({ name: p.name, version: p.versionInfo, fact: (key) => annotation(p, key) })),
      );
      const npm = debianDoc.packages.filter((p) => purlOf(p)?.startsWith("pkg:npm/"));
      expect(
        npm.map((p) => ({
          name: p.name,
          version: p.versionInfo,
          license: p.licenseDeclared,
          layer: annotation(p, "layerwatch:layer"),
        })),
      ).toEqual(
        debian.npmPackages.map((p) => ({ name: p.name, version: p.version, license: "MIT", layer: "1" })),
      );
      const image = debianDoc.packages.find((p) => p.primaryPackagePurpose === "CONTAINER") as SpdxPackage;
      expect(image.versionInfo).toBe(debian.manifestDigest);
      const contained = debianDoc.relationships.filter(
        (r) => r.spdxElementId === image.SPDXID && r.relationshipType === "CONTAINS",
      );
      expect(contained).toHaveLength(debianDoc.packages.length - 1);
    });
  },
);
