/**
 * `/v1/admin` over HTTP (DESIGN.md §4, issue 5 §2): the router mounted in the coordinator's
 * real express app (createApp, with its JSON error handler), over real volume servers and an
 * in-memory ClusterAccess. Status codes, the job shape cli/admin-commands.ts reads, bad input
 * (400, nothing started), one job of a kind (409), drain and coordinator membership.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../common/logger.js";
import { adminJobDefaults } from "../coordinator/admin/admin-config.js";
import { adminRouter } from "../coordinator/admin/admin-router.js";
import { JobRegistry, type JobView } from "../coordinator/admin/job-registry.js";
import { CoordinatorMetrics } from "../coordinator/coord-metrics.js";
import type { ClusterView, CoordinatorNode, NodeStatus, ReadResult } from "../coordinator/coord-node.js";
import { createApp } from "../coordinator/http-app.js";
import { AdminTestCluster } from "./admin-fixture.js";

/** The Raft node is not what these routes use: a leader that answers status and nothing else. */
class StandInNode implements CoordinatorNode {
  readonly id = "coord-test";
  readonly grpcAddress = "127.0.0.1:1";
  status(): NodeStatus {
    return { id: this.id, role: "leader", term: 1, leader: this.id, commitIndex: 0, appliedIndex: 0 };
  }
  cluster(): Promise<ClusterView> {
    return Promise.reject(new Error("not used"));
  }
  put(): Promise<{ index: number }> {
    return Promise.reject(new Error("not used"));
  }
  read(): Promise<ReadResult> {
    return Promise.reject(new Error("not used"));
  }
}

const JOB_WAIT_MS = 20_000;

describe("admin HTTP API (issue 5 §2, DESIGN.md §4)", () => {
  let cluster: AdminTestCluster;
  let server: Server;
  let base = "";
  const logger = createLogger("test");
  const jobs = new JobRegistry({ coordinatorId: "coord-test", logger, historyMax: 8 });

  beforeAll(async () => {
    cluster = await AdminTestCluster.start(3);
    for (let i = 0; i < 10; i++) await cluster.write(`api/${i}`, 1000 + i);
    const node = new StandInNode();
    const config = { ...adminJobDefaults, recheckDelayMs: 20 };
    const app = createApp({
      node,
      metrics: new CoordinatorMetrics(node.id),
      logger,
      replicas: 3,
      routers: [adminRouter({ access: cluster.access, logger, config, jobs })],
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await jobs.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await cluster.close();
  });

  async function call(method: string, path: string, body?: unknown, raw?: string) {
    const init: RequestInit = { method };
    if (raw !== undefined || body !== undefined) {
      init.headers = { "content-type": "application/json" };
      init.body = raw ?? JSON.stringify(body);
    }
    const answer = await fetch(`${base}${path}`, init);
    return {
      status: answer.status,
      location: answer.headers.get("location"),
      body: (await answer.json()) as Record<string, unknown>,
    };
  }

  const errorCode = (body: Record<string, unknown>) => (body["error"] as { code?: string } | undefined)?.code;

  async function finished(id: string): Promise<JobView> {
    const deadline = Date.now() + JOB_WAIT_MS;
    for (;;) {
      const { status, body } = await call("GET", `/v1/admin/jobs/${encodeURIComponent(id)}`);
      expect(status).toBe(200);
      const job = body["job"] as JobView;
      if (job.state !== "running" || Date.now() > deadline) return job;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("POST /v1/admin/verify answers 202 {job}; the job is followed to its report", async () => {
    const started = await call("POST", "/v1/admin/verify", { deep: true });
    expect(started.status).toBe(202);
    const job = started.body["job"] as JobView;
    expect(job).toMatchObject({
      type: "verify",
      state: "running",
      report: null,
      error: null,
      options: { deep: true },
    });
    expect(started.location).toBe(`/v1/admin/jobs/${job.id}`);
    const done = await finished(job.id);
    expect(done).toMatchObject({ state: "succeeded", error: null, progress: { done: 10, total: 10 } });
    expect(done.report).toMatchObject({ problems: 0, keys: 10, replicasChecked: 30, deep: true });
    const list = await call("GET", "/v1/admin/jobs");
    expect((list.body["jobs"] as JobView[]).map((j) => j.id)).toContain(job.id);
  });

  it("a POST without a body runs with the defaults; compact reports each volume", async () => {
    const started = await call("POST", "/v1/admin/compact");
    expect(started.status).toBe(202);
    const done = await finished((started.body["job"] as JobView).id);
    expect(done.state).toBe("succeeded");
    expect(done.report?.["volumes"]).toHaveLength(3);
    const one = await call("POST", "/v1/admin/compact", { volume: "vol-2", shard: 7 });
    expect(one.status).toBe(202);
    const oneDone = await finished((one.body["job"] as JobView).id);
    expect(oneDone.report).toMatchObject({ shard: 7, failed: 0 });
    expect(oneDone.report?.["volumes"]).toEqual([expect.objectContaining({ volume: "vol-2" })]);
  });

  it("bad JSON, unknown options and out-of-range values are 400 INVALID_ARGUMENT and start nothing", async () => {
    const before = (await call("GET", "/v1/admin/jobs")).body["jobs"] as JobView[];
    const bad: [string, unknown, string?][] = [
      ["/v1/admin/verify", undefined, "{not json"],
      ["/v1/admin/verify", undefined, "[1]"],
      ["/v1/admin/verify", { deep: "yes" }],
      ["/v1/admin/verify", { deeep: true }],
      ["/v1/admin/repair", { replicas: 0 }],
      ["/v1/admin/repair", { replicas: 2.5 }],
      ["/v1/admin/repair", { dryRun: 1 }],
      ["/v1/admin/rebalance", { bytesPerSecond: -1 }],
      ["/v1/admin/compact", { shard: 256 }],
      ["/v1/admin/compact", { volume: "../etc" }],
      ["/v1/admin/coordinators", { id: "c4" }],
      ["/v1/admin/coordinators", { id: "c 4", address: "127.0.0.1:7004" }],
      ["/v1/admin/coordinators", { id: "c4", address: "no-port" }],
    ];
    for (const [path, body, raw] of bad) {
      const answer = await call("POST", path, body, raw);
      expect({ path, body, raw, status: answer.status, code: errorCode(answer.body) }).toEqual({
        path,
        body,
        raw,
        status: 400,
        code: "INVALID_ARGUMENT",
      });
    }
    const tooLarge = await call(
      "POST",
      "/v1/admin/verify",
      undefined,
      JSON.stringify({ deep: "x".repeat(20_000) }),
    );
    expect([tooLarge.status, errorCode(tooLarge.body)]).toEqual([413, "TOO_LARGE"]);
    expect((await call("GET", "/v1/admin/jobs")).body["jobs"]).toEqual(before);
    expect(cluster.access.membership).toEqual([]);
  });

  it("unknown jobs and volumes are 404, wrong methods 405", async () => {
    const missing = await call("GET", "/v1/admin/jobs/verify-99-deadbeef");
    expect([missing.status, errorCode(missing.body)]).toEqual([404, "NOT_FOUND"]);
    const noVolume = await call("POST", "/v1/admin/volumes/vol-9/drain");
    expect([noVolume.status, errorCode(noVolume.body)]).toEqual([404, "NOT_FOUND"]);
    const compactMissing = await call("POST", "/v1/admin/compact", { volume: "vol-9" });
    expect([compactMissing.status, errorCode(compactMissing.body)]).toEqual([404, "NOT_FOUND"]);
    for (const [method, path] of [
      ["GET", "/v1/admin/verify"],
      ["PUT", "/v1/admin/repair"],
      ["DELETE", "/v1/admin/jobs"],
      ["GET", "/v1/admin/volumes/vol-1/drain"],
    ] as const) {
      const answer = await call(method, path);
      expect([method, path, answer.status, errorCode(answer.body)]).toEqual([
        method,
        path,
        405,
        "METHOD_NOT_ALLOWED",
      ]);
    }
  });

  it("one job of a kind at a time: 409 CONFLICT names the running job; repair and rebalance exclude each other", async () => {
    let release = (): void => undefined;
    const blocker = jobs.start(
      "rebalance",
      {},
      () =>
        new Promise((resolve) => {
          release = () => resolve({ moved: 0 });
        }),
    );
    for (const path of ["/v1/admin/rebalance", "/v1/admin/repair"]) {
      const answer = await call("POST", path, {});
      expect(answer.status).toBe(409);
      expect(answer.body["error"]).toMatchObject({ code: "CONFLICT", job: blocker.id });
      expect(JSON.stringify(answer.body)).toContain(blocker.id);
    }
    const verify = await call("POST", "/v1/admin/verify", {});
    expect(verify.status).toBe(202);
    release();
    expect((await finished(blocker.id)).state).toBe("succeeded");
    expect((await finished((verify.body["job"] as JobView).id)).state).toBe("succeeded");
    const after = await call("POST", "/v1/admin/rebalance", { dryRun: true });
    expect(after.status).toBe(202);
    expect((await finished((after.body["job"] as JobView).id)).report).toMatchObject({
      dryRun: true,
      moves: 0,
    });
  });

  it("drain marks the volume draining; coordinators are added and removed through the cluster", async () => {
    const drained = await call("POST", "/v1/admin/volumes/vol-3/drain");
    expect(drained).toMatchObject({ status: 200, body: { volume: "vol-3", state: "draining" } });
    expect(cluster.access.records.get("vol-3")?.state).toBe("draining");
    const added = await call("POST", "/v1/admin/coordinators", { id: "coord-4", address: "127.0.0.1:7004" });
    expect(added).toMatchObject({ status: 200, body: { coordinator: "coord-4", added: true } });
    const removed = await call("DELETE", "/v1/admin/coordinators/coord-4");
    expect(removed).toMatchObject({ status: 200, body: { coordinator: "coord-4", removed: true } });
    expect(cluster.access.membership).toEqual(["add coord-4 127.0.0.1:7004", "remove coord-4"]);
  });
});
