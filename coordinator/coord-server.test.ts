import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../common/logger.js";
import { httpJson, httpRequest } from "../test/support/http-client.js";
import { freePorts } from "../common/free-ports.js";
import { waitFor } from "../test/support/wait.js";
import { startCoordinator, type CoordinatorHandle } from "./coord-server.js";
import type { ServeOptions } from "./serve-command.js";

/**
 * startCoordinator in one process: three coordinators on loopback (real gRPC, LevelDB,
 * fsync), driven over HTTP. Covers the wiring of issue 3 §4 — /health, /v1/cluster with
 * every member's state, /metrics, writes through a follower (forwarded by Raft), ReadIndex
 * reads on every node, NOT_LEADER without a leader, peers given as bare HOST:PORT,
 * graceful close. Crash behaviour is covered with real processes in test/raft-cluster.test.ts.
 */
interface Member {
  readonly id: string;
  readonly role: string;
  readonly address: string;
  readonly reachable: boolean;
}

describe("startCoordinator (issue 3 §4)", () => {
  const ids = ["coord-1", "coord-2", "coord-3"];
  const nodes = new Map<string, CoordinatorHandle>();
  let dir = "";
  let grpcPorts: number[] = [];

  const options = (i: number): ServeOptions => {
    const id = ids[i] ?? "";
    return {
      id,
      bind: { host: "127.0.0.1", port: 0 },
      grpc: { host: "127.0.0.1", port: grpcPorts[i] ?? 0 },
      advertiseHost: undefined,
      dbDir: join(dir, id),
      // coord-3 knows its peers by address only and learns their ids (DESIGN.md §3).
      peers: ids.flatMap((peer, j) =>
        j === i ? [] : [{ id: i === 2 ? undefined : peer, address: `127.0.0.1:${grpcPorts[j]}` }],
      ),
      replicas: 3,
      raft: {
        tickIntervalMs: 10,
        electionTimeoutMs: 150,
        heartbeatIntervalMs: 50,
        snapshotThresholdEntries: 1000,
        syncApply: true,
        leaseReads: true,
      },
      orphanGraceMs: 600_000,
      rebalanceBytesPerSecond: 64 * 1024 * 1024,
      readCacheBytes: 32 * 1024 * 1024,
    };
  };
  const url = (id: string): string => `http://${nodes.get(id)?.httpAddress ?? "?"}`;
  const start = async (i: number): Promise<void> => {
    nodes.set(ids[i] ?? "", await startCoordinator(options(i), createLogger("test")));
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "minikv-coord-server-"));
    grpcPorts = await freePorts(3);
    await start(0);
  });

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((n) => n.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it("answers NOT_LEADER while no leader is known (one of three members up)", async () => {
    const answer = await httpRequest(`${url("coord-1")}/v1/internal/raft/propose?key=k`, {
      method: "POST",
      body: "v",
    });
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ error: { code: "NOT_LEADER" } });
    expect(await httpJson(`${url("coord-1")}/health`)).toMatchObject({ status: "ok", id: "coord-1" });
  });

  it("forms a group once the others start, coord-3 learning its peers' ids", async () => {
    await Promise.all([start(1), start(2)]);
    const leader = await leaderId();
    expect(ids).toContain(leader);
    const health = await httpJson<{ grpcAddress: string }>(`${url("coord-3")}/health`);
    expect(health.grpcAddress).toBe(`127.0.0.1:${grpcPorts[2]}`);
  });

  it("lists every member with its state on /v1/cluster of any node (DESIGN.md §4)", async () => {
    const leader = await leaderId();
    for (const id of ids) {
      const cluster = await waitFor(
        `every member reachable from ${id}`,
        async () => {
          const c = await httpJson<{ coordinators: Member[] }>(`${url(id)}/v1/cluster`);
          return c.coordinators.every((m) => m.reachable) ? c : undefined;
        },
        { timeoutMs: 5_000, intervalMs: 50 },
      );
      expect(cluster.value).toMatchObject({ self: { id }, leader, volumes: [] });
      const members = cluster.value.coordinators;
      expect(members.map((m) => m.id).sort()).toEqual(ids);
      expect(members.filter((m) => m.role === "leader").map((m) => m.id)).toEqual([leader]);
      expect(members.map((m) => m.address).sort()).toEqual(grpcPorts.map((p) => `127.0.0.1:${p}`).sort());
    }
  });

  it("commits a write sent to a follower and reads it linearizably on every node (§6.4)", async () => {
    const leader = await leaderId();
    const follower = ids.find((id) => id !== leader) ?? "";
    const put = await httpJson<{ index: number }>(
      `${url(follower)}/v1/internal/raft/propose?key=via-follower`,
      {
        method: "POST",
        body: "forwarded",
      },
    );
    expect(put.index).toBeGreaterThan(0);
    for (const id of ids) {
      const read = await httpRequest(`${url(id)}/v1/internal/raft/read?key=via-follower`);
      expect(read.status).toBe(200);
      expect(read.body.toString()).toBe("forwarded");
      expect(Number(read.headers["x-minikv-raft-index"])).toBeGreaterThanOrEqual(put.index);
    }
  });

  it("exposes Raft metrics: term, role, commit and applied index, proposals, fsync batches", async () => {
    const text = (await httpRequest(`${url(await leaderId())}/metrics`)).body.toString();
    for (const name of [
      "minikv_raft_term",
      "minikv_raft_commit_index",
      "minikv_raft_applied_index",
      "minikv_raft_elections_total",
      "minikv_raft_leader_changes_total",
    ]) {
      expect(text).toMatch(new RegExp(`^${name}\\{[^}]*\\} [1-9]`, "m"));
    }
    expect(text).toMatch(/^minikv_raft_role\{role="leader",[^}]*\} 1$/m);
    expect(text).toMatch(/^minikv_raft_fsync_batches_total\{[^}]*\} [1-9]/m);
    expect(text).toMatch(/^minikv_http_requests_total\{method="GET",route="\/health",status="200"/m);
  });

  it("closes gracefully; the other two keep committing; close is idempotent", async () => {
    const leader = await leaderId();
    const handle = nodes.get(leader);
    await Promise.all([handle?.close(), handle?.close()]);
    nodes.delete(leader);
    await expect(
      httpRequest(`http://${handle?.httpAddress ?? "?"}/health`, { timeoutMs: 500 }),
    ).rejects.toThrow();
    const survivor = [...nodes.keys()][0] ?? "";
    const put = await waitFor(
      "a write after the leader closed",
      async () => {
        // A write forwarded to the closed leader is lost with it: give each attempt 1 s.
        const answer = await httpRequest(`${url(survivor)}/v1/internal/raft/propose?key=after`, {
          method: "POST",
          body: "x",
          timeoutMs: 1_000,
        });
        return answer.status === 200 ? answer : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(put.value.status).toBe(200);
  });

  async function leaderId(): Promise<string> {
    const { value } = await waitFor(
      "a leader every running node agrees on",
      async () => {
        const views = await Promise.all(
          [...nodes.keys()].map((id) =>
            httpJson<{ role: string; leader: string | null }>(`${url(id)}/health`),
          ),
        );
        const leader = views[0]?.leader;
        return leader !== null && leader !== undefined && views.every((v) => v.leader === leader)
          ? leader
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    return value;
  }
});
