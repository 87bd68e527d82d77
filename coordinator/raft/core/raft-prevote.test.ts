/**
 * Pre-vote (dissertation §9.6), check-quorum (§6.2) and leader stickiness (§4.2.3).
 */
import { describe, expect, it } from "vitest";
import { makeMessage } from "./messages.js";
import { TestNetwork, drainMessages, newTestNode } from "./test-network.js";

const stable = { preVote: true, checkQuorum: true };

describe("dissertation §9.6 pre-vote", () => {
  it("§9.6: a pre-candidate asks for pre-votes at term+1 without changing its own term or vote", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 3, config: { preVote: true } });
    node.campaign();
    expect(node.status()).toMatchObject({ role: "preCandidate", term: 3 });
    const msgs = drainMessages(node);
    expect(msgs.filter((m) => m.type === "preVote").map((m) => m.term)).toEqual([4, 4]);
    node.step(makeMessage({ type: "preVoteResp", from: "b", to: "a", term: 4 }));
    // Won the pre-vote: a real election at term 4.
    expect(node.status()).toMatchObject({ role: "candidate", term: 4 });
  });

  it("§9.6: granting a pre-vote changes neither the voter's term nor its vote", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 3, vote: "c", config: { preVote: true } });
    node.step(makeMessage({ type: "preVote", from: "a", to: "b", term: 4 }));
    const ready = node.ready();
    expect(ready.hardState).toBeNull();
    expect(ready.messages[0]).toMatchObject({ type: "preVoteResp", term: 4, reject: false });
    expect(node.status().term).toBe(3);
  });

  it("§9.6: a partitioned node does not inflate its term, and rejoining does not disrupt the leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: stable });
    net.elect("a");
    const term = net.raw("a").status().term;
    net.isolate("c");
    net.tickAll(100);
    expect(net.raw("c").status().term).toBe(term);
    expect(net.raw("c").status().role).toBe("preCandidate");
    net.heal();
    net.tickAll(30);
    expect(net.raw("a").status()).toMatchObject({ role: "leader", term });
    expect(net.raw("c").status()).toMatchObject({ role: "follower", leader: "a" });
  });

  it("§9.6: without pre-vote, the same rejoining node does force a new election (the disruption pre-vote prevents)", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    const term = net.raw("a").status().term;
    net.isolate("c");
    net.tickAll(100);
    expect(net.raw("c").status().term).toBeGreaterThan(term + 2);
    net.heal();
    net.tickAll(30);
    expect(net.raw("a").status().term).toBeGreaterThan(term + 2);
  });

  it("§9.6 + §4.2.3: a node that recently heard from the leader ignores pre-votes, even at a higher term", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { preVote: true } });
    net.elect("a");
    const b = net.raw("b");
    b.step(makeMessage({ type: "preVote", from: "c", to: "b", term: 9, index: 99, logTerm: 9 }));
    net.process("b");
    expect(net.queue.filter((m) => m.from === "b" && m.type === "preVoteResp")).toEqual([]);
  });

  it("§9.6: pre-vote still elects a leader when the old one is gone", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: stable });
    net.elect("a");
    net.isolate("a");
    for (let i = 0; i < 60 && net.leaderId() === "a"; i++) net.tickAll();
    for (let i = 0; i < 60 && !["b", "c"].some((id) => net.raw(id).status().role === "leader"); i++)
      net.tickAll();
    expect(["b", "c"].some((id) => net.raw(id).status().role === "leader")).toBe(true);
  });
});

describe("check-quorum and leases", () => {
  it("§6.2 check-quorum: a leader that hears from no majority for an election timeout steps down", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { checkQuorum: true } });
    net.elect("a");
    net.cut("a", "b");
    net.cut("a", "c");
    for (let i = 0; i < 2 * 10 + 1; i++) net.tick("a");
    expect(net.raw("a").status().role).toBe("follower");
  });

  it("§6.2 check-quorum: a leader that hears from a majority stays leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { checkQuorum: true } });
    net.elect("a");
    net.isolate("c");
    for (let i = 0; i < 50; i++) {
      net.tick("a");
      net.tick("b");
      net.stabilize();
    }
    expect(net.raw("a").status().role).toBe("leader");
  });

  it("§4.2.3: with check-quorum, a follower in its lease ignores a vote request of a higher term", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { checkQuorum: true } });
    net.elect("a");
    const term = net.raw("b").status().term;
    net
      .raw("b")
      .step(makeMessage({ type: "vote", from: "c", to: "b", term: term + 1, index: 99, logTerm: 99 }));
    expect(net.raw("b").status()).toMatchObject({ term, leader: "a" });
  });

  it("§4.2.3: once the lease expired, the same vote request is granted", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 1, config: { checkQuorum: true } });
    node.step(makeMessage({ type: "heartbeat", from: "a", to: "b", term: 1 }));
    for (let i = 0; i < 10; i++) node.tick();
    drainMessages(node);
    node.step(makeMessage({ type: "vote", from: "c", to: "b", term: 5, index: 0, logTerm: 0 }));
    expect(drainMessages(node).find((m) => m.type === "voteResp")?.reject).toBe(false);
  });

  it("§6.2 + §9.6: a stale leader learns the higher term from a follower's answer and steps down", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: stable });
    net.elect("a");
    net.isolate("a");
    for (let i = 0; i < 60 && !["b", "c"].some((id) => net.raw(id).status().role === "leader"); i++) {
      net.tick("b");
      net.tick("c");
      net.stabilize();
    }
    net.heal();
    net.tickAll(3);
    expect(net.raw("a").status().role).toBe("follower");
    expect(net.leaderId()).not.toBe("a");
  });
});
