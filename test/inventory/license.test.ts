import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import parseSpdx from "spdx-expression-parse";
import { describe, expect, it } from "vitest";
import { toSpdxExpression } from "../../src/inventory/license.js";
import { sharedData } from "../helpers/shared-data.js";

const expressionOf = (declared: string) => toSpdxExpression(declared).expression;

/** The License column of go-rpmdb's `rpm -qa` goldens (fields separated by ¶, License is the 8th). */
function rpmLicenses(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("¶")[7] as string);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("declared licenses as SPDX expressions, checked by hand against the real declarations", () => {
  it("maps rpm License tags of Amazon Linux 2023 and SLE 15 (Fedora names, and/or, parentheses)", () => {
    const amazon = sharedData("pkgdb/rpm/go-rpmdb/amazonlinux2023-plain/packages.csv");
    const sle = sharedData("pkgdb/rpm/go-rpmdb/sle15-bci/packages.csv");
    if (!amazon || !sle) return;
    const cases: Array<[string, string, string | undefined]> = [
      // [file, the License tag as rpm -qa printed it, the expression read by hand]
      [amazon, "GPLv2+", "GPL-2.0-or-later"], // libcomps
      [amazon, "LGPLv2+", "LGPL-2.0-or-later"], // crypto-policies
      [amazon, "GPLv2+ or LGPLv3+", "GPL-2.0-or-later OR LGPL-3.0-or-later"], // elfutils-libelf
      // libidn2: the parentheses stay where AND would otherwise take the OR's right operand.
      [
        amazon,
        "(GPLv2+ or LGPLv3+) and GPLv3+",
        "(GPL-2.0-or-later OR LGPL-3.0-or-later) AND GPL-3.0-or-later",
      ],
      [amazon, "ASL 2.0", "Apache-2.0"], // openssl-libs: Fedora's short name for the Apache License
      [amazon, "zlib and Boost", "Zlib AND BSL-1.0"], // zlib: the Boost license has one version only
      // Fedora's bare "BSD" does not say which BSD license (2- or 3-clause), so no part may be guessed.
      [amazon, "BSD", undefined], // libuuid
      [amazon, "MIT and (BSD or ASL 2.0)", undefined], // python3-setuptools-wheel
      // "with exceptions" names no exception; SPDX cannot say "GPL with some exception".
      [amazon, "GPLv2+ and LGPLv2+ with exceptions", undefined], // rpm-sign-libs
      [amazon, "Public Domain", undefined], // setup: no SPDX identifier
      [amazon, "pubkey", undefined], // gpg-pubkey: not a license at all
      // SUSE writes SPDX; deprecated ids ("GPL-2.0+") are valid and kept, operators upper-cased.
      [sle, "GPL-2.0+ and LGPL-2.1+", "GPL-2.0+ AND LGPL-2.1+"], // libacl1
      [sle, "Artistic-1.0 or GPL-2.0+", "Artistic-1.0 OR GPL-2.0+"], // perl-base
      [sle, "GPL-3.0-or-later WITH GCC-exception-3.1", "GPL-3.0-or-later WITH GCC-exception-3.1"], // libgcc_s1
      // SUSE-Public-Domain is SUSE's own name, not on the SPDX list: the whole text stays a name.
      [sle, "LGPL-2.1-or-later AND BSD-2-Clause AND BSD-3-Clause AND SUSE-Public-Domain", undefined], // libcrypt1
    ];
    for (const [file, declared, expression] of cases) {
      expect(rpmLicenses(file), declared).toContain(declared);
      expect(toSpdxExpression(declared), declared).toEqual(
        expression ? { expression, declared } : { declared },
      );
    }
  });

  it("maps apk L: fields, old space-separated lists included", () => {
    const cases: Array<[string, string, string | undefined]> = [
      ["pkgdb/apk/trivy/apk", "( Apache-2.0 OR MIT ) AND MPL-2.0", "(Apache-2.0 OR MIT) AND MPL-2.0"],
      ["pkgdb/apk/trivy/apk", "GPL2", "GPL-2.0-only"],
      // A list of three licenses with no AND/OR between them: spdx-correct would say BSD-2-Clause.
      ["pkgdb/apk/syft/single", "MIT BSD GPL2+", undefined],
      // zlib's own "custom" terms; spdx-correct would say Zlib.
      ["pkgdb/apk/snyk-docker-plugin/alpine_2_6_6/fs/lib/apk/db/installed", "custom:zlib", undefined],
      ["pkgdb/apk/scalibr/installed", "GPL-2.0-only", "GPL-2.0-only"],
    ];
    for (const [relative, declared, expression] of cases) {
      const file = sharedData(relative);
      if (!file) continue;
      expect(readFileSync(file, "utf8").split("\n"), relative).toContain(`L:${declared}`);
      expect(expressionOf(declared), declared).toBe(expression);
    }
  });

  it("maps PyPI License headers, gemspec licenses and a composer.lock license", () => {
    const cases: Array<[string, string, string, string | undefined]> = [
      // [file, the text as it stands in the file, the declared value, the expression]
      [
        "pkgdb/lang/python/snyk-docker-plugin/extras/site-packages/sniffio-1.3.1.dist-info/METADATA",
        "License: MIT OR Apache-2.0",
        "MIT OR Apache-2.0",
        "MIT OR Apache-2.0",
      ],
      [
        "pkgdb/lang/python/snyk-docker-plugin/extras/site-packages/uvloop-0.21.0.dist-info/METADATA",
        "License: MIT License",
        "MIT License",
        "MIT",
      ],
      [
        "pkgdb/lang/python/snyk-docker-plugin/extras/site-packages/shellingham-1.5.4.dist-info/METADATA",
        "License: ISC License",
        "ISC License",
        "ISC",
      ],
      [
        "pkgdb/syft-image-pkg-coverage/pkgs/python/egg-info/PKG-INFO",
        "License: Apache 2.0",
        "Apache 2.0",
        "Apache-2.0",
      ],
      // spdx-correct answers EPL-1.0 here, which contradicts the "v2.0" of the text.
      [
        "pkgdb/lang/python/trivy/parser/asyncssh-2.14.2.METADATA",
        "License: Eclipse Public License v2.0",
        "Eclipse Public License v2.0",
        undefined,
      ],
      // "BSD License" is a Trove classifier's wording: which BSD license is not said.
      [
        "pkgdb/syft-image-pkg-coverage/pkgs/python/dist-info/METADATA",
        "License: BSD License",
        "BSD License",
        undefined,
      ],
      [
        "pkgdb/lang/python/trivy/analyzer/happy-egg/distlib-0.3.1.egg-info/PKG-INFO",
        "License: Python license",
        "Python license",
        undefined,
      ],
      // The WordPress plugin header's wording: "or later" is the + of the GNU licenses.
      [
        "pkgdb/syft-image-pkg-coverage/pkgs/wordpress/wp-content/plugins/akismet/akismet.php",
        "License: GPLv2 or later",
        "GPLv2 or later",
        "GPL-2.0-or-later",
      ],
      ["pkgdb/lang/ruby/trivy/multiple_licenses.gemspec", '"Ruby".freeze', "Ruby", "Ruby"],
      ["pkgdb/lang/ruby/trivy/multiple_licenses.gemspec", '"PSFL".freeze', "PSFL", "PSF-2.0"],
      // Ruby's "BSDL" file is a BSD license whose clause count the name does not give.
      ["pkgdb/lang/ruby/trivy/multiple_licenses.gemspec", '"BSDL".freeze', "BSDL", undefined],
      [
        "pkgdb/lang/php/trivy/parser/composer_happy.lock",
        '"license": "MIT or BSD-2-Clause"',
        "MIT or BSD-2-Clause",
        "MIT OR BSD-2-Clause",
      ],
    ];
    for (const [relative, text, declared, expression] of cases) {
      const file = sharedData(relative);
      if (!file) continue;
      expect(readFileSync(file, "utf8"), relative).toContain(text);
      expect(toSpdxExpression(declared), declared).toEqual(
        expression ? { expression, declared } : { declared },
      );
    }
    // The ruby extractor joins a gem's licenses with OR: one name that cannot be told leaves the
    // whole choice a name.
    expect(expressionOf("Ruby OR BSDL OR PSFL")).toBeUndefined();
  });

  it("refuses corrections that would change what the text says", () => {
    // npm: UNLICENSED means proprietary; spdx-correct turns it into the Unlicense, the opposite.
    expect(toSpdxExpression("UNLICENSED")).toEqual({ declared: "UNLICENSED" });
    // Two licenses with a slash between them: spdx-correct keeps only Apache-2.0.
    expect(expressionOf("MIT/Apache-2.0")).toBeUndefined();
    // A bare GNU name: spdx-correct picks version 3 or later.
    expect(expressionOf("GPL")).toBeUndefined();
    // rpm gives "and" and "or" no precedence, so mixing them without parentheses is ambiguous.
    expect(expressionOf("GPLv2+ and BSD-3-Clause or MIT")).toBeUndefined();
    // A whole license text is not a name.
    expect(expressionOf(`MIT\n\nPermission is hereby granted, free of charge`)).toBeUndefined();
    expect(toSpdxExpression("")).toEqual({ declared: "" });
    // A name followed by its abbreviation, as PyPI classifiers write them.
    expect(expressionOf("Mozilla Public License 2.0 (MPL 2.0)")).toBe("MPL-2.0");
    expect(expressionOf("GNU Lesser General Public License v3 (LGPLv3)")).toBe("LGPL-3.0-only");
  });

  it("gives only valid, stable expressions for every license declared in the shared data", () => {
    const declared = new Set<string>();
    for (const relative of ["pkgdb/rpm/go-rpmdb/amazonlinux2023-plain", "pkgdb/rpm/go-rpmdb/sle15-bci"]) {
      const dir = sharedData(relative);
      if (dir) for (const license of rpmLicenses(join(dir, "packages.csv"))) declared.add(license);
    }
    for (const relative of ["pkgdb/apk", "pkgdb/lang/python", "pkgdb/syft-image-pkg-coverage"]) {
      const dir = sharedData(relative);
      if (!dir) continue;
      for (const file of filesUnder(dir)) {
        if (statSync(file).size > 1_000_000) continue;
        for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
          const match = /^(?:L:|License: |License-Expression: )(.+)$/.exec(line);
          if (match) declared.add(match[1] as string);
        }
      }
    }
    if (declared.size === 0) return;
    expect(declared.size).toBeGreaterThan(60);
    let mapped = 0;
    for (const text of declared) {
      const result = toSpdxExpression(text);
      expect(result.declared).toBe(text);
      if (!result.expression) continue;
      mapped++;
      expect(() => parseSpdx(result.expression as string), text).not.toThrow();
      // Written canonically, an expression maps to itself.
      expect(expressionOf(result.expression), text).toBe(result.expression);
    }
    expect(mapped).toBeGreaterThan(declared.size / 2);
  });
});
