/**
 * Elections (Ongaro & Ousterhout 2014, §5.1, §5.2, §5.4.1), in the style of etcd's
 * raft_paper_test.go: each test names the rule it checks.
 */
import { describe, expect, it } from "vitest";
import { makeMessage } from "./messages.js";
import { TestNetwork, drainMessages, newTestNode } from "./test-network.js";

describe("§5.1 terms", () => {
  it("§5.1: a follower, candidate or leader that sees a higher term becomes follower of that term", () => {
    for (const makeRole of ["follower", "candidate", "leader"] as const) {
      const net = new TestNetwork({ voters: ["a", "b", "c"] });
      if (makeRole === "candidate") {
        net.isolate("a");
        net.campaign("a");
        expect(net.raw("a").status().role).toBe("candidate");
      } else if (makeRole === "leader") {
        net.elect("a");
      }
      const before = net.raw("a").status().term;
      net.raw("a").step(makeMessage({ type: "append", from: "b", to: "a", term: before + 5 }));
      const status = net.raw("a").status();
      expect(status.role).toBe("follower");
      expect(status.term).toBe(before + 5);
      expect(status.leader).toBe("b");
    }
  });

  it("§5.1: a request with a stale term is rejected (no vote granted)", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 5 });
    node.step(makeMessage({ type: "vote", from: "b", to: "a", term: 3, index: 10, logTerm: 3 }));
    const msgs = drainMessages(node);
    expect(msgs.filter((m) => m.type === "voteResp" && !m.reject)).toEqual([]);
    expect(node.status().term).toBe(5);
  });
});

describe("§5.2 leader election", () => {
  it("§5.2: a follower that hears nothing for an election timeout becomes candidate and asks for votes", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1 });
    for (let i = 0; i < 20 && node.status().role === "follower"; i++) node.tick();
    const status = node.status();
    expect(status.role).toBe("candidate");
    expect(status.term).toBe(2);
    const votes = drainMessages(node).filter((m) => m.type === "vote");
    expect(votes.map((m) => m.to).sort()).toEqual(["b", "c"]);
    expect(votes.every((m) => m.term === 2)).toBe(true);
  });

  it("§5.2: election timeouts are randomized within [electionTicks, 2·electionTicks)", () => {
    const timeouts = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const node = newTestNode("a", ["a", "b", "c"], { config: { seed } });
      let ticks = 0;
      while (node.status().role === "follower" && ticks < 100) {
        node.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      timeouts.add(ticks);
    }
    expect(timeouts.size).toBeGreaterThan(3);
  });

  it("§5.2: a candidate with votes from a majority becomes leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c", "d", "e"] });
    net.cut("a", "d");
    net.cut("a", "e");
    net.elect("a");
    expect(net.raw("b").status().leader).toBe("a");
  });

  it("§5.2: a candidate without a majority does not become leader", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c", "d", "e"] });
    net.cut("a", "c");
    net.cut("a", "d");
    net.cut("a", "e");
    net.campaign("a");
    expect(net.raw("a").status().role).toBe("candidate");
  });

  it("§5.2: a candidate rejected by a majority steps back to follower", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1 });
    node.campaign();
    drainMessages(node);
    node.step(makeMessage({ type: "voteResp", from: "b", to: "a", term: 2, reject: true }));
    node.step(makeMessage({ type: "voteResp", from: "c", to: "a", term: 2, reject: true }));
    expect(node.status().role).toBe("follower");
  });

  it("§5.2: each server votes for at most one candidate per term, first come first served", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1 });
    node.step(makeMessage({ type: "vote", from: "b", to: "a", term: 2 }));
    node.step(makeMessage({ type: "vote", from: "c", to: "a", term: 2 }));
    node.step(makeMessage({ type: "vote", from: "b", to: "a", term: 2 })); // a retry is granted again
    const resps = drainMessages(node).filter((m) => m.type === "voteResp");
    expect(resps.map((m) => [m.to, m.reject])).toEqual([
      ["b", false],
      ["c", true],
      ["b", false],
    ]);
  });

  it("§5.2: a candidate that hears from a leader of its term becomes follower", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1 });
    node.campaign();
    node.step(makeMessage({ type: "append", from: "b", to: "a", term: 2 }));
    expect(node.status()).toMatchObject({ role: "follower", leader: "b", term: 2 });
  });

  it("§5.2: split votes are retried in a new term until a leader emerges", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c", "d"], seed: 3 });
    // a and c campaign at once; b votes for a and d for c: a 2–2 split, no majority of 3.
    net.cut("a", "d");
    net.cut("c", "b");
    net.raw("a").campaign();
    net.raw("c").campaign();
    net.stabilize();
    expect(net.leaderId()).toBeNull();
    net.heal();
    for (let i = 0; i < 100 && net.leaderId() === null; i++) net.tickAll();
    const leader = net.leaderId();
    expect(leader).not.toBeNull();
    const terms = [...net.nodes.values()].map((n) => n.node.status().term);
    expect(Math.max(...terms)).toBeGreaterThan(1);
  });

  it("§5.2 election safety: at most one leader per term across many seeds", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const net = new TestNetwork({ voters: ["a", "b", "c", "d", "e"], seed });
      const leadersByTerm = new Map<number, string>();
      for (let t = 0; t < 80; t++) {
        net.tickAll();
        for (const n of net.nodes.values()) {
          const s = n.node.status();
          if (s.role !== "leader") continue;
          const known = leadersByTerm.get(s.term);
          if (known !== undefined) expect(known).toBe(n.id);
          leadersByTerm.set(s.term, n.id);
        }
      }
      expect(leadersByTerm.size).toBeGreaterThan(0);
    }
  });
});

describe("§5.4.1 election restriction", () => {
  it("§5.4.1: a voter denies its vote to a candidate whose log is less up-to-date", () => {
    // Voter log: terms [1, 2, 2]. Cases: (lastIndex, lastTerm, granted).
    const cases: [number, number, boolean][] = [
      [3, 1, false], // older last term
      [2, 2, false], // same term, shorter
      [3, 2, true], // identical
      [4, 2, true], // same term, longer
      [1, 3, true], // newer last term wins even if shorter
    ];
    for (const [index, logTerm, granted] of cases) {
      const node = newTestNode("a", ["a", "b", "c"], { term: 2, entryTerms: [1, 2, 2] });
      node.step(makeMessage({ type: "vote", from: "b", to: "a", term: 3, index, logTerm }));
      const resp = drainMessages(node).find((m) => m.type === "voteResp");
      expect(resp?.reject, `candidate (${index}, ${logTerm})`).toBe(!granted);
    }
  });

  it("§5.4.1: a node with a stale log cannot win; one with the newest log can", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.isolate("c");
    net.propose("a", "x");
    net.heal();
    net.dropType("append"); // keep c's log stale while it campaigns
    net.dropType("heartbeat");
    net.campaign("c");
    expect(net.raw("c").status().role).not.toBe("leader");
    net.campaign("b");
    expect(net.raw("b").status().role).toBe("leader");
  });
});
