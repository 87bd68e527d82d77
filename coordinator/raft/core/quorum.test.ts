/** Majority arithmetic (§5.2 votes, §5.3 commit). */
import { describe, expect, it } from "vitest";
import { isQuorum, majorityIndex, quorumSize, voteOutcome } from "./quorum.js";

describe("quorum", () => {
  it("a majority of n voters is ⌊n/2⌋+1", () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
  });

  it("§5.3: the commit candidate is the highest index a majority holds", () => {
    const match: Record<string, number> = { a: 9, b: 4, c: 7, d: 1, e: 7 };
    expect(majorityIndex(["a", "b", "c", "d", "e"], (id) => match[id] ?? 0)).toBe(7);
    expect(majorityIndex(["a", "b", "c", "d"], (id) => match[id] ?? 0)).toBe(4);
    expect(majorityIndex([], () => 5)).toBe(0);
  });

  it("§5.2: an election is won on a majority of grants and lost once a majority is out of reach", () => {
    const voters = ["a", "b", "c", "d", "e"];
    expect(
      voteOutcome(
        voters,
        new Map([
          ["a", true],
          ["b", true],
        ]),
      ),
    ).toBe("pending");
    expect(
      voteOutcome(
        voters,
        new Map([
          ["a", true],
          ["b", true],
          ["c", true],
        ]),
      ),
    ).toBe("won");
    expect(
      voteOutcome(
        voters,
        new Map([
          ["a", true],
          ["b", false],
          ["c", false],
          ["d", false],
        ]),
      ),
    ).toBe("lost");
    // Votes from non-voters do not count.
    expect(
      voteOutcome(
        ["a", "b", "c"],
        new Map([
          ["a", true],
          ["x", true],
          ["y", true],
        ]),
      ),
    ).toBe("pending");
  });

  it("check-quorum counts only voters", () => {
    expect(isQuorum(["a", "b", "c"], (id) => id !== "c")).toBe(true);
    expect(isQuorum(["a", "b", "c"], (id) => id === "a")).toBe(false);
  });
});
