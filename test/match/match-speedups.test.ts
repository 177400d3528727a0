/**
 * The matcher's fast paths against plain evaluation, on the real OSV exports in ../shared/data:
 * an entry's `versions` list searched through its scheme's canonical forms (a set lookup) instead
 * of comparing the version with each listed one, parsed versions cached in every scheme, a
 * range's events compared with the version once, PEP 440 compared on parsed keys instead of
 * through @renovatebot/pep440's compare, and the store handing out the records it parsed before.
 * The plain evaluation is OSV's rules written out directly here, one comparison at a time.
 */

import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compare as pep440Compare, valid as pep440Valid } from "@renovatebot/pep440";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entryCovers, evaluateAffected, type RangeVerdict } from "../../src/match/ranges.js";
import { cranScheme } from "../../src/match/versions/cran.js";
import { dpkgScheme } from "../../src/match/versions/dpkg.js";
import { hackageScheme } from "../../src/match/versions/hackage.js";
import { versionSchemeFor } from "../../src/match/versions/index.js";
import { mavenScheme } from "../../src/match/versions/maven.js";
import { nugetScheme } from "../../src/match/versions/nuget.js";
import { cachedParser } from "../../src/match/versions/parse-cache.js";
import { pubScheme } from "../../src/match/versions/pub.js";
import { pypiScheme } from "../../src/match/versions/pypi.js";
import { rubygemsScheme } from "../../src/match/versions/rubygems.js";
import { compareDecimal } from "../../src/match/versions/semver2.js";
import type { VersionScheme } from "../../src/match/versions/types.js";
import type { OsvAffected, OsvRange, OsvRecord } from "../../src/vulndb/osv.js";
import { AdvisoryStore } from "../../src/vulndb/store.js";
import { parseVersionVectors, sharedData } from "../helpers/shared-data.js";
import { osvAffectedIn } from "../helpers/version-vectors.js";

// ---- Plain evaluation: OSV's rules, one comparison at a time, nothing remembered. ----

type Kind = "introduced" | "fixed" | "last_affected" | "limit";
interface PlainEvent {
  kind: Kind;
  version: string;
}

const isOrigin = (event: PlainEvent) =>
  event.kind === "introduced" && (event.version === "0" || event.version === "0.0.0-0");

function plainEvents(range: OsvRange, scheme: VersionScheme): PlainEvent[] {
  const events: PlainEvent[] = [];
  for (const event of range.events) {
    const [kind, version] = Object.entries(event)[0] ?? [];
    if (!["introduced", "fixed", "last_affected", "limit"].includes(kind ?? "")) continue;
    if (typeof version !== "string") continue;
    const plain = { kind: kind as Kind, version };
    if (isOrigin(plain) || scheme.isValid(version)) events.push(plain);
  }
  // A stable sort: events at one version keep the file's order.
  return events.sort((a, b) =>
    isOrigin(a) || isOrigin(b)
      ? Number(isOrigin(b)) - Number(isOrigin(a))
      : scheme.compare(a.version, b.version),
  );
}

function plainEvaluateRange(version: string, range: OsvRange, scheme: VersionScheme): RangeVerdict {
  if (range.type !== "ECOSYSTEM" && range.type !== "SEMVER") return { affected: false };
  const events = plainEvents(range, scheme);
  const order = (event: PlainEvent) => (isOrigin(event) ? 1 : scheme.compare(version, event.version));
  const limits = events.filter((event) => event.kind === "limit");
  if (limits.length > 0 && !limits.some((limit) => order(limit) < 0)) return { affected: false };
  let affected = false;
  for (const event of events) {
    const position = order(event);
    if (event.kind === "introduced" && position >= 0) affected = true;
    if (event.kind === "fixed" && position >= 0) affected = false;
    if (event.kind === "last_affected" && position > 0) affected = false;
  }
  if (!affected) return { affected: false };
  const end = events.find(
    (event) =>
      (event.kind === "fixed" && order(event) < 0) ||
      (event.kind === "last_affected" && order(event) <= 0) ||
      (event.kind === "limit" && order(event) < 0),
  );
  return end?.kind === "fixed" ? { affected: true, fixed: end.version } : { affected: true };
}

/** Whether the list holds the version: as written, or as a valid version the scheme finds equal. */
function plainInList(version: string, listed: readonly string[], scheme: VersionScheme): boolean {
  return listed.some(
    (text) => text === version || (scheme.isValid(text) && scheme.compare(text, version) === 0),
  );
}

function plainCovers(version: string, entry: OsvAffected, scheme: VersionScheme): boolean {
  return (
    (entry.ranges ?? []).some((range) => plainEvaluateRange(version, range, scheme).affected) ||
    plainInList(version, entry.versions ?? [], scheme)
  );
}

function plainEvaluateAffected(version: string, entry: OsvAffected, scheme: VersionScheme): RangeVerdict {
  const fixes: string[] = [];
  let covered = false;
  for (const range of entry.ranges ?? []) {
    const verdict = plainEvaluateRange(version, range, scheme);
    if (!verdict.affected) continue;
    covered = true;
    if (verdict.fixed !== undefined) fixes.push(verdict.fixed);
  }
  if (!covered && !plainInList(version, entry.versions ?? [], scheme)) return { affected: false };
  const fixed = [...new Set(fixes)]
    .filter((candidate) => scheme.compare(candidate, version) > 0)
    .sort((a, b) => scheme.compare(a, b))
    .find((candidate) => !plainCovers(candidate, entry, scheme));
  return fixed ? { affected: true, fixed } : { affected: true };
}

/**
 * Texts that some scheme may order equal to the version without writing it the same way (PyPI
 * `1.0.0` = `1.0` = `v1.0` = `0!1.0`, dpkg `0:1.0`, Maven `1.0-0`, SemVer `1.0.0+1`, NuGet and
 * PyPI upper case), and some that it may not.
 */
function variantsOf(version: string): string[] {
  const variants = [
    `${version}.0`,
    version.replace(/(?:\.0+)+$/, ""),
    `v${version}`,
    `0:${version}`,
    `0!${version}`,
    version.toUpperCase(),
    version.replace(/^(\d)/, "0$1"),
    `${version}+1`,
    `${version}-0`,
    version.replaceAll("-", "."),
  ];
  return [...new Set(variants)].filter((variant) => variant !== version && variant !== "");
}

/** At most `count` of the list, spread over it (first and last included; the last alone for one). */
function spread<T>(list: readonly T[], count: number): T[] {
  if (list.length <= count) return [...list];
  if (count === 1) return list.slice(-1);
  return Array.from(
    { length: count },
    (_, i) => list[Math.round((i * (list.length - 1)) / (count - 1))] as T,
  );
}

// ---- Agreement on the real exports ----

/**
 * The exports the issue names, then every other shared one whose entries list versions. Per
 * entry, the probes are: some of its listed versions, every version its ranges name, variants of
 * those, and versions no advisory lists.
 */
const exports: Array<{ ecosystem: string; listedProbes: number; namedVariants: number }> = [
  { ecosystem: "PyPI", listedProbes: 3, namedVariants: 2 },
  { ecosystem: "Go", listedProbes: 8, namedVariants: 2 },
  { ecosystem: "Maven", listedProbes: 8, namedVariants: 2 },
  { ecosystem: "Debian", listedProbes: 8, namedVariants: 2 },
  // 69,160 entries alike (from 0 to one fix): variants of one version each are plenty.
  { ecosystem: "AlmaLinux", listedProbes: 8, namedVariants: 1 },
  { ecosystem: "Ubuntu", listedProbes: 8, namedVariants: 2 },
  { ecosystem: "crates.io", listedProbes: 8, namedVariants: 2 },
  { ecosystem: "npm", listedProbes: 8, namedVariants: 2 },
  { ecosystem: "Hackage", listedProbes: 8, namedVariants: 2 },
  { ecosystem: "CRAN", listedProbes: 8, namedVariants: 2 },
];

describe("the matcher's fast paths agree with plain evaluation on the shared OSV exports", () => {
  for (const { ecosystem, listedProbes, namedVariants } of exports) {
    const zip = sharedData(`osv/${ecosystem}/all.zip`);
    it.skipIf(!zip)(
      `${ecosystem}: every entry's list, ranges and fix, at listed, named and other versions`,
      async () => {
        const scheme = versionSchemeFor(ecosystem) as VersionScheme;
        const entries = await osvAffectedIn(zip as string, ecosystem);
        expect(entries.length).toBeGreaterThan(0);
        const mismatches: string[] = [];
        let probes = 0;
        let listedEntries = 0;
        let inList = 0;
        for (const { id, affected } of entries) {
          const listed = affected.versions ?? [];
          if (listed.length > 0) listedEntries++;
          const named = (affected.ranges ?? []).flatMap((range) =>
            range.events.map((event) => Object.values(event)[0] as string),
          );
          const sampled = spread(listed, listedProbes);
          const versions = new Set([
            ...sampled,
            ...sampled.flatMap(variantsOf),
            ...named,
            ...spread(named, namedVariants).flatMap(variantsOf),
            "0.0.1",
            "999.0",
          ]);
          // The list alone (no ranges), so the list search is checked whatever the ranges say.
          const listOnly: OsvAffected = {
            ...(affected.package ? { package: affected.package } : {}),
            versions: listed,
          };
          for (const version of versions) {
            probes++;
            const plainListed = plainInList(version, listed, scheme);
            if (plainListed) inList++;
            if (entryCovers(version, listOnly, scheme) !== plainListed)
              mismatches.push(`${id} ${version}: listed ${!plainListed} here, ${plainListed} plainly`);
            const fast = evaluateAffected(version, affected, scheme);
            const plain = plainEvaluateAffected(version, affected, scheme);
            if (fast.affected !== plain.affected || fast.fixed !== plain.fixed)
              mismatches.push(
                `${id} ${version}: ${JSON.stringify(fast)} here, ${JSON.stringify(plain)} plainly`,
              );
            if (entryCovers(version, affected, scheme) !== plainCovers(version, affected, scheme))
              mismatches.push(`${id} ${version}: entryCovers differs`);
          }
        }
        expect(mismatches.slice(0, 20)).toEqual([]);
        expect(probes).toBeGreaterThan(entries.length);
        // Where entries list versions, the probes must reach the list search's both answers.
        if (listedEntries > 0) {
          expect(inList).toBeGreaterThan(listedEntries);
          expect(inList).toBeLessThan(probes);
        }
      },
    );
  }
});

// ---- Canonical forms: compare(a, b) === 0 exactly when canonical(a) === canonical(b) ----

const canonicalSchemes: Array<{ scheme: VersionScheme; vectors: string[]; ecosystem: string }> = [
  { scheme: pypiScheme, vectors: ["pypi-versions.txt", "pypi-versions-generated.txt"], ecosystem: "PyPI" },
  {
    scheme: mavenScheme,
    vectors: ["maven-versions.txt", "maven-versions-generated.txt"],
    ecosystem: "Maven",
  },
  {
    scheme: dpkgScheme,
    vectors: ["debian-versions.txt", "debian-versions-generated.txt"],
    ecosystem: "Debian",
  },
  { scheme: versionSchemeFor("Go") as VersionScheme, vectors: ["semver-versions.txt"], ecosystem: "Go" },
  {
    scheme: versionSchemeFor("crates.io") as VersionScheme,
    vectors: ["semver-versions.txt"],
    ecosystem: "crates.io",
  },
  { scheme: pubScheme, vectors: ["pub-versions.txt"], ecosystem: "Pub" },
  { scheme: nugetScheme, vectors: ["nuget-versions.txt"], ecosystem: "NuGet" },
  {
    scheme: rubygemsScheme,
    vectors: ["rubygems-versions.txt", "rubygems-versions-generated.txt"],
    ecosystem: "RubyGems",
  },
  { scheme: cranScheme, vectors: ["cran-versions.txt", "cran-versions-generated.txt"], ecosystem: "CRAN" },
  { scheme: hackageScheme, vectors: ["hackage-versions.txt"], ecosystem: "Hackage" },
];

function canonicalOf(scheme: VersionScheme): (version: string) => string {
  const canonical = scheme.canonical;
  if (!canonical) throw new Error(`${scheme.name} has no canonical form`);
  return (version) => canonical.call(scheme, version);
}

/** Pairs where compare and canonical disagree, both ways round. */
function disagreements(scheme: VersionScheme, pairs: Array<[string, string]>): string[] {
  const canonical = canonicalOf(scheme);
  const found: string[] = [];
  for (const [a, b] of pairs) {
    const sameCanonical = canonical(a) === canonical(b);
    if ((scheme.compare(a, b) === 0) !== sameCanonical || (scheme.compare(b, a) === 0) !== sameCanonical)
      found.push(
        `${JSON.stringify(a)} ${JSON.stringify(b)}: compare ${scheme.compare(a, b)}, canonical ${canonical(a)} / ${canonical(b)}`,
      );
  }
  return found;
}

/** Version-like text from the pieces every scheme reads (and some no scheme reads). */
const versionText = fc
  .array(
    fc.constantFrom(
      ..."0 1 2 9 00 01 10 007 99999999999999999999 . - + ~ ^ _ : ! a b c rc alpha beta pre post dev r v p sp ga final snapshot SNAPSHOT RC Beta x Z".split(
        " ",
      ),
    ),
    { maxLength: 9 },
  )
  .map((parts) => parts.join(""));

/** A version and a rewriting of it that some scheme orders equal (or not). */
const rewrites: Array<(version: string) => string> = [
  (v) => `${v}.0`,
  (v) => `${v}.0.0`,
  (v) => v.replace(/(?:\.0+)+$/, ""),
  (v) => v.replace(/(\d+)/, "0$1"),
  (v) => v.replace(/0(\d)/, "$1"),
  (v) => v.toUpperCase(),
  (v) => v.toLowerCase(),
  (v) => `v${v}`,
  (v) => `0:${v}`,
  (v) => `0!${v}`,
  (v) => `${v}+build.1`,
  (v) => `${v}-0`,
  (v) => `${v}0`,
  (v) => v.replaceAll("-", "."),
  (v) => v.replaceAll(".", "-"),
  (v) => ` ${v}`,
];
const versionPairs = fc.oneof(
  fc.tuple(versionText, versionText),
  fc
    .tuple(versionText, fc.constantFrom(...rewrites))
    .map(([v, rewrite]): [string, string] => [v, rewrite(v)]),
);

describe("canonical forms", () => {
  for (const { scheme, vectors, ecosystem } of canonicalSchemes) {
    describe(`${ecosystem} (${scheme.name})`, () => {
      for (const file of vectors) {
        const path = sharedData(`versions/${file}`);
        it.skipIf(!path)(`agree with compare on every line of ${file}`, () => {
          const lines = parseVersionVectors(readFileSync(path as string, "utf8"));
          expect(lines.length).toBeGreaterThan(5);
          expect(
            disagreements(
              scheme,
              lines.map((line) => [line.a, line.b]),
            ),
          ).toEqual([]);
          // The files' `=` lines are the equalities canonical forms must find.
          const equal = lines.filter((line) => line.op === "=");
          const canonical = canonicalOf(scheme);
          expect(equal.filter((line) => canonical(line.a) !== canonical(line.b))).toEqual([]);
        });
      }

      it("agree with compare on generated versions and rewritings of them", () => {
        fc.assert(
          fc.property(versionPairs, ([a, b]) => {
            expect(disagreements(scheme, [[a, b]])).toEqual([]);
          }),
          { numRuns: 3000 },
        );
      });

      // The exports with many versions: PyPI's and Maven's lists, Go's range events.
      if (!["PyPI", "Maven", "Go"].includes(ecosystem)) return;
      const zip = sharedData(`osv/${ecosystem}/all.zip`);
      it.skipIf(!zip)("agree with compare over every version the export names", async () => {
        const texts = new Set<string>();
        for (const { affected } of await osvAffectedIn(zip as string, ecosystem)) {
          for (const version of affected.versions ?? []) texts.add(version);
          for (const range of affected.ranges ?? [])
            for (const event of range.events) texts.add(Object.values(event)[0] as string);
        }
        const canonical = canonicalOf(scheme);
        const problems: string[] = [];
        // Same canonical form, equal: every pair within each class.
        const classes = new Map<string, string[]>();
        for (const version of texts) {
          const members = classes.get(canonical(version)) ?? [];
          members.push(version);
          classes.set(canonical(version), members);
        }
        for (const members of classes.values())
          for (const a of members)
            for (const b of members)
              if (scheme.compare(a, b) !== 0) problems.push(`${a} ≠ ${b}, one canonical form`);
        // Equal, same canonical form: sorted, equal versions stand next to each other.
        const sorted = [...texts].sort((a, b) => scheme.compare(a, b));
        for (let i = 1; i < sorted.length; i++) {
          const [a, b] = [sorted[i - 1] as string, sorted[i] as string];
          if ((scheme.compare(a, b) === 0) !== (canonical(a) === canonical(b)))
            problems.push(
              `${a} / ${b}: compare ${scheme.compare(a, b)}, canonical ${canonical(a)} / ${canonical(b)}`,
            );
        }
        // Where the order is total (PyPI's and SemVer's keys are compared lexicographically),
        // each class must stand in one run: then no two versions in different classes are
        // equal, which covers every pair without n² comparisons. Maven's token comparison is not
        // transitive (4.1.0.Beta1 < 4.1 < 4.01_1 but 4.1.0.Beta1 > 4.01_1 in this export), so
        // a sort does not gather its classes; its equality is token-list equality by construction.
        if (ecosystem !== "Maven") {
          const runOf = new Map<string, number>();
          let run = 0;
          sorted.forEach((version, i) => {
            if (i > 0 && scheme.compare(sorted[i - 1] as string, version) !== 0) run++;
            const seen = runOf.get(canonical(version));
            if (seen !== undefined && seen !== run) problems.push(`${version}: its class in two runs`);
            runOf.set(canonical(version), run);
          });
        }
        expect(problems.slice(0, 20)).toEqual([]);
        expect(texts.size).toBeGreaterThan(1000);
        // Real exports write equal versions differently: the check must have met some.
        expect(classes.size).toBeLessThan(texts.size);
      });
    });
  }
});

// ---- PEP 440 on parsed keys, and the digit comparison, against what they replaced ----

/** The ordering before: @renovatebot/pep440's compare, legacy versions below and as text. */
function libraryPypiCompare(a: string, b: string): number {
  const va = pep440Valid(a) !== null;
  const vb = pep440Valid(b) !== null;
  if (va && vb) return Math.sign(pep440Compare(a, b));
  if (va) return 1;
  if (vb) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

describe("PyPI's comparison on parsed keys", () => {
  const pep440Text = fc
    .array(
      fc.constantFrom(
        ..."0 1 2 9 00 010 99999999999999999999 . - _ ! + a b c rc alpha beta pre preview post rev r dev v local ubuntu1 Infinity 1e3".split(
          " ",
        ),
      ),
      { maxLength: 10 },
    )
    .map((parts) => parts.join(""));

  it("orders generated versions as @renovatebot/pep440 does", () => {
    fc.assert(
      fc.property(fc.tuple(pep440Text, pep440Text), ([a, b]) => {
        expect(Math.sign(pypiScheme.compare(a, b))).toBe(libraryPypiCompare(a, b));
      }),
      { numRuns: 5000 },
    );
  });

  for (const file of ["pypi-versions.txt", "pypi-versions-generated.txt"]) {
    const path = sharedData(`versions/${file}`);
    it.skipIf(!path)(`orders every pair of ${file} as @renovatebot/pep440 does`, () => {
      const lines = parseVersionVectors(readFileSync(path as string, "utf8"));
      const problems = lines.filter(
        ({ a, b }) =>
          Math.sign(pypiScheme.compare(a, b)) !== libraryPypiCompare(a, b) ||
          Math.sign(pypiScheme.compare(b, a)) !== libraryPypiCompare(b, a),
      );
      expect(problems).toEqual([]);
    });
  }

  const zip = sharedData("osv/PyPI/all.zip");
  it.skipIf(!zip)("orders the PyPI export's versions as @renovatebot/pep440 does", async () => {
    const texts = new Set<string>();
    for (const { affected } of await osvAffectedIn(zip as string, "PyPI"))
      for (const version of affected.versions ?? []) texts.add(version);
    const sorted = [...texts].sort((a, b) => pypiScheme.compare(a, b));
    // Neighbours in the order are the close calls; a stride through it mixes in far ones.
    const problems: string[] = [];
    for (let i = 1; i < sorted.length; i++) {
      for (const j of [i - 1, (i * 7919) % sorted.length]) {
        const a = sorted[j] as string;
        const b = sorted[i] as string;
        if (Math.sign(pypiScheme.compare(a, b)) !== libraryPypiCompare(a, b)) problems.push(`${a} ${b}`);
      }
    }
    expect(sorted.length).toBeGreaterThan(10_000);
    expect(problems.slice(0, 20)).toEqual([]);
  });
});

describe("compareDecimal", () => {
  /** What it was: the strings without their leading zeros, compared by length, then as text. */
  const byStrings = (a: string, b: string) => {
    const x = a.replace(/^0+/, "");
    const y = b.replace(/^0+/, "");
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  it("orders digit strings as stripping their zeros and comparing the strings did", () => {
    const digits = fc.stringMatching(/^0{0,3}[0-9]{0,25}$/);
    fc.assert(
      fc.property(digits, digits, (a, b) => {
        expect(compareDecimal(a, b)).toBe(byStrings(a, b));
      }),
      { numRuns: 5000 },
    );
  });
});

// ---- The caches themselves ----

describe("cachedParser", () => {
  it("answers as the parser does, past its bound too", () => {
    let calls = 0;
    const parse = cachedParser((text: string) => {
      calls++;
      return text.length > 2 ? text.split(".") : undefined;
    }, 3);
    const texts = ["1.2", "1.2.3", "x", "4.5.6", "1.2.3", "7", "1.2"];
    for (const text of [...texts, ...texts])
      expect(parse(text)).toEqual(text.length > 2 ? text.split(".") : undefined);
    // Remembered: fewer parses than questions, undefined answers included.
    expect(calls).toBeLessThan(texts.length * 2);
    const again = calls;
    parse("x");
    parse("x");
    expect(calls).toBeLessThanOrEqual(again + 1);
  });
});

describe("the store's parsed records", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "layerwatch-speedups-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const record = (modified: string, versions: string[]): OsvRecord => ({
    id: "PYSEC-0000-1",
    modified,
    affected: [{ package: { ecosystem: "PyPI", name: "demo" }, versions }],
  });

  it("are read again once the record changes, whoever changes it", async () => {
    const path = join(dir, "store.sqlite");
    const reader = await AdvisoryStore.open(path, { create: true });
    const writer = await AdvisoryStore.open(path, { create: true });
    try {
      reader.putRecords([record("2024-01-01T00:00:00Z", ["1.0"])]);
      const first = reader.recordsFor("PyPI", "Demo");
      expect(first.map((r) => r.affected?.[0]?.versions)).toEqual([["1.0"]]);
      // The same record again, parsed once.
      expect(reader.recordsFor("PyPI", "demo")[0]).toBe(first[0]);
      // Its own write, even one that keeps `modified`.
      reader.putRecords([record("2024-01-01T00:00:00Z", ["1.1"])]);
      expect(reader.recordsFor("PyPI", "demo").map((r) => r.affected?.[0]?.versions)).toEqual([["1.1"]]);
      // Another connection's write, as `db update` in another process makes it.
      writer.putRecords([record("2024-02-01T00:00:00Z", ["2.0"])]);
      expect(reader.recordsFor("PyPI", "demo").map((r) => r.affected?.[0]?.versions)).toEqual([["2.0"]]);
      // Withdrawn: no longer handed out, cached or not.
      writer.putRecords([{ ...record("2024-03-01T00:00:00Z", ["2.0"]), withdrawn: "2024-03-01T00:00:00Z" }]);
      expect(reader.recordsFor("PyPI", "demo")).toEqual([]);
    } finally {
      reader.close();
      writer.close();
    }
  });
});
