/**
 * Leadership transfer (dissertation §3.10): the leader stops accepting proposals, brings
 * the target up to date, then sends TimeoutNow; the target campaigns at once.
 */
import { describe, expect, it } from "vitest";
import { TestNetwork, bytes } from "./test-network.js";

const stable = { preVote: true, checkQuorum: true };

describe("dissertation §3.10 leadership transfer", () => {
  it("§3.10: an up-to-date target receives timeoutNow and becomes leader in the next term", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: stable });
    net.elect("a");
    const term = net.raw("a").status().term;
    net.raw("a").transferLeader("b");
    net.stabilize();
    expect(net.sent.filter((m) => m.type === "timeoutNow").map((m) => m.to)).toEqual(["b"]);
    expect(net.raw("b").status()).toMatchObject({ role: "leader", term: term + 1 });
    expect(net.raw("a").status()).toMatchObject({ role: "follower", leader: "b" });
  });

  it("§3.10: a lagging target is caught up first, and proposals are refused meanwhile", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: stable });
    net.elect("a");
    net.isolate("c");
    net.propose("a", "x");
    net.heal();
    net.dropType("append"); // keep c behind while the transfer starts
    net.raw("a").transferLeader("c");
    net.stabilize();
    expect(net.raw("a").status().leadTransferee).toBe("c");
    expect(net.raw("a").propose(bytes("y"))).toEqual({ ok: false, reason: "transferring" });
    expect(net.sent.filter((m) => m.type === "timeoutNow")).toEqual([]);
    net.heal();
    net.tickAll(2);
    expect(net.raw("c").status().role).toBe("leader");
    expect(net.get("c").storage.applied).toEqual(["x"]);
  });

  it("§3.10: a transfer that does not complete within an election timeout is aborted", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: stable });
    net.elect("a");
    net.isolate("c");
    net.raw("a").transferLeader("c");
    net.stabilize();
    expect(net.raw("a").propose(bytes("y")).ok).toBe(false);
    for (let i = 0; i < 10; i++) {
      net.tick("a");
      net.tick("b");
      net.stabilize();
    }
    expect(net.raw("a").status()).toMatchObject({ role: "leader", leadTransferee: null });
    expect(net.raw("a").propose(bytes("y"))).toEqual({ ok: true });
  });

  it("§3.10: TimeoutNow overrides the leases of the other followers (they vote although they heard from the leader)", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c", "d", "e"], config: stable });
    net.elect("a");
    net.raw("a").transferLeader("e");
    net.stabilize();
    expect(net.leaderId()).toBe("e");
  });

  it("§3.10: a follower forwards a transfer request to the leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: stable });
    net.elect("a");
    net.raw("b").transferLeader("c");
    net.stabilize();
    expect(net.leaderId()).toBe("c");
  });

  it("§3.10: transferring to a non-voter or to the leader itself does nothing", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], learners: ["l"], config: stable });
    net.elect("a");
    net.raw("a").transferLeader("l");
    net.raw("a").transferLeader("a");
    net.raw("a").transferLeader("nobody");
    net.stabilize();
    expect(net.raw("a").status()).toMatchObject({ role: "leader", leadTransferee: null });
  });
});
