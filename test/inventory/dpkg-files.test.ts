/**
 * Files owned by dpkg packages (var/lib/dpkg/info/*.list): how a list becomes `files`, which list
 * a package's is, and that the lists are kept by the layer reader without being taken for
 * package databases.
 */
import { describe, expect, it } from "vitest";
import { dpkgExtractor, parseFileList } from "../../src/inventory/extractors/dpkg.js";
import { inventoryWants } from "../../src/inventory/inventory.js";
import { inventoryOf, textFile } from "../helpers/inventory.js";

const OS_RELEASE = 'ID=debian\nVERSION_ID="12"\n';

function stanza(name: string, version: string, extra = ""): string {
  return `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n${extra}`;
}

const file = textFile;

describe("dpkg file lists", () => {
  it("drops the directories a list names above its files, and the root", () => {
    const list = ["/.", "/bin", "/bin/bash", "/etc", "/etc/skel", "/etc/skel/.bashrc", "/usr", "/usr/bin-x"];
    expect(parseFileList(`${list.join("\n")}\n`)).toEqual(["bin/bash", "etc/skel/.bashrc", "usr/bin-x"]);
    // A directory the package owns but leaves empty cannot be told from a file, and is kept.
    expect(parseFileList("/.\n/var\n/var/cache\n/var/cache/apt\n")).toEqual(["var/cache/apt"]);
    expect(parseFileList("")).toEqual([]);
  });

  it("wants status databases and only needs the lists", () => {
    expect(dpkgExtractor.wants("var/lib/dpkg/status")).toBe(true);
    expect(dpkgExtractor.wants("var/lib/dpkg/info/bash.list")).toBe(false);
    expect(dpkgExtractor.needs?.("var/lib/dpkg/info/bash.list")).toBe(true);
    expect(dpkgExtractor.needs?.("var/lib/dpkg/info/libc6:amd64.list")).toBe(true);
    expect(dpkgExtractor.needs?.("var/lib/dpkg/info/bash.md5sums")).toBe(false);
    expect(dpkgExtractor.needs?.("var/lib/dpkg/info/sub/bash.list")).toBe(false);
    expect(inventoryWants("var/lib/dpkg/info/bash.list")).toBe(true);
    expect(inventoryWants("var/lib/dpkg/info/bash.postinst")).toBe(false);
  });

  it("gives each package the files of its list, arch-qualified for Multi-Arch: same", async () => {
    const status = [
      stanza("bash", "5.2.15-2+b2"),
      stanza("libc6", "2.36-9+deb12u4", "Multi-Arch: same\nSource: glibc\n"),
      stanza("nolist", "1.0"),
    ].join("\n");
    const inventory = await inventoryOf([
      [
        file("etc/os-release", OS_RELEASE),
        file("var/lib/dpkg/status", status),
        file("var/lib/dpkg/info/bash.list", "/.\n/bin\n/bin/bash\n/usr\n/usr/share\n/usr/share/doc\n"),
        file("var/lib/dpkg/info/libc6:amd64.list", "/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n"),
        file("var/lib/dpkg/info/bash.md5sums", "0000  bin/bash\n"),
      ],
    ]);
    expect(inventory.warnings).toEqual([]);
    // One package per stanza: the lists themselves were not read as databases.
    expect(inventory.packages.map((p) => [p.name, p.location, p.files])).toEqual([
      ["bash", "var/lib/dpkg/status", ["bin/bash", "usr/share/doc"]],
      ["libc6", "var/lib/dpkg/status", ["usr/lib/x86_64-linux-gnu"]],
      ["nolist", "var/lib/dpkg/status", undefined],
    ]);
  });

  it("takes the lists of the final image while attributing packages to layers", async () => {
    const inventory = await inventoryOf([
      [
        file("etc/os-release", OS_RELEASE),
        file("var/lib/dpkg/status", stanza("bash", "5.2.15-2")),
        file("var/lib/dpkg/info/bash.list", "/.\n/bin\n/bin/bash\n"),
      ],
      [
        file("var/lib/dpkg/status", `${stanza("bash", "5.2.15-2")}\n${stanza("curl", "7.88.1-10")}`),
        file("var/lib/dpkg/info/curl.list", "/.\n/usr\n/usr/bin\n/usr/bin/curl\n"),
        // A later layer rewrote bash's list: the final one is what the package owns now.
        file("var/lib/dpkg/info/bash.list", "/.\n/bin\n/bin/bash\n/bin/rbash\n"),
      ],
    ]);
    expect(inventory.packages.map((p) => [p.name, p.layer, p.files])).toEqual([
      ["bash", 0, ["bin/bash", "bin/rbash"]],
      ["curl", 1, ["usr/bin/curl"]],
    ]);
  });

  it("counts a package by its state, and a status-file stanza without Status as not installed", () => {
    const warnings: string[] = [];
    const text = [
      "Package: held\nStatus: hold ok installed\nVersion: 1",
      "Package: removing\nStatus: deinstall ok installed\nVersion: 1",
      "Package: unpacked\nStatus: install ok unpacked\nVersion: 1",
      "Package: nostatus\nVersion: 1",
      "Package: odd\nStatus: installed\nVersion: 1",
    ].join("\n\n");
    const context = { warn: (w: string) => warnings.push(w), readFile: () => undefined };
    const names = (path: string) =>
      dpkgExtractor.extract(path, Buffer.from(text), context).map((p) => p.name);
    expect(names("var/lib/dpkg/status")).toEqual(["held", "removing"]);
    expect(warnings).toEqual([
      "nostatus: no Status field; not counted as installed",
      'odd: Status "installed" is not "want flag state"; not counted as installed',
    ]);
    // A distroless status.d file has no Status at all: its packages are installed.
    expect(names("var/lib/dpkg/status.d/x")).toEqual(["held", "removing", "nostatus"]);
  });
});
