import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import * as grpc from "@grpc/grpc-js";
import { formatHostPort, type HostPort } from "../common/config.js";
import { grpcChannelOptions, loadProto, widenServerWindows } from "../common/grpc.js";
import { createLogger, type Logger } from "../common/logger.js";
import { closeHttpServer } from "../common/http-close.js";
import { createRegistry } from "../common/metrics.js";
import type { ProtoGrpcType } from "../proto/generated/volume.js";
import { CoordinatorLink, type CoordinatorLinkConfig } from "./coordinator-link.js";
import { openDiskStore, type DiskStoreOptions } from "./disk-store.js";
import { createVolumeService } from "./grpc-service.js";
import { PipeRegistry } from "./pipe-service.js";
import { createApp } from "./http-app.js";
import { InflightTracker } from "./inflight.js";
import { createServerMetrics, type VolumeServerMetrics } from "./server-metrics.js";
import type { VolumeStore } from "./store-api.js";
import { TxResolver, type TxResolverConfig } from "./tx-resolver.js";

export interface VolumeServerOptions {
  /** Volume id, unique in the cluster (--id). */
  readonly id: string;
  /** HTTP read endpoint (--bind); port 0 picks a free port. */
  readonly http: HostPort;
  /** gRPC Volume service (--grpc); port 0 picks a free port. */
  readonly grpc: HostPort;
  /** Host others use to reach this volume (--advertise); derived from the bind host when absent. */
  readonly advertiseHost?: string;
  /** Coordinators' HTTP URLs (--coordinators); empty: run standalone without registering. */
  readonly coordinatorUrls: readonly string[];
  /** Storage engine options (data and WAL directories, segment size, snapshots, compaction). */
  readonly storage: Omit<DiskStoreOptions, "logger" | "registry">;
  readonly resolver?: Partial<TxResolverConfig>;
  readonly link?: Partial<CoordinatorLinkConfig>;
  /** How long close() lets requests in flight finish before cutting them off. */
  readonly shutdownGraceMs?: number;
  readonly logger?: Logger;
}

/** A running volume server. close() is idempotent and resolves when the store is closed. */
export interface VolumeServerHandle {
  readonly id: string;
  /** Bound "host:port" of the HTTP endpoint (the real port when 0 was asked). */
  readonly httpAddress: string;
  /** Bound "host:port" of the gRPC service. */
  readonly grpcAddress: string;
  /** What coordinators are told: the advertised HTTP URL and gRPC address. */
  readonly advertisedHttpUrl: string;
  readonly advertisedGrpcAddress: string;
  readonly store: VolumeStore;
  readonly metrics: VolumeServerMetrics;
  readonly link: CoordinatorLink;
  readonly resolver: TxResolver;
  /** Stops accepting, finishes or cuts off requests in flight, closes the store (index snapshot). */
  close(): Promise<void>;
}

const SHUTDOWN_GRACE_MS_DEFAULT = 10_000;

/**
 * Opens the storage engine and serves it: gRPC `Volume` on `grpc`, HTTP reads on `http`, the
 * coordinator link and the presumed-abort resolver. If anything fails to start, whatever
 * started is closed again before the error is rethrown.
 */
export async function startVolumeServer(options: VolumeServerOptions): Promise<VolumeServerHandle> {
  const logger = options.logger ?? createLogger("minikv-volume", { volume: options.id });
  const registry = createRegistry({ volume: options.id });
  const store = await openDiskStore({ ...options.storage, logger, registry });
  const cleanups: (() => Promise<void>)[] = [() => store.close()];
  try {
    return await serveStore(options, { store, logger, registry }, cleanups);
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw err;
  }
}

interface Opened {
  readonly store: VolumeStore;
  readonly logger: Logger;
  readonly registry: ReturnType<typeof createRegistry>;
}

async function serveStore(
  options: VolumeServerOptions,
  { store, logger, registry }: Opened,
  cleanups: (() => Promise<void>)[],
): Promise<VolumeServerHandle> {
  const metrics = createServerMetrics(registry, () => store.stats());
  const inflight = new InflightTracker();
  let state = "serving";
  const pipes = new PipeRegistry();
  const deps = { store, volumeId: options.id, metrics, logger, state: () => state, inflight, pipes };
  const { grpcServer, grpcPort, httpServer, httpPort } = await listen(options, deps, cleanups);

  const advertiseHost = options.advertiseHost ?? advertisedHostFor(options.http.host);
  const advertisedGrpcAddress = formatHostPort({ host: advertiseHost, port: grpcPort });
  const advertisedHttpUrl = `http://${formatHostPort({ host: advertiseHost, port: httpPort })}`;
  const { link, resolver } = startBackground(options, deps, { advertisedGrpcAddress, advertisedHttpUrl });

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    state = "closing";
    logger.info("volume server closing");
    await resolver.stop();
    await link.stop();
    const graceMs = options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS_DEFAULT;
    // A pipe is one long call: end each once it has answered what it took, or the graceful
    // gRPC shutdown below would wait for it until the grace period ran out.
    pipes.closeAll();
    await Promise.all([closeGrpc(grpcServer, graceMs), closeHttpServer(httpServer, graceMs)]);
    // Calls cut off above still unwind (a cancelled prepare fails CLIENT_ABORTED); let them.
    if (!(await inflight.drain(graceMs))) logger.warn({ inflight: inflight.size }, "requests still running");
    await store.close();
    logger.info("volume server closed");
  };
  return {
    id: options.id,
    httpAddress: formatHostPort({ host: options.http.host, port: httpPort }),
    grpcAddress: formatHostPort({ host: options.grpc.host, port: grpcPort }),
    advertisedHttpUrl,
    advertisedGrpcAddress,
    store,
    metrics,
    link,
    resolver,
    close: () => (closing ??= close()),
  };
}

type ServerDeps = Parameters<typeof createVolumeService>[0];

/** Binds the gRPC service and the HTTP endpoint; each registers its emergency cleanup. */
async function listen(
  options: VolumeServerOptions,
  deps: ServerDeps,
  cleanups: (() => Promise<void>)[],
): Promise<{ grpcServer: grpc.Server; grpcPort: number; httpServer: HttpServer; httpPort: number }> {
  const grpcServer = new grpc.Server(grpcChannelOptions);
  const { Volume } = loadProto<ProtoGrpcType>("volume.proto").minikv.volume.v1;
  grpcServer.addService(Volume.service, createVolumeService(deps));
  cleanups.push(() => Promise.resolve(grpcServer.forceShutdown()));
  const widenConnections = widenServerWindows(grpcServer);
  const grpcPort = await bindGrpc(grpcServer, options.grpc);
  if (!widenConnections()) deps.logger.warn("gRPC receive windows left at 64 KiB: uploads will be slower");

  const httpServer = createServer(createApp(deps));
  cleanups.push(() => closeHttpServer(httpServer, 0));
  httpServer.listen(options.http.port, options.http.host);
  await once(httpServer, "listening");
  return { grpcServer, grpcPort, httpServer, httpPort: (httpServer.address() as AddressInfo).port };
}

/** Starts the coordinator link and the presumed-abort resolver that asks through it. */
function startBackground(
  options: VolumeServerOptions,
  { store, logger, metrics }: ServerDeps,
  advertised: { advertisedGrpcAddress: string; advertisedHttpUrl: string },
): { link: CoordinatorLink; resolver: TxResolver } {
  const link = new CoordinatorLink({
    coordinatorUrls: options.coordinatorUrls,
    self: () => {
      const stats = store.stats();
      return {
        volumeId: options.id,
        grpcAddress: advertised.advertisedGrpcAddress,
        httpUrl: advertised.advertisedHttpUrl,
        capacityBytes: stats.capacityBytes,
        usedBytes: stats.usedBytes,
      };
    },
    logger,
    metrics,
    ...(options.link === undefined ? {} : { config: options.link }),
  });
  const resolver = new TxResolver({
    store,
    resolve: (txid, key) => link.resolveTransaction(txid, key, options.id),
    logger,
    metrics,
    ...(options.resolver === undefined ? {} : { config: options.resolver }),
  });
  link.start();
  resolver.start();
  return { link, resolver };
}

function bindGrpc(server: grpc.Server, address: HostPort): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(formatHostPort(address), grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err === null) resolve(port);
      else reject(err);
    });
  });
}

/** Lets calls in flight finish for `graceMs`, then cancels the rest. */
async function closeGrpc(server: grpc.Server, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true)));
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
  const clean = await Promise.race([graceful, timedOut]);
  clearTimeout(timer);
  if (!clean) server.forceShutdown();
}

/**
 * The host to advertise when none is given: the bind host itself, unless it is a wildcard
 * (0.0.0.0, ::), where the first external IPv4 address stands in, else loopback.
 */
function advertisedHostFor(bindHost: string): string {
  if (bindHost !== "0.0.0.0" && bindHost !== "::" && bindHost !== "") return bindHost;
  for (const addresses of Object.values(networkInterfaces())) {
    const external = addresses?.find((a) => a.family === "IPv4" && !a.internal);
    if (external !== undefined) return external.address;
  }
  return "127.0.0.1";
}
