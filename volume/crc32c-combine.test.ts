import { describe, expect, it } from "vitest";
import { crc32c } from "../common/hashing.js";
import { crc32cCombine } from "./crc32c-combine.js";
import { seededBytes, seededRandom } from "./store-test-support.js";

// docs/volume-format.md "Writing a record head last": the record CRC of a prepare is
// combined from the head's CRC and the streamed value's; it must equal the CRC computed
// directly over the whole record.

describe("crc32cCombine", () => {
  it("equals the CRC computed over the concatenation, at every split of random buffers", () => {
    const random = seededRandom(20261122);
    for (let round = 0; round < 40; round++) {
      const bytes = seededBytes(round + 1, 1 + random(round < 30 ? 300 : 200_000));
      const whole = crc32c(bytes);
      for (let probe = 0; probe < 8; probe++) {
        const split = random(bytes.length + 1);
        const a = bytes.subarray(0, split);
        const b = bytes.subarray(split);
        expect(crc32cCombine(crc32c(a), crc32c(b), b.length), `round ${round} split ${split}`).toBe(whole);
      }
    }
  });

  it("handles empty parts and lengths past 2^32", () => {
    const a = seededBytes(7, 1000);
    expect(crc32cCombine(crc32c(a), 0, 0)).toBe(crc32c(a));
    expect(crc32cCombine(0, crc32c(a), a.length)).toBe(crc32c(a));
    // Associativity where direct computation is out of reach: (A‖B)‖C = A‖(B‖C).
    const [x, y, z] = [0x12345678, 0x9abcdef0, 0x0fedcba9];
    const lengthB = 2 ** 33 + 12_345;
    const lengthC = 2 ** 34 + 7;
    const left = crc32cCombine(crc32cCombine(x, y, lengthB), z, lengthC);
    const right = crc32cCombine(x, crc32cCombine(y, z, lengthC), lengthB + lengthC);
    expect(left).toBe(right);
  });

  it("matches chunked combination of many 64 KiB blocks (how value CRCs are built)", () => {
    const bytes = seededBytes(99, 5 * 65_536 + 777);
    let crc = 0;
    for (let at = 0; at < bytes.length; at += 65_536) {
      const block = bytes.subarray(at, at + 65_536);
      crc = crc32cCombine(crc, crc32c(block), block.length);
    }
    expect(crc).toBe(crc32c(bytes));
  });
});
