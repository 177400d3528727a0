/**
 * The executable condenser skips inflating zlib candidates whose first fixed-Huffman literal
 * cannot start audit JSON. That decoder is checked against zlib itself: streams zlib wrote with
 * fixed codes (Z_FIXED) for every first byte, and random candidate bytes, which must never be
 * turned away when inflate would have produced a byte audit JSON can start with.
 */
import { randomBytes } from "node:crypto";
import { constants, deflateSync, inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { startsWithForeignLiteral } from "../../src/inventory/binary/condense.js";

/** `\s` read as latin1 (tab to carriage return, space, no-break space) and "{". */
const JSON_START_BYTES = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x7b]);

const btype = (stream: Buffer) => ((stream[2] as number) >> 1) & 3;

describe("telling audit JSON's first byte from a fixed-Huffman block", () => {
  it("reads zlib's own fixed-code streams right for every first byte", () => {
    let fixedBlocks = 0;
    for (let first = 0; first < 256; first++) {
      for (const rest of [Buffer.alloc(0), Buffer.from('"packages":[]}'), randomBytes(40)]) {
        const stream = deflateSync(Buffer.concat([Buffer.from([first]), rest]), {
          strategy: constants.Z_FIXED,
        });
        // zlib stores what does not compress: only fixed-code blocks are this decoder's.
        if (btype(stream) !== 1) continue;
        fixedBlocks++;
        expect(startsWithForeignLiteral(stream), `first byte 0x${first.toString(16)}`).toBe(
          !JSON_START_BYTES.has(first),
        );
      }
    }
    expect(fixedBlocks).toBeGreaterThan(500);
  });

  it("turns away no random candidate that inflates to a possible JSON start", () => {
    let inflated = 0;
    for (let run = 0; run < 20_000; run++) {
      const candidate = Buffer.concat([Buffer.from([0x78, 0x9c]), randomBytes(30)]);
      let output: Buffer | undefined;
      try {
        output = inflateSync(candidate, { finishFlush: constants.Z_SYNC_FLUSH });
      } catch {
        continue;
      }
      if (output.length === 0) continue;
      inflated++;
      if (JSON_START_BYTES.has(output[0] as number)) expect(startsWithForeignLiteral(candidate)).toBe(false);
      else if (btype(candidate) === 1 && startsWithForeignLiteral(candidate))
        expect(JSON_START_BYTES.has(output[0] as number)).toBe(false);
    }
    expect(inflated).toBeGreaterThan(20);
  });

  it("leaves other blocks, and short or empty input, to inflate", () => {
    const stored = deflateSync(randomBytes(200), { level: 0 });
    expect(btype(stored)).toBe(0);
    expect(startsWithForeignLiteral(stored)).toBe(false);
    // Text with skewed letter counts is what dynamic codes are for.
    const text = Array.from({ length: 3000 }, (_, i) => `entry ${(i * 7919) % 1000}: ${"x".repeat(i % 13)}`);
    const dynamic = deflateSync(Buffer.from(text.join("\n")));
    expect(btype(dynamic)).toBe(2);
    expect(startsWithForeignLiteral(dynamic)).toBe(false);
    expect(startsWithForeignLiteral(Buffer.from([0x78, 0x9c, 0x03]))).toBe(false);
    // An empty fixed block (its first symbol is the end of block) is inflate's to judge.
    const empty = deflateSync(Buffer.alloc(0), { strategy: constants.Z_FIXED });
    expect(btype(empty)).toBe(1);
    expect(startsWithForeignLiteral(empty)).toBe(false);
  });
});
