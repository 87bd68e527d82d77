import { describe, expect, it } from "vitest";
import { compareKeys } from "../common/keys.js";
import { compareUtf8 } from "./key-order.js";
import { seededRandom } from "./store-test-support.js";

// DESIGN.md §4: "Keys sort and list in UTF-8 byte order".

describe("compareUtf8", () => {
  it("orders like comparing the UTF-8 bytes, across ASCII, BMP, private-use and astral characters", () => {
    const random = seededRandom(3);
    const alphabet = [
      "a",
      "z",
      "/",
      "é",
      "\u07ff",
      "\u0800",
      "\ud7ff",
      "\ue000",
      "\uffff",
      "\u{10000}",
      "\u{1F600}",
      "\u{10FFFF}",
    ];
    const keys = Array.from({ length: 400 }, () =>
      Array.from({ length: 1 + random(4) }, () => alphabet[random(alphabet.length)]).join(""),
    );
    for (const a of keys.slice(0, 100)) {
      for (const b of keys)
        expect(Math.sign(compareUtf8(a, b)), `${a} vs ${b}`).toBe(Math.sign(compareKeys(a, b)));
    }
  });
});
