/**
 * What every RescanStateStore must do (src/rescan/types.ts), as one suite any backend runs:
 *
 *   describeStateStoreContract("PostgreSQL", async () => ({ open: () => openPostgresStateStore(url, { schema }) }));
 *
 * `fresh()` gives a new, empty location; each `open()` opens it again on its own connection, so
 * the suite can check that what one handle wrote another one reads, after close() too.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { FindingState, ImageState, RescanStateStore, TagState } from "../../src/rescan/types.js";

export interface StateStoreFixture {
  /** Opens the store at this fixture's location; every call is a separate handle. */
  open(): Promise<RescanStateStore>;
}

const openssl: FindingState = {
  id: "DSA-5417-1",
  aliases: ["CVE-2023-2650"],
  purl: "pkg:deb/debian/openssl@3.0.8-1?arch=amd64&distro=debian-12",
  packageName: "openssl",
  installedVersion: "3.0.8-1",
  fixedVersion: "3.0.9-1",
  severity: "high",
  summary: "openssl: “possible DoS” translating ASN.1 object identifiers; it's 'quoted' \\ and\nmultiline",
};

const zlib: FindingState = {
  id: "CVE-2023-45853",
  aliases: [],
  purl: "pkg:deb/debian/zlib@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12",
  packageName: "zlib",
  installedVersion: "1:1.2.13.dfsg-1",
  severity: "unknown",
};

function image(digest: string, overrides: Partial<ImageState> = {}): ImageState {
  return {
    digest,
    repository: "127.0.0.1:5000/team/app",
    platform: "linux/amd64",
    inventory: JSON.stringify({
      packages: [{ name: "openssl", version: "3.0.8-1" }],
      distro: { id: "debian" },
    }),
    inventoryVersion: "inventory-7",
    scannedAt: "2026-11-27T06:00:00.000Z",
    findings: [openssl, zlib],
    matchedAt: "2026-11-27T06:00:01.000Z",
    ...overrides,
  };
}

const digestA = `sha256:${"a".repeat(64)}`;
const digestB = `sha256:${"b".repeat(64)}`;

function byTag(tags: TagState[]): TagState[] {
  return [...tags].sort((x, y) => x.tag.localeCompare(y.tag));
}

export function describeStateStoreContract(name: string, fresh: () => Promise<StateStoreFixture>): void {
  describe(`RescanStateStore contract: ${name}`, () => {
    const opened: RescanStateStore[] = [];
    const open = async (fixture: StateStoreFixture) => {
      const store = await fixture.open();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close().catch(() => undefined);
    });

    it("starts empty", async () => {
      const store = await open(await fresh());
      expect(await store.getImage(digestA)).toBeUndefined();
      expect(await store.imageDigests()).toEqual([]);
      expect(await store.getTags("127.0.0.1:5000/team/app")).toEqual([]);
    });

    it("gives back an image exactly as it was put, optional fields left out as they were", async () => {
      const fixture = await fresh();
      const store = await open(fixture);
      const withPlatform = image(digestA);
      const { platform: _platform, ...withoutPlatform } = image(digestB, { findings: [zlib] });
      await store.putImage(withPlatform);
      await store.putImage(withoutPlatform);
      // Read through a second handle: the rows are committed, not held by the writer.
      const reader = await open(fixture);
      expect(await reader.getImage(digestA)).toStrictEqual(withPlatform);
      expect(await reader.getImage(digestB)).toStrictEqual(withoutPlatform);
      expect((await reader.imageDigests()).sort()).toEqual([digestA, digestB]);
    });

    it("keeps the findings' order and every character of their texts, for a thousand findings", async () => {
      const store = await open(await fresh());
      const many: FindingState[] = Array.from({ length: 1000 }, (_, i) => ({
        ...openssl,
        id: `TEST-${String(999 - i).padStart(4, "0")}`,
        aliases: i % 2 ? [`CVE-2026-${i}`, `GHSA-${i}`] : [],
        summary: `${i}: ünïcödé ✓ 'single' "double" \\ back\ttab`,
      }));
      await store.putImage(image(digestA, { findings: many }));
      expect((await store.getImage(digestA))?.findings).toStrictEqual(many);
    });

    it("stores a digest put twice (a retried job) once, with the second write's findings", async () => {
      const store = await open(await fresh());
      await store.putImage(image(digestA));
      const again = image(digestA, { findings: [zlib], scannedAt: "2026-11-27T07:00:00.000Z" });
      await store.putImage(again);
      expect(await store.imageDigests()).toEqual([digestA]);
      expect(await store.getImage(digestA)).toStrictEqual(again);
    });

    it("replaces an image's findings and match time on a re-match, and nothing else", async () => {
      const store = await open(await fresh());
      await store.putImage(image(digestA));
      await store.putImage(image(digestB));
      await store.updateFindings(digestA, [zlib], "2026-11-28T00:00:00.000Z");
      expect(await store.getImage(digestA)).toStrictEqual(
        image(digestA, { findings: [zlib], matchedAt: "2026-11-28T00:00:00.000Z" }),
      );
      await store.updateFindings(digestA, [], "2026-11-29T00:00:00.000Z");
      expect((await store.getImage(digestA))?.findings).toEqual([]);
      expect(await store.getImage(digestB)).toStrictEqual(image(digestB));
    });

    it("keeps tags per repository, replaces a tag put again, and deletes one tag", async () => {
      const store = await open(await fresh());
      const repository = "127.0.0.1:5000/team/app";
      const latest: TagState = {
        repository,
        tag: "latest",
        digest: `sha256:${"c".repeat(64)}`,
        images: [
          { digest: digestA, platform: "linux/amd64" },
          { digest: digestB, platform: "linux/arm64/v8" },
        ],
        resolvedAt: "2026-11-27T06:00:00.000Z",
      };
      const v1: TagState = {
        repository,
        tag: "1.0",
        digest: digestA,
        images: [{ digest: digestA }],
        resolvedAt: "2026-11-27T06:00:00.000Z",
      };
      const elsewhere: TagState = { ...v1, repository: "127.0.0.1:5000/team/other" };
      await store.putTag(latest);
      await store.putTag(v1);
      await store.putTag(elsewhere);
      expect(byTag(await store.getTags(repository))).toStrictEqual([v1, latest]);
      const moved: TagState = {
        ...v1,
        digest: digestB,
        images: [{ digest: digestB }],
        resolvedAt: "2026-11-28T00:00:00.000Z",
      };
      await store.putTag(moved);
      expect(byTag(await store.getTags(repository))).toStrictEqual([moved, latest]);
      await store.deleteTag(repository, "latest");
      await store.deleteTag(repository, "never-there");
      expect(await store.getTags(repository)).toStrictEqual([moved]);
      expect(await store.getTags("127.0.0.1:5000/team/other")).toStrictEqual([elsewhere]);
    });

    it("keeps everything after close and reopen", async () => {
      const fixture = await fresh();
      const first = await fixture.open();
      await first.putImage(image(digestA));
      await first.putTag({
        repository: "r",
        tag: "t",
        digest: digestA,
        images: [{ digest: digestA }],
        resolvedAt: "2026-11-27T06:00:00.000Z",
      });
      await first.close();
      const second = await open(fixture);
      expect(await second.getImage(digestA)).toStrictEqual(image(digestA));
      expect((await second.getTags("r")).map((tag) => tag.digest)).toEqual([digestA]);
    });

    it("ends with one image and one set of findings when two handles store the same digest at once", async () => {
      const fixture = await fresh();
      const [one, two] = await Promise.all([open(fixture), open(fixture)]);
      const writes: Promise<void>[] = [];
      for (let round = 0; round < 10; round++) {
        writes.push((one as RescanStateStore).putImage(image(digestA, { findings: [openssl, zlib] })));
        writes.push((two as RescanStateStore).putImage(image(digestA, { findings: [zlib, openssl] })));
      }
      await Promise.all(writes);
      const stored = await (one as RescanStateStore).getImage(digestA);
      expect(await (two as RescanStateStore).imageDigests()).toEqual([digestA]);
      // Whichever write came last, its two findings and only those.
      expect(stored?.findings.map((f) => f.id).sort()).toEqual([openssl.id, zlib.id].sort());
    });
  });
}
