import { describe, expect, it } from "vitest";
import { parseByteRange } from "./byte-range.js";

describe("parseByteRange (RFC 9110 §14.1.2, §14.2)", () => {
  it("serves the whole value without a usable Range header", () => {
    for (const header of [undefined, "", "items=0-1", "bytes=5-2", "bytes=0-1,4-5", "bytes=x-1", "bytes=-"]) {
      expect(parseByteRange(header, 10), String(header)).toEqual({ kind: "full" });
    }
  });

  it("clamps ranges to the value", () => {
    expect(parseByteRange("bytes=0-0", 10)).toEqual({ kind: "partial", start: 0, end: 0 });
    expect(parseByteRange("bytes=2-", 10)).toEqual({ kind: "partial", start: 2, end: 9 });
    expect(parseByteRange("bytes=8-100", 10)).toEqual({ kind: "partial", start: 8, end: 9 });
    expect(parseByteRange("bytes=-3", 10)).toEqual({ kind: "partial", start: 7, end: 9 });
    expect(parseByteRange("Bytes = -30", 10)).toEqual({ kind: "partial", start: 0, end: 9 });
  });

  it("refuses ranges that start past the end (416)", () => {
    expect(parseByteRange("bytes=10-", 10)).toEqual({ kind: "unsatisfiable" });
    expect(parseByteRange("bytes=10-20", 10)).toEqual({ kind: "unsatisfiable" });
    expect(parseByteRange("bytes=-0", 10)).toEqual({ kind: "unsatisfiable" });
    expect(parseByteRange("bytes=0-", 0)).toEqual({ kind: "unsatisfiable" });
    expect(parseByteRange("bytes=-5", 0)).toEqual({ kind: "unsatisfiable" });
  });
});
