import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import yazl from "yazl";
import {
  javaArchiveExtractor,
  MAX_NESTING_DEPTH,
  nameFromFileName,
  parseManifest,
  parseProperties,
} from "../../src/inventory/extractors/java.js";
import { readZipEntries, readZipEntry, ZipError } from "../../src/inventory/extractors/zip-sync.js";
import type { ExtractedPackage } from "../../src/inventory/types.js";
import type { JsonReport } from "../../src/report/model.js";
import { cli } from "../helpers/cli.js";
import { buildImage, writeOciLayout } from "../helpers/image-builder.js";
import { compileSchema } from "../helpers/schema.js";
import { sharedData } from "../helpers/shared-data.js";

interface Member {
  name: string;
  content: Buffer | string;
  /** Deflate (the default) or store, as Spring Boot stores its nested jars. */
  compress?: boolean;
}

/** A zip in memory, written by yazl as a jar tool would write it. */
async function zip(members: Member[]): Promise<Buffer> {
  const file = new yazl.ZipFile();
  for (const member of members)
    if (member.name.endsWith("/")) file.addEmptyDirectory(member.name.slice(0, -1), { mtime: new Date(0) });
    else
      file.addBuffer(Buffer.from(member.content), member.name, {
        compress: member.compress ?? true,
        mtime: new Date(0),
      });
  file.end();
  const chunks: Buffer[] = [];
  for await (const chunk of file.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function pom(group: string, artifact: string, version: string): Member {
  return {
    name: `META-INF/maven/${group}/${artifact}/pom.properties`,
    content: `#Created by Apache Maven 3.8.1\ngroupId=${group}\nartifactId=${artifact}\nversion=${version}\n`,
  };
}

function sha1(bytes: Buffer): string {
  return createHash("sha1").update(bytes).digest("hex");
}

function extract(path: string, content: Buffer) {
  const warnings: string[] = [];
  const packages = javaArchiveExtractor.extract(path, content, {
    warn: (w) => warnings.push(w),
    readFile: () => undefined,
  });
  return { packages, warnings };
}

function brief(pkg: ExtractedPackage) {
  return [pkg.name, pkg.version, pkg.type, pkg.ecosystem, pkg.location];
}

/** Every file under a shared fixture folder, as jar members named relative to it. */
function membersOf(dir: string): Member[] {
  const members: Member[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const full = join(at, name);
      if (statSync(full).isDirectory()) walk(full);
      else members.push({ name: relative(dir, full), content: readFileSync(full) });
    }
  };
  walk(dir);
  return members;
}

describe("java archive extractor", () => {
  it("wants jars, wars, ears and Jenkins plugins anywhere", () => {
    for (const path of [
      "app.jar",
      "opt/app/lib/log4j-core-2.14.1.jar",
      "usr/local/tomcat/webapps/ROOT.war",
      "srv/app.EAR",
      "var/jenkins_home/plugins/git.jpi",
      "var/jenkins_home/plugins/gradle.hpi",
    ])
      expect(javaArchiveExtractor.wants(path), path).toBe(true);
    for (const path of ["app.jar.sha1", "usr/lib/jvm/lib/modules", "jar", "a/b.zip", "x.jarx"])
      expect(javaArchiveExtractor.wants(path), path).toBe(false);
  });

  const jarMetadata = sharedData("pkgdb/lang/java/syft/jar-metadata");
  it.skipIf(!jarMetadata)(
    "reads syft's real jar metadata: pom.properties first, then the manifest, then the file name",
    async () => {
      const root = jarMetadata as string;
      const cases: Array<[string, string, unknown[][]]> = [
        [
          // One sources jar, two pom.properties: both artifacts are listed.
          "api-all-2.0.0-sources",
          "api-all-2.0.0-sources.jar",
          [
            ["org.apache.directory.api:api-all", "2.0.0", "maven", "Maven", undefined],
            ["org.apache.directory.api:api-asn1-api", "2.0.0", "maven", "Maven", undefined],
          ],
        ],
        [
          "opensaml-core-3.4.6",
          "opensaml-core-3.4.6.jar",
          [["org.opensaml:opensaml-core", "3.4.6", "maven", "Maven", undefined]],
        ],
        [
          // OSGi headers: the group from Implementation-Vendor-Id, the artifact from the rest of
          // Bundle-SymbolicName.
          "com.fasterxml.jackson.core.jackson-core-2.15.2",
          "jackson-core-2.15.2.jar",
          [["com.fasterxml.jackson.core:jackson-core", "2.15.2", "maven", "Maven", undefined]],
        ],
        [
          // A Jenkins plugin: Group-Id, Short-Name, Plugin-Version.
          "jenkins-plugins/gradle/2.11",
          "gradle.hpi",
          [["org.jenkins-ci.plugins:gradle", "2.11", "maven", "Maven", undefined]],
        ],
        [
          // No group anywhere: listed by the file's name, never matched against Maven advisories.
          "micronaut-aop-4.9.11",
          "micronaut-aop-4.9.11.jar",
          [["micronaut-aop", "4.9.11", "generic", undefined, undefined]],
        ],
        [
          "spring-instrumentation-4.3.0-1.0",
          "spring-instrumentation-4.3.0-1.0.jar",
          [["spring-instrumentation", "1.0", "generic", undefined, undefined]],
        ],
        [
          // A near-empty manifest: the file name is all there is.
          "commons-lang3-3.12.0",
          "commons-lang3-3.12.0.jar",
          [["commons-lang3", "3.12.0", "generic", undefined, undefined]],
        ],
      ];
      for (const [folder, fileName, expected] of cases) {
        const jar = await zip(membersOf(join(root, folder)));
        const { packages, warnings } = extract(`opt/lib/${fileName}`, jar);
        expect(warnings, folder).toEqual([]);
        expect(packages.map(brief), folder).toEqual(expected);
        for (const pkg of packages) expect(pkg.sha1).toBe(sha1(jar));
      }
      const jackson = extract(
        "opt/lib/jackson-core-2.15.2.jar",
        await zip(membersOf(join(root, "com.fasterxml.jackson.core.jackson-core-2.15.2"))),
      ).packages[0];
      expect(jackson?.purl).toBe("pkg:maven/com.fasterxml.jackson.core/jackson-core@2.15.2");
      expect(
        extract("opt/lib/commons-lang3-3.12.0.jar", await zip(membersOf(join(root, "commons-lang3-3.12.0"))))
          .packages[0]?.purl,
      ).toBe("pkg:generic/commons-lang3@3.12.0");
    },
  );

  const pomFolders = [
    sharedData("pkgdb/lang/java/syft/pom"),
    sharedData("pkgdb/lang/java/snyk-docker-plugin"),
  ];
  it.skipIf(pomFolders.includes(undefined))(
    "reads the pom.properties variants syft and snyk test",
    async () => {
      const [syft, snyk] = pomFolders as [string, string];
      const cases: Array<[string, string]> = [
        [join(syft, "small.pom.properties"), "org.anchore:example-java-app-maven@0.1.0"],
        [join(syft, "extra.pom.properties"), "org.anchore:example-java-app-maven@0.1.0"],
        [join(syft, "colon-delimited.pom.properties"), "org.anchore:example-java-app-maven@0.1.0"],
        [join(snyk, "mssql-jdbc.pom.properties"), "com.microsoft.sqlserver:mssql-jdbc@12.10.2"],
        [join(snyk, "valid.pom.properties"), "org.test:org.test.dependency@1.0.0"],
      ];
      for (const [file, expected] of cases) {
        const properties = parseProperties(readFileSync(file, "utf8"));
        const coordinates = `${properties.get("groupId")}:${properties.get("artifactId")}@${properties.get("version")}`;
        expect(coordinates, file).toBe(expected);
        const jar = await zip([
          { name: "META-INF/MANIFEST.MF", content: "Manifest-Version: 1.0\n" },
          { name: "META-INF/maven/g/a/pom.properties", content: readFileSync(file) },
        ]);
        const { packages, warnings } = extract("x.jar", jar);
        expect(warnings).toEqual([]);
        expect(packages.map((p) => `${p.name}@${p.version}`)).toEqual([expected]);
        const [group, artifact] = expected.split("@")[0]?.split(":") ?? [];
        expect(packages[0]?.purl).toBe(`pkg:maven/${group}/${artifact}@${expected.split("@")[1]}`);
      }
    },
  );

  it("reads a Spring Boot fat jar's nested jars, each with its own location and SHA-1", async () => {
    const log4j = await zip([
      { name: "META-INF/MANIFEST.MF", content: "Manifest-Version: 1.0\nImplementation-Version: 2.14.1\n" },
      pom("org.apache.logging.log4j", "log4j-core", "2.14.1"),
      { name: "org/apache/logging/log4j/core/Logger.class", content: Buffer.alloc(2000, 7) },
    ]);
    const lang = await zip([
      {
        name: "META-INF/MANIFEST.MF",
        content:
          "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.apache.commons.lang3\r\nImplementation-Vendor-Id: org.apache.commons\r\nImplementation-Title: Apache Commons Lang\r\nImplementation-Version: 3.12.0\r\n\r\n",
      },
    ]);
    const app = await zip([
      {
        name: "META-INF/MANIFEST.MF",
        content: "Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.JarLauncher\n",
      },
      pom("com.example", "demo", "0.0.1-SNAPSHOT"),
      { name: "BOOT-INF/classes/com/example/Demo.class", content: Buffer.alloc(100, 1) },
      { name: "BOOT-INF/lib/", content: "" },
      { name: "BOOT-INF/lib/log4j-core-2.14.1.jar", content: log4j, compress: false },
      { name: "BOOT-INF/lib/commons-lang3-3.12.0.jar", content: lang, compress: true },
    ]);
    const { packages, warnings } = extract("app/app.jar", app);
    expect(warnings).toEqual([]);
    expect(packages.map(brief)).toEqual([
      ["com.example:demo", "0.0.1-SNAPSHOT", "maven", "Maven", undefined],
      [
        "org.apache.logging.log4j:log4j-core",
        "2.14.1",
        "maven",
        "Maven",
        "app/app.jar!BOOT-INF/lib/log4j-core-2.14.1.jar",
      ],
      // No pom.properties: the group from the manifest, the artifact from the file name.
      [
        "org.apache.commons:commons-lang3",
        "3.12.0",
        "maven",
        "Maven",
        "app/app.jar!BOOT-INF/lib/commons-lang3-3.12.0.jar",
      ],
    ]);
    expect(packages.map((p) => p.sha1)).toEqual([sha1(app), sha1(log4j), sha1(lang)]);
    expect(packages[1]?.purl).toBe("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1");
  });

  it("reads a war's WEB-INF/lib jars, and jars nested down to the depth limit only", async () => {
    let archive = await zip([pom("org.example", `level-${MAX_NESTING_DEPTH + 1}`, "1.0")]);
    for (let level = MAX_NESTING_DEPTH; level >= 1; level--)
      archive = await zip([
        pom("org.example", `level-${level}`, "1.0"),
        { name: "lib/inner.jar", content: archive },
      ]);
    const war = await zip([
      pom("org.example", "shop", "2.0"),
      { name: "WEB-INF/lib/inner.jar", content: archive },
    ]);
    const { packages, warnings } = extract("srv/shop.war", war);
    expect(packages.map((p) => [p.name, p.location])).toEqual([
      ["org.example:shop", undefined],
      ["org.example:level-1", "srv/shop.war!WEB-INF/lib/inner.jar"],
      ["org.example:level-2", "srv/shop.war!WEB-INF/lib/inner.jar!lib/inner.jar"],
      ["org.example:level-3", "srv/shop.war!WEB-INF/lib/inner.jar!lib/inner.jar!lib/inner.jar"],
    ]);
    expect(warnings).toEqual([
      "srv/shop.war!WEB-INF/lib/inner.jar!lib/inner.jar!lib/inner.jar!lib/inner.jar: nested more than 3 archives deep; not read",
    ]);
  });

  it("warns about a corrupt archive and lists nothing from it, without throwing", async () => {
    const good = await zip([
      pom("org.example", "good", "1.0"),
      { name: "a.class", content: Buffer.alloc(500, 3) },
    ]);
    const cases: Array<[string, Buffer]> = [
      ["not a zip", Buffer.from("this is not a jar at all, just text\n".repeat(20))],
      ["empty", Buffer.alloc(0)],
      ["truncated", good.subarray(0, good.length - 30)],
      ["central directory cut away", Buffer.concat([good.subarray(0, 40), good.subarray(good.length - 22)])],
    ];
    for (const [what, bytes] of cases) {
      const { packages, warnings } = extract("opt/broken.jar", bytes);
      expect(packages, what).toEqual([]);
      expect(warnings, what).toHaveLength(1);
      expect(warnings[0], what).toMatch(/^opt\/broken\.jar: not a readable Java archive \(.+\); skipped$/);
    }
    // A damaged deflate stream in the only pom.properties.
    const damaged = Buffer.from(good);
    const entry = readZipEntries(damaged).find((e) => e.name.endsWith("pom.properties"));
    const start = (entry?.localHeaderOffset ?? 0) + 30 + (entry?.name.length ?? 0);
    damaged.fill(0xff, start, start + 8);
    const broken = extract("opt/broken.jar", damaged);
    expect(broken.packages).toEqual([]);
    expect(broken.warnings[0]).toMatch(/not a readable Java archive/);

    // A corrupt nested jar costs only its own packages.
    const outer = await zip([
      pom("org.example", "outer", "1.0"),
      { name: "BOOT-INF/lib/broken-1.0.jar", content: "PK\u0003\u0004 garbage", compress: false },
    ]);
    const nested = extract("app.jar", outer);
    expect(nested.packages.map((p) => p.name)).toEqual(["org.example:outer"]);
    expect(nested.warnings).toEqual([
      expect.stringMatching(/^app\.jar!BOOT-INF\/lib\/broken-1\.0\.jar: not a readable Java archive/),
    ]);
  });

  it("skips a pom.properties without coordinates, with a warning", async () => {
    const jar = await zip([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an unresolved Maven placeholder, on purpose
      { name: "META-INF/maven/g/a/pom.properties", content: "groupId=g\nversion=${project.version}\n" },
      { name: "META-INF/MANIFEST.MF", content: "Manifest-Version: 1.0\nImplementation-Version: 4.1\n" },
    ]);
    const { packages, warnings } = extract("lib/thing-4.1.jar", jar);
    expect(warnings).toEqual([
      "lib/thing-4.1.jar: META-INF/maven/g/a/pom.properties lacks a groupId, artifactId or version; skipped",
    ]);
    expect(packages.map(brief)).toEqual([["thing", "4.1", "generic", undefined, undefined]]);
  });

  it("says when an archive names no version anywhere", async () => {
    const { packages, warnings } = extract("lib/tools.jar", await zip([{ name: "a.class", content: "x" }]));
    expect(packages).toEqual([]);
    expect(warnings).toEqual([
      "lib/tools.jar: no pom.properties, manifest version or versioned file name; skipped",
    ]);
  });
});

describe("java metadata parsing", () => {
  it("reads manifest continuation lines and per-entry sections", () => {
    const manifest = parseManifest(
      "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.example.very-long-na\r\n me;singleton:=true\r\n\r\nName: org/example/\r\nImplementation-Title: example\r\nManifest-Version: 9\r\n",
    );
    expect(manifest.get("Bundle-SymbolicName")).toBe("org.example.very-long-name;singleton:=true");
    expect(manifest.get("Implementation-Title")).toBe("example");
    expect(manifest.get("Manifest-Version")).toBe("1.0");
  });

  it("splits a file name at the first hyphen before a digit", () => {
    expect(nameFromFileName("a/b/commons-lang3-3.12.0.jar")).toEqual({
      artifact: "commons-lang3",
      version: "3.12.0",
    });
    expect(nameFromFileName("app.jar!BOOT-INF/lib/spring-core-6.1.2.jar")).toEqual({
      artifact: "spring-core",
      version: "6.1.2",
    });
    expect(nameFromFileName("tools.jar")).toEqual({ artifact: "tools" });
  });
});

describe("in-memory zip reader", () => {
  it("refuses a member larger than the limit, even one that lies about its size", async () => {
    const big = Buffer.alloc(1 << 20, 0x41);
    const archive = await zip([{ name: "big.txt", content: big }]);
    const [entry] = readZipEntries(archive);
    if (!entry) throw new Error("no entry");
    expect(readZipEntry(archive, entry, 2 << 20).equals(big)).toBe(true);
    expect(() => readZipEntry(archive, entry, 1000)).toThrow(ZipError);
    // A central directory that claims 10 bytes: inflation stops there.
    expect(() => readZipEntry(archive, { ...entry, uncompressedSize: 10 }, 2 << 20)).toThrow(ZipError);
  });

  it("reads stored and deflated members", async () => {
    const archive = await zip([
      { name: "stored.txt", content: "plain", compress: false },
      { name: "deflated.txt", content: "squeezed ".repeat(50) },
    ]);
    const entries = readZipEntries(archive);
    expect(entries.map((e) => [e.name, e.method])).toEqual([
      ["stored.txt", 0],
      ["deflated.txt", 8],
    ]);
    expect(entries.map((e) => readZipEntry(archive, e, 1 << 20).toString())).toEqual([
      "plain",
      "squeezed ".repeat(50),
    ]);
  });
});

describe("java archives end to end", () => {
  let work: string;
  let db: string;

  /** GHSA-jfh8-c2jp-5v3q (Log4Shell) as GitHub's advisory database publishes it, trimmed. */
  const log4shell = {
    schema_version: "1.4.0",
    id: "GHSA-jfh8-c2jp-5v3q",
    modified: "2024-02-13T00:00:00Z",
    published: "2021-12-10T00:40:56Z",
    aliases: ["CVE-2021-44228"],
    summary: "Remote code injection in Log4j",
    affected: [
      {
        package: { ecosystem: "Maven", name: "org.apache.logging.log4j:log4j-core" },
        ranges: [
          {
            type: "ECOSYSTEM",
            events: [{ introduced: "2.0-beta9" }, { fixed: "2.15.0" }],
          },
        ],
      },
    ],
    severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" }],
    database_specific: {
      severity: "CRITICAL",
      github_reviewed: true,
      cwe_ids: ["CWE-502", "CWE-400", "CWE-20"],
    },
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "layerwatch-java-"));
    db = join(work, "db.sqlite");
    await mkdir(join(work, "osv"));
    await writeFile(join(work, "osv", `${log4shell.id}.json`), JSON.stringify(log4shell, null, 2));
    const imported = await cli(["--db", db, "db", "import", join(work, "osv")]);
    expect(imported.code, imported.stderr).toBe(0);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("finds Log4Shell in log4j-core 2.14.1 nested in app.jar", async () => {
    const log4j = await zip([pom("org.apache.logging.log4j", "log4j-core", "2.14.1")]);
    // log4j-api shares the version but not the advisory.
    const api = await zip([pom("org.apache.logging.log4j", "log4j-api", "2.14.1")]);
    const app = await zip([
      pom("com.example", "app", "1.0.0"),
      { name: "BOOT-INF/lib/log4j-core-2.14.1.jar", content: log4j, compress: false },
      { name: "BOOT-INF/lib/log4j-api-2.14.1.jar", content: api, compress: false },
    ]);
    const image = await buildImage([
      {
        createdBy: "COPY app.jar /app/",
        files: [
          { path: "app", type: "directory" },
          { path: "app/app.jar", type: "file", content: app },
        ],
      },
    ]);
    await writeOciLayout(image, join(work, "layout"));
    const run = await cli(["--db", db, "scan", `oci:${join(work, "layout")}`, "--format", "json"]);
    expect(run.stderr).toMatch(/^layerwatch: warning: image: no OS release found[^\n]*\n$/);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.packages.map((p) => [p.name, p.version, p.location, p.sha1])).toEqual([
      ["com.example:app", "1.0.0", "app/app.jar", sha1(app)],
      [
        "org.apache.logging.log4j:log4j-api",
        "2.14.1",
        "app/app.jar!BOOT-INF/lib/log4j-api-2.14.1.jar",
        sha1(api),
      ],
      [
        "org.apache.logging.log4j:log4j-core",
        "2.14.1",
        "app/app.jar!BOOT-INF/lib/log4j-core-2.14.1.jar",
        sha1(log4j),
      ],
    ]);
    expect(
      report.findings.map((f) => [
        [f.id, ...f.aliases].sort(),
        f.package.name,
        f.installedVersion,
        f.fixedVersion,
      ]),
    ).toEqual([
      [["CVE-2021-44228", "GHSA-jfh8-c2jp-5v3q"], "org.apache.logging.log4j:log4j-core", "2.14.1", "2.15.0"],
    ]);
    expect(report.findings[0]?.ecosystem).toBe("Maven");
    const schema = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../docs/report.schema.json"), "utf8"),
    );
    const validate = compileSchema(schema);
    expect(validate(report), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });
});
