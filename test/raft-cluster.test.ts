import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { COORD_SCRIPT, CoordCluster } from "./support/coord-cluster.js";
import { httpRequest } from "./support/http-client.js";
import { ProcessHarness, REPO_ROOT, type ManagedProcess } from "./support/process-harness.js";
import { waitFor } from "./support/wait.js";

/**
 * Issue 3 §4 "Real processes": three `minikv-coord serve` processes on 127.0.0.1, Raft over
 * gRPC with LevelDB and fsync, election timeouts 150–300 ms (10 ms ticks). The tests run in
 * order on one cluster; each assertion waits in a loop bounded in time.
 *
 * The 1 s bounds check the protocol's timing, not how a 2-core machine shares its CPU with
 * the other test files running beside this one: the coordinators run at nice -10 in
 * sessions of their own (where the OS allows it; otherwise at normal priority).
 */
const COORD_NICE = -10;
const SNAPSHOT_THRESHOLD_ENTRIES = 20;
const ELECTION_BOUND_MS = 1_000;
const CATCH_UP_BOUND_MS = 10_000;
/** Time for a node outside the agreeing majority to hear from the leader: many heartbeats (30 ms). */
const LEARN_LEADER_BOUND_MS = 2_000;

describe("three coordinator processes (issue 3 §4)", () => {
  let harness: ProcessHarness;
  let cluster: CoordCluster;

  beforeAll(async () => {
    if (!existsSync(join(REPO_ROOT, COORD_SCRIPT)))
      throw new Error(`${COORD_SCRIPT} is missing: run npm run build`);
    harness = await ProcessHarness.create("minikv-raft-cluster-");
    cluster = await CoordCluster.start(harness, {
      size: 3,
      args: [
        "--election-timeout",
        "150ms",
        "--tick-interval",
        "10ms",
        "--snapshot-threshold",
        `${SNAPSHOT_THRESHOLD_ENTRIES}`,
      ],
      nice: COORD_NICE,
    });
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  const showLogsOnFailure = (): void =>
    onTestFailed(() => {
      process.stderr.write(`${harness.logTails(60)}\n`);
    });

  it("elects a leader within 1 s of all three listening (§5.2)", async () => {
    showLogsOnFailure();
    const { value: leader } = await cluster.waitForLeader(5_000);
    const sinceListeningMs = performance.now() - cluster.allListeningAtMs;
    process.stderr.write(
      `leader ${leader.name} agreed on ${sinceListeningMs.toFixed(0)} ms after all listened\n`,
    );
    // Issue 3 §4: elected within the bound and agreed by a majority (what waitForLeader checks).
    expect(sinceListeningMs).toBeLessThan(ELECTION_BOUND_MS);
    // The remaining node learns the leader from its first heartbeat or append (§5.2), which
    // may still be on its way when the majority already agrees: wait for it, bounded.
    const { value: views } = await waitFor(
      `every node to name ${leader.name} as leader`,
      async () => {
        const all = await Promise.all(cluster.nodes.map((n) => cluster.clusterOf(n)));
        return all.every((v) => v.leader === leader.name) ? all : undefined;
      },
      { timeoutMs: LEARN_LEADER_BOUND_MS, intervalMs: 10 },
    );
    expect(views.map((v) => v.leader)).toEqual([leader.name, leader.name, leader.name]);
    expect(views.filter((v) => v.self.role === "leader")).toHaveLength(1);
    expect((await cluster.clusterOf(leader)).coordinators.map((c) => c.id).sort()).toEqual([
      "coord-1",
      "coord-2",
      "coord-3",
    ]);
  });

  it("commits a proposal through the leader and reads it linearizably on every node (§5.3, §6.4)", async () => {
    showLogsOnFailure();
    const leader = (await cluster.waitForLeader(5_000)).value;
    const index = await cluster.propose(leader, "first", Buffer.from("one"));
    expect(index).toBeGreaterThan(0);
    for (const node of cluster.nodes) expect((await cluster.read(node, "first"))?.toString()).toBe("one");
    const metrics = (await httpRequest(`${leader.httpUrl}/metrics`)).body.toString();
    expect(metrics).toMatch(/^minikv_raft_is_leader\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^minikv_raft_proposals_total\{[^}]*\} [1-9]/m);
  });

  let killed: ManagedProcess;
  it("elects a new leader within 1 s of kill -9 of the leader (§5.2, timeouts 150–300 ms)", async () => {
    showLogsOnFailure();
    killed = (await cluster.waitForLeader(5_000)).value;
    const killedAtMs = performance.now();
    await killed.kill("SIGKILL");
    const { value: next } = await cluster.waitForLeader(5_000, killed);
    const failoverMs = performance.now() - killedAtMs;
    process.stderr.write(
      `new leader ${next.name} agreed on ${failoverMs.toFixed(0)} ms after kill -9 of ${killed.name}\n`,
    );
    expect(failoverMs).toBeLessThan(ELECTION_BOUND_MS);
    await cluster.propose(next, "while-down", Buffer.from("written while the old leader was down"));
  });

  it("restarts the killed node, which catches up and serves what was written while it was down (§5.3)", async () => {
    showLogsOnFailure();
    await killed.restart();
    await waitForCaughtUp(killed);
    expect((await cluster.read(killed, "while-down"))?.toString()).toBe(
      "written while the old leader was down",
    );
  });

  it("catches up a node that was down across a log compaction by InstallSnapshot (§7)", async () => {
    showLogsOnFailure();
    const leader = (await cluster.waitForLeader(5_000)).value;
    const follower = cluster.nodes.find((n) => n !== leader && n.running);
    if (follower === undefined) throw new Error("no follower");
    const appliedBeforeDown = (await cluster.clusterOf(follower)).self.appliedIndex;
    await follower.kill("SIGKILL");
    const writes = SNAPSHOT_THRESHOLD_ENTRIES * 3;
    for (let i = 0; i < writes; i++) await cluster.propose(leader, `compacted-${i}`, Buffer.from(`v${i}`));
    await waitFor(
      "the leader to compact its log past the follower",
      async () =>
        (await cluster.clusterOf(leader)).replication.raft.firstIndex > appliedBeforeDown + 1
          ? true
          : undefined,
      { timeoutMs: CATCH_UP_BOUND_MS, intervalMs: 50 },
    );
    await follower.restart();
    await waitForCaughtUp(follower);
    const view = await cluster.clusterOf(follower);
    expect(view.replication.raft.snapshotsReceived).toBeGreaterThanOrEqual(1);
    expect((await cluster.read(follower, `compacted-${writes - 1}`))?.toString()).toBe(`v${writes - 1}`);
    expect((await cluster.read(follower, "first"))?.toString()).toBe("one");
  });

  /** The node's applied index reaches the leader's commit index. */
  async function waitForCaughtUp(node: ManagedProcess): Promise<void> {
    await waitFor(
      `${node.name} to catch up with the leader`,
      async () => {
        const leader = await cluster.leader();
        if (leader === undefined) return undefined;
        const [mine, theirs] = await Promise.all([cluster.clusterOf(node), cluster.clusterOf(leader)]);
        return mine.self.appliedIndex >= theirs.self.commitIndex ? true : undefined;
      },
      { timeoutMs: CATCH_UP_BOUND_MS, intervalMs: 50 },
    );
  }
});
