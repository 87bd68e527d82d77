/** The in-memory log: log matching (§5.3), conflict search, compaction (§7). */
import { describe, expect, it } from "vitest";
import { RaftLog } from "./raft-log.js";
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
