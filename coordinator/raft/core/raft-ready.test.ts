/**
 * The Ready/advance contract of types.ts: what must be durable before a message leaves
 * (Figure 2, "persistent state ... updated on stable storage before responding to RPCs").
 */
import { describe, expect, it } from "vitest";
import { makeMessage } from "./messages.js";
import { TestNetwork, bytes, drainMessages, drainReadies, newTestNode } from "./test-network.js";

describe("Ready and advance", () => {
  it("Figure 2: a granted vote leaves only in the Ready whose hard state (term and vote) must be fsynced", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 1 });
    node.step(makeMessage({ type: "vote", from: "b", to: "a", term: 2 }));
    const [ready, ...rest] = drainReadies(node);
    expect(rest).toEqual([]);
    expect(ready?.hardState).toEqual({ term: 2, vote: "b", commit: 0 });
    expect(ready?.mustSync).toBe(true);
    expect(ready?.sendBeforePersist).toBe(false);
    expect(ready?.messages.map((m) => [m.type, m.to, m.reject])).toEqual([["voteResp", "b", false]]);
  });

  it("Figure 2: a candidate's own vote and new term are in the Ready that sends its vote requests", () => {
    const node = newTestNode("a", ["a", "b", "c"], { term: 4 });
    node.campaign();
    const ready = node.ready();
    expect(ready.hardState).toEqual({ term: 5, vote: "a", commit: 0 });
    expect(ready.mustSync).toBe(true);
    expect(ready.sendBeforePersist).toBe(false);
    expect(ready.messages.filter((m) => m.type === "vote")).toHaveLength(2);
  });

  it("Figure 2: an append acknowledgement leaves in the Ready that persists the appended entries", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 1 });
    const entries = [{ term: 1, index: 1, type: "normal" as const, data: bytes("x") }];
    node.step(makeMessage({ type: "append", from: "a", to: "b", term: 1, entries, commit: 1 }));
    const ready = node.ready();
    expect(ready.entries).toHaveLength(1);
    expect(ready.mustSync).toBe(true);
    expect(ready.sendBeforePersist).toBe(false);
    expect(ready.messages[0]).toMatchObject({ type: "appendResp", index: 1, reject: false });
    // Already committed, but not stored here yet: it is applied from the next Ready.
    expect(ready.committedEntries).toEqual([]);
    node.advance(ready);
    expect(node.ready().committedEntries.map((e) => e.index)).toEqual([1]);
  });

  it("dissertation §10.2.1: a leader's appends may leave before its own fsync; its entry counts toward commit only after advance", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    const a = net.raw("a");
    const { term, commit: commitBefore } = a.status();
    expect(a.propose(bytes("x"))).toEqual({ ok: true });
    const ready = a.ready();
    const index = ready.entries[0]?.index ?? 0;
    expect(index).toBe(commitBefore + 1);
    expect(ready.mustSync).toBe(true);
    expect(ready.sendBeforePersist).toBe(true);
    expect(ready.messages.filter((m) => m.type === "append").map((m) => m.to)).toEqual(["b", "c"]);
    // b stored the entry and answered while a's own write is still in flight: b and a's
    // not-yet-durable copy are not a majority (§5.4.2, Figure 8 rule unchanged).
    a.step(makeMessage({ type: "appendResp", from: "b", to: "a", term, index }));
    expect(a.status().commit).toBe(commitBefore);
    a.advance(ready); // a's fsync completed
    expect(a.status().commit).toBe(index);
    expect(a.ready().committedEntries.map((e) => e.index)).toEqual([index]);
  });

  it("dissertation §10.2.1: an entry two followers committed before the leader's fsync is applied there only once stored", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    const a = net.raw("a");
    const { term } = a.status();
    a.propose(bytes("x"));
    const ready = a.ready();
    const index = ready.entries[0]?.index ?? 0;
    for (const from of ["b", "c"]) a.step(makeMessage({ type: "appendResp", from, to: "a", term, index }));
    expect(a.status().commit).toBe(index); // stored on a majority: committed
    expect(ready.committedEntries).toEqual([]);
    a.advance(ready);
    expect(a.ready().committedEntries.map((e) => e.index)).toEqual([index]);
  });

  it("hard state is reported only when it changed; a commit-only change needs no fsync", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 1, entryTerms: [1, 1] });
    expect(node.hasReady()).toBe(false);
    node.step(makeMessage({ type: "heartbeat", from: "a", to: "b", term: 1, commit: 2 }));
    const ready = node.ready();
    expect(ready.hardState).toEqual({ term: 1, vote: null, commit: 2 });
    expect(ready.mustSync).toBe(false);
    node.advance(ready);
    node.step(makeMessage({ type: "heartbeat", from: "a", to: "b", term: 1, commit: 2 }));
    expect(node.ready().hardState).toBeNull();
  });

  it("committed entries are delivered once, and applied follows advance", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.propose("a", "x");
    net.propose("a", "y");
    const delivered = net.get("b").readies.flatMap((r) => r.committedEntries.map((e) => e.index));
    expect(delivered).toEqual([1, 2, 3]);
    expect(net.raw("b").status().applied).toBe(3);
  });

  it("ready() is refused until the previous Ready is advanced, and hasReady() is false meanwhile", () => {
    const node = newTestNode("a", ["a", "b", "c"]);
    node.campaign();
    const ready = node.ready();
    node.tick();
    node.step(makeMessage({ type: "voteResp", from: "b", to: "a", term: 1 }));
    expect(node.hasReady()).toBe(false);
    expect(() => node.ready()).toThrow();
    node.advance(ready);
    expect(node.hasReady()).toBe(true);
  });

  it("while its batch is on the disk, a leader's heartbeats leave early; its appends wait for the next Ready", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    const a = net.raw("a");
    expect(a.takeEarlyMessages()).toEqual([]); // nothing outstanding: everything goes by Ready
    a.propose(bytes("x"));
    const ready = a.ready();
    expect(ready.mustSync).toBe(true);
    a.propose(bytes("y"));
    a.tick(); // heartbeatTicks = 1: a heartbeat round is due
    const early = a.takeEarlyMessages();
    expect(early.map((m) => [m.type, m.to]).sort()).toEqual([
      ["heartbeat", "b"],
      ["heartbeat", "c"],
    ]);
    expect(a.takeEarlyMessages()).toEqual([]); // taken once
    a.advance(ready);
    const next = a.ready();
    expect(next.messages.every((m) => m.type !== "heartbeat")).toBe(true);
    expect(next.entries.map((e) => e.index)).toEqual([(ready.entries[0]?.index ?? 0) + 1]);
  });

  it("a leader's heartbeat() sends a heartbeat round at once and restarts its interval; on a follower it does nothing", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"], config: { heartbeatTicks: 3 } });
    net.elect("a");
    const a = net.raw("a");
    const heartbeats = (): string[] =>
      drainMessages(a)
        .filter((m) => m.type === "heartbeat")
        .map((m) => m.to)
        .sort();
    drainMessages(a);
    a.tick(); // 1 of 3 ticks: no round due yet
    expect(heartbeats()).toEqual([]);
    a.heartbeat();
    expect(heartbeats()).toEqual(["b", "c"]);
    // The interval starts over: the next round is three ticks after heartbeat(), not two.
    a.tick();
    a.tick();
    expect(heartbeats()).toEqual([]);
    a.tick();
    expect(heartbeats()).toEqual(["b", "c"]);
    const b = net.raw("b");
    drainMessages(b);
    b.heartbeat();
    expect(drainMessages(b)).toEqual([]);
  });

  it("while its batch is on the disk, a follower answers heartbeats early, but never acknowledges entries early (Figure 2)", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 1 });
    const entries = [{ term: 1, index: 1, type: "normal" as const, data: bytes("x") }];
    node.step(makeMessage({ type: "append", from: "a", to: "b", term: 1, entries }));
    const ready = node.ready();
    expect(ready.mustSync).toBe(true);
    const more = [{ term: 1, index: 2, type: "normal" as const, data: bytes("y") }];
    node.step(
      makeMessage({ type: "append", from: "a", to: "b", term: 1, index: 1, logTerm: 1, entries: more }),
    );
    node.step(makeMessage({ type: "heartbeat", from: "a", to: "b", term: 1, index: 7 }));
    const early = node.takeEarlyMessages();
    expect(early.map((m) => [m.type, m.to, m.index])).toEqual([["heartbeatResp", "a", 7]]);
    // More of both while the batch is still on the disk: only the new heartbeat answer leaves.
    const third = [{ term: 1, index: 3, type: "normal" as const, data: bytes("z") }];
    node.step(
      makeMessage({ type: "append", from: "a", to: "b", term: 1, index: 2, logTerm: 1, entries: third }),
    );
    node.step(makeMessage({ type: "heartbeat", from: "a", to: "b", term: 1, index: 8 }));
    expect(node.takeEarlyMessages().map((m) => [m.type, m.index])).toEqual([["heartbeatResp", 8]]);
    expect(node.takeEarlyMessages()).toEqual([]);
    node.advance(ready);
    const next = node.ready();
    expect(next.messages.map((m) => [m.type, m.index])).toEqual([
      ["appendResp", 2],
      ["appendResp", 3],
    ]);
    expect(next.entries.map((e) => e.index)).toEqual([2, 3]);
  });

  it("a heartbeat answer in a term not yet durable waits for the batch that stores the term", () => {
    const node = newTestNode("b", ["a", "b", "c"], { term: 1 });
    node.step(makeMessage({ type: "heartbeat", from: "a", to: "b", term: 2, index: 3 }));
    const ready = node.ready(); // stores term 2
    expect(ready.hardState?.term).toBe(2);
    expect(ready.messages.map((m) => m.type)).toEqual(["heartbeatResp"]);
    node.step(makeMessage({ type: "heartbeat", from: "a", to: "b", term: 2, index: 4 }));
    expect(node.takeEarlyMessages()).toEqual([]);
    node.advance(ready);
    expect(node.ready().messages.map((m) => [m.type, m.index])).toEqual([["heartbeatResp", 4]]);
  });

  it("soft state reports role and leader changes", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    const soft = net
      .get("a")
      .readies.map((r) => r.softState)
      .filter((s) => s !== null);
    expect(soft.at(-1)).toEqual({ leader: "a", role: "leader" });
    expect(
      net
        .get("b")
        .readies.map((r) => r.softState)
        .filter((s) => s !== null)
        .at(-1),
    ).toEqual({
      leader: "a",
      role: "follower",
    });
  });

  it("restart: a node restores term, vote, log and commit and never re-applies what it applied", () => {
    const net = new TestNetwork({ voters: ["a", "b", "c"] });
    net.elect("a");
    net.propose("a", "x");
    const before = net.raw("b").status();
    net.restart("b");
    const after = net.raw("b").status();
    expect(after).toMatchObject({ term: before.term, lastIndex: before.lastIndex, applied: before.applied });
    expect(after.commit).toBeGreaterThanOrEqual(before.applied);
    net.propose("a", "y");
    expect(net.get("b").storage.applied).toEqual(["x", "y"]);
  });
});
