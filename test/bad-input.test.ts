import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "./helpers/cli.js";
import {
  type BuiltImage,
  imageFromFixture,
  sha256,
  tarOf,
  writeDockerArchive,
  writeOciLayout,
} from "./helpers/image-builder.js";
import { writeZip } from "./helpers/osv-zip.js";
import { expectOneErrorLine } from "./helpers/report.js";

const fixtureImage = join(import.meta.dirname, "../fixtures/images/debian-app");
const lodashRecord = join(import.meta.dirname, "../fixtures/osv/npm/GHSA-35jh-r3h4-6jhm.json");

let work: string;
let db: string;
let image: BuiltImage;

async function layoutCopy(name: string): Promise<string> {
  const dir = join(work, name);
  await writeOciLayout(image, dir);
  return dir;
}

function layerBlobPath(dir: string, index: number): string {
  const gz = gzipSync(image.layerTars[index] as Buffer);
  return join(dir, "blobs/sha256", sha256(gz).slice(7));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "layerwatch-bad-"));
  db = join(work, "db.sqlite");
  image = await imageFromFixture(fixtureImage);
  const run = await cli(["--db", db, "db", "import", lodashRecord]);
  expect(run.code).toBe(0);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("bad images", () => {
  it("names a path that does not exist", async () => {
    expectOneErrorLine(
      await cli(["--db", db, "scan", "oci:/no/such/dir"]),
      /^layerwatch: error: oci:\/no\/such\/dir: no such file or directory$/,
    );
  });

  it("names an unknown source kind", async () => {
    expectOneErrorLine(
      await cli(["--db", db, "scan", "ftp:/x"]),
      /^layerwatch: error: ftp:\/x: unknown image source; use an image reference or one of docker-archive:PATH/,
    );
  });

  it("says a file is not an image archive", async () => {
    const path = join(work, "text.tar");
    await writeFile(path, "this is not a tar archive at all\n".repeat(40));
    expectOneErrorLine(
      await cli(["--db", db, "scan", `docker-archive:${path}`]),
      new RegExp(`^layerwatch: error: docker-archive:${path}: not `),
    );
    const tarWithoutManifest = join(work, "plain.tar");
    await writeFile(
      tarWithoutManifest,
      await tarOf([{ path: "hello.txt", type: "file", content: Buffer.from("hi") }]),
    );
    expectOneErrorLine(
      await cli(["--db", db, "scan", `oci-archive:${tarWithoutManifest}`]),
      /: not an image archive \(no manifest\.json or index\.json\)$/,
    );
  });

  it("reports a corrupt gzip layer with the layer named", async () => {
    const dir = await layoutCopy("corrupt-gzip");
    const blob = layerBlobPath(dir, 1);
    const bytes = await readFile(blob);
    await truncate(blob, Math.floor(bytes.length / 2));
    expectOneErrorLine(
      await cli(["--db", db, "scan", `oci:${dir}`]),
      /^layerwatch: error: oci:.*corrupt-gzip: layer 1 \([0-9a-f]{12}\): corrupt gzip stream \(unexpected end of file\)$/,
    );
  });

  it("fails on a blob whose bytes do not match its digest", async () => {
    const dir = await layoutCopy("tampered");
    const blob = layerBlobPath(dir, 0);
    // Same compressed length class, different content: a valid gzip of another tar.
    await writeFile(blob, gzipSync(await tarOf([{ path: "evil", type: "file", content: Buffer.from("x") }])));
    expectOneErrorLine(
      await cli(["--db", db, "scan", `oci:${dir}`]),
      /layer 0 \([0-9a-f]{12}\): digest mismatch: the manifest says sha256:/,
    );
  });

  it("fails when the manifest names a blob that is missing", async () => {
    const dir = await layoutCopy("missing-blob");
    await rm(layerBlobPath(dir, 2));
    expectOneErrorLine(
      await cli(["--db", db, "scan", `oci:${dir}`]),
      /the manifest names layer blob sha256:[0-9a-f]{64}, which the layout does not contain$/,
    );
    const archive = join(work, "missing-layer.tar");
    await writeDockerArchive({ ...image, layerTars: image.layerTars }, archive);
    // Rebuild the archive without one of its layer.tar members.
    const { extract, pack } = await import("tar-stream");
    const { Readable } = await import("node:stream");
    const source = extract();
    Readable.from([await readFile(archive)]).pipe(source);
    const out = pack();
    const chunks: Buffer[] = [];
    out.on("data", (c: unknown) => chunks.push(c as Buffer));
    let dropped = false;
    for await (const entry of source) {
      const body: Buffer[] = [];
      for await (const chunk of entry) body.push(chunk as Buffer);
      if (!dropped && entry.header.name.endsWith("layer.tar")) {
        dropped = true;
        continue;
      }
      out.entry(entry.header, Buffer.concat(body));
    }
    out.finalize();
    await new Promise<void>((resolve) => out.on("end", () => resolve()));
    await writeFile(archive, Buffer.concat(chunks));
    expectOneErrorLine(
      await cli(["--db", db, "scan", `docker-archive:${archive}`]),
      /which the archive does not contain$/,
    );
  });

  it("prints the stack trace only with --debug", async () => {
    const run = await cli(["--db", db, "--debug", "scan", "oci:/no/such/dir"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^layerwatch: error: oci:\/no\/such\/dir: no such file or directory\nInputError: .*\n\s+at /,
    );
  });

  it("stops a layer that inflates past --max-layer-size", async () => {
    const dir = await layoutCopy("inflation");
    expectOneErrorLine(
      await cli(["--db", db, "scan", `oci:${dir}`, "--max-layer-size", "4KiB"]),
      /layer \d \([0-9a-f]{12}\): inflates past the limit of 4096 bytes \(--max-layer-size\)$/,
    );
  });
});

describe("bad vulnerability data", () => {
  it("refuses an OSV file that is not JSON", async () => {
    const path = join(work, "broken.json");
    await writeFile(path, "{ not json");
    expectOneErrorLine(
      await cli(["--db", join(work, "other.sqlite"), "db", "import", path]),
      new RegExp(`^layerwatch: error: ${path}: not valid JSON \\(`),
    );
  });

  it("refuses a file that is neither a zip nor JSON", async () => {
    const path = join(work, "notes.txt");
    await writeFile(path, "hello");
    expectOneErrorLine(
      await cli(["--db", join(work, "other.sqlite"), "db", "import", path]),
      /notes\.txt: not OSV data/,
    );
  });

  it("skips and counts invalid records inside a zip and imports the rest", async () => {
    const zip = join(work, "mixed", "npm", "all.zip");
    const good = await readFile(lodashRecord);
    const other = JSON.stringify({ ...JSON.parse(good.toString()), id: "GHSA-test-copy", aliases: [] });
    await writeZip(zip, [
      { name: "GHSA-35jh-r3h4-6jhm.json", content: good },
      { name: "GHSA-test-copy.json", content: Buffer.from(other) },
      { name: "BROKEN-1.json", content: Buffer.from("{ truncated") },
      { name: "NOID-1.json", content: Buffer.from(JSON.stringify({ modified: "2024-01-01T00:00:00Z" })) },
      {
        name: "BADRANGE-1.json",
        content: Buffer.from(
          JSON.stringify({
            id: "BADRANGE-1",
            modified: "2024-01-01T00:00:00Z",
            affected: [
              {
                package: { ecosystem: "npm", name: "x" },
                ranges: [{ type: "SEMVER", events: [{ introduced: 0 }] }],
              },
            ],
          }),
        ),
      },
    ]);
    const store = join(work, "mixed.sqlite");
    const run = await cli(["--db", store, "db", "import", zip]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${zip}: imported 2 records, skipped 3 (npm 2)`);
    const warnings = run.stderr.trimEnd().split("\n");
    // V8's JSON message differs between Node versions; the part before it does not.
    expect(warnings[0]).toMatch(
      /^layerwatch: warning: .*all\.zip!BROKEN-1\.json: skipped: not valid JSON \(.+\)$/,
    );
    expect(warnings.slice(1)).toEqual([
      `layerwatch: warning: ${zip}!NOID-1.json: skipped: no 'id'`,
      `layerwatch: warning: ${zip}!BADRANGE-1.json: skipped: BADRANGE-1: affected[0].ranges[0] has an event that is not one version string`,
    ]);
    const info = await cli(["--db", store, "db", "info"]);
    expect(info.stdout).toContain("records: 2");
  });

  it("refuses to scan with an empty or missing store", async () => {
    const dir = await layoutCopy("for-empty-store");
    expectOneErrorLine(
      await cli(["--db", join(work, "none", "x.sqlite"), "scan", `oci:${dir}`]),
      /cannot open .*run 'layerwatch db import' first/,
    );
  });
});
