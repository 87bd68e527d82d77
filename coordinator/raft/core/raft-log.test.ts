/** The in-memory log: log matching (§5.3), conflict search, compaction (§7). */
import { describe, expect, it } from "vitest";
import { ENTRY_BLOCK_BYTES, RaftLog } from "./raft-log.js";
import { entriesWithTerms } from "./test-network.js";

const conf = { voters: ["a"], learners: [] };

describe("RaftLog", () => {
  it("§5.3: maybeAppend accepts entries after a matching prev, truncates a conflicting suffix, and bounds commit", () => {
    const log = new RaftLog(null, entriesWithTerms([1, 1, 2, 2]), 0, 0);
    expect(log.maybeAppend(2, 2, 9, [])).toBeNull(); // prev term mismatch
    expect(log.maybeAppend(5, 2, 9, [])).toBeNull(); // prev past the end
    expect(log.maybeAppend(2, 1, 9, entriesWithTerms([3], 3))).toBe(3);
    expect([log.lastIndex(), log.term(3), log.committed]).toEqual([3, 3, 3]);
    expect(log.stabled).toBe(2);
  });

  it("§5.3: entries already present are not rewritten (a duplicate append changes nothing)", () => {
    const log = new RaftLog(null, entriesWithTerms([1, 1, 2]), 0, 0);
    expect(log.maybeAppend(0, 0, 0, entriesWithTerms([1, 1]))).toBe(2);
    expect(log.lastIndex()).toBe(3);
    expect(log.stabled).toBe(3);
  });

  it("keeps a copy of each entry's data, packed in blocks, not the buffer it was a view of", () => {
    const log = new RaftLog(null, [], 0, 0);
    const received = Buffer.alloc(64 * 1024, 7); // e.g. one message carrying many entries
    const small = (i: number) => received.subarray(i * 300, i * 300 + 300);
    const large = Buffer.alloc(ENTRY_BLOCK_BYTES / 8 + 1, 9);
    const count = Math.ceil(ENTRY_BLOCK_BYTES / 300) + 10; // fills one block, starts another
    const entries = Array.from({ length: count }, (_, i) => ({
      term: 1,
      index: i + 1,
      type: "normal" as const,
      data: i === 5 ? large : i === 6 ? new Uint8Array(0) : small(i % 200),
    }));
    log.append(entries);
    const kept = log.slice(1, count + 1);
    expect(
      kept.map((e) => Buffer.from(e.data).equals(Buffer.from(entries[e.index - 1]?.data ?? []))),
    ).not.toContain(false);
    received.fill(0); // the source changing later changes nothing kept
    expect(kept[0]?.data.every((b) => b === 7)).toBe(true);
    expect(kept[6]?.data.byteLength).toBe(0);
    const buffers = new Set(kept.map((e) => e.data.buffer));
    expect(buffers.has(received.buffer)).toBe(false);
    expect(kept[5]?.data.buffer.byteLength).toBe(large.length); // an exact buffer of its own
    const blocks = [...buffers].filter((b) => b.byteLength === ENTRY_BLOCK_BYTES);
    expect(blocks.length).toBe(2);
    expect(kept[1]?.data.buffer).toBe(kept[0]?.data.buffer);
  });

  it("a committed entry is never overwritten (assertion)", () => {
    const log = new RaftLog(null, entriesWithTerms([1, 1, 2]), 3, 0);
    expect(() => log.append(entriesWithTerms([3], 2))).toThrow(/committed/);
  });

  it("§5.3 fast backtracking: findConflictByTerm returns the last index whose term is ≤ the given term", () => {
    const log = new RaftLog(null, entriesWithTerms([1, 1, 2, 2, 5, 5]), 0, 0);
    expect(log.findConflictByTerm(6, 4)).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(6, 5)).toEqual({ index: 6, term: 5 });
    expect(log.findConflictByTerm(3, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(6, 0)).toEqual({ index: 0, term: 0 });
  });

  it("§5.4.1: isUpToDate compares last term, then length", () => {
    const log = new RaftLog(null, entriesWithTerms([1, 2, 2]), 0, 0);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it("slice honours the byte budget but always returns one entry", () => {
    const log = new RaftLog(null, entriesWithTerms([1, 1, 1, 1]), 0, 0); // 2 bytes each ("eN")
    expect(log.slice(1, 5, 4).map((e) => e.index)).toEqual([1, 2]);
    expect(log.slice(1, 5, 1).map((e) => e.index)).toEqual([1]);
    expect(log.slice(3, 99).map((e) => e.index)).toEqual([3, 4]);
  });

  it("§7: compaction keeps the term of the snapshot index and refuses to go past applied", () => {
    const log = new RaftLog(null, entriesWithTerms([1, 1, 2, 2]), 4, 3);
    expect(() => log.compact({ index: 4, term: 2, confState: conf })).toThrow(/applied/);
    expect(log.compact({ index: 3, term: 2, confState: conf })).toBe(true);
    expect([log.firstIndex(), log.lastIndex(), log.term(3), log.term(2)]).toEqual([4, 4, 2, undefined]);
    expect(log.compact({ index: 2, term: 1, confState: conf })).toBe(false);
    expect(() => log.slice(2, 4)).toThrow(/compacted/);
  });

  it("§7: restore replaces the log with the snapshot", () => {
    const log = new RaftLog(null, entriesWithTerms([1, 1, 1]), 1, 1);
    log.restore({ index: 10, term: 4, confState: conf });
    expect([log.firstIndex(), log.lastIndex(), log.lastTerm(), log.committed, log.stabled]).toEqual([
      11, 10, 4, 10, 10,
    ]);
    expect(log.unstableSnapshot?.index).toBe(10);
  });

  it("restoring a log that is not contiguous, or a commit past its end, is refused", () => {
    expect(() => new RaftLog(null, entriesWithTerms([1], 2), 0, 0)).toThrow(/contiguous/);
    expect(() => new RaftLog(null, entriesWithTerms([1]), 5, 0)).toThrow(/past the last index/);
  });

  it("committed entries are handed out once", () => {
    const log = new RaftLog(null, entriesWithTerms([1, 1, 1]), 2, 0);
    expect(log.takeNextCommitted().map((e) => e.index)).toEqual([1, 2]);
    expect(log.takeNextCommitted()).toEqual([]);
    log.commitTo(3);
    expect(log.takeNextCommitted().map((e) => e.index)).toEqual([3]);
  });
});
