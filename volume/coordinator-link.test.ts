import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterEach, expect, it } from "vitest";
import { loadProto } from "../common/grpc.js";
import { createLogger } from "../common/logger.js";
import { createRegistry } from "../common/metrics.js";
import type { ProtoGrpcType } from "../proto/generated/coordinator.js";
import { CoordinatorLink } from "./coordinator-link.js";
import { createServerMetrics } from "./server-metrics.js";
import type { StoreStats } from "./store-api.js";

const REQUEST_TIMEOUT_MS = 30_000;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A coordinator that names its gRPC address on /health and then never answers Register:
 * a paused one, as far as the volume can tell. Resolves `cancelled` when a call is cancelled.
 */
async function silentCoordinator(): Promise<{
  url: string;
  registered: Promise<void>;
  cancelled: Promise<void>;
}> {
  const { VolumeControl } = loadProto<ProtoGrpcType>("coordinator.proto").minikv.coordinator.v1;
  const server = new grpc.Server();
  let onRegister = (): void => undefined;
  let onCancel = (): void => undefined;
  const registered = new Promise<void>((resolve) => (onRegister = resolve));
  const cancelled = new Promise<void>((resolve) => (onCancel = resolve));
  server.addService(VolumeControl.service, {
    Register: (call: grpc.ServerUnaryCall<unknown, unknown>) => {
      call.on("cancelled", onCancel);
      onRegister();
    },
    Heartbeat: () => undefined,
    ResolveTransaction: () => undefined,
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
      err === null ? resolve(port) : reject(err),
    ),
  );
  cleanups.push(() => server.forceShutdown());
  const http: Server = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ status: "ok", grpcAddress: `127.0.0.1:${grpcPort}` }));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    http.closeAllConnections();
    http.close();
  });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, registered, cancelled };
}

it("stop() cancels a registration in flight instead of waiting for its deadline", async () => {
  const coordinator = await silentCoordinator();
  const link = new CoordinatorLink({
    coordinatorUrls: [coordinator.url],
    self: () => ({
      volumeId: "vol-1",
      grpcAddress: "127.0.0.1:1",
      httpUrl: "http://127.0.0.1:2",
      capacityBytes: 1,
      usedBytes: 0,
    }),
    logger: createLogger("coordinator-link-test"),
    metrics: createServerMetrics(createRegistry(), () => ({}) as StoreStats),
    config: { requestTimeoutMs: REQUEST_TIMEOUT_MS },
  });
  link.start();
  cleanups.push(() => link.stop());
  await coordinator.registered;
  const stopped = link.stop().then(() => "stopped");
  // Well inside the 30 s deadline of the call: only a cancellation ends it this soon.
  const outcome = await Promise.race([stopped, new Promise((r) => setTimeout(() => r("waiting"), 10_000))]);
  expect(outcome).toBe("stopped");
  await coordinator.cancelled;
  expect(link.registeredWith).toBeUndefined();
});
