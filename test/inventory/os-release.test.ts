import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ImageFilesystem } from "../../src/fs/image-fs.js";
import type { LayerContents, LayerEntry } from "../../src/fs/types.js";
import { detectDistro } from "../../src/inventory/inventory.js";
import {
  detectRelease,
  distroFromAlpineRelease,
  distroFromLsbRelease,
  distroFromOsRelease,
  distroFromRedHatRelease,
  distroFromSuseRelease,
  distroPaths,
  endOfLifeFor,
  isEndOfLife,
  parseOsRelease,
} from "../../src/inventory/os-release.js";
import type { Distro } from "../../src/inventory/types.js";
import { sharedData } from "../helpers/shared-data.js";

function summary(distro: Distro | undefined) {
  return distro && { id: distro.id, versionId: distro.versionId, ecosystem: distro.osvEcosystem };
}

describe("os-release parsing", () => {
  it("reads odd quoting the way the shell would, and never throws", () => {
    expect(
      parseOsRelease(
        [
          "\uFEFFNAME='Alpine Linux'",
          'PRETTY_NAME="Ubuntu 22.04.4 LTS"\r',
          "ID=debian # not a comment in os-release, but kept as text",
          'VERSION="12 (bookworm)',
          "HOME_URL=\"https://a\"'/b'",
          'BUG="a \\"quoted\\" \\n word"',
          "CPE_NAME=cpe:/o:redhat:enterprise_linux:9::baseos",
          "EMPTY=",
          'ODD="',
          "=novalue",
          "lower_case=yes",
        ].join("\n"),
      ),
    ).toEqual({
      NAME: "Alpine Linux",
      PRETTY_NAME: "Ubuntu 22.04.4 LTS",
      ID: "debian # not a comment in os-release, but kept as text",
      VERSION: "12 (bookworm)",
      HOME_URL: "https://a/b",
      BUG: 'a "quoted" \\n word',
      CPE_NAME: "cpe:/o:redhat:enterprise_linux:9::baseos",
      EMPTY: "",
      ODD: "",
      lower_case: "yes",
    });
  });

  it("takes an upper-case ID as the lower-case one and ignores a blank ID", () => {
    expect(distroFromOsRelease('ID="Debian"\nVERSION_ID=12', "etc/os-release")?.id).toBe("debian");
    expect(distroFromOsRelease('ID=""\nVERSION_ID=12', "etc/os-release")).toBeUndefined();
  });
});

/** One row per row of the distribution table: what its os-release maps to. */
describe("the OSV ecosystem table", () => {
  it.each([
    ["debian", "12.5", {}, "Debian:12"],
    ["ubuntu", "22.04", {}, "Ubuntu:22.04:LTS"],
    ["ubuntu", "23.10", {}, "Ubuntu:23.10"],
    ["alpine", "3.19.1", {}, "Alpine:v3.19"],
    ["alpine", "3.22.0_alpha20250108", { PRETTY_NAME: "Alpine Linux edge" }, undefined],
    ["wolfi", "20230201", {}, "Wolfi"],
    ["chainguard", "20230214", {}, "Chainguard"],
    ["rhel", "9.4", {}, undefined],
    ["centos", "7", {}, undefined],
    ["rocky", "9.3", {}, "Rocky Linux:9"],
    ["almalinux", "9.4", {}, "AlmaLinux:9"],
    ["ol", "8.10", {}, undefined],
    ["amzn", "2023", {}, undefined],
    ["fedora", "40", {}, undefined],
    ["sles", "15.5", {}, "SUSE:Linux Enterprise Server 15 SP5"],
    ["sles", "15", {}, "SUSE:Linux Enterprise Server 15"],
    [
      "sle-micro",
      "5.5",
      { PRETTY_NAME: "SUSE Linux Enterprise Micro 5.5" },
      "SUSE:Linux Enterprise Micro 5.5",
    ],
    ["opensuse-leap", "15.5", {}, "openSUSE:Leap 15.5"],
    ["opensuse-tumbleweed", "20240801", {}, "openSUSE:Tumbleweed"],
    ["photon", "5.0", {}, "Photon OS:5.0"],
    ["azurelinux", "3.0", {}, "Azure Linux:3"],
    ["mariner", "2.0", {}, "Azure Linux:2"],
  ])("%s %s maps to %s", (id, versionId, extra, ecosystem) => {
    const text = Object.entries({ ID: id, VERSION_ID: versionId, ...extra })
      .map(([key, value]) => `${key}="${value}"`)
      .join("\n");
    expect(distroFromOsRelease(text, "etc/os-release")?.osvEcosystem).toBe(ecosystem);
  });

  it("knows no ecosystem for a distribution it has no row for", () => {
    expect(distroFromOsRelease("ID=gentoo", "etc/os-release")?.osvEcosystem).toBeUndefined();
  });
});

describe("end of life", () => {
  it.each([
    ["debian", "10", {}, "2024-06-30"],
    ["ubuntu", "18.04", {}, "2023-05-31"],
    ["alpine", "3.16.9", {}, "2024-05-23"],
    ["centos", "7", {}, "2024-06-30"],
    ["centos", "8", {}, "2021-12-31"],
    ["centos", "8", { NAME: "CentOS Stream" }, "2024-05-31"],
    ["amzn", "2", {}, "2026-06-30"],
    ["sles", "15.5", {}, "2024-12-31"],
    ["wolfi", "20230201", {}, undefined],
    ["debian", undefined, {}, undefined],
  ])("%s %s %j ends on %s", (id, versionId, fields, date) => {
    expect(endOfLifeFor(id, versionId, fields)).toBe(date);
  });

  it("is past only after the last day of support", () => {
    const distro = { endOfLife: "2024-06-30" };
    expect(isEndOfLife(distro, new Date("2024-06-30T23:59:59Z"))).toBe(false);
    expect(isEndOfLife(distro, new Date("2024-07-01T00:00:00Z"))).toBe(true);
    expect(isEndOfLife({}, new Date("2100-01-01T00:00:00Z"))).toBe(false);
  });

  it("puts the date on the detected distro", () => {
    expect(distroFromOsRelease("ID=debian\nVERSION_ID=10", "etc/os-release")?.endOfLife).toBe("2024-06-30");
  });
});

describe("release files before os-release", () => {
  it("reads lsb-release, alpine-release, the Red Hat family's and SuSE-release", () => {
    expect(
      summary(distroFromLsbRelease("DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=14.04\n", "etc/lsb-release")),
    ).toEqual({ id: "ubuntu", versionId: "14.04", ecosystem: "Ubuntu:14.04:LTS" });
    expect(summary(distroFromAlpineRelease("3.19.1\n", "etc/alpine-release"))).toEqual({
      id: "alpine",
      versionId: "3.19.1",
      ecosystem: "Alpine:v3.19",
    });
    expect(
      summary(distroFromRedHatRelease("Rocky Linux release 9.3 (Blue Onyx)\n", "etc/redhat-release")),
    ).toEqual({ id: "rocky", versionId: "9.3", ecosystem: "Rocky Linux:9" });
    expect(distroFromRedHatRelease("CentOS Stream release 9\n", "etc/redhat-release")?.endOfLife).toBe(
      "2027-05-31",
    );
    expect(
      summary(distroFromRedHatRelease("Amazon Linux AMI release 2018.03\n", "etc/system-release")),
    ).toEqual({
      id: "amzn",
      versionId: "2018.03",
      ecosystem: undefined,
    });
    expect(distroFromRedHatRelease("Something else entirely\n", "etc/redhat-release")).toBeUndefined();
    expect(
      summary(
        distroFromSuseRelease(
          "SUSE Linux Enterprise Server 12 (x86_64)\nVERSION = 12\nPATCHLEVEL = 5\n",
          "etc/SuSE-release",
        ),
      ),
    ).toEqual({ id: "sles", versionId: "12.5", ecosystem: "SUSE:Linux Enterprise Server 12 SP5" });
  });

  it("prefers os-release, then usr/lib/os-release, then the release files in order", () => {
    const files: Record<string, string> = {
      "usr/lib/os-release": "ID=debian\nVERSION_ID=11",
      "etc/lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=10.04",
      "etc/debian_version": "squeeze/sid",
    };
    const read = (path: string) => files[path];
    expect(detectRelease(read)?.source).toBe("usr/lib/os-release");
    delete files["usr/lib/os-release"];
    // An old Ubuntu's debian_version names a Debian codename: lsb-release must win.
    expect(summary(detectRelease(read))).toEqual({
      id: "ubuntu",
      versionId: "10.04",
      ecosystem: "Ubuntu:10.04:LTS",
    });
    expect(distroPaths).toContain("etc/redhat-release");
  });

  it("takes the release of an os-release without VERSION_ID from debian_version", () => {
    const files: Record<string, string> = {
      "etc/os-release": 'PRETTY_NAME="Distroless"\nID="debian"\n',
      "etc/debian_version": "10.8\n",
    };
    expect(detectRelease((path) => files[path])).toEqual({
      id: "debian",
      versionId: "10",
      prettyName: "Distroless",
      osvEcosystem: "Debian:10",
      endOfLife: "2024-06-30",
      source: "etc/os-release",
    });
  });
});

function layer(entries: Array<Partial<LayerEntry> & { path: string }>): LayerContents {
  return {
    entries: entries.map((entry) => ({ type: "file", mode: 0o644, uid: 0, gid: 0, size: 0, ...entry })),
    whiteouts: [],
    opaqueDirectories: [],
    warnings: [],
    entryCount: entries.length,
  };
}

describe("distroless", () => {
  const osRelease = { path: "etc/os-release", content: Buffer.from("ID=debian\nVERSION_ID=12\n") };
  const statusD = { path: "var/lib/dpkg/status.d/libc6", content: Buffer.from("Package: libc6\n") };

  it("is flagged when dpkg's status.d is there and no shell is", () => {
    const fs = ImageFilesystem.fromLayers([layer([osRelease, statusD])]);
    expect(detectDistro(fs)?.distroless).toBe(true);
  });

  it("is not flagged for an image with a shell, or without status.d", () => {
    const withShell = layer([
      osRelease,
      statusD,
      { path: "bin/sh", type: "symlink", linkTarget: "dash" },
      { path: "bin/dash" },
    ]);
    expect(detectDistro(ImageFilesystem.fromLayers([withShell]))?.distroless).toBeUndefined();
    expect(detectDistro(ImageFilesystem.fromLayers([layer([osRelease])]))?.distroless).toBeUndefined();
  });
});

/**
 * The release files of other scanners' test data, read in place (see the shared data README).
 * Each case is a folder laid out as an image root, or a bare file and where it sits in an image.
 * Expectations are what each file says; `undefined` where it names no distribution.
 */
type Expected = { id: string; versionId?: string; ecosystem?: string } | undefined;
const sharedCases: Array<[string, string | null, Expected]> = [
  ["os-release/grype/bad-id", "etc/os-release", undefined],
  ["os-release/grype/os/alpine-edge", null, { id: "alpine", versionId: "3.22.0_alpha20250108" }],
  [
    "os-release/grype/os/azurelinux",
    null,
    { id: "azurelinux", versionId: "3.0", ecosystem: "Azure Linux:3" },
  ],
  [
    "os-release/grype/os/chainguard",
    null,
    { id: "chainguard", versionId: "20230214", ecosystem: "Chainguard" },
  ],
  ["os-release/grype/os/debian-sid", null, { id: "debian" }],
  ["os-release/grype/os/echo", null, { id: "echo", versionId: "1" }],
  ["os-release/grype/os/fedora", null, { id: "fedora", versionId: "31" }],
  ["os-release/grype/os/gentoo", null, { id: "gentoo" }],
  ["os-release/grype/os/hummingbird", null, { id: "hummingbird", versionId: "20251124" }],
  ["os-release/grype/os/minimos", null, { id: "minimos", versionId: "20241031" }],
  ["os-release/grype/os/postmarketos-edge", null, { id: "postmarketos", versionId: "edge" }],
  ["os-release/grype/os/postmarketos", null, { id: "postmarketos", versionId: "v25.06" }],
  ["os-release/grype/os/raspbian", null, { id: "raspbian", versionId: "9" }],
  ["os-release/grype/os/scientific6", null, { id: "scientific", versionId: "6.10" }],
  ["os-release/grype/os/secureos", null, { id: "secureos", versionId: "2025.09.09" }],
  ["os-release/snyk-docker-plugin/alpine_release_corrupt/fs", null, { id: "alpine" }],
  ["os-release/snyk-docker-plugin/centos_5/fs", null, { id: "centos", versionId: "5.11" }],
  ["os-release/snyk-docker-plugin/centos_6/fs", null, { id: "centos", versionId: "6.9" }],
  ["os-release/snyk-docker-plugin/centos_7/fs", null, { id: "centos", versionId: "7" }],
  [
    "os-release/snyk-docker-plugin/debian_6/fs",
    null,
    { id: "debian", versionId: "6", ecosystem: "Debian:6" },
  ],
  [
    "os-release/snyk-docker-plugin/debian_7/fs",
    null,
    { id: "debian", versionId: "7", ecosystem: "Debian:7" },
  ],
  [
    "os-release/snyk-docker-plugin/debian_8/fs",
    null,
    { id: "debian", versionId: "8", ecosystem: "Debian:8" },
  ],
  [
    "os-release/snyk-docker-plugin/debian_9/fs",
    null,
    { id: "debian", versionId: "9", ecosystem: "Debian:9" },
  ],
  ["os-release/snyk-docker-plugin/debian_unstable/fs", null, { id: "debian" }],
  ["os-release/snyk-docker-plugin/debian_version_corrupt/fs", null, { id: "debian" }],
  ["os-release/snyk-docker-plugin/lsb_release_corrupt/fs", null, undefined],
  ["os-release/snyk-docker-plugin/oraclelinux_5_11/fs", null, { id: "ol", versionId: "5.11" }],
  ["os-release/snyk-docker-plugin/oraclelinux_6_9/fs", null, { id: "ol", versionId: "6.9" }],
  ["os-release/snyk-docker-plugin/oraclelinux_7_5/fs", null, { id: "ol", versionId: "7.5" }],
  ["os-release/snyk-docker-plugin/os_release_corrupt/fs", null, undefined],
  ["os-release/snyk-docker-plugin/redhat_6_5/fs", null, { id: "rhel", versionId: "6.5" }],
  ["os-release/snyk-docker-plugin/redhat_7/fs", null, { id: "rhel", versionId: "7.0" }],
  [
    "os-release/snyk-docker-plugin/sles_15/fs",
    null,
    { id: "sles", versionId: "15", ecosystem: "SUSE:Linux Enterprise Server 15" },
  ],
  [
    "os-release/snyk-docker-plugin/ubuntu_12_04/fs",
    null,
    { id: "ubuntu", versionId: "12.04", ecosystem: "Ubuntu:12.04:LTS" },
  ],
  [
    "os-release/snyk-docker-plugin/ubuntu_14_04/fs",
    null,
    { id: "ubuntu", versionId: "14.04", ecosystem: "Ubuntu:14.04:LTS" },
  ],
  [
    "os-release/snyk-docker-plugin/ubuntu_16_04/fs",
    null,
    { id: "ubuntu", versionId: "16.04", ecosystem: "Ubuntu:16.04:LTS" },
  ],
  [
    "os-release/snyk-docker-plugin/ubuntu_18_04/fs",
    null,
    { id: "ubuntu", versionId: "18.04", ecosystem: "Ubuntu:18.04:LTS" },
  ],
  ["os-release/syft/bad-redhat-release", "etc/redhat-release", { id: "centos", versionId: "5" }],
  // system-release-cpe is not read.
  ["os-release/syft/bad-system-release-cpe", "etc/system-release-cpe", undefined],
  ["os-release/syft/centos-8", "etc/os-release", { id: "centos", versionId: "8" }],
  ["os-release/syft/debian-8", "etc/os-release", { id: "debian", versionId: "8", ecosystem: "Debian:8" }],
  [
    "os-release/syft/os/almalinux/from-os-release",
    null,
    { id: "almalinux", versionId: "8.4", ecosystem: "AlmaLinux:8" },
  ],
  [
    "os-release/syft/os/almalinux/from-redhat-release",
    null,
    { id: "almalinux", versionId: "8.10", ecosystem: "AlmaLinux:8" },
  ],
  ["os-release/syft/os/alpine", null, { id: "alpine", versionId: "3.11.6", ecosystem: "Alpine:v3.11" }],
  ["os-release/syft/os/amazon", null, { id: "amzn", versionId: "2" }],
  ["os-release/syft/os/arch", null, { id: "arch" }],
  ["os-release/syft/os/busybox", null, undefined],
  ["os-release/syft/os/centos", null, { id: "centos", versionId: "8" }],
  ["os-release/syft/os/centos5", null, { id: "centos", versionId: "5.7" }],
  ["os-release/syft/os/centos6", null, undefined],
  ["os-release/syft/os/custom", null, { id: "scientific", versionId: "8" }],
  [
    "os-release/syft/os/debian/from-debian_version",
    null,
    { id: "debian", versionId: "10", ecosystem: "Debian:10" },
  ],
  [
    "os-release/syft/os/debian/from-os-release",
    null,
    { id: "debian", versionId: "8", ecosystem: "Debian:8" },
  ],
  [
    "os-release/syft/os/debian/with-point-release",
    null,
    { id: "debian", versionId: "13", ecosystem: "Debian:13" },
  ],
  ["os-release/syft/os/empty", null, undefined],
  ["os-release/syft/os/fedora", null, { id: "fedora", versionId: "36" }],
  ["os-release/syft/os/mariner", null, { id: "mariner", versionId: "1.0", ecosystem: "Azure Linux:1" }],
  [
    "os-release/syft/os/opensuse-leap",
    null,
    { id: "opensuse-leap", versionId: "15.2", ecosystem: "openSUSE:Leap 15.2" },
  ],
  ["os-release/syft/os/oraclelinux", null, { id: "ol", versionId: "8.3" }],
  ["os-release/syft/os/photon", null, { id: "photon", versionId: "2.0", ecosystem: "Photon OS:2.0" }],
  ["os-release/syft/os/redhat/from-os-release", null, { id: "rhel", versionId: "7.3" }],
  ["os-release/syft/os/redhat/from-redhat-release", null, { id: "rhel", versionId: "8.10" }],
  [
    "os-release/syft/os/rockylinux/from-os-release",
    null,
    { id: "rocky", versionId: "8.4", ecosystem: "Rocky Linux:8" },
  ],
  [
    "os-release/syft/os/rockylinux/from-redhat-release",
    null,
    { id: "rocky", versionId: "8.10", ecosystem: "Rocky Linux:8" },
  ],
  ["os-release/syft/os/scientific/from-os-release", null, { id: "scientific", versionId: "7.5" }],
  ["os-release/syft/os/scientific/from-redhat-release", null, { id: "scientific", versionId: "7.9" }],
  [
    "os-release/syft/os/sles",
    null,
    { id: "sles", versionId: "15.2", ecosystem: "SUSE:Linux Enterprise Server 15 SP2" },
  ],
  ["os-release/syft/os/ubuntu", null, { id: "ubuntu", versionId: "20.04", ecosystem: "Ubuntu:20.04:LTS" }],
  ["os-release/syft/os/wolfi", null, { id: "wolfi", versionId: "20220914", ecosystem: "Wolfi" }],
  ["os-release/syft/partial-fields/missing-id", null, undefined],
  ["os-release/syft/partial-fields/missing-version", null, undefined],
  ["os-release/syft/partial-fields/unknown-id", null, { id: "my-awesome-distro", versionId: "8" }],
  ["os-release/syft/rhel-8", "etc/os-release", { id: "rhel", versionId: "8.1" }],
  [
    "os-release/syft/ubuntu-20.04",
    "etc/os-release",
    { id: "ubuntu", versionId: "20.04", ecosystem: "Ubuntu:20.04:LTS" },
  ],
  // CRLF line ends.
  ["os-release/syft/unprintable", "etc/os-release", { id: "debian", versionId: "8", ecosystem: "Debian:8" }],
  ["os-release/trivy/debian/debian_9", null, { id: "debian", versionId: "9", ecosystem: "Debian:9" }],
  ["os-release/trivy/debian/debian_sid", null, { id: "debian" }],
  ["os-release/trivy/debian/empty", "etc/debian_version", undefined],
  [
    "os-release/trivy/redhatbase/alma/almalinux-release",
    "etc/almalinux-release",
    { id: "almalinux", versionId: "8.4", ecosystem: "AlmaLinux:8" },
  ],
  [
    "os-release/trivy/redhatbase/centos/centos-release",
    "etc/centos-release",
    { id: "centos", versionId: "7.6.1810" },
  ],
  [
    "os-release/trivy/redhatbase/fedora_29/fedora-release",
    "etc/fedora-release",
    { id: "fedora", versionId: "29" },
  ],
  ["os-release/trivy/redhatbase/not_redhatbase/empty", "etc/redhat-release", undefined],
  [
    "os-release/trivy/redhatbase/oracle_7/oracle-release",
    "etc/oracle-release",
    { id: "ol", versionId: "7.6" },
  ],
  [
    "os-release/trivy/redhatbase/redhat_6/redhat-release",
    "etc/redhat-release",
    { id: "rhel", versionId: "6.2" },
  ],
  [
    "os-release/trivy/redhatbase/rocky/rocky-release",
    "etc/rocky-release",
    { id: "rocky", versionId: "8.4", ecosystem: "Rocky Linux:8" },
  ],
  ["os-release/trivy/release/activestate", "etc/os-release", { id: "activestate", versionId: "1.0" }],
  [
    "os-release/trivy/release/alma",
    "etc/os-release",
    { id: "almalinux", versionId: "9.4", ecosystem: "AlmaLinux:9" },
  ],
  [
    "os-release/trivy/release/alpine",
    "etc/os-release",
    { id: "alpine", versionId: "3.15.4", ecosystem: "Alpine:v3.15" },
  ],
  [
    "os-release/trivy/release/azurelinux-3.0",
    "etc/os-release",
    { id: "azurelinux", versionId: "3.0", ecosystem: "Azure Linux:3" },
  ],
  ["os-release/trivy/release/bottlerocket", "etc/os-release", { id: "bottlerocket", versionId: "1.34.0" }],
  ["os-release/trivy/release/centos", "etc/os-release", { id: "centos", versionId: "7" }],
  ["os-release/trivy/release/centos-stream", "etc/os-release", { id: "centos", versionId: "8" }],
  ["os-release/trivy/release/coreos", "etc/os-release", { id: "coreos", versionId: "3.15.4" }],
  ["os-release/trivy/release/echo", "etc/os-release", { id: "echo", versionId: "1" }],
  ["os-release/trivy/release/fedora", "etc/os-release", { id: "fedora", versionId: "42" }],
  [
    "os-release/trivy/release/mariner-1.0",
    "etc/os-release",
    { id: "mariner", versionId: "1.0", ecosystem: "Azure Linux:1" },
  ],
  [
    "os-release/trivy/release/mariner-2.0",
    "etc/os-release",
    { id: "mariner", versionId: "2.0", ecosystem: "Azure Linux:2" },
  ],
  ["os-release/trivy/release/minimos", "etc/os-release", { id: "minimos", versionId: "20241031" }],
  ["os-release/trivy/release/no-id", "etc/os-release", undefined],
  ["os-release/trivy/release/no-version", "etc/os-release", { id: "alpine" }],
  [
    "os-release/trivy/release/opensuseleap-15.2.1",
    "etc/os-release",
    { id: "opensuse-leap", versionId: "15.2.1", ecosystem: "openSUSE:Leap 15.2" },
  ],
  [
    "os-release/trivy/release/opensuseleap-42.3",
    "etc/os-release",
    { id: "opensuse", versionId: "42.3", ecosystem: "openSUSE:Leap 42.3" },
  ],
  [
    "os-release/trivy/release/opensusetumbleweed",
    "etc/os-release",
    { id: "opensuse-tumbleweed", versionId: "20220412", ecosystem: "openSUSE:Tumbleweed" },
  ],
  ["os-release/trivy/release/oracle", "etc/os-release", { id: "ol", versionId: "8.10" }],
  [
    "os-release/trivy/release/photon",
    "etc/os-release",
    { id: "photon", versionId: "4.0", ecosystem: "Photon OS:4.0" },
  ],
  ["os-release/trivy/release/rhel", "etc/os-release", { id: "rhel", versionId: "9.4" }],
  [
    "os-release/trivy/release/rocky",
    "etc/os-release",
    { id: "rocky", versionId: "9.3", ecosystem: "Rocky Linux:9" },
  ],
  [
    "os-release/trivy/release/slemicro",
    "etc/os-release",
    { id: "sle-micro", versionId: "5.3", ecosystem: "SUSE:Linux Enterprise Micro 5.3" },
  ],
  [
    "os-release/trivy/release/slemicro-rancher",
    "etc/os-release",
    { id: "sle-micro-rancher", versionId: "5.4", ecosystem: "SUSE:Linux Enterprise Micro for Rancher 5.4" },
  ],
  [
    "os-release/trivy/release/slemicro6.0",
    "etc/os-release",
    { id: "sl-micro", versionId: "6.0", ecosystem: "SUSE:Linux Micro 6.0" },
  ],
  [
    "os-release/trivy/release/sles",
    "etc/os-release",
    { id: "sles", versionId: "15.3", ecosystem: "SUSE:Linux Enterprise Server 15 SP3" },
  ],
  ["os-release/trivy/release/unknown", "etc/os-release", { id: "unknown", versionId: "4.3.2" }],
  [
    "os-release/trivy/ubuntu/lsb-release",
    "etc/lsb-release",
    { id: "ubuntu", versionId: "18.04", ecosystem: "Ubuntu:18.04:LTS" },
  ],
  ["os-release/trivy/ubuntu/invalid", "etc/lsb-release", undefined],
  // Release files that sit beside the package databases.
  [
    "dpkg/snyk-docker-plugin/ubuntu_10_04/fs",
    null,
    { id: "ubuntu", versionId: "10.04", ecosystem: "Ubuntu:10.04:LTS" },
  ],
  [
    "apk/snyk-docker-plugin/alpine_2_6_6/fs",
    null,
    { id: "alpine", versionId: "2.6.6", ecosystem: "Alpine:v2.6" },
  ],
  [
    "apk/snyk-docker-plugin/alpine_3_7_0/fs",
    null,
    { id: "alpine", versionId: "3.7.0", ecosystem: "Alpine:v3.7" },
  ],
];

describe("the release files in the shared data", () => {
  const root = sharedData("pkgdb/os-release");
  it.skipIf(!root).each(sharedCases)("%s (as %s) is %j", (relative, inImage, expected) => {
    const path = join(root as string, "..", relative);
    expect(existsSync(path), `${path} is missing`).toBe(true);
    const read =
      inImage === null
        ? (file: string) => {
            const candidate = join(path, file);
            return existsSync(candidate) && statSync(candidate).isFile()
              ? readFileSync(candidate, "utf8")
              : undefined;
          }
        : (file: string) => (file === inImage ? readFileSync(path, "utf8") : undefined);
    expect(summary(detectRelease(read))).toEqual(expected);
  });
});
