/**
 * Log compaction and InstallSnapshot (Ongaro & Ousterhout 2014, §7).
 */
import { describe, expect, it } from "vitest";
import { makeMessage } from "./messages.js";
import { createRawNode } from "./raft-node.js";
import {
  TestNetwork,
  defaultTestConfig,
  drainMessages,
  drainReadies,
  entriesWithTerms,
  newTestNode,
} from "./test-network.js";

function proposeMany(net: TestNetwork, leader: string, count: number, prefix = "v"): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    net.propose(leader, `${prefix}${i}`);
    out.push(`${prefix}${i}`);
  }
  return out;
}

describe("§7 log compaction", () => {
  it("§7: compact drops entries up to the snapshot index and keeps the rest", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    proposeMany(net, "a", 5);
    const meta = net.compact("b");
    expect(meta.index).toBe(6);
    const status = net.raw("b").status();
    expect(status).toMatchObject({ firstIndex: 7, lastIndex: 6, applied: 6 });
    net.propose("a", "after");
    expect(net.raw("b").status()).toMatchObject({ firstIndex: 7, lastIndex: 7 });
  });

  it("§7: compaction past the applied index, or with a wrong term or configuration, is refused", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 2, entryTerms: [1, 1, 2], commit: 3, applied: 2 });
    const confState = { voters: ["a", "b", "c"], learners: [] };
    expect(() => node.compact({ index: 3, term: 2, confState })).toThrow(/applied/);
    expect(() => node.compact({ index: 2, term: 2, confState })).toThrow(/term/);
    expect(() => node.compact({ index: 2, term: 1, confState: { voters: ["a"], learners: [] } })).toThrow(
      /confState/,
    );
    node.compact({ index: 2, term: 1, confState });
    expect(node.status().firstIndex).toBe(3);
  });

  it("§7: a node restarts from a snapshot plus the entries after it", () => {
    const config = { ...defaultTestConfig, id: "a", seed: 1 };
    const node = createRawNode(config, {
      hardState: { term: 3, vote: "a", commit: 12 },
      snapshot: { index: 10, term: 2, confState: { voters: ["a", "b", "c"], learners: [] } },
      entries: entriesWithTerms([3, 3], 11),
      initialConfState: { voters: [], learners: [] },
      applied: 10,
    });
    expect(node.status()).toMatchObject({ firstIndex: 11, lastIndex: 12, commit: 12, applied: 10, term: 3 });
    expect(node.status().confState.voters).toEqual(["a", "b", "c"]);
    const committed = drainReadies(node).flatMap((r) => r.committedEntries.map((e) => e.index));
    expect(committed).toEqual([11, 12]);
  });
});

describe("§7 InstallSnapshot", () => {
  it("§7: a follower behind the leader's first index receives a snapshot, restores it, then follows the log", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.isolate("c");
    const values = proposeMany(net, "a", 10);
    net.compact("a");
    net.heal();
    net.propose("a", "tail");
    const snapshots = net.sent.filter((m) => m.type === "snapshot");
    expect(snapshots.map((m) => [m.to, m.snapshot?.index])).toEqual([["c", 11]]);
    const c = net.get("c");
    expect(c.readies.filter((r) => r.snapshot !== null).map((r) => r.snapshot?.index)).toEqual([11]);
    expect(c.storage.applied).toEqual([...values, "tail"]);
    expect(net.raw("c").status()).toMatchObject({ commit: 12, applied: 12, firstIndex: 12 });
    expect(net.raw("a").status().progress["c"]).toMatchObject({ match: 12, state: "replicate" });
  });

  it("§7: the leader sends nothing else while a snapshot is in flight, and retries after a failure", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.isolate("c");
    proposeMany(net, "a", 3);
    net.compact("a");
    net.heal();
    net.dropType("snapshot"); // the stream fails: reportSnapshot(c, false)
    net.tickAll(1);
    expect(net.raw("a").status().progress["c"]?.state).toBe("probe");
    const sentToC = net.sent.filter((m) => m.to === "c" && m.type === "append").length;
    net.heal();
    net.tickAll(2);
    expect(net.sent.filter((m) => m.to === "c" && m.type === "snapshot").length).toBeGreaterThanOrEqual(2);
    expect(net.sent.filter((m) => m.to === "c" && m.type === "append").length).toBeGreaterThanOrEqual(
      sentToC,
    );
    expect(net.raw("c").status().applied).toBe(net.raw("a").status().applied);
  });

  it("§7: a follower ignores a snapshot that is not newer than its commit index", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 2, entryTerms: [1, 2, 2], commit: 3, applied: 3 });
    const confState = { voters: ["a", "b", "c"], learners: [] };
    node.step(
      makeMessage({
        type: "snapshot",
        from: "a",
        to: "b",
        term: 2,
        snapshot: { index: 2, term: 2, confState },
      }),
    );
    const [ready] = drainReadies(node);
    expect(ready?.snapshot).toBeNull();
    expect(ready?.messages[0]).toMatchObject({ type: "appendResp", index: 3 });
  });

  it("§7: a snapshot whose last entry the follower already holds only advances its commit (entries after it are kept)", () => {
    const node = newTestNode("b", ["a", "b", "c"], {
      term: 2,
      entryTerms: [1, 2, 2, 2],
      commit: 1,
      applied: 1,
    });
    const confState = { voters: ["a", "b", "c"], learners: [] };
    node.step(
      makeMessage({
        type: "snapshot",
        from: "a",
        to: "b",
        term: 2,
        snapshot: { index: 3, term: 2, confState },
      }),
    );
    const [ready] = drainReadies(node);
    expect(ready?.snapshot).toBeNull();
    expect(node.status()).toMatchObject({ commit: 3, lastIndex: 4 });
  });

  it("§7: a snapshot that conflicts with the follower's log replaces it entirely", () => {
    const node = newTestNode("b", ["a", "b", "c"], {
      term: 2,
      entryTerms: [1, 1, 1, 1, 1],
      commit: 1,
      applied: 1,
    });
    const confState = { voters: ["a", "b", "c"], learners: [] };
    node.step(
      makeMessage({
        type: "snapshot",
        from: "a",
        to: "b",
        term: 3,
        snapshot: { index: 3, term: 2, confState },
      }),
    );
    const [ready] = drainReadies(node);
    expect(ready?.snapshot?.index).toBe(3);
    expect(ready?.mustSync).toBe(true);
    expect(ready?.committedEntries).toEqual([]);
    expect(ready?.messages[0]).toMatchObject({ type: "appendResp", index: 3, reject: false });
    expect(node.status()).toMatchObject({ firstIndex: 4, lastIndex: 3, commit: 3, applied: 3 });
  });

  it("§7: a follower whose rejections lead back past the first index is sent the snapshot", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1, entryTerms: [1, 1, 1], commit: 3, applied: 3 });
    node.compact({ index: 3, term: 1, confState: { voters: ["a", "b", "c"], learners: [] } });
    node.campaign();
    node.step(makeMessage({ type: "voteResp", from: "b", to: "a", term: 2 }));
    drainMessages(node);
    // c rejects the first probe (its log is empty): the leader needs index 0..3, compacted.
    node.step(makeMessage({ type: "appendResp", from: "c", to: "a", term: 2, index: 3, reject: true }));
    const msgs = drainMessages(node);
    expect(msgs.filter((m) => m.type === "snapshot").map((m) => m.to)).toEqual(["c"]);
  });
});
