/**
 * The dpkg extractor on other scanners' real dpkg fixtures (../shared/data/pkgdb/dpkg, see its
 * README for where each file comes from), read in place. Expected counts are from the files
 * themselves: stanzas, their Status values, and stanzas missing a Package or Version.
 *
 * Installed means: the Status state (its third word) is "installed", whatever the want ("hold ok
 * installed" after apt-mark hold still has every file on disk); a distroless status.d file has
 * no Status at all and every package in it is installed; a stanza in the status file without a
 * Status is not counted, as dpkg writes one for every package it knows.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { dpkgExtractor } from "../../src/inventory/extractors/dpkg.js";
import type { Distro } from "../../src/inventory/types.js";
import { inventoryImage } from "../../src/pipeline.js";
import { sharedData } from "../helpers/shared-data.js";
import { parseTxtar } from "../helpers/txtar.js";

const ubuntu1804: Distro = {
  id: "ubuntu",
  versionId: "18.04",
  osvEcosystem: "Ubuntu:18.04:LTS",
  source: "etc/os-release",
};

/** The extractor's packages and warnings for a fixture, as if it sat at `imagePath`. */
function extractText(text: string, imagePath: string, distro?: Distro) {
  const warnings: string[] = [];
  const packages = dpkgExtractor.extract(imagePath, Buffer.from(text), {
    ...(distro ? { distro } : {}),
    warn: (w) => warnings.push(w),
    readFile: () => undefined,
  });
  return { packages, warnings };
}

const summary = (packages: ReturnType<typeof extractText>["packages"]) =>
  packages.map((p) => `${p.name} ${p.version} ${p.sourceName} ${p.sourceVersion}`);

describe("trivy's txtar status files", () => {
  const valid = sharedData("pkgdb/dpkg/trivy/valid.txtar");
  it.skipIf(!valid)("valid.txtar: 91 stanzas, the one deinstalled (git) left out", () => {
    const files = parseTxtar(readFileSync(valid as string, "utf8"));
    expect([...files.keys()]).toEqual(["var/lib/dpkg/status"]);
    const status = files.get("var/lib/dpkg/status") as string;
    expect(status.match(/^Package: /gm)).toHaveLength(91);
    const { packages, warnings } = extractText(status, "var/lib/dpkg/status", ubuntu1804);
    expect(warnings).toEqual([]);
    expect(packages).toHaveLength(90);
    expect(new Set(packages.map((p) => p.name)).size).toBe(90);
    expect(packages.map((p) => p.name)).not.toContain("git");
    expect(packages.find((p) => p.name === "liblzma5")).toMatchObject({
      version: "5.1.1alpha+20120614-2+b3",
      sourceName: "xz-utils",
      sourceVersion: "5.1.1alpha+20120614-2",
      arch: "amd64",
      ecosystem: "Ubuntu:18.04:LTS",
      purl: "pkg:deb/ubuntu/liblzma5@5.1.1alpha+20120614-2+b3?arch=amd64&distro=ubuntu-18.04&upstream=xz-utils",
    });
    // Four stanzas name their source with a version of its own.
    expect(packages.filter((p) => p.sourceVersion !== p.version)).toHaveLength(4);
  });

  const thirdParty = sharedData("pkgdb/dpkg/trivy/third-party.txtar");
  it.skipIf(!thirdParty)("third-party.txtar: docker-ce keeps its epoch", () => {
    const status = parseTxtar(readFileSync(thirdParty as string, "utf8")).get(
      "var/lib/dpkg/status",
    ) as string;
    expect(summary(extractText(status, "var/lib/dpkg/status").packages)).toEqual([
      "docker-ce 5:20.10.7~3-0~debian-buster docker-ce 5:20.10.7~3-0~debian-buster",
      "apt 1.6.3ubuntu0.1 apt 1.6.3ubuntu0.1",
    ]);
  });
});

describe("syft's status.d files", () => {
  const dir = "pkgdb/dpkg/syft/var/lib/dpkg/status.d";
  const read = (name: string) => {
    const path = sharedData(`${dir}/${name}`);
    return path ? extractText(readFileSync(path, "utf8"), `var/lib/dpkg/status.d/${name}`) : undefined;
  };

  it.skipIf(!sharedData(`${dir}/single`))("single: apt from source apt-dev", () => {
    const { packages, warnings } = read("single")!;
    expect(warnings).toEqual([]);
    expect(summary(packages)).toEqual(["apt 1.8.2 apt-dev 1.8.2"]);
    expect(packages[0]?.arch).toBe("amd64");
  });

  it.skipIf(!sharedData(`${dir}/multiple`))(
    "multiple: skips the empty Package: and the no-Version stanza",
    () => {
      const { packages, warnings } = read("multiple")!;
      expect(summary(packages)).toEqual([
        "tzdata 2020a-0+deb10u1 tzdata-dev 2020a-0+deb10u1",
        "util-linux 2.33.1-0.1 util-linux 2.33.1-0.1",
      ]);
      expect(warnings).toEqual([
        "a stanza without Package or Version (unnamed) was skipped",
        "a stanza without Package or Version (no-version) was skipped",
      ]);
    },
  );

  it.skipIf(!sharedData(`${dir}/deinstall`))("deinstall: only the kernel still installed", () => {
    const { packages, warnings } = read("deinstall")!;
    expect(warnings).toEqual([]);
    expect(packages.map((p) => `${p.name} ${p.version}`)).toEqual([
      "linux-image-6.14.0-1012-aws 6.14.0-1012.12~24.04.1",
    ]);
  });

  it.skipIf(!sharedData(`${dir}/corrupt`))("corrupt: no package, and warnings instead of a throw", () => {
    const { packages, warnings } = read("corrupt")!;
    expect(packages).toEqual([]);
    expect(warnings).toContain("a stanza without Package or Version (unnamed) was skipped");
    expect(warnings.some((w) => /not a 'Field: value' line/.test(w))).toBe(true);
  });

  it.skipIf(!sharedData(`${dir}/coreutils-relationships`))("coreutils-relationships: binNMU sources", () => {
    const { packages, warnings } = read("coreutils-relationships")!;
    expect(warnings).toEqual([]);
    expect(packages).toHaveLength(9);
    expect(summary(packages)).toContain("libselinux1 3.4-1+b6 libselinux 3.4-1");
    expect(packages.every((p) => p.arch === "arm64")).toBe(true);
  });

  it.skipIf(!sharedData(`${dir}/doc-examples`))("doc-examples: stanzas without a Version are skipped", () => {
    const { packages, warnings } = read("doc-examples")!;
    expect(summary(packages)).toEqual([
      "mutt 1.3.17-1 mutt 1.3.17-1",
      "made-up-package-1 1.0.0 glibc 1.0.0",
      "made-up-package-2 2.0.0 made-up-package-2 2.0.0",
      "made-up-package-3 3.0.0 made-up-package-3 3.0.0",
      "made-up-package-4 3.0.0 made-up-package-4 3.0.0",
    ]);
    // made-up-package-5 and the ten name-only stanzas of the packages the others depend on.
    expect(warnings).toHaveLength(11);
  });

  it.skipIf(!sharedData(`${dir}/libpam-runtime`))("libpam-runtime and installed-size-4KB", () => {
    expect(summary(read("libpam-runtime")!.packages)).toEqual([
      "libpam-runtime 1.5.2-6+deb12u1 pam 1.5.2-6+deb12u1",
    ]);
    expect(read("installed-size-4KB")!.packages.map((p) => p.name)).toEqual(["apt"]);
  });
});

describe("osv-scalibr's status files", () => {
  const statusfield = sharedData("pkgdb/dpkg/scalibr/dpkg/statusfield");
  it.skipIf(!statusfield)("statusfield: the packages whose state is installed", () => {
    const text = readFileSync(statusfield as string, "utf8");
    const asStatus = extractText(text, "var/lib/dpkg/status");
    expect(asStatus.packages.map((p) => p.name)).toEqual([
      "wantinstall_installed",
      "wantdeinstall_installed",
      "wantpurge_installed",
    ]);
    expect(asStatus.warnings).toEqual(["wantnostatus: no Status field; not counted as installed"]);
    // The same stanzas as a distroless status.d file: the one without Status is installed too.
    expect(extractText(text, "var/lib/dpkg/status.d/statusfield").packages.map((p) => p.name)).toEqual([
      "wantinstall_installed",
      "wantdeinstall_installed",
      "wantpurge_installed",
      "wantnostatus",
    ]);
  });

  const foo = sharedData("pkgdb/dpkg/scalibr/dpkg/status.d/foo");
  it.skipIf(!foo)("status.d/foo: the stanza without Status, not the config-files one", () => {
    const { packages, warnings } = extractText(
      readFileSync(foo as string, "utf8"),
      "var/lib/dpkg/status.d/foo",
    );
    expect(warnings).toEqual([]);
    expect(packages.map((p) => `${p.name} ${p.version} ${p.arch}`)).toEqual(["foo 1.2.3 amd64"]);
    expect(dpkgExtractor.wants("var/lib/dpkg/status.d/foo.md5sums")).toBe(false);
  });

  const valid = sharedData("pkgdb/dpkg/scalibr/dpkg/valid");
  it.skipIf(!valid)("valid and transitional_dummy", () => {
    const { packages, warnings } = extractText(readFileSync(valid as string, "utf8"), "var/lib/dpkg/status");
    expect(warnings).toEqual([]);
    expect(summary(packages)).toEqual([
      "accountsservice 22.08.8-6 accountsservice 22.08.8-6",
      "acl 2.3.1-3 acl 2.3.1-3",
      "adduser 3.131 adduser 3.131",
      "admin-session 2023.06.26.c543406313-00 admin-session 2023.06.26.c543406313-00",
      "attr 1:2.5.1-4 attr 1:2.5.1-4",
      "libacl1 2.3.1-3 acl 2.3.1-3",
      "util-linux-extra 2.38.1-5+b1 util-linux 2.38.1-5",
    ]);
    const dummy = sharedData("pkgdb/dpkg/scalibr/dpkg/transitional_dummy");
    if (dummy) {
      const text = readFileSync(dummy, "utf8");
      expect(summary(extractText(text, "var/lib/dpkg/status").packages)).toEqual([
        "git-core 1:2.14.2-1 git 1:2.14.2-1",
      ]);
    }
  });
});

describe("snyk's Ubuntu 10.04 root", () => {
  const status = sharedData("pkgdb/dpkg/snyk-docker-plugin/ubuntu_10_04/fs/var/lib/dpkg/status");
  it.skipIf(!status)("lists all 140 installed stanzas, three with a source version of their own", () => {
    const { packages, warnings } = extractText(readFileSync(status as string, "utf8"), "var/lib/dpkg/status");
    expect(warnings).toEqual([]);
    expect(packages).toHaveLength(140);
    expect(new Set(packages.map((p) => p.name)).size).toBe(140);
    expect(summary(packages.filter((p) => p.sourceVersion !== p.version))).toEqual([
      "bsdutils 1:2.17.2-0ubuntu1 util-linux 2.17.2-0ubuntu1",
      "libgcc1 1:4.4.3-4ubuntu5 gcc-4.4 4.4.3-4ubuntu5",
      "libdevmapper1.02.1 2:1.02.39-1ubuntu4 lvm2 2.02.54-1ubuntu4",
    ]);
  });
});

describe("syft's image roots, scanned as rootfs: sources", () => {
  const imageDpkg = sharedData("pkgdb/dpkg/syft/image-dpkg");
  it.skipIf(!imageDpkg)(
    "image-dpkg: Debian 12, one package, the empty Package: stanza warned about",
    async () => {
      const { inventory } = await inventoryImage(`rootfs:${imageDpkg}`);
      expect(inventory.distro?.osvEcosystem).toBe("Debian:12");
      expect(inventory.packages.map((p) => `${p.name} ${p.version} ${p.sourceName} ${p.location}`)).toEqual([
        "libpam-runtime 1.1.8-3.6 pam var/lib/dpkg/status",
      ]);
      expect(inventory.warnings.map((w) => w.problem)).toEqual([
        "a stanza without Package or Version (unnamed) was skipped",
      ]);
    },
  );

  const distroless = sharedData("pkgdb/dpkg/syft/image-distroless-deb");
  it.skipIf(!distroless)("image-distroless-deb: the status.d stanza, not its .md5sums", async () => {
    const { inventory } = await inventoryImage(`rootfs:${distroless}`);
    expect(
      inventory.packages.map((p) => `${p.name} ${p.version} ${p.sourceName} ${p.arch} ${p.location}`),
    ).toEqual(["libsqlite3-0 3.34.1-3 sqlite3 arm64 var/lib/dpkg/status.d/libsqlite3-0"]);
    expect(inventory.warnings).toEqual([]);
  });
});
