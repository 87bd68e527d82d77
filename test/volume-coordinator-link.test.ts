import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { grpcChannelOptions, loadProto } from "../common/grpc.js";
import type { ProtoGrpcType } from "../proto/generated/coordinator.js";
import type { VolumeInfo__Output } from "../proto/generated/minikv/coordinator/v1/VolumeInfo.js";
import type { ResolveTransactionRequest__Output } from "../proto/generated/minikv/coordinator/v1/ResolveTransactionRequest.js";
import type { ResolveTransactionReply } from "../proto/generated/minikv/coordinator/v1/ResolveTransactionReply.js";
import { freePorts } from "../common/free-ports.js";
import { waitFor } from "./support/wait.js";
import {
  chunksOf,
  readAll,
  sha256Of,
  startTestVolume,
  testValue,
  type TestVolume,
} from "./volume-fixture.js";

// Issue 2 §2 "2PC, volume side" (presumed abort, tested against a stand-in coordinator) and
// "Servers" (a volume keeps retrying registration with coordinators that are not up yet).

/**
 * A stand-in coordinator: a real gRPC VolumeControl server plus the HTTP /health through
 * which volumes discover its gRPC address. Outcomes are scripted per txid.
 */
class StandInCoordinator {
  readonly registrations: VolumeInfo__Output[] = [];
  readonly heartbeats: VolumeInfo__Output[] = [];
  readonly asked: ResolveTransactionRequest__Output[] = [];
  readonly outcomes = new Map<string, ResolveTransactionReply>();
  private grpcServer: grpc.Server | undefined;
  private httpServer: HttpServer | undefined;

  constructor(
    readonly id: string,
    readonly httpPort: number,
    private readonly heartbeatIntervalMs: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  async start(): Promise<void> {
    const { VolumeControl } = loadProto<ProtoGrpcType>("coordinator.proto").minikv.coordinator.v1;
    const server = new grpc.Server(grpcChannelOptions);
    server.addService(VolumeControl.service, {
      Register: (
        call: grpc.ServerUnaryCall<{ volume: VolumeInfo__Output }, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        this.registrations.push(call.request.volume);
        callback(null, { coordinator_id: this.id, heartbeat_interval_ms: this.heartbeatIntervalMs });
      },
      Heartbeat: (
        call: grpc.ServerUnaryCall<{ volume: VolumeInfo__Output }, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        this.heartbeats.push(call.request.volume);
        callback(null, {});
      },
      ResolveTransaction: (
        call: grpc.ServerUnaryCall<ResolveTransactionRequest__Output, ResolveTransactionReply>,
        callback: grpc.sendUnaryData<ResolveTransactionReply>,
      ) => {
        this.asked.push(call.request);
        callback(null, this.outcomes.get(call.request.txid) ?? { outcome: "UNKNOWN" });
      },
    });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
        err === null ? resolve(port) : reject(err),
      ),
    );
    this.grpcServer = server;
    const http = createServer((req, res) => {
      if (req.url === "/health") {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ id: this.id, role: "leader", grpcAddress: `127.0.0.1:${grpcPort}` }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    http.listen(this.httpPort, "127.0.0.1");
    await once(http, "listening");
    this.httpServer = http;
  }

  async stop(): Promise<void> {
    this.grpcServer?.forceShutdown();
    this.grpcServer = undefined;
    const http = this.httpServer;
    this.httpServer = undefined;
    if (http !== undefined) {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  }
}

describe("presumed-abort resolver against a stand-in coordinator (issue 2 §2, DESIGN.md §5)", () => {
  let volume: TestVolume;
  let coordinator: StandInCoordinator;
  const values = {
    commit: testValue(70_000),
    abort: testValue(1_000),
    unknown: testValue(2_000),
  };

  beforeAll(async () => {
    const [deadPort = 0, coordinatorPort = 0] = await freePorts(2);
    coordinator = new StandInCoordinator("coord-standin", coordinatorPort, 100);
    volume = await startTestVolume({
      // The first URL never answers: the link must move on to the next.
      coordinatorUrls: [`http://127.0.0.1:${deadPort}`, coordinator.url],
      resolver: { preparedTimeoutMs: 300, intervalMs: 3_600_000 },
      link: { retryInitialMs: 50, retryMaxMs: 200, requestTimeoutMs: 500 },
    });
    for (const [name, value] of Object.entries(values)) {
      await volume.client.prepare(
        { txid: `tx-${name}`, key: `resolve/${name}`, size: value.bytes.length, crc32c: value.crc32c },
        chunksOf(value.bytes),
      );
    }
    coordinator.outcomes.set("tx-commit", { outcome: "COMMITTED", version: 42 });
    coordinator.outcomes.set("tx-abort", { outcome: "ABORTED" });
    await sleep(350);
  });

  afterAll(async () => {
    await volume.cleanup();
    await coordinator.stop();
  });

  async function preparedTxids(): Promise<string[]> {
    const txids: string[] = [];
    for await (const batch of volume.client.listKeys({ includePrepared: true })) {
      txids.push(...batch.filter((e) => e.prepared).map((e) => e.txid));
    }
    return txids.sort();
  }

  it("decides nothing while no coordinator is reachable", async () => {
    const result = await volume.server.resolver.runOnce();
    expect(result).toEqual({ committed: 0, aborted: 0, undecided: 0, unresolved: 3 });
    expect(await preparedTxids()).toEqual(["tx-abort", "tx-commit", "tx-unknown"]);
  });

  it("applies COMMITTED and ABORTED, and keeps an UNKNOWN record for later", async () => {
    await coordinator.start();
    const fresh = testValue(10);
    await volume.client.prepare({ txid: "tx-fresh", key: "resolve/fresh", size: 10, crc32c: fresh.crc32c }, [
      fresh.bytes,
    ]);
    const result = await volume.server.resolver.runOnce();
    expect(result).toEqual({ committed: 1, aborted: 1, undecided: 1, unresolved: 0 });
    // Records younger than the timeout are nobody's business yet.
    expect(coordinator.asked.map((a) => a.txid).sort()).toEqual(["tx-abort", "tx-commit", "tx-unknown"]);
    expect(coordinator.asked.find((a) => a.txid === "tx-commit")).toMatchObject({
      key: "resolve/commit",
      volume_id: "vol-test",
    });
    const stat = await volume.client.stat("resolve/commit");
    expect(stat.version).toBe(42);
    expect(sha256Of(await readAll(volume.client.read("resolve/commit")))).toBe(values.commit.sha256);
    await expect(volume.client.stat("resolve/abort")).rejects.toMatchObject({ code: "KEY_NOT_FOUND" });
    expect(await preparedTxids()).toEqual(["tx-fresh", "tx-unknown"]);
  });

  it("resolves a record once the coordinator can decide it", async () => {
    coordinator.outcomes.set("tx-unknown", { outcome: "COMMITTED", version: 43 });
    await sleep(300);
    const result = await volume.server.resolver.runOnce();
    expect(result).toEqual({ committed: 1, aborted: 0, undecided: 1, unresolved: 0 });
    expect((await volume.client.stat("resolve/unknown")).version).toBe(43);
    // tx-fresh is now old enough and UNKNOWN: still held.
    expect(await preparedTxids()).toEqual(["tx-fresh"]);
    await volume.client.abort("tx-fresh");
  });
});

describe("coordinator link: registration and heartbeats (issue 2 §2 Servers)", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("keeps retrying while no coordinator is up, then registers and heartbeats", async () => {
    const [portA = 0, portB = 0] = await freePorts(2);
    const a = new StandInCoordinator("coord-a", portA, 100);
    const b = new StandInCoordinator("coord-b", portB, 100);
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    );
    const volume = await startTestVolume({
      coordinatorUrls: [a.url, b.url],
      link: { retryInitialMs: 20, retryMaxMs: 100, requestTimeoutMs: 300 },
    });
    cleanups.push(() => volume.cleanup());
    await sleep(500);
    expect((await volume.client.health()).state).toBe("serving");
    expect(volume.server.link.registeredWith).toBeUndefined();

    await b.start();
    await waitFor("registration with coord-b", () => (b.registrations.length > 0 ? true : undefined), {
      timeoutMs: 5_000,
    });
    expect(b.registrations[0]).toMatchObject({
      volume_id: "vol-test",
      grpc_address: volume.server.grpcAddress,
      http_url: volume.httpUrl,
    });
    expect(Number(b.registrations[0]?.capacity_bytes)).toBeGreaterThan(0);
    await waitFor("two heartbeats", () => (b.heartbeats.length >= 2 ? true : undefined), {
      timeoutMs: 5_000,
    });
    expect(volume.server.link.registeredWith?.coordinatorId).toBe("coord-b");

    // Losing the coordinator moves the volume to the next one.
    await a.start();
    await b.stop();
    await waitFor("re-registration with coord-a", () => (a.registrations.length > 0 ? true : undefined), {
      timeoutMs: 5_000,
    });
    await waitFor("heartbeats to coord-a", () => (a.heartbeats.length >= 1 ? true : undefined), {
      timeoutMs: 5_000,
    });
    expect(volume.server.link.registeredWith?.coordinatorId).toBe("coord-a");
  });

  it("survives coordinators that answer garbage", async () => {
    const garbage = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(req.url === "/health" ? '{"grpcAddress": "not an address"' : "{}");
    });
    garbage.listen(0, "127.0.0.1");
    await once(garbage, "listening");
    cleanups.push(() => new Promise((resolve) => garbage.close(() => resolve())));
    const port = (garbage.address() as AddressInfo).port;
    const volume = await startTestVolume({
      coordinatorUrls: [`http://127.0.0.1:${port}`],
      link: { retryInitialMs: 10, retryMaxMs: 30, requestTimeoutMs: 200 },
    });
    cleanups.push(() => volume.cleanup());
    await sleep(300);
    expect((await volume.client.health()).state).toBe("serving");
    expect(volume.server.link.registeredWith).toBeUndefined();
  });
});
