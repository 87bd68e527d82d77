import { describe, expect, it } from "vitest";
import { KeyTable } from "./key-table.js";
import { seededRandom } from "./store-test-support.js";
import { ByteArena } from "./byte-arena.js";

// The index's key → slot table and txid arena behave like a Map under random
// insert/remove (issue 2 §2 "Index": compact structures must not lose or confuse keys).

describe("KeyTable", () => {
  it("matches a Map under random inserts and removals (with table growth and probe-run deletes)", () => {
    const random = seededRandom(42);
    const slots = 5000;
    const table = new KeyTable(16);
    table.growSlots(slots);
    const model = new Map<string, number>();
    const free: number[] = Array.from({ length: slots }, (_, i) => slots - 1 - i);
    for (let step = 0; step < 40_000; step++) {
      const key = `k${random(3000)}`;
      const slot = model.get(key);
      if (slot === undefined) {
        const next = free.pop();
        if (next === undefined) continue;
        table.insert(key, next);
        model.set(key, next);
      } else if (random(2) === 0) {
        table.remove(slot);
        model.delete(key);
        free.push(slot);
      }
      if (step % 997 === 0) {
        const wrong = [...model].filter(([k, s]) => table.find(k) !== s);
        expect(wrong).toEqual([]);
        expect(table.size).toBe(model.size);
      }
    }
    const mismatches = Array.from({ length: 3000 }, (_, i) => `k${i}`).filter(
      (k) => table.find(k) !== (model.get(k) ?? -1),
    );
    expect(mismatches).toEqual([]);
    const { lengths, bytes } = table.export(slots);
    const copy = new KeyTable(slots);
    copy.restore(lengths, bytes, slots);
    expect([...model].filter(([k, s]) => copy.find(k) !== s)).toEqual([]);
    expect(copy.size).toBe(model.size);
  });

  it("finds only well-formed keys byte for byte (no lookup by a lone surrogate or a prefix)", () => {
    const table = new KeyTable(16);
    table.insert("\ufffd", 0);
    table.insert("ab", 1);
    table.insert("\u{1F600}", 2);
    expect(table.find("\ud800")).toBe(-1);
    expect(table.find("\ufffd")).toBe(0);
    expect(table.find("a")).toBe(-1);
    expect(table.find("\u{1F600}")).toBe(2);
    expect(table.keyAt(2)).toBe("\u{1F600}");
    // A snapshot holding one key twice is refused, not loaded half-way.
    const twice = Buffer.from("abab");
    expect(() => new KeyTable(16).restore(new Uint16Array([2, 2]), twice, 2)).toThrow(RangeError);
  });
});

describe("ByteArena", () => {
  it("keeps each slot's txid across replacements, compaction and export/import", () => {
    const random = seededRandom(7);
    const arena = new ByteArena(100, 64);
    const model = new Map<number, string>();
    for (let step = 0; step < 5000; step++) {
      const slot = random(100);
      if (random(4) === 0) {
        arena.clear(slot);
        model.delete(slot);
      } else {
        const txid = `tx-${step}-${"é".repeat(random(5))}`;
        arena.set(slot, txid);
        model.set(slot, txid);
      }
    }
    for (let slot = 0; slot < 100; slot++) expect(arena.get(slot)).toBe(model.get(slot) ?? "");
    const { lengths, bytes } = arena.export(100);
    const copy = new ByteArena(100);
    copy.import(lengths, bytes);
    for (let slot = 0; slot < 100; slot++) expect(copy.get(slot)).toBe(model.get(slot) ?? "");
  });
});
