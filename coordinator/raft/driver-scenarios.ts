/**
 * Scenarios every RaftDriver deployment passes, run over the in-memory twins and over
 * gRPC + LevelDB + snapshot files alike (issue 3 §2; paper sections cited per test).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ClusterKind, DriverOverrides } from "./driver-test-cluster.js";
import { TestCluster, putCommand, transferWithRetries, until } from "./driver-test-cluster.js";

export function describeDriverScenarios(kind: ClusterKind): void {
  describe(`RaftDriver scenarios (${kind})`, () => {
    let cluster: TestCluster | undefined;

    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });

    async function start(ids = ["n1", "n2", "n3"], overrides: DriverOverrides = {}): Promise<TestCluster> {
      cluster = await TestCluster.start(kind, ids, overrides);
      return cluster;
    }

    it("elects one leader and applies proposals on every node (§5.2, §5.3)", async () => {
      const c = await start();
      const leader = await c.leader();
      const applied = await c.put(leader, "k1", "v1");
      expect(applied.result).toEqual({ existed: [false] });
      const again = await c.put(leader, "k1", "v2");
      expect(again.index).toBe(applied.index + 1);
      expect(again.result).toEqual({ existed: [true] });
      for (const id of c.runningIds()) {
        await until(() => c.driver(id).status().appliedIndex >= again.index, 3000, `${id} applies`);
        expect(await c.get(id, "k1")).toBe("v2");
      }
      expect(c.driver(leader).counters().elections).toBeGreaterThanOrEqual(1);
    });

    it("forwards a follower's proposal to the leader and answers on the follower", async () => {
      const c = await start();
      const [follower] = await c.followers();
      const applied = await c.put(follower ?? "", "from-follower", "yes");
      expect(applied.result).toEqual({ existed: [false] });
      expect(await c.get(follower ?? "", "from-follower")).toBe("yes");
    });

    it("readIndex on a follower sees a write acknowledged before it (§6.4)", async () => {
      const c = await start();
      const leader = await c.leader();
      const followers = await c.followers();
      for (let i = 0; i < 20; i++) {
        await c.put(leader, "counter", String(i));
        const follower = followers[i % followers.length] ?? "";
        const index = await c.driver(follower).readIndex();
        expect(c.driver(follower).status().appliedIndex).toBeGreaterThanOrEqual(index);
        expect(await c.get(follower, "counter")).toBe(String(i));
      }
    });

    it("batches concurrent proposals into fewer fsyncs than proposals (§10.2.1)", async () => {
      const c = await start();
      const leader = await c.leader();
      const before = c.driver(leader).counters();
      const count = 400;
      const results = await Promise.all(
        Array.from({ length: count }, (_, i) => c.driver(leader).propose(putCommand(`b${i}`, "x"))),
      );
      expect(new Set(results.map((r) => r.index)).size).toBe(count);
      const after = c.driver(leader).counters();
      const batches = after.fsyncBatches - before.fsyncBatches;
      const entries = after.fsyncEntries - before.fsyncEntries;
      expect(entries).toBeGreaterThanOrEqual(count);
      expect(batches).toBeLessThan(count / 4);
    });

    it("a restarted node keeps term, vote and log, and catches up (Figure 2)", async () => {
      const c = await start();
      const leader = await c.leader();
      const [victim] = await c.followers();
      const id = victim ?? "";
      await c.put(leader, "before", "1");
      await until(() => c.driver(id).status().appliedIndex === c.driver(leader).status().appliedIndex);
      const before = c.driver(id).status();
      await c.stopNode(id);
      for (let i = 0; i < 10; i++) await c.put(leader, `while-down-${i}`, "x");
      const restarted = await c.startNode(id);
      const status = restarted.status();
      expect(status.term).toBeGreaterThanOrEqual(before.term);
      expect(status.lastIndex).toBeGreaterThanOrEqual(before.lastIndex);
      // Commit and applied indexes never go backwards across a restart.
      expect(status.commitIndex).toBeGreaterThanOrEqual(before.commitIndex);
      expect(status.appliedIndex).toBeGreaterThanOrEqual(before.appliedIndex);
      expect(await c.get(id, "before")).toBe("1");
      const target = c.driver(leader).status().commitIndex;
      await until(() => restarted.status().appliedIndex >= target, 5000, "restarted node catches up");
      expect(await c.get(id, "while-down-9")).toBe("x");
    });

    it("compacts the log and installs a snapshot on a node that was down (§7)", async () => {
      const c = await start(undefined, { snapshotThresholdEntries: 25 });
      const leader = await c.leader();
      const [victim] = await c.followers();
      const id = victim ?? "";
      await c.stopNode(id);
      for (let i = 0; i < 120; i++) await c.put(leader, `s${i}`, `v${i}`);
      await until(() => c.driver(leader).status().firstIndex > 50, 5000, "leader compacts");
      expect(c.driver(leader).counters().snapshotsTaken).toBeGreaterThanOrEqual(1);
      const restarted = await c.startNode(id);
      const target = c.driver(leader).status().commitIndex;
      await until(() => restarted.status().appliedIndex >= target, 8000, "snapshot installed");
      expect(restarted.counters().snapshotsReceived).toBeGreaterThanOrEqual(1);
      expect(restarted.status().snapshotIndex).toBeGreaterThan(0);
      expect(await c.get(id, "s0")).toBe("v0");
      expect(await c.get(id, "s119")).toBe("v119");
      const next = await c.put(leader, "after-snapshot", "1");
      await until(() => restarted.status().appliedIndex >= next.index);
      expect(await c.get(id, "after-snapshot")).toBe("1");
    });

    it("adds a learner, promotes it, and removes a member (dissertation §4.1, §4.2.1)", async () => {
      const c = await start();
      const leader = await c.leader();
      for (let i = 0; i < 5; i++) await c.put(leader, `m${i}`, "1");
      const joiner = "n4";
      const joined = await c.startNode(joiner);
      await c.driver(leader).addLearner(joiner, c.addressOf(joiner));
      await until(
        () => joined.status().appliedIndex >= c.driver(leader).status().commitIndex,
        5000,
        "learner catches up",
      );
      expect(joined.status().role).toBe("learner");
      expect(await c.get(joiner, "m4")).toBe("1");
      await c.driver(leader).promote(joiner);
      await until(() => joined.status().role === "follower", 3000, "learner promoted");
      const voters = c
        .driver(leader)
        .status()
        .peers.filter((p) => p.voter)
        .map((p) => p.id);
      expect(voters.sort()).toEqual(["n1", "n2", "n3", "n4"]);
      const removed = (await c.followers()).find((id) => id !== joiner) ?? "";
      await c.driver(leader).removeNode(removed);
      const members = c
        .driver(leader)
        .status()
        .peers.map((p) => p.id);
      expect(members).not.toContain(removed);
      await c.stopNode(removed);
      const after = await c.put(leader, "after-remove", "1");
      await until(() => joined.status().appliedIndex >= after.index);
      expect(await c.get(joiner, "after-remove")).toBe("1");
    });

    it("transfers leadership to a chosen voter (dissertation §3.10)", async () => {
      const c = await start();
      const leader = await c.leader();
      const [target] = await c.followers();
      await c.put(leader, "t", "1");
      await transferWithRetries(() => c.runningIds().map((id) => c.driver(id)), target ?? "");
      expect(await c.leader()).toBe(target);
      const applied = await c.put(target ?? "", "t", "2");
      expect(applied.result).toEqual({ existed: [true] });
    });

    it("refuses bad proposals with precise codes and changes nothing", async () => {
      const c = await start();
      const leader = await c.leader();
      const driver = c.driver(leader);
      const code = (p: Promise<unknown>): Promise<unknown> =>
        p.then(
          () => "resolved",
          (err: { code?: string }) => err.code,
        );
      expect(await code(driver.propose(new Uint8Array(0)))).toBe("INVALID_ARGUMENT");
      expect(await code(driver.propose(new Uint8Array(2 * 1024 * 1024)))).toBe("TOO_LARGE");
      const malformed = await code(driver.propose(Uint8Array.from([9, 9, 9])));
      expect(malformed).toBe("INVALID_ARGUMENT");
      expect(await code(driver.addLearner(c.runningIds()[0] ?? "", "127.0.0.1:1"))).toBe("INVALID_ARGUMENT");
      expect(await c.get(leader, "\u0009")).toBeUndefined();
    });
  });
}
