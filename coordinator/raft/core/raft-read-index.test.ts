/**
 * Linearizable reads by ReadIndex (dissertation §6.4) and leader leases (§6.4.1).
 */
import { describe, expect, it } from "vitest";
import { makeMessage } from "./messages.js";
import { createRawNode } from "./raft-node.js";
import {
  TestNetwork,
  bytes,
  defaultTestConfig,
  drainMessages,
  drainReadies,
  newTestNode,
  text,
} from "./test-network.js";

describe("dissertation §6.4 ReadIndex", () => {
  it("§6.4: the leader answers with its commit index after a quorum acknowledges a heartbeat carrying the context", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.propose("a", "x");
    net.raw("a").readIndex(bytes("r1"));
    net.process("a");
    const heartbeats = net.queue.filter((m) => m.type === "heartbeat");
    expect(heartbeats.map((m) => text(m.context))).toEqual(["r1", "r1"]);
    expect(net.get("a").readStates).toEqual([]);
    net.stabilize();
    expect(net.get("a").readStates.map((r) => [r.index, text(r.context)])).toEqual([[2, "r1"]]);
  });

  it("§6.4: a follower forwards the request and serves the index the leader confirms", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.propose("a", "x");
    net.raw("c").readIndex(bytes("from-c"));
    net.stabilize();
    expect(net.get("c").readStates.map((r) => [r.index, text(r.context)])).toEqual([[2, "from-c"]]);
    expect(net.get("a").readStates).toEqual([]);
  });

  it("§6.4 step 1: a leader that has not committed an entry of its term holds reads back until it does", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1, entryTerms: [1], commit: 1, applied: 1 });
    node.campaign();
    node.step(makeMessage({ type: "voteResp", from: "b", to: "a", term: 2 }));
    drainMessages(node);
    node.readIndex(bytes("early"));
    const msgs = drainMessages(node);
    expect(msgs.filter((m) => m.type === "heartbeat" && m.context.length > 0)).toEqual([]);
    // The no-op (index 2, term 2) commits; the read proceeds with a heartbeat round.
    node.step(makeMessage({ type: "appendResp", from: "b", to: "a", term: 2, index: 2 }));
    const after = drainMessages(node);
    const round = after.filter((m) => m.type === "heartbeat" && text(m.context) === "early");
    expect(round.map((m) => m.to).sort()).toEqual(["b", "c"]);
    node.step(makeMessage({ type: "heartbeatResp", from: "c", to: "a", term: 2, context: bytes("early") }));
    const states = drainReadies(node).flatMap((r) => [...r.readStates]);
    expect(states.map((r) => [r.index, text(r.context)])).toEqual([[2, "early"]]);
  });

  it("§6.4: a deposed leader cannot complete a read (no quorum of its term acknowledges)", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { preVote: true, checkQuorum: true } });
    net.elect("a");
    net.isolate("a");
    const newLeader = (): string | undefined =>
      ["b", "c"].find((id) => net.raw(id).status().role === "leader");
    for (let i = 0; i < 60 && newLeader() === undefined; i++) {
      net.tick("b");
      net.tick("c");
      net.stabilize();
    }
    net.propose(newLeader() ?? "none", "newer");
    net.raw("a").readIndex(bytes("stale"));
    net.stabilize();
    net.heal();
    net.stabilize();
    net.tickAll(5);
    expect(net.get("a").readStates).toEqual([]);
    expect(net.raw("a").status().role).toBe("follower");
  });

  it("§6.4: one heartbeat round confirms every read queued before it, in order", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.dropType("heartbeatResp");
    net.raw("a").readIndex(bytes("r1"));
    net.stabilize();
    net.heal();
    net.raw("a").readIndex(bytes("r2"));
    net.stabilize();
    expect(net.get("a").readStates.map((r) => text(r.context))).toEqual(["r1", "r2"]);
  });

  it("§6.4: a lost round is retried by the periodic heartbeat, which carries the newest pending context", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.dropType("heartbeatResp");
    net.raw("a").readIndex(bytes("r1"));
    net.stabilize();
    net.heal();
    net.tickAll(1);
    expect(net.get("a").readStates.map((r) => text(r.context))).toEqual(["r1"]);
  });

  it("§6.4: a single-voter leader answers at once", () => {
    const net = new TestNetwork({ voters: ["a"] });
    net.elect("a");
    net.raw("a").readIndex(bytes("solo"));
    net.stabilize();
    expect(net.get("a").readStates.map((r) => r.index)).toEqual([1]);
  });

  it("§6.4.1: with leaseRead (and check-quorum) the leader answers from its lease without a round", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { checkQuorum: true, leaseRead: true } });
    net.elect("a");
    net.tickAll(1); // one acknowledged heartbeat round starts the lease
    net.raw("a").readIndex(bytes("lease"));
    net.process("a");
    expect(net.get("a").readStates.map((r) => text(r.context))).toEqual(["lease"]);
    expect(net.queue.filter((m) => m.type === "heartbeat")).toEqual([]);
  });

  it("§6.4.1: once a quorum stops acknowledging for half an election timeout, reads fall back to a round", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { checkQuorum: true, leaseRead: true } });
    net.elect("a");
    net.tickAll(1);
    net.dropType("heartbeatResp");
    for (let i = 0; i < 5; i++) net.tickAll(1);
    net.raw("a").readIndex(bytes("expired"));
    net.stabilize();
    expect(net.get("a").readStates).toEqual([]);
    net.heal();
    net.tickAll(1);
    expect(net.get("a").readStates.map((r) => text(r.context))).toEqual(["expired"]);
  });

  it("§6.4.1: time on the lease clock alone ends the lease, and deposes no leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { checkQuorum: true, leaseRead: true } });
    net.elect("a");
    net.tickAll(1);
    // A stall of three election timeouts, its answers still unread: the lease is over...
    net.raw("a").advanceLeaseClock(3 * defaultTestConfig.electionTicks);
    net.raw("a").readIndex(bytes("after-stall"));
    net.process("a");
    expect(net.get("a").readStates).toEqual([]);
    expect(net.queue.some((m) => m.type === "heartbeat" && text(m.context) === "after-stall")).toBe(true);
    // ...but no check-quorum round ran meanwhile: still leader, and the round answers the read.
    expect(net.raw("a").status().role).toBe("leader");
    net.stabilize();
    expect(net.get("a").readStates.map((r) => text(r.context))).toEqual(["after-stall"]);
    // A follower's lease clock does not exist: the call changes nothing there.
    net.raw("b").advanceLeaseClock(1000);
    expect(net.raw("b").status().role).toBe("follower");
  });

  it("§6.4.1 + §3.10: after sending timeoutNow a leader no longer trusts its lease", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { checkQuorum: true, leaseRead: true } });
    net.elect("a");
    net.tickAll(1);
    net.dropType("timeoutNow");
    net.raw("a").transferLeader("b");
    net.stabilize();
    for (let i = 0; i < 12; i++) net.tickAll(1); // the transfer aborts; the term goes on
    expect(net.raw("a").status()).toMatchObject({ role: "leader", leadTransferee: null });
    net.raw("a").readIndex(bytes("after-transfer"));
    net.process("a");
    expect(net.queue.some((m) => m.type === "heartbeat" && text(m.context) === "after-transfer")).toBe(true);
  });

  it("§6.4.1: with leaseRead a restarted node ignores vote requests for an election timeout", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { checkQuorum: true, leaseRead: true } });
    net.elect("a");
    net.restart("b");
    const term = net.raw("b").status().term;
    net
      .raw("b")
      .step(makeMessage({ type: "vote", from: "c", to: "b", term: term + 1, index: 99, logTerm: 99 }));
    expect(net.raw("b").status().term).toBe(term);
    for (let i = 0; i < 10; i++) net.tick("b");
    net
      .raw("b")
      .step(makeMessage({ type: "vote", from: "c", to: "b", term: term + 1, index: 99, logTerm: 99 }));
    expect(net.raw("b").status().term).toBe(term + 1);
  });

  it("§6.4.1: leaseRead without check-quorum is refused as a configuration error", () => {
    const config = { ...defaultTestConfig, id: "a", seed: 1, leaseRead: true, checkQuorum: false };
    const restored = {
      hardState: { term: 0, vote: null, commit: 0 },
      snapshot: null,
      entries: [],
      initialConfState: { voters: ["a"], learners: [] },
      applied: 0,
    };
    expect(() => createRawNode(config, restored)).toThrow(/leaseRead requires/);
  });
});
