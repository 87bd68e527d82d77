import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "./cluster.js";
import { httpJson, httpRequest } from "./http-client.js";
import { isAlive } from "./process-harness.js";
import { waitFor } from "./wait.js";

const STARTUP_TIMEOUT_MS = 30_000;

/**
 * The real-cluster launcher (issue 6: process control for the nemesis test): 3 coordinators
 * and 3 volumes as real processes behind fault proxies, every /health answers, a leader is
 * agreed on, the leader survives kill -9 and restart with the same ports and data, the
 * internal traffic crosses the proxies, and close() leaves no process and no temp dir.
 */
describe("Cluster (3 coordinators, 3 volumes, fault proxies)", () => {
  let cluster: Cluster;
  const pidsSeen = new Set<number>();

  beforeAll(async () => {
    cluster = await Cluster.start({ coordinators: 3, volumes: 3, faultProxies: true });
  }, STARTUP_TIMEOUT_MS * 2);
  afterAll(async () => {
    await cluster?.close();
  });

  function notePids(): void {
    for (const node of [...cluster.coordinators, ...cluster.volumes]) {
      if (node.process.pid !== undefined) pidsSeen.add(node.process.pid);
    }
  }

  it("answers /health on every process and agrees on a leader that lists every volume alive", async () => {
    notePids();
    for (const node of [...cluster.coordinators, ...cluster.volumes]) {
      const health = await httpJson<{ id: string }>(`${node.httpUrl}/health`);
      expect(health.id, node.name).toBe(node.name);
    }
    const { value: leader } = await cluster.waitHealthy(STARTUP_TIMEOUT_MS);
    expect(leader.kind).toBe("coordinator");
    const view = await cluster.clusterOf(leader.name);
    expect(view.volumes.map((v) => (v as { id: string }).id).sort()).toEqual(["vol-1", "vol-2", "vol-3"]);
  });

  it("routes coordinator↔coordinator and coordinator↔volume traffic through the proxies", async () => {
    await cluster.waitHealthy(STARTUP_TIMEOUT_MS);
    // With N=3 of 3 volumes a PUT prepares on every volume, through the volumes' advertised
    // (proxied) addresses, whatever its outcome. A coordinator that has not yet heard of
    // every volume's liveness answers 503 without a prepare: try again, bounded.
    const network = cluster.network!;
    const bytes = (name: string): number =>
      network.link(name).proxies.reduce((sum, p) => sum + p.stats().bytesUp + p.stats().bytesDown, 0);
    await waitFor(
      "a PUT that reached every volume",
      async () => {
        const url = `${cluster.coordinatorUrls[0]}/v1/blobs/launcher-probe`;
        await httpRequest(url, { method: "PUT", body: "hello", timeoutMs: 10_000 });
        return cluster.volumes.every((v) => bytes(`coords->${v.name}`) > 0) ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const { value: leader } = await cluster.waitForLeader(STARTUP_TIMEOUT_MS);
    for (const peer of cluster.coordinators.filter((c) => c !== leader)) {
      // Raft heartbeats from the leader to each follower go through the leader's --peers proxy.
      expect(bytes(`${leader.name}->${peer.name}`), `${leader.name}->${peer.name}`).toBeGreaterThan(0);
    }
    const volsToCoords = cluster.coordinators.reduce((sum, c) => sum + bytes(`vols->${c.name}`), 0);
    expect(volsToCoords, "vols->coords").toBeGreaterThan(0);
  });

  it("survives kill -9 and restart of the leader with the same ports and data", async () => {
    const { value: leader } = await cluster.waitForLeader(STARTUP_TIMEOUT_MS);
    const oldPid = leader.process.pid!;
    const oldTerm = (await cluster.healthOf(leader.name)).term;
    await cluster.kill9(leader.name);
    expect(isAlive(oldPid)).toBe(false);
    expect(cluster.isRunning(leader.name)).toBe(false);
    const { value: next } = await cluster.waitForLeader(STARTUP_TIMEOUT_MS, leader.name);
    expect(next.name).not.toBe(leader.name);
    await cluster.restart(leader.name);
    notePids();
    expect(leader.process.pid).not.toBe(oldPid);
    const health = await cluster.healthOf(leader.name);
    expect(health.id).toBe(leader.name);
    await cluster.waitHealthy(STARTUP_TIMEOUT_MS);
    // A new election happened while it was down, and the restarted node follows its winner.
    const after = await cluster.healthOf(leader.name);
    const nextTerm = (await cluster.healthOf(next.name)).term;
    expect(nextTerm, JSON.stringify(after)).toBeGreaterThan(oldTerm);
  });

  it("pauses and resumes a process by SIGSTOP/SIGCONT", async () => {
    cluster.pause("vol-1");
    await expect(
      httpRequest(`${cluster.node("vol-1").httpUrl}/health`, { timeoutMs: 300 }),
    ).rejects.toThrow();
    cluster.resume("vol-1");
    const health = await httpJson<{ id: string }>(`${cluster.node("vol-1").httpUrl}/health`);
    expect(health.id).toBe("vol-1");
  });

  it("close() stops exactly the processes it started and removes its temp dir", async () => {
    notePids();
    const root = cluster.harness.rootDir;
    cluster.pause("coord-2");
    await cluster.close();
    for (const pid of pidsSeen) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    const { existsSync } = await import("node:fs");
    expect(existsSync(root)).toBe(process.env["MINIKV_KEEP_TEST_DIRS"] === "1");
  });
});
