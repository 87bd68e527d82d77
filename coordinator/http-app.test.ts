import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, MinikvError } from "../common/errors.js";
import { limits } from "../common/limits.js";
import { createLogger } from "../common/logger.js";
import { httpRequest } from "../test/support/http-client.js";
import { CoordinatorMetrics, type RaftCounters } from "./coord-metrics.js";
import type { ClusterView, CoordinatorNode, NodeStatus, ReadResult } from "./coord-node.js";
import { createHandler, INDEX_HEADER, KEY_HEADER, LEADER_HEADER } from "./http-app.js";

/**
 * The HTTP adapter alone (issue 3 §4: /health, /v1/cluster, /metrics, the internal propose
 * and read endpoints; DESIGN.md §4 error shape), driven over a real socket against an
 * in-memory node that stands in for Raft. The same app over real Raft is covered by
 * coord-server.test.ts and test/raft-cluster.test.ts.
 */
class MemoryNode implements CoordinatorNode {
  readonly id = "coord-1";
  readonly grpcAddress = "127.0.0.1:5001";
  readonly values = new Map<string, Uint8Array>();
  index = 0;
  failWith: Error | undefined;

  status(): NodeStatus {
    return {
      id: this.id,
      role: "leader",
      term: 3,
      leader: this.id,
      commitIndex: this.index,
      appliedIndex: this.index,
    };
  }

  cluster(): Promise<ClusterView> {
    const self = this.status();
    return Promise.resolve({
      self,
      members: [
        { ...self, address: this.grpcAddress, httpUrl: "http://127.0.0.1:5000", reachable: true },
        {
          ...self,
          id: "coord-2",
          role: "candidate",
          leader: null,
          address: "127.0.0.1:5003",
          httpUrl: null,
          reachable: false,
        },
      ],
      replication: {
        firstIndex: 1,
        lastIndex: this.index,
        snapshotIndex: 0,
        snapshotsSent: 0,
        snapshotsReceived: 0,
        matchIndex: {},
      },
    });
  }

  put(key: string, value: Uint8Array): Promise<{ index: number }> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    this.values.set(key, Uint8Array.from(value));
    return Promise.resolve({ index: ++this.index });
  }

  read(key: string): Promise<ReadResult> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    return Promise.resolve({ index: this.index, value: this.values.get(key) });
  }
}

const counters: RaftCounters = {
  leaderChanges: 1,
  elections: 1,
  proposals: 2,
  proposalsFailed: 0,
  fsyncBatches: 4,
  fsyncEntries: 8,
  fsyncSeconds: 0.02,
  slowFsyncs: 1,
  lateTicks: 2,
  earlyMessages: 5,
  snapshotsSent: 0,
  snapshotsReceived: 0,
  snapshotsTaken: 0,
};

describe("coordinator HTTP app (issue 3 §4, DESIGN.md §4)", () => {
  const node = new MemoryNode();
  const metrics = new CoordinatorMetrics(node.id);
  metrics.attachRaft({ status: () => node.status(), counters: () => counters });
  const app = createServer(createHandler({ node, metrics, logger: createLogger("test"), replicas: 3 }));
  let server: Server;
  let base = "";

  beforeAll(async () => {
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const json = async (path: string, init: Parameters<typeof httpRequest>[1] = {}) => {
    const answer = await httpRequest(`${base}${path}`, init);
    return {
      status: answer.status,
      headers: answer.headers,
      body: JSON.parse(answer.body.toString()) as unknown,
    };
  };

  it("GET /health names the node, its role and its gRPC address", async () => {
    expect(await json("/health")).toMatchObject({
      status: 200,
      body: {
        status: "ok",
        id: "coord-1",
        role: "leader",
        term: 3,
        leader: "coord-1",
        grpcAddress: "127.0.0.1:5001",
      },
    });
  });

  it("GET /v1/cluster has exactly the DESIGN.md §4 top-level shape", async () => {
    const { status, body } = await json("/v1/cluster");
    expect(status).toBe(200);
    const cluster = body as Record<string, unknown>;
    expect(Object.keys(cluster).sort()).toEqual([
      "coordinators",
      "leader",
      "replication",
      "self",
      "shards",
      "volumes",
    ]);
    expect(cluster["self"]).toEqual({
      id: "coord-1",
      role: "leader",
      term: 3,
      commitIndex: 0,
      appliedIndex: 0,
    });
    expect(cluster["leader"]).toBe("coord-1");
    expect(cluster["volumes"]).toEqual([]);
    expect(cluster["coordinators"]).toEqual([
      expect.objectContaining({ id: "coord-1", role: "leader", address: "127.0.0.1:5001", term: 3 }),
      expect.objectContaining({
        id: "coord-2",
        role: "candidate",
        address: "127.0.0.1:5003",
        reachable: false,
      }),
    ]);
  });

  it("propose stores through the node and read returns the bytes with their index", async () => {
    const value = Buffer.from("hello raft");
    const put = await json("/v1/internal/raft/propose?key=a%2Fb", { method: "POST", body: value });
    expect(put).toMatchObject({ status: 200, body: { index: 1 } });
    const read = await httpRequest(`${base}/v1/internal/raft/read?key=a%2Fb`);
    expect(read.status).toBe(200);
    expect(read.body.equals(value)).toBe(true);
    expect(read.headers[INDEX_HEADER]).toBe("1");
  });

  it("takes the key from the percent-encoded header too", async () => {
    const put = await json("/v1/internal/raft/propose", {
      method: "POST",
      body: "x",
      headers: { [KEY_HEADER]: encodeURIComponent("clé/é") },
    });
    expect(put.status).toBe(200);
    expect(Buffer.from(node.values.get("clé/é") ?? []).toString()).toBe("x");
  });

  it("answers bad input with stable codes and changes nothing", async () => {
    const before = node.index;
    expect(await json("/v1/internal/raft/propose", { method: "POST", body: "x" })).toMatchObject({
      status: 400,
      body: { error: { code: "INVALID_KEY" } },
    });
    expect(await json("/v1/internal/raft/propose?key=%01", { method: "POST", body: "x" })).toMatchObject({
      status: 400,
      body: { error: { code: "INVALID_KEY" } },
    });
    const tooBig = Buffer.alloc(limits.raftEntryBytesMax + 1);
    expect(await json("/v1/internal/raft/propose?key=big", { method: "POST", body: tooBig })).toMatchObject({
      status: 413,
      body: { error: { code: "TOO_LARGE" } },
    });
    expect(node.index).toBe(before);
  });

  it("answers a missing key with 404 KEY_NOT_FOUND", async () => {
    expect(await json("/v1/internal/raft/read?key=nope")).toMatchObject({
      status: 404,
      body: { error: { code: "KEY_NOT_FOUND" } },
    });
  });

  it("answers unknown routes 404 NOT_FOUND and wrong methods 405 METHOD_NOT_ALLOWED", async () => {
    expect(await json("/v2/nothing")).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
    expect(await json("/health", { method: "DELETE" })).toMatchObject({
      status: 405,
      body: { error: { code: "METHOD_NOT_ALLOWED" } },
    });
    expect(await json("/v1/internal/raft/propose")).toMatchObject({ status: 405 });
  });

  it("maps node errors: NOT_LEADER carries the leader hint; anything else is a 500 and the server lives on", async () => {
    node.failWith = new MinikvError(ErrorCode.NOT_LEADER, "not the leader", {
      detail: { leader: "coord-2", leaderUrl: "http://127.0.0.1:5002" },
    });
    const notLeader = await json("/v1/internal/raft/propose?key=k", { method: "POST", body: "x" });
    expect(notLeader).toMatchObject({
      status: 503,
      body: { error: { code: "NOT_LEADER", leader: "coord-2", leaderUrl: "http://127.0.0.1:5002" } },
    });
    expect(notLeader.headers[LEADER_HEADER]).toBe("coord-2");
    node.failWith = new Error("boom");
    expect(await json("/v1/internal/raft/read?key=k")).toMatchObject({
      status: 500,
      body: { error: { code: "INTERNAL" } },
    });
    node.failWith = undefined;
    expect((await json("/health")).status).toBe(200);
  });

  it("GET /metrics exposes Raft state and HTTP counts by route and status", async () => {
    const answer = await httpRequest(`${base}/metrics`);
    const text = answer.body.toString();
    expect(answer.status).toBe(200);
    expect(text).toMatch(/^minikv_raft_term\{coordinator="coord-1"\} 3$/m);
    expect(text).toMatch(/^minikv_raft_role\{role="leader",coordinator="coord-1"\} 1$/m);
    expect(text).toMatch(/^minikv_raft_fsync_batches_total\{coordinator="coord-1"\} 4$/m);
    expect(text).toMatch(/^minikv_raft_entries_per_fsync\{coordinator="coord-1"\} 2$/m);
    expect(text).toMatch(/^minikv_raft_fsync_seconds_total\{coordinator="coord-1"\} 0\.02$/m);
    expect(text).toMatch(/^minikv_raft_slow_fsyncs_total\{coordinator="coord-1"\} 1$/m);
    expect(text).toMatch(/^minikv_raft_late_ticks_total\{coordinator="coord-1"\} 2$/m);
    expect(text).toMatch(/^minikv_raft_early_messages_total\{coordinator="coord-1"\} 5$/m);
    expect(text).toMatch(
      /^minikv_http_requests_total\{method="GET",route="\/health",status="200",coordinator="coord-1"\} \d+$/m,
    );
    expect(text).toMatch(/^minikv_http_requests_total\{method="GET",route="unmatched",status="404"/m);
  });

  it("counts every request of a series, in the counter and the latency histogram alike", async () => {
    const labels = ['method="DELETE"', 'route="unmatched"', 'status="404"'];
    const count = async (): Promise<[number, number]> => {
      const lines = (await httpRequest(`${base}/metrics`)).body.toString().split("\n");
      const of = (name: string): number => {
        const line = lines.find(
          (l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)),
        );
        return Number(line?.split(" ").at(-1) ?? 0);
      };
      return [of("minikv_http_requests_total"), of("minikv_http_request_duration_seconds_count")];
    };
    const before = await count();
    for (let i = 0; i < 3; i++) {
      expect((await httpRequest(`${base}/no/such/route`, { method: "DELETE" })).status).toBe(404);
    }
    expect(await count()).toEqual([before[0] + 3, before[1] + 3]);
  });
});
