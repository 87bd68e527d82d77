/**
 * Membership changes one server at a time (dissertation §4.1–§4.2): learners (§4.2.1),
 * removing the leader (§4.2.2), disruptive removed servers (§4.2.3).
 */
import { describe, expect, it } from "vitest";
import { encodeConfChange } from "./conf-change.js";
import { makeMessage } from "./messages.js";
import { TestNetwork, bytes, drainMessages, newTestNode } from "./test-network.js";
import type { ConfChange } from "./types.js";

const stable = { preVote: true, checkQuorum: true };

function change(type: ConfChange["type"], nodeId: string): ConfChange {
  return { type, nodeId, context: `${nodeId}.addr:7000` };
}

function propose(net: TestNetwork, leader: string, c: ConfChange): ReturnType<TestNetwork["propose"]> {
  const result = net.raw(leader).proposeConfChange(c);
  net.stabilize();
  return result;
}

describe("dissertation §4.2.1 learners", () => {
  it("§4.2.1: a new server joins as a learner, catches up, and is not counted in quorums", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], extra: ["d"], config: stable, bootstrap: true });
    net.elect("a");
    net.propose("a", "before");
    expect(propose(net, "a", change("addLearner", "d"))).toEqual({ ok: true });
    net.tickAll(2);
    expect(net.raw("a").status().confState).toEqual({ voters: ["a", "b", "c"], learners: ["d"] });
    expect(net.raw("d").status().role).toBe("learner");
    expect(net.get("d").storage.applied).toEqual(["before"]);
    expect(net.raw("a").status().progress["d"]).toMatchObject({
      isLearner: true,
      match: net.raw("a").status().lastIndex,
    });
    // With b and c cut off, a and the learner d are not a quorum: nothing commits.
    net.isolate("b");
    net.isolate("c");
    const commit = net.raw("a").status().commit;
    net.propose("a", "needs-quorum");
    expect(net.raw("a").status().commit).toBe(commit);
    expect(net.raw("d").status().lastIndex).toBe(commit + 1);
  });

  it("§4.2.1: a learner never campaigns", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], learners: ["d"], config: stable });
    net.elect("a");
    net.isolate("a");
    for (let i = 0; i < 100; i++) {
      net.tick("d");
      net.stabilize();
    }
    expect(net.sent.filter((m) => m.from === "d" && (m.type === "preVote" || m.type === "vote"))).toEqual([]);
  });

  it("§4.2.1: a promoted learner becomes a voter and counts in the quorum", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], extra: ["d"], config: stable, bootstrap: true });
    net.elect("a");
    propose(net, "a", change("addLearner", "d"));
    net.tickAll(1);
    expect(propose(net, "a", change("promote", "d"))).toEqual({ ok: true });
    expect(net.raw("a").status().confState).toEqual({ voters: ["a", "b", "c", "d"], learners: [] });
    expect(net.raw("d").status().role).toBe("follower");
    // Four voters: a quorum is three; a, b and d commit without c.
    net.isolate("c");
    net.propose("a", "x");
    expect(net.get("d").storage.applied).toEqual(["x"]);
  });

  it("§4.2.1 + §7: a learner that joins after compaction is brought up by a snapshot", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], extra: ["d"], config: stable, bootstrap: true });
    net.elect("a");
    for (let i = 0; i < 5; i++) net.propose("a", `v${i}`);
    net.isolate("d");
    propose(net, "a", change("addLearner", "d"));
    net.compact("a");
    net.heal();
    net.tickAll(3);
    expect(net.sent.some((m) => m.type === "snapshot" && m.to === "d")).toBe(true);
    expect(net.get("d").storage.applied).toEqual(["v0", "v1", "v2", "v3", "v4"]);
    expect(net.raw("d").status()).toMatchObject({ role: "learner", applied: net.raw("a").status().applied });
  });

  it("§4.2.1: replacing a server: add a learner, promote it, remove the old one", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], extra: ["d"], config: stable, bootstrap: true });
    net.elect("a");
    propose(net, "a", change("addLearner", "d"));
    net.tickAll(1);
    propose(net, "a", change("promote", "d"));
    propose(net, "a", change("remove", "c"));
    expect(net.raw("a").status().confState).toEqual({ voters: ["a", "b", "d"], learners: [] });
    net.isolate("c");
    net.propose("a", "after");
    expect(net.get("d").storage.applied).toEqual(["after"]);
  });
});

describe("dissertation §4.1 one change at a time", () => {
  it("§4.1: a second change is refused while the first is not applied", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], extra: ["d", "e"], bootstrap: true });
    net.elect("a");
    net.isolate("b");
    net.isolate("c");
    expect(net.raw("a").proposeConfChange(change("addLearner", "d"))).toEqual({ ok: true });
    expect(net.raw("a").proposeConfChange(change("addLearner", "e"))).toEqual({
      ok: false,
      reason: "confChangePending",
    });
    net.heal();
    net.stabilize();
    expect(net.raw("a").proposeConfChange(change("addLearner", "e"))).toEqual({ ok: true });
  });

  it("§4.1 (Ongaro 2015 fix): a leader accepts no change before it has committed an entry of its term", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1, entryTerms: [1], commit: 1, applied: 1 });
    node.campaign();
    node.step(makeMessage({ type: "voteResp", from: "b", to: "a", term: 2 }));
    drainMessages(node);
    expect(node.proposeConfChange(change("addLearner", "d"))).toEqual({
      ok: false,
      reason: "confChangePending",
    });
    node.step(makeMessage({ type: "appendResp", from: "b", to: "a", term: 2, index: 2 }));
    drainMessages(node);
    expect(node.proposeConfChange(change("addLearner", "d"))).toEqual({ ok: true });
  });

  it("§4.1: changes that do not fit the configuration are refused", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], learners: ["l"] });
    net.elect("a");
    const leader = net.raw("a");
    expect(leader.proposeConfChange(change("addLearner", "b"))).toEqual({
      ok: false,
      reason: "invalidConfChange",
    });
    expect(leader.proposeConfChange(change("promote", "b"))).toEqual({
      ok: false,
      reason: "invalidConfChange",
    });
    expect(leader.proposeConfChange(change("remove", "zz"))).toEqual({
      ok: false,
      reason: "invalidConfChange",
    });
    expect(leader.proposeConfChange(change("remove", "l"))).toEqual({ ok: true });
  });

  it("§4.1: a forwarded conf change that does not decode is dropped by the leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    const lastIndex = net.raw("a").status().lastIndex;
    const entries = [{ term: 0, index: 0, type: "confChange" as const, data: bytes("not json") }];
    net.raw("a").step(makeMessage({ type: "propose", from: "b", to: "a", entries }));
    net.stabilize();
    expect(net.raw("a").status().lastIndex).toBe(lastIndex);
  });

  it("§4.1: a follower forwards a change to the leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], extra: ["d"], bootstrap: true });
    net.elect("a");
    expect(propose(net, "b", change("addLearner", "d"))).toEqual({ ok: true });
    expect(net.raw("a").status().confState.learners).toEqual(["d"]);
  });

  it("§4.1: the configuration is rebuilt on restart from the snapshot and the applied conf changes", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], extra: ["d"], bootstrap: true });
    net.elect("a");
    propose(net, "a", change("addLearner", "d"));
    net.restart("b");
    expect(net.raw("b").status().confState).toEqual({ voters: ["a", "b", "c"], learners: ["d"] });
    net.compact("c");
    net.restart("c");
    expect(net.raw("c").status().confState).toEqual({ voters: ["a", "b", "c"], learners: ["d"] });
  });

  it("§4.1: a node does not campaign while a committed conf change is unapplied", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 1 });
    const entries = [
      { term: 1, index: 1, type: "confChange" as const, data: encodeConfChange(change("addLearner", "d")) },
    ];
    node.step(makeMessage({ type: "append", from: "a", to: "b", term: 1, entries, commit: 1 }));
    // The first Ready persists the change; it is handed out for applying only once stored
    // here (raft-log.ts applicableTo), i.e. in the next Ready.
    const persisting = node.ready();
    expect(persisting.committedEntries).toEqual([]);
    node.advance(persisting);
    node.campaign();
    expect(node.status().role).toBe("follower");
    const applying = node.ready(); // the conf change is being applied, not yet advanced
    expect(applying.committedEntries.map((e) => e.index)).toEqual([1]);
    node.campaign();
    expect(node.status().role).toBe("follower");
    node.advance(applying);
    node.campaign();
    expect(node.status().role).toBe("candidate");
  });
});

describe("dissertation §4.2.2–§4.2.3 removing servers", () => {
  it("§4.2.2: a leader that removes itself steps down once the change is committed, and the others go on", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: stable });
    net.elect("a");
    expect(propose(net, "a", change("remove", "a"))).toEqual({ ok: true });
    expect(net.raw("a").status().role).toBe("follower");
    expect(net.raw("a").status().confState.voters).toEqual(["b", "c"]);
    for (let i = 0; i < 50 && net.leaderId() === null; i++) net.tickAll();
    const leader = net.leaderId();
    expect(["b", "c"]).toContain(leader);
    net.propose(leader ?? "", "after-removal");
    expect(net.get(leader === "b" ? "c" : "b").storage.applied).toEqual(["after-removal"]);
    // The removed node never campaigns again.
    const sentBefore = net.sent.length;
    for (let i = 0; i < 50; i++) net.tickAll();
    const campaigns = net.sent
      .slice(sentBefore)
      .filter((m) => m.from === "a" && (m.type === "vote" || m.type === "preVote"));
    expect(campaigns).toEqual([]);
  });

  it("§4.2.3: a removed server that never learned of its removal cannot depose the leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: stable });
    net.elect("a");
    net.isolate("c");
    propose(net, "a", change("remove", "c"));
    expect(net.raw("a").status().confState.voters).toEqual(["a", "b"]);
    const term = net.raw("a").status().term;
    net.heal();
    for (let i = 0; i < 200; i++) net.tickAll();
    expect(net.raw("a").status()).toMatchObject({ role: "leader", term });
    expect(net.raw("b").status().term).toBe(term);
    expect(net.sent.some((m) => m.from === "c" && m.type === "preVote")).toBe(true);
    net.propose("a", "still-leader");
    expect(net.get("b").storage.applied).toEqual(["still-leader"]);
  });

  it("§4.2.3: removing a follower shrinks the quorum: two voters need both", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    propose(net, "a", change("remove", "c"));
    net.isolate("b");
    const commit = net.raw("a").status().commit;
    net.propose("a", "x");
    expect(net.raw("a").status().commit).toBe(commit);
    net.heal();
    net.tickAll(1);
    expect(net.raw("a").status().commit).toBe(commit + 1);
    expect(net.raw("a").propose(bytes("y")).ok).toBe(true);
  });
});
