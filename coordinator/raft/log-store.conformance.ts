/**
 * The conformance suite every RaftStorage passes (log part), run against the in-memory twin
 * and the LevelDB store alike, the way classic-level runs abstract-level's suite.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Entry, EntryType } from "./core/types.js";
import type { RaftStorage } from "./storage.js";

/** Opens stores over one persistent location; open() again after close() is a restart. */
export interface StorageHarness {
  open(): Promise<RaftStorage>;
  cleanup(): Promise<void>;
}

export type StorageHarnessFactory = () => Promise<StorageHarness>;

export function entry(index: number, term: number, text = `e${index}`, type: EntryType = "normal"): Entry {
  return { index, term, type, data: new TextEncoder().encode(text) };
}

export function entryRange(lo: number, hi: number, term: number): Entry[] {
  return Array.from({ length: hi - lo }, (_, i) => entry(lo + i, term));
}

const invalidArgument = expect.objectContaining({ code: "INVALID_ARGUMENT" }) as Error;

export function describeLogStore(name: string, factory: StorageHarnessFactory): void {
  describe(`LogStore conformance: ${name}`, () => {
    let harness: StorageHarness;
    let store: RaftStorage;

    beforeEach(async () => {
      harness = await factory();
      store = await harness.open();
    });

    afterEach(async () => {
      await store.close();
      await harness.cleanup();
    });

    async function restart(): Promise<RaftStorage> {
      await store.close();
      store = await harness.open();
      return store;
    }

    it("starts empty: firstIndex 1, lastIndex 0", async () => {
      expect(store.firstIndex()).toBe(1);
      expect(store.lastIndex()).toBe(0);
      expect(await store.entries(1, 1)).toEqual([]);
    });

    it("appends and reads back ranges, bytes and types intact", async () => {
      const conf = entry(3, 1, '{"type":"addLearner"}', "confChange");
      const empty: Entry = { index: 4, term: 2, type: "normal", data: new Uint8Array() };
      await store.append([entry(1, 1), entry(2, 1), conf, empty]);
      expect(store.firstIndex()).toBe(1);
      expect(store.lastIndex()).toBe(4);
      expect(await store.entries(1, 5)).toEqual([entry(1, 1), entry(2, 1), conf, empty]);
      expect(await store.entries(2, 4)).toEqual([entry(2, 1), conf]);
    });

    it("keeps its own copy of appended bytes", async () => {
      const e = entry(1, 1, "abc");
      await store.append([e]);
      e.data[0] = 0x7a;
      const [read] = await store.entries(1, 2);
      expect(new TextDecoder().decode(read?.data)).toBe("abc");
    });

    it("replaces a conflicting suffix (§5.3)", async () => {
      await store.append(entryRange(1, 6, 1));
      await store.append([entry(3, 2, "x"), entry(4, 2, "y")]);
      expect(store.lastIndex()).toBe(4);
      expect(await store.entries(1, 5)).toEqual([
        entry(1, 1),
        entry(2, 1),
        entry(3, 2, "x"),
        entry(4, 2, "y"),
      ]);
    });

    it("refuses gaps, non-contiguous batches and out-of-range reads, changing nothing", async () => {
      await store.append(entryRange(1, 3, 1));
      await expect(store.append([entry(4, 1)])).rejects.toThrowError(invalidArgument);
      await expect(store.append([entry(3, 1), entry(5, 1)])).rejects.toThrowError(invalidArgument);
      await expect(store.append([{ ...entry(3, 1), term: -1 }])).rejects.toThrowError(invalidArgument);
      await expect(store.entries(0, 2)).rejects.toThrowError(invalidArgument);
      await expect(store.entries(1, 4)).rejects.toThrowError(invalidArgument);
      await expect(store.entries(2, 1)).rejects.toThrowError(invalidArgument);
      expect(store.lastIndex()).toBe(2);
      expect(await store.entries(1, 3)).toEqual(entryRange(1, 3, 1));
    });

    it("compacts a prefix; compacting past the end empties the log (§7)", async () => {
      await store.append(entryRange(1, 11, 1));
      await store.compact(4);
      expect(store.firstIndex()).toBe(5);
      expect(store.lastIndex()).toBe(10);
      expect(await store.entries(5, 11)).toEqual(entryRange(5, 11, 1));
      await expect(store.entries(4, 6)).rejects.toThrowError(invalidArgument);
      await store.compact(2);
      expect(store.firstIndex()).toBe(5);
      await store.compact(15);
      expect(store.firstIndex()).toBe(16);
      expect(store.lastIndex()).toBe(15);
      await store.append([entry(16, 3)]);
      expect(await store.entries(16, 17)).toEqual([entry(16, 3)]);
    });

    it("resets to restart after a snapshot index", async () => {
      await store.append(entryRange(1, 11, 1));
      await store.reset(7);
      expect(store.firstIndex()).toBe(8);
      expect(store.lastIndex()).toBe(7);
      await expect(store.append([entry(9, 2)])).rejects.toThrowError(invalidArgument);
      await store.append([entry(8, 2)]);
      expect(await store.entries(8, 9)).toEqual([entry(8, 2)]);
    });

    it("applies a combined update atomically: reset, entries, compact, hard state", async () => {
      await store.append(entryRange(1, 6, 1));
      const hardState = { term: 3, vote: "n2", commit: 22 };
      await store.save({ resetTo: 20, entries: entryRange(21, 31, 3), compactTo: 25, hardState });
      expect(store.firstIndex()).toBe(26);
      expect(store.lastIndex()).toBe(30);
      expect(store.hardState()).toEqual(hardState);
      const restarted = await restart();
      expect(restarted.firstIndex()).toBe(26);
      expect(restarted.lastIndex()).toBe(30);
      expect(await restarted.entries(26, 31)).toEqual(entryRange(26, 31, 3));
    });

    it("an invalid combined update changes nothing", async () => {
      await store.append(entryRange(1, 4, 1));
      await store.setHardState({ term: 2, vote: null, commit: 2 });
      await expect(
        store.save({ entries: [entry(4, 2)], hardState: { term: 1, vote: null, commit: 3 } }),
      ).rejects.toThrowError(invalidArgument);
      await expect(store.save({ entries: [entry(9, 2)], compactTo: 2 })).rejects.toThrowError(
        invalidArgument,
      );
      expect(store.lastIndex()).toBe(3);
      expect(store.firstIndex()).toBe(1);
      expect(store.hardState()).toEqual({ term: 2, vote: null, commit: 2 });
    });

    it("keeps everything a resolved write wrote across a restart", async () => {
      await store.append(entryRange(1, 101, 1));
      await store.append(entryRange(90, 120, 2));
      await store.compact(30);
      const restarted = await restart();
      expect(restarted.firstIndex()).toBe(31);
      expect(restarted.lastIndex()).toBe(119);
      const read = await restarted.entries(31, 120);
      expect(read).toEqual([...entryRange(31, 90, 1), ...entryRange(90, 120, 2)]);
    });

    it("concurrent saves take effect in call order, each against the log the previous one left", async () => {
      await Promise.all([
        store.save({ entries: entryRange(1, 4, 1), hardState: { term: 1, vote: null, commit: 0 } }),
        store.save({ peerAddresses: { b: "127.0.0.1:2" } }),
        store.save({ entries: entryRange(4, 6, 1), hardState: { term: 1, vote: null, commit: 3 } }),
      ]);
      expect([store.firstIndex(), store.lastIndex()]).toEqual([1, 5]);
      expect(store.peerAddresses()).toEqual({ b: "127.0.0.1:2" });
      expect(store.hardState().commit).toBe(3);
      store = await restart();
      expect((await store.entries(1, 6)).map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
      expect(store.peerAddresses()).toEqual({ b: "127.0.0.1:2" });
    });

    it("counts one sync per write", async () => {
      const before = store.syncCount();
      await store.save({ entries: entryRange(1, 50, 1), hardState: { term: 1, vote: "a", commit: 0 } });
      await store.append([entry(50, 1)]);
      expect(store.syncCount() - before).toBe(2);
    });
  });
}
