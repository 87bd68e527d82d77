import { describe, expect, it } from "vitest";
import { compareKeys, validateKey } from "./keys.js";

describe("validateKey (DESIGN.md §4)", () => {
  it("accepts UTF-8 keys with slashes up to 1024 bytes", () => {
    expect(validateKey("a/b/c.pdf")).toBe("a/b/c.pdf");
    expect(validateKey("é".repeat(512))).toHaveLength(512);
    expect(validateKey("x".repeat(1024))).toHaveLength(1024);
  });

  it.each([
    ["empty", ""],
    ["too long", "x".repeat(1025)],
    ["too long in bytes", "é".repeat(513)],
    ["NUL", "a\u0000b"],
    ["newline", "a\nb"],
    ["DEL", "a\u007fb"],
    ["C1", "a\u0085b"],
    ["lone surrogate", "a\ud800b"],
  ])("refuses %s", (_name, key) => {
    expect(() => validateKey(key)).toThrowError(expect.objectContaining({ code: "INVALID_KEY" }) as Error);
  });

  it("orders keys by UTF-8 bytes, not UTF-16 units", () => {
    // U+E000 is EE 80 80 in UTF-8 and sorts before U+10000 (F0 90 80 80); in UTF-16 code
    // units U+10000 is D800 DC00 and sorts first, so plain string comparison gets it wrong.
    expect(compareKeys("\u{e000}", "\u{10000}")).toBeLessThan(0);
    expect("\u{e000}" < "\u{10000}").toBe(false);
  });
});
