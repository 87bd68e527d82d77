import { describe, expect, it } from "vitest";
import { KeyIndex, type IndexedValue } from "./key-index.js";

const value = (version: number, segment = 1): IndexedValue => ({
  key: "k",
  txid: `tx-${version}`,
  contentType: "",
  size: 10,
  crc32c: 7,
  version,
  createdAtMs: 1,
  segment,
  offset: 32 * version,
  recordBytes: 100,
});

describe("KeyIndex versions and tombstones", () => {
  it("serves the highest committed version; an older one arriving late is refused", () => {
    const index = new KeyIndex();
    expect(index.offerValue(value(5))).toBe(true);
    expect(index.offerValue(value(3))).toBe(false);
    expect(index.offerValue(value(5))).toBe(false);
    expect(index.get("k")?.version).toBe(5);
  });

  it("a tombstone hides every version up to its own; older values stay refused", () => {
    const index = new KeyIndex();
    index.offerValue(value(5));
    expect(index.applyTombstone("k", 5, { segment: 2, offset: 0, recordBytes: 64 })).toBe(true);
    expect(index.get("k")).toBeUndefined();
    expect(index.offerValue(value(4))).toBe(false);
    expect(index.get("k")).toBeUndefined();
  });

  it("takes back a copy of exactly the tombstoned version (a key moved away and back by rebalance)", () => {
    const index = new KeyIndex();
    index.offerValue(value(5));
    index.applyTombstone("k", 5, { segment: 2, offset: 0, recordBytes: 64 });
    expect(index.offerValue(value(5, 3))).toBe(true);
    expect(index.get("k")).toMatchObject({ version: 5, segment: 3 });
    expect(index.offerValue(value(6, 3))).toBe(true);
    expect(index.get("k")?.version).toBe(6);
  });
});
