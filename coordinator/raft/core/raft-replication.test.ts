/**
 * Log replication and commitment (Ongaro & Ousterhout 2014, §5.3, §5.4.2 and Figures 7–8),
 * proposal forwarding, in the style of etcd's raft_paper_test.go.
 */
import { describe, expect, it } from "vitest";
import { makeMessage } from "./messages.js";
import { TestNetwork, bytes, drainMessages, drainReadies, newTestNode, text } from "./test-network.js";
import type { Message, RawNode } from "./types.js";

/** Makes `node` (a voter of a,b,c) leader by hand: campaign, then a granted vote from b. */
function makeLeader(node: RawNode): void {
  node.campaign();
  const term = node.status().term;
  node.step(makeMessage({ type: "voteResp", from: "b", to: node.status().id, term }));
  expect(node.status().role).toBe("leader");
}

function appendsTo(msgs: readonly Message[], to: string): Message[] {
  return msgs.filter((m) => m.type === "append" && m.to === to);
}

describe("§5.3 log replication", () => {
  it("§5.3: the leader replicates a proposal, commits it once a majority stores it, and every node applies it", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    expect(net.propose("a", "x")).toEqual({ ok: true });
    for (const id of ["a", "b", "c"]) {
      expect(net.get(id).storage.applied).toEqual(["x"]);
      expect(net.raw(id).status().commit).toBe(2); // the leader's no-op, then x
    }
  });

  it("§5.3: an append carries the previous index and term of its entries and the leader's commit", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1, entryTerms: [1, 1], commit: 2, applied: 2 });
    makeLeader(node);
    const first = appendsTo(drainMessages(node), "b")[0];
    expect(first).toMatchObject({ index: 2, logTerm: 1, commit: 2 });
    expect(first?.entries.map((e) => [e.index, e.term])).toEqual([[3, 2]]);
  });

  it("§5.3: the leader commits once a majority acknowledges, and tells followers through the commit field", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1 });
    makeLeader(node);
    drainMessages(node);
    node.propose(bytes("x"));
    drainMessages(node);
    expect(node.status().commit).toBe(0);
    node.step(makeMessage({ type: "appendResp", from: "b", to: "a", term: 2, index: 2 }));
    const readies = drainReadies(node);
    expect(node.status().commit).toBe(2);
    expect(readies.flatMap((r) => r.committedEntries).map((e) => e.index)).toEqual([1, 2]);
    // b is replicating (c never answered its probe, so c waits for a heartbeat round).
    const toB = appendsTo(
      readies.flatMap((r) => [...r.messages]),
      "b",
    );
    expect(toB.at(-1)?.commit).toBe(2);
  });

  it("§5.3: a follower rejects an append whose previous entry does not match, with a backtracking hint", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 3, entryTerms: [1, 1, 2, 2, 2] });
    node.step(makeMessage({ type: "append", from: "a", to: "b", term: 3, index: 7, logTerm: 3 }));
    node.step(makeMessage({ type: "append", from: "a", to: "b", term: 3, index: 5, logTerm: 3 }));
    const resps = drainMessages(node).filter((m) => m.type === "appendResp");
    // Past the end: hint at the last entry. Term mismatch: skip the whole term-2 run... but
    // only down to the last entry whose term ≤ the leader's prev term (3), i.e. index 5.
    expect(resps.map((m) => [m.reject, m.index, m.rejectHint, m.rejectTermHint])).toEqual([
      [true, 7, 5, 2],
      [true, 5, 5, 2],
    ]);
  });

  it("§5.3: a follower deletes a conflicting suffix and appends the leader's entries", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 2, entryTerms: [1, 2, 2] });
    const entries = [
      { term: 3, index: 2, type: "normal" as const, data: bytes("n2") },
      { term: 3, index: 3, type: "normal" as const, data: bytes("n3") },
    ];
    node.step(makeMessage({ type: "append", from: "a", to: "b", term: 3, index: 1, logTerm: 1, entries }));
    const [ready] = drainReadies(node);
    expect(ready?.entries.map((e) => [e.index, e.term])).toEqual([
      [2, 3],
      [3, 3],
    ]);
    expect(ready?.mustSync).toBe(true);
    expect(node.status().lastIndex).toBe(3);
  });

  it("§5.3 Figure 7: the leader brings each follower's log (a)–(f) in line with its own", () => {
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<string, number[]> = {
      a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      b: [1, 1, 1, 4],
      c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      e: [1, 1, 1, 4, 4, 4, 4],
      f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    for (const [name, followerLog] of Object.entries(followers)) {
      const net = new TestNetwork({ voters: ["L", "F", "X"] });
      net.load("L", { term: 7, entryTerms: leaderLog, commit: 3 });
      net.load("F", { term: 7, entryTerms: followerLog });
      net.load("X", { term: 7, entryTerms: [] }); // votes for L; F may hold a newer log
      net.elect("L");
      net.stabilize();
      expect(net.logTerms("F"), `follower (${name})`).toEqual([...leaderLog, 8]);
      expect(net.raw("F").status().commit, `follower (${name})`).toBe(11);
    }
  });

  it("§5.3: fast backtracking repairs a long conflicting run in few round trips", () => {
    const net = new TestNetwork({ voters: ["L", "F", "X"] });
    net.load("L", { term: 5, entryTerms: [1, ...Array<number>(50).fill(4)] });
    net.load("F", { term: 5, entryTerms: [1, ...Array<number>(50).fill(3)] });
    net.load("X", { term: 5, entryTerms: [] });
    net.elect("L");
    const rejects = net.sent.filter((m) => m.type === "appendResp" && m.from === "F" && m.reject);
    expect(rejects.length).toBeLessThanOrEqual(2);
    expect(net.logTerms("F")).toEqual([1, ...Array<number>(50).fill(4), 6]);
  });
});

describe("§5.4.2 committing entries from previous terms", () => {
  it("§5.4.2: a leader does not commit an entry of an earlier term by counting replicas, only through one of its own", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 2, entryTerms: [1, 2], commit: 1, applied: 1 });
    makeLeader(node); // term 3, no-op at index 3
    drainMessages(node);
    node.step(makeMessage({ type: "appendResp", from: "b", to: "a", term: 3, index: 2 }));
    drainMessages(node);
    expect(node.status().commit).toBe(1); // index 2 is on a majority but of term 2
    node.step(makeMessage({ type: "appendResp", from: "b", to: "a", term: 3, index: 3 }));
    drainMessages(node);
    expect(node.status().commit).toBe(3);
  });

  it("§5.4.2 Figure 8: an old-term entry stored on a majority but not committed may be overwritten, and is never applied", () => {
    const ids = ["s1", "s2", "s3", "s4", "s5"];
    const net = new TestNetwork({ voters: ids, config: { maxMsgBytes: 1 } });
    net.elect("s1");
    // (a) s1 replicates x to s2 only.
    for (const id of ["s3", "s4", "s5"]) net.cut("s1", id);
    net.propose("s1", "xx");
    // (b) s1 crashes; s5 wins with s3, s4 and appends its no-op nowhere else.
    net.heal();
    net.isolate("s1");
    net.dropIf = (m) => m.from === "s5" && m.type === "append";
    net.elect("s5");
    // (c) s5 crashes; s1 comes back, wins a later term and replicates x to s3, but its own
    // no-op reaches only s2: x is on a majority {s1, s2, s3} yet must not commit.
    net.heal();
    net.restart("s1");
    net.isolate("s5");
    net.isolate("s4");
    let noopAppendsToS3 = 0;
    net.dropIf = (m) =>
      m.from === "s1" &&
      m.to === "s3" &&
      m.type === "append" &&
      m.entries.some((e) => e.term >= 3) &&
      noopAppendsToS3++ > 0;
    for (let i = 0; i < 3 && net.raw("s1").status().role !== "leader"; i++) net.campaign("s1");
    expect(net.raw("s1").status().role).toBe("leader");
    expect(net.get("s3").storage.entries.map((e) => text(e.data))).toContain("xx");
    expect(net.raw("s1").status().commit).toBe(1);
    // (d) s1 crashes again; s5 (last term 2) wins with s3 and s4 and overwrites x.
    net.heal();
    net.isolate("s1");
    net.restart("s5");
    for (let i = 0; i < 3 && net.raw("s5").status().role !== "leader"; i++) net.campaign("s5");
    expect(net.raw("s5").status().role).toBe("leader");
    net.propose("s5", "y");
    for (const id of ids) expect(net.get(id).storage.applied).not.toContain("xx");
    for (const id of ["s2", "s3", "s4"]) expect(net.get(id).storage.applied).toEqual(["y"]);
  });

  it("§5.4.2 / §8: a new leader appends a no-op of its term at once and commits it", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    const entry = net.get("b").storage.entries[0];
    expect(entry).toMatchObject({ index: 1, term: 1, type: "normal" });
    expect(entry?.data.length).toBe(0);
    expect(net.raw("b").status().commit).toBe(1);
  });
});

describe("proposal forwarding", () => {
  it("a follower forwards a proposal to the leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    expect(net.propose("c", "from-c")).toEqual({ ok: true });
    for (const id of ["a", "b", "c"]) expect(net.get(id).storage.applied).toEqual(["from-c"]);
  });

  it("a proposal with no known leader is refused with noLeader", () => {
    const node = newTestNode("a", ["a", "b", "c"]);
    expect(node.propose(bytes("x"))).toEqual({ ok: false, reason: "noLeader" });
    node.campaign();
    expect(node.propose(bytes("x"))).toEqual({ ok: false, reason: "noLeader" });
  });

  it("a proposal over the entry size limit is refused with tooLarge", () => {
    const net = new TestNetwork({ voters: ["a"] });
    net.elect("a");
    expect(net.raw("a").propose(new Uint8Array(1024 * 1024 + 1))).toEqual({ ok: false, reason: "tooLarge" });
  });
});
