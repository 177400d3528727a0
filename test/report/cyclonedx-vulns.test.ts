/**
 * `layerwatch scan --format cyclonedx`: the CycloneDX 1.6 SBOM of the image plus its findings as
 * `vulnerabilities`, validated against the official 1.6 schema. The image is the SBOM tests'
 * (test/helpers/sbom-fixture.ts: the e2e fixture plus a layer with a second copy of lodash
 * 4.17.20), scanned against fixtures/osv, so one vulnerability affects two copies of one purl.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { buildSbomFixture, normaliseSbom, type SbomFixture } from "../helpers/sbom-fixture.js";
import { cycloneDx16Validator } from "../helpers/sbom-schemas.js";
import { type FixtureScan, fixtureStore } from "./fixture-scan.js";

interface Component {
  "bom-ref": string;
  name: string;
  purl?: string;
  properties?: Array<{ name: string; value: string }>;
}
interface Vulnerability {
  "bom-ref": string;
  id: string;
  source: { name: string; url: string };
  references?: Array<{ id: string; source: { name: string; url: string } }>;
  ratings?: Array<{
    source: { name: string };
    severity: string;
    method: string;
    score?: number;
    vector?: string;
  }>;
  description?: string;
  recommendation?: string;
  analysis?: { response: string[]; detail: string };
  affects: Array<{ ref: string; versions: Array<{ version: string; status: string }> }>;
}
interface Bom {
  components: Component[];
  vulnerabilities?: Vulnerability[];
}

const validate = cycloneDx16Validator();

let store: FixtureScan;
let fixture: SbomFixture;
let source: string;
let report: JsonReport;
let bomText: string;
let bom: Bom;

function location(component: Component | undefined): string | undefined {
  return component?.properties?.find((p) => p.name === "layerwatch:location")?.value;
}

beforeAll(async () => {
  store = await fixtureStore("cyclonedx-vulns");
  fixture = await buildSbomFixture();
  source = await store.archive(fixture.image, "image");
  report = await store.report(source);
  const run = await store.scan(source, ["--format", "cyclonedx"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  bomText = run.stdout;
  bom = JSON.parse(bomText) as Bom;
});

afterAll(async () => {
  await rm(store.work, { recursive: true, force: true });
});

describe("layerwatch scan --format cyclonedx", () => {
  it("validates against the official CycloneDX 1.6 schema, which refuses a bad rating", () => {
    expect(validate(bom), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    const broken = structuredClone(bom);
    const rated = broken.vulnerabilities?.find((v) => v.ratings);
    if (rated?.ratings?.[0]) rated.ratings[0].severity = "severe";
    expect(validate(broken)).toBe(false);
    const refless = structuredClone(bom) as unknown as { vulnerabilities: Array<{ affects: object[] }> };
    refless.vulnerabilities[0]?.affects.push({ versions: [] });
    expect(validate(refless)).toBe(false);
  });

  it("is the SBOM `layerwatch sbom` writes, plus the vulnerabilities", async () => {
    const sbom = await cli(["sbom", source, "--format", "cyclonedx"]);
    const withoutVulns = JSON.parse(bomText) as Bom;
    delete withoutVulns.vulnerabilities;
    expect(normaliseSbom(JSON.stringify(withoutVulns))).toBe(
      normaliseSbom(JSON.stringify(JSON.parse(sbom.stdout))),
    );
    expect((JSON.parse(sbom.stdout) as Bom).vulnerabilities).toBeUndefined();
  });

  it("has one vulnerability per id, affecting every component a finding names, copies of one purl included", () => {
    const vulns = bom.vulnerabilities ?? [];
    // The seven e2e findings plus lodash's two CVEs for the copy at srv/.
    expect(report.findings).toHaveLength(9);
    expect(vulns.map((v) => v.id)).toEqual([...new Set(report.findings.map((f) => f.id))]);
    const components = new Map(bom.components.map((c) => [c["bom-ref"], c]));
    for (const vuln of vulns) {
      const expected = report.findings
        .filter((f) => f.id === vuln.id)
        .map((f) => ({ purl: f.package.purl, version: f.installedVersion }));
      const affected = vuln.affects.map((a) => ({
        purl: components.get(a.ref)?.purl,
        version: a.versions[0]?.version,
      }));
      expect(affected, vuln.id).toEqual(expected);
      for (const entry of vuln.affects)
        expect(entry.versions).toEqual([{ version: entry.versions[0]?.version, status: "affected" }]);
    }
    const lodash = vulns.find((v) => v.id === "CVE-2021-23337");
    expect(lodash?.affects.map((a) => location(components.get(a.ref)))).toEqual(fixture.duplicate.locations);
    const curl = vulns.find((v) => v.id === "CVE-2023-46218");
    expect(curl?.affects.map((a) => components.get(a.ref)?.name)).toEqual(["curl", "libcurl4"]);
  });

  it("says where each id comes from, its aliases, ratings, fix and fix state", () => {
    const byId = Object.fromEntries((bom.vulnerabilities ?? []).map((v) => [v.id, v]));
    // fixtures/osv/npm/GHSA-xvch-5gv4-984h.json: CRITICAL by GitHub, fixed in 1.2.6.
    expect(byId["CVE-2021-44906"]).toMatchObject({
      "bom-ref": "vulnerability:CVE-2021-44906",
      source: { name: "OSV", url: "https://osv.dev/vulnerability/CVE-2021-44906" },
      references: [
        {
          id: "GHSA-xvch-5gv4-984h",
          source: { name: "OSV", url: "https://osv.dev/vulnerability/GHSA-xvch-5gv4-984h" },
        },
      ],
      ratings: [{ source: { name: "GitHub Advisories" }, severity: "critical", method: "other" }],
      description: "Prototype Pollution in minimist",
      recommendation: "Upgrade minimist to 1.2.6.",
      analysis: { response: ["update"], detail: "minimist 1.2.5: fixed in 1.2.6" },
    });
    // fixtures/osv/Debian/CVE-2005-2541.json: urgency "unimportant" (low), no fix, none planned.
    expect(byId["CVE-2005-2541"]).toMatchObject({
      ratings: [{ source: { name: "Debian" }, severity: "low", method: "other" }],
      analysis: { response: ["will_not_fix"] },
    });
    expect(byId["CVE-2005-2541"]?.recommendation).toBeUndefined();
    expect(byId["CVE-2005-2541"]?.references).toBeUndefined();
    // DSA-5587-1 rates nothing: no rating is made up.
    expect(byId["CVE-2023-46218"]?.ratings).toBeUndefined();
    expect(byId["CVE-2023-46218"]?.references?.map((r) => r.id)).toEqual(["CVE-2023-46219", "DSA-5587-1"]);
    expect(byId["CVE-2023-46218"]?.recommendation).toBe(
      "Upgrade curl to 7.88.1-10+deb12u5. Upgrade libcurl4 to 7.88.1-10+deb12u5.",
    );
  });
});
