/**
 * `layerwatch sbom --format cyclonedx` on real images: the e2e fixture image with an added layer
 * (test/helpers/sbom-fixture.ts) and, where debootstrap is available, a debootstrapped Debian
 * bookworm. Every BOM must validate against the official CycloneDX 1.6 JSON schema and say what
 * the JSON report of the same image says.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport, ReportPackage } from "../../src/report/model.js";
import { builtCli, isBuilt } from "../helpers/cli.js";
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
import { cycloneDx16Validator } from "../helpers/sbom-schemas.js";
import { skipUnlessTools } from "../helpers/tools.js";

interface Property {
  name: string;
  value: string;
}
interface Component {
  type: string;
  "bom-ref": string;
  group?: string;
  name: string;
  version?: string;
  purl?: string;
  hashes?: Array<{ alg: string; content: string }>;
  licenses?: Array<{ expression?: string; license?: { id?: string; name?: string } }>;
  description?: string;
  properties?: Property[];
}
interface Bom {
  bomFormat: string;
  specVersion: string;
  serialNumber: string;
  metadata: {
    timestamp: string;
    tools: { components: Component[] };
    component: Component;
  };
  components: Component[];
}

const validate = cycloneDx16Validator();

let work: string;
let fixture: SbomFixture;
let source: string;
let report: JsonReport;
let bomText: string;
let bom: Bom;

function propertiesOf(component: Component): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const property of component.properties ?? [])
    out[property.name] = [...(out[property.name] ?? []), property.value];
  return out;
}

function property(component: Component, name: string): string | undefined {
  return component.properties?.find((p) => p.name === name)?.value;
}

/** The one component for a package of the JSON report: same purl, same location. */
function componentFor(pkg: ReportPackage, components: Component[]): Component {
  const matches = components.filter(
    (c) => c.purl === pkg.purl && property(c, "layerwatch:location") === pkg.location,
  );
  expect(matches, `${pkg.purl} at ${pkg.location}`).toHaveLength(1);
  return matches[0] as Component;
}

function expectValid(document: unknown): void {
  const valid = validate(document);
  expect(valid, JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
}

beforeAll(async () => {
  ({ work, fixture, source, report, text: bomText } = await renderSbomFixture("cyclonedx"));
  bom = JSON.parse(bomText) as Bom;
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("layerwatch sbom --format cyclonedx", () => {
  it("validates against the official CycloneDX 1.6 schema, which rejects a broken BOM", () => {
    expectValid(bom);
    expect(bom.bomFormat).toBe("CycloneDX");
    expect(bom.specVersion).toBe("1.6");
    expect(bom.serialNumber).toMatch(
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(bom.metadata.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(bom.metadata.tools.components).toEqual([
      { type: "application", name: "layerwatch", version: report.tool.version },
    ]);
    // The validator is not vacuous: an unknown component type and a missing name are refused.
    const broken = structuredClone(bom);
    (broken.components[1] as Component).type = "package";
    expect(validate(broken)).toBe(false);
    const nameless = structuredClone(bom) as unknown as { components: Array<Record<string, unknown>> };
    delete nameless.components[1]?.name;
    expect(validate(nameless)).toBe(false);
  });

  it("has one component per package of the JSON report, with its purl, version, licenses, layer and location", () => {
    // The fixture's packages: 9 dpkg, 6 npm in the fixture, 3 npm and one jar added.
    expect(report.packages.length).toBe(19);
    const libraries = bom.components.filter((c) => c.type === "library");
    expect(libraries).toHaveLength(report.packages.length);
    for (const pkg of report.packages) {
      const component = componentFor(pkg, libraries);
      expect(component.version).toBe(pkg.version);
      expect(propertiesOf(component)).toEqual(expectedSbomFacts(pkg));
      // The layer's diff id is the one the image builder computed for that layer's tar.
      expect(property(component, "layerwatch:layer:diffId")).toBe(
        fixture.image.diffIds[pkg.layer?.index ?? -1],
      );
      if (pkg.licenseExpression) expect(component.licenses).toEqual([{ expression: pkg.licenseExpression }]);
      else if (pkg.license) expect(component.licenses).toEqual([{ license: { name: pkg.license } }]);
      else expect(component.licenses).toBeUndefined();
      // npm scopes, Maven groups: the group, and the rest of the name.
      const [group, name] = pkg.name.startsWith("@") ? pkg.name.split("/") : [undefined, pkg.name];
      if (pkg.type === "maven") expect(`${component.group}:${component.name}`).toBe(pkg.name);
      else expect([component.group, component.name]).toEqual([group, name]);
    }
    const refs = bom.components.map((c) => c["bom-ref"]);
    expect(new Set(refs).size).toBe(refs.length);
  });

  it("describes Debian's packages from the dpkg database with their source package", () => {
    const curl = bom.components.find((c) => c.name === "curl") as Component;
    // fixtures/images/debian-app/2-upgrade/var/lib/dpkg/status: curl 7.88.1-10+deb12u4, amd64.
    expect(curl.purl).toBe("pkg:deb/debian/curl@7.88.1-10+deb12u4?arch=amd64&distro=debian-12");
    expect(property(curl, "layerwatch:ecosystem")).toBe("Debian:12");
    expect(property(curl, "layerwatch:sourceName")).toBe("curl");
    expect(property(curl, "layerwatch:layer")).toBe("2");
    expect(property(curl, "layerwatch:location")).toBe("var/lib/dpkg/status");
    const libssl = bom.components.find((c) => c.name === "libssl3") as Component;
    expect(property(libssl, "layerwatch:sourceName")).toBe("openssl");
  });

  it("names the OS and the image, with its digest and layers", () => {
    const os = bom.components.filter((c) => c.type === "operating-system");
    expect(os).toEqual([
      {
        type: "operating-system",
        "bom-ref": "os",
        name: "debian",
        version: "12",
        description: "Debian GNU/Linux 12 (bookworm)",
        properties: [
          { name: "layerwatch:os:ecosystem", value: "Debian:12" },
          { name: "layerwatch:os:prettyName", value: "Debian GNU/Linux 12 (bookworm)" },
          { name: "layerwatch:os:endOfLife", value: "2028-06-30" },
        ],
      },
    ]);
    const image = bom.metadata.component;
    expect(image.type).toBe("container");
    expect(image["bom-ref"]).toBe("image");
    expect(image.name).toBe(source);
    // A docker-archive has no manifest digest: the config digest, as the builder computed it.
    expect(image.version).toBe(fixture.image.configDigest);
    const properties = propertiesOf(image);
    expect(properties["layerwatch:image:configDigest"]).toEqual([fixture.image.configDigest]);
    fixture.image.diffIds.forEach((diffId, index) => {
      expect(properties[`layerwatch:layer:${index}:diffId`]).toEqual([diffId]);
    });
    expect(properties[`layerwatch:layer:${fixture.addedLayer}:createdBy`]).toEqual(["COPY srv/ /srv/"]);
  });

  it("keeps two copies of one purl at two paths as two components with distinct bom-refs", () => {
    const copies = bom.components.filter((c) => c.purl === fixture.duplicate.purl);
    expect(copies.map((c) => property(c, "layerwatch:location")).sort()).toEqual(fixture.duplicate.locations);
    expect(copies.map((c) => Number(property(c, "layerwatch:layer"))).sort()).toEqual(
      fixture.duplicate.layers,
    );
    expect(new Set(copies.map((c) => c["bom-ref"])).size).toBe(2);
  });

  it("writes a declared license that is no SPDX expression as a license name, and a LicenseRef as an expression", () => {
    const custom = bom.components.find((c) => c.name === fixture.customLicense.name) as Component;
    expect(
      report.packages.find((p) => p.name === fixture.customLicense.name)?.licenseExpression,
    ).toBeUndefined();
    expect(custom.licenses).toEqual([{ license: { name: fixture.customLicense.text } }]);
    expect(property(custom, "layerwatch:license")).toBe(fixture.customLicense.text);
    const scoped = bom.components.find((c) => c.group === "@acme" && c.name === "internal") as Component;
    expect(scoped.licenses).toEqual([{ expression: fixture.licenseRef.id }]);
  });

  it("gives a Maven jar its group and SHA-1", () => {
    const jar = bom.components.find((c) => c.purl === fixture.jar.purl) as Component;
    expect(jar.group).toBe("org.apache.logging.log4j");
    expect(jar.name).toBe("log4j-core");
    expect(jar.hashes).toEqual([{ alg: "SHA-1", content: fixture.jar.sha1 }]);
    expect(property(jar, "layerwatch:location")).toBe(fixture.jar.location);
  });

  it("is the same for the same image except the timestamp and serial number", async () => {
    await expectSameSbomAgain(source, "cyclonedx", bomText);
  });

  it.skipIf(!isBuilt())("is written by the installed binary with -o (needs npm run build)", async () => {
    const { stdout, written } = await writeSbomWithBinary(source, "cyclonedx", join(work, "bom.cdx.json"));
    expect(stdout).toBe("");
    expectValid(written);
    expect(normaliseSbom(JSON.stringify(written))).toBe(normaliseSbom(JSON.stringify(bom)));
    const bad = await builtCli(["sbom", source, "--format", "cdx"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("json, cyclonedx, spdx");
  });
});

describe.skipIf(skipUnlessTools(["debootstrap"], "the CycloneDX test on a debootstrapped image"))(
  "layerwatch sbom --format cyclonedx on a debootstrapped bookworm",
  () => {
    let debian: DebianImage;
    let debianBom: Bom;
    // Built in a hook: a cold debootstrap takes longer than a test may (hookTimeout is 300 s).
    beforeAll(async () => {
      const rendered = await renderDebianSbom("cyclonedx");
      debian = rendered.debian;
      debianBom = JSON.parse(rendered.text) as Bom;
    });

    it("validates and lists exactly the packages dpkg lists, and the npm layer", async () => {
      expectValid(debianBom);
      const debs = debianBom.components.filter((c) => c.purl?.startsWith("pkg:deb/"));
      await expectDpkgPackagesListed(
        debian,
        debs.map((c) => ({ name: c.name, version: c.version, fact: (key) => property(c, key) })),
      );
      const npm = debianBom.components.filter((c) => c.purl?.startsWith("pkg:npm/"));
      expect(
        npm.map((c) => ({
          name: c.name,
          version: c.version,
          licenses: c.licenses,
          layer: property(c, "layerwatch:layer"),
        })),
      ).toEqual(
        debian.npmPackages.map((p) => ({
          name: p.name,
          version: p.version,
          licenses: [{ expression: "MIT" }],
          layer: "1",
        })),
      );
      const os = debianBom.components.find((c) => c.type === "operating-system");
      expect([os?.name, os?.version]).toEqual(["debian", "12"]);
      expect(debianBom.metadata.component.version).toBe(debian.manifestDigest);
      const properties = propertiesOf(debianBom.metadata.component);
      debian.layers.forEach((layer, index) => {
        expect(properties[`layerwatch:layer:${index}:diffId`]).toEqual([layer.diffId]);
        expect(properties[`layerwatch:layer:${index}:createdBy`]).toEqual([layer.createdBy]);
      });
    });
  },
);
