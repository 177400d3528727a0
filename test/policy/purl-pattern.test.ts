import { describe, expect, it } from "vitest";
import { compilePurlPattern, PurlSyntaxError, parsePurl } from "../../src/policy/purl-pattern.js";

// Purls as the fixture image's report writes them (test/scan.e2e.test.ts lists the packages).
const libcurl4 = "pkg:deb/debian/libcurl4@7.88.1-10+deb12u4?arch=amd64&distro=debian-12&upstream=curl";
const traverse = "pkg:npm/%40babel/traverse@7.23.2";
const zlib = "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib";

const globs = (pattern: string, purl: string) =>
  compilePurlPattern(pattern, { globs: true }).matches(parsePurl(purl));
const exact = (pattern: string, purl: string) =>
  compilePurlPattern(pattern, { globs: false }).matches(parsePurl(purl));

describe("parsePurl", () => {
  it("takes a purl apart, decoding each component", () => {
    expect(parsePurl(traverse)).toEqual({
      type: "npm",
      path: "@babel/traverse",
      version: "7.23.2",
      qualifiers: new Map(),
    });
    expect(parsePurl(libcurl4)).toEqual({
      type: "deb",
      path: "debian/libcurl4",
      version: "7.88.1-10+deb12u4",
      qualifiers: new Map([
        ["arch", "amd64"],
        ["distro", "debian-12"],
        ["upstream", "curl"],
      ]),
    });
    // The epoch's colon and a Go module path's slashes stay where they are.
    expect(parsePurl(zlib).version).toBe("1:1.2.13.dfsg-1");
    expect(parsePurl("pkg:golang/github.com/gin-gonic/gin@v1.9.0")).toMatchObject({
      type: "golang",
      path: "github.com/gin-gonic/gin",
      version: "v1.9.0",
    });
  });

  it("reads an npm scope written without percent-encoding, and an upper-case type", () => {
    expect(parsePurl("pkg:NPM/@babel/traverse@7.23.2")).toMatchObject({
      type: "npm",
      path: "@babel/traverse",
    });
    expect(parsePurl("pkg:npm/@babel")).toMatchObject({ path: "@babel" });
    expect(parsePurl("pkg:npm/lodash@4.17.20#lib/fp")).toMatchObject({ subpath: "lib/fp" });
  });

  it("refuses what is not a purl, saying why", () => {
    const problem = (text: string) => {
      try {
        parsePurl(text);
      } catch (error) {
        expect(error).toBeInstanceOf(PurlSyntaxError);
        return (error as Error).message;
      }
      return "parsed";
    };
    expect(problem("npm/lodash")).toBe("not a package URL: it must start with pkg:");
    expect(problem("pkg:lodash")).toBe("no type and name: write pkg:TYPE/NAME, e.g. pkg:npm/lodash");
    expect(problem("pkg:npm/")).toBe("no name after the type");
    expect(problem("pkg:npm/lodash@")).toBe("an empty version after @");
    expect(problem("pkg:npm/lo%zzdash")).toBe('bad percent-encoding in the name "lo%zzdash"');
    expect(problem("pkg:deb/debian/curl?arch")).toBe('qualifier "arch" is not key=value');
  });
});

describe("purl patterns", () => {
  it("without a version match every version; with one, only it", () => {
    expect(globs("pkg:npm/lodash", "pkg:npm/lodash@4.17.20")).toBe(true);
    expect(globs("pkg:npm/lodash@4.17.20", "pkg:npm/lodash@4.17.20")).toBe(true);
    expect(globs("pkg:npm/lodash@4.17.21", "pkg:npm/lodash@4.17.20")).toBe(false);
    expect(globs("pkg:npm/lodash", "pkg:npm/lodash.merge@4.6.2")).toBe(false);
    expect(globs("pkg:pypi/lodash", "pkg:npm/lodash@4.17.20")).toBe(false);
  });

  it("compare the scope decoded, whichever way either side writes it", () => {
    expect(globs("pkg:npm/@babel/traverse@7.23.2", traverse)).toBe(true);
    expect(globs("pkg:npm/%40babel/traverse", "pkg:npm/@babel/traverse@7.23.2")).toBe(true);
    expect(globs("pkg:npm/traverse", traverse)).toBe(false);
  });

  it("in an ignore file, * matches any run of characters, slashes included", () => {
    expect(globs("pkg:npm/*", traverse)).toBe(true);
    expect(globs("pkg:npm/@babel/*", traverse)).toBe(true);
    expect(globs("pkg:npm/@types/*", traverse)).toBe(false);
    expect(globs("pkg:deb/*/libcurl*", libcurl4)).toBe(true);
    expect(globs("pkg:deb/debian/libcurl4@7.88.1-10+deb12u*", libcurl4)).toBe(true);
    expect(globs("pkg:deb/debian/libcurl4@7.88.2*", libcurl4)).toBe(false);
    expect(globs("pkg:*/*/libcurl4", libcurl4)).toBe(true);
    // The path is the namespace and the name: a Debian package's has the namespace debian/.
    expect(globs("pkg:*/libcurl4", libcurl4)).toBe(false);
    // Regex characters in a pattern are themselves: the dots and the plus.
    expect(globs("pkg:deb/debian/libcurl4@7.88.1-10+deb12u4", libcurl4)).toBe(true);
    expect(globs("pkg:deb/debian/libcurl4@7x88x1-10+deb12u4", libcurl4)).toBe(false);
  });

  it("qualifiers in a pattern must be in the package's purl with that value; others are not compared", () => {
    expect(globs("pkg:deb/debian/*?upstream=curl", libcurl4)).toBe(true);
    expect(globs("pkg:deb/debian/*?upstream=openssl", libcurl4)).toBe(false);
    expect(globs("pkg:deb/debian/libcurl4?arch=arm64", libcurl4)).toBe(false);
    expect(globs("pkg:deb/debian/libcurl4?distro=debian-*&arch=amd64", libcurl4)).toBe(true);
    // A purl without the qualifier does not match it.
    expect(globs("pkg:deb/debian/*?upstream=curl", "pkg:deb/debian/curl@7.88.1-10+deb12u4?arch=amd64")).toBe(
      false,
    );
  });

  it("in a VEX product, * is an ordinary character", () => {
    expect(exact("pkg:npm/*", "pkg:npm/lodash@4.17.20")).toBe(false);
    expect(exact("pkg:npm/lodash", "pkg:npm/lodash@4.17.20")).toBe(true);
    expect(exact("pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u4?arch=amd64", libcurl4)).toBe(true);
  });

  it("refuses a subpath: a pattern names packages, not files in them", () => {
    expect(() => compilePurlPattern("pkg:npm/lodash#lib", { globs: true })).toThrow(
      "a subpath (#...) does not name a package",
    );
  });
});
