/**
 * The offline demo: builds the fixture image (Debian 12 + node_modules, three layers) as a
 * `docker save` archive, imports the fixture OSV records and scans the image.
 *
 *   npm run demo
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { runCli } from "../src/cli/main.js";
import { imageFromFixture, writeDockerArchive } from "../test/helpers/image-builder.js";

const root = join(import.meta.dirname, "..");
const out = join(root, ".cache", "demo");
const archive = join(out, "debian-app.tar");
const db = join(out, "vulndb.sqlite");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await writeDockerArchive(await imageFromFixture(join(root, "fixtures/images/debian-app")), archive, {
  repoTag: "layerwatch/demo:latest",
});
console.log(`$ layerwatch --db ${db} db import fixtures/osv`);
let code = await runCli(["--db", db, "db", "import", join(root, "fixtures/osv")]);
if (code === 0) {
  console.log(`\n$ layerwatch --db ${db} scan docker-archive:${archive} --fail-on critical`);
  code = await runCli(["--db", db, "scan", `docker-archive:${archive}`, "--fail-on", "critical"]);
  console.log(`\nexit code ${code} (1: a finding at or above --fail-on)`);
}
