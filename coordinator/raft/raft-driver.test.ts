import { afterEach, describe, expect, it } from "vitest";
import { describeDriverScenarios } from "./driver-scenarios.js";
import { TestCluster, putCommand, type KvDriver } from "./driver-test-cluster.js";
import type { RaftStorage } from "./storage.js";

describeDriverScenarios("memory");

/** "served" when a read barrier resolves, else the error code it failed with. */
function readOutcome(driver: KvDriver): Promise<string> {
  return driver.readIndex().then(
    () => "served",
    (err: { code: string }) => err.code,
  );
}

describe("RaftDriver under partitions (memory network)", () => {
  let cluster: TestCluster | undefined;

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it("an isolated leader serves no read and commits nothing (§6.4, §5.4)", async () => {
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"], {
      readTimeoutMs: 600,
      proposalTimeoutMs: 600,
    });
    const c = cluster;
    const leader = await c.leader();
    await c.put(leader, "k", "before");
    c.isolate(leader);
    const read = readOutcome(c.driver(leader));
    const write = c
      .driver(leader)
      .propose(putCommand("k", "during"))
      .then(
        () => "committed",
        (err: { code: string }) => err.code,
      );
    expect(await read).toBe("NO_QUORUM");
    expect(["TIMEOUT", "NO_QUORUM"]).toContain(await write);
    c.heal();
    const newLeader = await c.leader();
    const after = await c.put(newLeader, "k", "after");
    expect(after.result).toEqual({ existed: [true] });
  });

  /**
   * A leaseRead cluster with a 500 ms election timeout (a 250 ms lease from the quorum's
   * last acknowledgement) whose leader has written once; returns the leader.
   */
  async function leaseCluster(): Promise<{ c: TestCluster; leader: string }> {
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"], {
      leaseRead: true,
      electionTicks: 50,
      readTimeoutMs: 600,
    });
    const leader = await cluster.leader();
    await cluster.put(leader, "k", "v");
    return { c: cluster, leader };
  }

  /** Lets heartbeat rounds be acknowledged, so that the leader holds a lease, then cuts it off. */
  async function isolateWithLease(c: TestCluster, leader: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 100));
    c.isolate(leader);
  }

  it("with leaseRead, a leader serves reads from its lease, without its followers (§6.4.1)", async () => {
    const { c, leader } = await leaseCluster();
    // Bounded retries: on a starved machine the lease may run out before the read is issued.
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 5 && !outcomes.includes("served"); attempt++) {
      c.heal();
      await isolateWithLease(c, leader);
      outcomes.push(await readOutcome(c.driver(leader)));
    }
    expect(outcomes).toContain("served");
  });

  it("with leaseRead, a leader whose event loop stalled past its lease serves no read from it", async () => {
    const { c, leader } = await leaseCluster();
    await isolateWithLease(c, leader);
    // A stall far longer than the lease and than the ticks a timer could deliver after it.
    // No timer runs meanwhile: only the wall clock tells the driver it happened.
    const stallUntil = performance.now() + 1000;
    while (performance.now() < stallUntil) continue;
    expect(await readOutcome(c.driver(leader))).toBe("NO_QUORUM");
  });

  it("answers OVERLOADED when the proposal table is full, and NOT_LEADER when forwarding is off", async () => {
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"], {
      pendingProposalsMax: 4,
      forwardProposals: false,
    });
    const c = cluster;
    const leader = await c.leader();
    const burst = Array.from({ length: 10 }, (_, i) =>
      c
        .driver(leader)
        .propose(putCommand(`o${i}`, "x"))
        .then(
          () => "ok",
          (err: { code: string }) => err.code,
        ),
    );
    const outcomes = await Promise.all(burst);
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(4);
    expect(outcomes.filter((o) => o === "OVERLOADED")).toHaveLength(6);
    const [follower] = await c.followers();
    const refused = await c
      .driver(follower ?? "")
      .propose(putCommand("x", "y"))
      .catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: "NOT_LEADER", detail: { leader } });
  });

  it("a proposal made during the first election waits for the leader (no NOT_LEADER)", async () => {
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"]);
    const applied = await cluster.put("n2", "early", "1");
    expect(applied.result).toEqual({ existed: [false] });
  });

  it("counts a Raft log fsync that takes half an election timeout or more as slow", async () => {
    const config = { tickMs: 10, electionTicks: 10 };
    cluster = await TestCluster.start("memory", ["solo"], config);
    await cluster.leader();
    await cluster.put("solo", "fast", "1");
    const driver = cluster.driver("solo");
    expect(driver.counters().slowFsyncs).toBe(0);
    // White-box: the node's storage, its synced writes slowed to one election timeout.
    const storage = (driver as unknown as { deps: { storage: RaftStorage } }).deps.storage;
    const save = storage.save.bind(storage);
    const slowMs = config.tickMs * config.electionTicks;
    storage.save = async (update) => {
      if (update.sync !== false) await new Promise((resolve) => setTimeout(resolve, slowMs));
      return save(update);
    };
    const before = driver.counters();
    await cluster.put("solo", "slow", "2");
    const after = driver.counters();
    expect(after.slowFsyncs - before.slowFsyncs).toBeGreaterThanOrEqual(1);
    expect(after.fsyncSeconds - before.fsyncSeconds).toBeGreaterThanOrEqual((slowMs * 0.9) / 1000);
  });

  it("counts a tick that comes half an election timeout or more after the one before: the process stalled", async () => {
    const config = { tickMs: 10, electionTicks: 10 };
    cluster = await TestCluster.start("memory", ["solo"], config);
    await cluster.leader();
    const driver = cluster.driver("solo");
    const before = driver.counters().lateTicks;
    // The event loop blocked for three times the threshold (half of 100 ms): no timer runs meanwhile.
    const until = performance.now() + 150;
    while (performance.now() < until) continue;
    await new Promise((resolve) => setTimeout(resolve, 5 * config.tickMs));
    expect(driver.counters().lateTicks - before).toBeGreaterThanOrEqual(1);
    expect(driver.status().role).toBe("leader");
  });

  it("keeps its leader through fsyncs slower than the election timeout on every node: heartbeats and their answers leave meanwhile", async () => {
    // Election timeouts of 200–400 ms: room for a loaded machine's event-loop stalls.
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"], { tickMs: 10, electionTicks: 20 });
    const c = cluster;
    const leader = await c.leader();
    await c.put(leader, "fast", "1");
    const ids = ["n1", "n2", "n3"];
    const sum = (read: (counters: ReturnType<KvDriver["counters"]>) => number): number =>
      ids.reduce((total, id) => total + read(c.driver(id).counters()), 0);
    const before = { elections: sum((s) => s.elections), changes: sum((s) => s.leaderChanges) };
    // White-box: every node's synced writes take 450 ms, longer than any election timeout.
    const slowMs = 450;
    for (const id of ids) {
      const storage = (c.driver(id) as unknown as { deps: { storage: RaftStorage } }).deps.storage;
      const save = storage.save.bind(storage);
      storage.save = async (update) => {
        if (update.sync !== false) await new Promise((resolve) => setTimeout(resolve, slowMs));
        return save(update);
      };
    }
    for (let i = 0; i < 3; i++) await c.put(leader, `slow${i}`, String(i));
    expect(c.driver(leader).status().role).toBe("leader");
    expect(sum((s) => s.elections)).toBe(before.elections);
    expect(sum((s) => s.leaderChanges)).toBe(before.changes);
    expect(sum((s) => s.slowFsyncs)).toBeGreaterThanOrEqual(3);
    expect(sum((s) => s.earlyMessages)).toBeGreaterThan(0);
  });

  it("a single-node cluster commits alone", async () => {
    cluster = await TestCluster.start("memory", ["solo"]);
    expect(await cluster.leader()).toBe("solo");
    const applied = await cluster.put("solo", "k", "v");
    expect(await cluster.get("solo", "k")).toBe("v");
    expect(cluster.driver("solo").status().commitIndex).toBeGreaterThanOrEqual(applied.index);
  });

  it("removing the leader hands the cluster to the remaining members (dissertation §4.2.2)", async () => {
    cluster = await TestCluster.start("memory", ["n1", "n2", "n3"]);
    const c = cluster;
    const leader = await c.leader();
    await c.put(leader, "k", "1");
    await c.driver(leader).removeNode(leader);
    await c.stopNode(leader);
    const next = await c.leader();
    expect(next).not.toBe(leader);
    const applied = await c.put(next, "k", "2");
    expect(applied.result).toEqual({ existed: [true] });
    expect(
      c
        .driver(next)
        .status()
        .peers.map((p) => p.id)
        .sort(),
    ).toEqual(["n1", "n2", "n3"].filter((id) => id !== leader));
  });
});
