/**
 * Flow control of replication (§5.3 as engineered in etcd-io/raft): batching by bytes,
 * pipelining bounded by an inflight window, probing after rejections, and a bound on
 * uncommitted bytes.
 */
import { describe, expect, it } from "vitest";
import { makeMessage } from "./messages.js";
import { TestNetwork, bytes, drainMessages, newTestNode } from "./test-network.js";
import type { Config, Message, RawNode } from "./types.js";

function leaderNode(config: Partial<Omit<Config, "id">>): RawNode {
  const node = newTestNode("a", ["a", "b", "c"], { term: 1, config });
  node.campaign();
  node.step(makeMessage({ type: "voteResp", from: "b", to: "a", term: 2 }));
  drainMessages(node);
  // b and c acknowledge the no-op: both move to the replicate state.
  node.step(makeMessage({ type: "appendResp", from: "b", to: "a", term: 2, index: 1 }));
  node.step(makeMessage({ type: "appendResp", from: "c", to: "a", term: 2, index: 1 }));
  drainMessages(node);
  return node;
}

function appendsTo(msgs: readonly Message[], to: string): Message[] {
  return msgs.filter((m) => m.type === "append" && m.to === to);
}

describe("flow control", () => {
  it("batching: proposals made between two Readys leave as one append per follower", () => {
    const node = leaderNode({});
    for (let i = 0; i < 50; i++) node.propose(bytes(`p${i}`));
    const toB = appendsTo(drainMessages(node), "b");
    expect(toB).toHaveLength(1);
    expect(toB[0]?.entries).toHaveLength(50);
  });

  it("batching: an append carries at most maxMsgBytes of entries (but always at least one)", () => {
    const node = leaderNode({ maxMsgBytes: 100 });
    for (let i = 0; i < 10; i++) node.propose(new Uint8Array(40));
    node.propose(new Uint8Array(500));
    const toB = appendsTo(drainMessages(node), "b");
    expect(toB.map((m) => m.entries.length)).toEqual([2, 2, 2, 2, 2, 1]);
  });

  it("pipelining: in replicate state the leader sends ahead without waiting, up to maxInflightMsgs", () => {
    const node = leaderNode({ maxMsgBytes: 1, maxInflightMsgs: 3 });
    for (let i = 0; i < 10; i++) node.propose(bytes("x"));
    const toB = appendsTo(drainMessages(node), "b");
    expect(toB.map((m) => m.index)).toEqual([1, 2, 3]);
    // An acknowledgement of the first frees one slot.
    node.step(makeMessage({ type: "appendResp", from: "b", to: "a", term: 2, index: 2 }));
    expect(appendsTo(drainMessages(node), "b").map((m) => m.index)).toEqual([4]);
  });

  it("probe: after a rejection the leader sends one append at a time until the follower answers", () => {
    const node = leaderNode({ maxMsgBytes: 1 });
    for (let i = 0; i < 5; i++) node.propose(bytes("x"));
    drainMessages(node);
    node.step(
      makeMessage({
        type: "appendResp",
        from: "b",
        to: "a",
        term: 2,
        index: 3,
        reject: true,
        rejectHint: 1,
        rejectTermHint: 2,
      }),
    );
    const probe = appendsTo(drainMessages(node), "b");
    expect(probe).toHaveLength(1);
    expect(probe[0]?.index).toBe(1);
    node.propose(bytes("y"));
    expect(appendsTo(drainMessages(node), "b")).toEqual([]);
    expect(node.status().progress["b"]?.state).toBe("probe");
  });

  it("flow control: proposals beyond maxUncommittedBytes are dropped until entries commit", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { maxUncommittedBytes: 100 } });
    net.elect("a");
    net.isolate("b");
    net.isolate("c");
    const leader = net.raw("a");
    expect(leader.propose(new Uint8Array(60))).toEqual({ ok: true });
    expect(leader.propose(new Uint8Array(30))).toEqual({ ok: true });
    expect(leader.propose(new Uint8Array(30))).toEqual({ ok: false, reason: "dropped" });
    net.heal();
    net.stabilize();
    net.tickAll(1);
    expect(leader.propose(new Uint8Array(30))).toEqual({ ok: true });
  });

  it("flow control: one entry larger than the bound is admitted when nothing is uncommitted", () => {
    const net = new TestNetwork({ voters: ["a"], config: { maxUncommittedBytes: 10 } });
    net.elect("a");
    expect(net.raw("a").propose(new Uint8Array(50))).toEqual({ ok: true });
    expect(net.raw("a").propose(new Uint8Array(1))).toEqual({ ok: false, reason: "dropped" });
  });

  it("a lost append in replicate state is repaired by the heartbeat round", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.isolate("c"); // no commit broadcast either: only the heartbeat round can reveal the gap
    let dropped = 0;
    net.dropIf = (m) => m.type === "append" && m.to === "b" && m.entries.length > 0 && dropped++ < 1;
    net.propose("a", "lost-once");
    expect(net.get("b").storage.applied).toEqual([]);
    net.tickAll(2);
    expect(net.get("b").storage.applied).toEqual(["lost-once"]);
  });

  it("reportUnreachable moves a pipelining follower back to probing", () => {
    const node = leaderNode({});
    expect(node.status().progress["b"]?.state).toBe("replicate");
    node.reportUnreachable("b");
    expect(node.status().progress["b"]?.state).toBe("probe");
  });
});
