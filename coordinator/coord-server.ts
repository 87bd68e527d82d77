import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import type { Router } from "express";
import { formatHostPort, type PeerSpec } from "../common/config.js";
import { ErrorCode, MinikvError } from "../common/errors.js";
import { closeHttpServer } from "../common/http-close.js";
import type { Logger } from "../common/logger.js";
import { beforeMajorCollections } from "../common/stream-memory.js";
import { PIPE_VALUE_BYTES_MAX } from "../common/volume-client.js";
import { CoordinatorMetrics } from "./coord-metrics.js";
import type { CoordinatorNode } from "./coord-node.js";
import { createHandler, type ClusterExtras } from "./http-app.js";
import { addPeerStatusService, PeerStatusClient, type SelfReport } from "./peer-status.js";
import { RaftCoordinatorNode } from "./raft-coordinator-node.js";
import { FileSnapshotStore } from "./raft/file-snapshot-store.js";
import { GrpcTransport, startGrpcServer, stopGrpcServer } from "./raft/grpc-transport.js";
import { LevelStateMachine } from "./raft/level-state-machine.js";
import { coordCommandHandler, type CoordResult } from "./coord-commands.js";
import { BlobMetrics } from "./blob-metrics.js";
import { AbortPruner } from "./abort-pruner.js";
import { RepairQueue } from "./blob-reader.js";
import { ReadCache } from "./read-cache.js";
import { blobFastRoute, blobRouter } from "./blob-router.js";
import { ClusterState } from "./cluster-state.js";
import { clusterExtras } from "./cluster-extras.js";
import { createClusterAccess } from "./cluster-access-impl.js";
import type { ClusterAccess } from "./admin/cluster-access.js";
import { adminRouter } from "./admin/admin-router.js";
import { JobRegistry } from "./admin/job-registry.js";
import { adminJobDefaults } from "./admin/admin-config.js";
import { MetadataStore } from "./metadata-store.js";
import { addVolumeControlService } from "./volume-control-service.js";
import { VolumeLiveness, livenessBounds } from "./volume-liveness.js";
import { VolumePool } from "./volume-pool.js";
import { LevelRaftStore } from "./raft/level-raft-store.js";
import { RaftDriver, type RaftDriverConfig } from "./raft/raft-driver.js";
import type { PeerAddresses } from "./raft/storage.js";
import type { ServeOptions } from "./serve-command.js";

/** A running coordinator. close() stops it gracefully; it is safe to call twice. */
export interface CoordinatorHandle {
  readonly id: string;
  /** "host:port" where the HTTP API answers (the port chosen for port 0). */
  readonly httpAddress: string;
  /** "host:port" others use for gRPC (`--advertise` applied; the port chosen for port 0). */
  readonly grpcAddress: string;
  readonly node: CoordinatorNode;
  readonly metrics: CoordinatorMetrics;
  /** The gRPC server, for further services (volume control) to register on. */
  readonly grpcServer: grpc.Server;
  close(): Promise<void>;
}

/** Optional seams of startCoordinator, for tests and for what later grows around Raft. */
export interface CoordinatorHooks {
  /** Persistence failed: Raft has stopped. main.ts exits; tests may record it. */
  readonly onFatal?: (err: Error) => void;
  /** Driver settings beyond the flags (tests). */
  readonly raft?: Partial<Omit<RaftDriverConfig, "id" | "bootstrapMembers" | "peers">>;
  readonly extras?: ClusterExtras;
  /** Further HTTP APIs (admin jobs), mounted after the blob API and before the 404 handler. */
  readonly routers?: (access: ClusterAccess) => readonly Router[];
}

/** Bounds of start-up and shutdown. */
export const coordServerBounds = {
  /** Retry period while asking a bare HOST:PORT peer for its id. */
  identifyRetryMs: 500,
  identifyTimeoutMs: 1_000,
  /** Give up identifying peers after this (the operator fixes the peer list). */
  identifyGiveUpMs: 5 * 60_000,
  /** In-flight HTTP requests get this long to finish on close. */
  httpDrainMs: 2_000,
  grpcShutdownGraceMs: 1_000,
} as const;

/**
 * Starts a coordinator: the gRPC server first (its port decides the address peers use),
 * then Raft (LevelDB log and hard state under `<db>/raft`, snapshots under
 * `<db>/snapshots`, the key-value state machine under `<db>/state`), then HTTP. Resolves
 * once every port is bound. Whatever was opened is closed again if a later step fails.
 */
export async function startCoordinator(
  options: ServeOptions,
  logger: Logger,
  hooks: CoordinatorHooks = {},
): Promise<CoordinatorHandle> {
  const undo: (() => Promise<void>)[] = [];
  try {
    return await start(options, logger, hooks, undo);
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

async function start(
  options: ServeOptions,
  logger: Logger,
  hooks: CoordinatorHooks,
  undo: (() => Promise<void>)[],
): Promise<CoordinatorHandle> {
  await mkdir(options.dbDir, { recursive: true });
  const advertisedHost = options.advertiseHost ?? reachableHost(options.grpc.host);
  const { server: grpcServer, port: grpcPort } = await startGrpcServer(
    formatHostPort(options.grpc),
    () => undefined,
  );
  undo.push(() => stopGrpcServer(grpcServer, 0));
  const grpcAddress = formatHostPort({ host: advertisedHost, port: grpcPort });
  const transport = new GrpcTransport({ localId: options.id, localAddress: grpcAddress });
  transport.addTo(grpcServer);
  // Peers may ask before HTTP is up: until then this node answers UNAVAILABLE.
  const self: { report?: SelfReport } = {};
  addPeerStatusService(grpcServer, () => {
    if (self.report === undefined) throw new MinikvError(ErrorCode.UNAVAILABLE, "starting");
    return self.report;
  });
  const peerClient = new PeerStatusClient(options.id);
  undo.push(() => Promise.resolve(peerClient.close()));

  const peers = await identifyPeers(options.peers, transport, logger);
  const driver = await openDriver(options, peers, transport, logger, hooks);
  undo.push(() => driver.stop());
  await driver.raft.start();
  const node = new RaftCoordinatorNode(driver.raft, driver.reader, peerClient, grpcAddress);

  const metrics = new CoordinatorMetrics(options.id);
  metrics.attachRaft({ status: () => node.status(), counters: () => node.counters() });
  const cluster = blobCluster(driver, peerClient);
  undo.push(() => Promise.resolve(cluster.pool.close()));
  const volumeControl = addVolumeControlService(grpcServer, {
    coordinatorId: options.id,
    store: cluster.store,
    liveness: cluster.liveness,
    logger,
    leaderAddress: () => {
      const status = driver.raft.status();
      return status.role === "leader" ? null : status.leaderAddress;
    },
    now: Date.now,
  });
  undo.push(() => Promise.resolve(volumeControl.close()));
  // Keeps the registry (and so the leader's liveness report) current between requests.
  const registryTimer = setInterval(
    () => void cluster.volumes().catch(() => undefined),
    livenessBounds.heartbeatIntervalMs,
  );
  registryTimer.unref();
  undo.push(() => Promise.resolve(clearInterval(registryTimer)));
  const abortPruner = new AbortPruner({
    isLeader: () => driver.raft.isLeader(),
    state: driver.reader,
    store: cluster.store,
    now: Date.now,
    logger,
  });
  abortPruner.start();
  undo.push(() => abortPruner.stop());
  const blobMetrics = new BlobMetrics(metrics.registry, async () => {
    const counts: Record<string, number> = { alive: 0, down: 0, draining: 0, full: 0 };
    for (const v of await cluster.volumes()) {
      counts[v.state] = (counts[v.state] ?? 0) + 1;
      if (v.full) counts["full"] = (counts["full"] ?? 0) + 1;
    }
    return counts;
  });
  const repairQueue = new RepairQueue();
  const readCache = new ReadCache(options.readCacheBytes, PIPE_VALUE_BYTES_MAX, metrics.registry);
  const access = createClusterAccess({
    id: options.id,
    replicas: options.replicas,
    driver: driver.raft,
    cluster,
  });
  const jobs = new JobRegistry({
    coordinatorId: options.id,
    logger,
    historyMax: adminJobDefaults.jobHistoryMax,
  });
  undo.push(() => jobs.close());
  const blobDeps = {
    coordinatorId: options.id,
    replicas: options.replicas,
    cluster,
    metrics: blobMetrics,
    logger,
    repairQueue,
    readCache,
    now: Date.now,
  };
  const app = createHandler({
    node,
    metrics,
    logger,
    replicas: options.replicas,
    extras: hooks.extras ?? clusterExtras({ cluster, replicas: options.replicas, repairQueue }),
    fastRoutes: [blobFastRoute(blobDeps)],
    routers: [
      blobRouter(blobDeps),
      adminRouter({
        access,
        logger,
        jobs,
        config: {
          orphanGraceMs: options.orphanGraceMs,
          rebalanceBytesPerSecond: options.rebalanceBytesPerSecond,
        },
      }),
      ...(hooks.routers?.(access) ?? []),
    ],
  });
  const httpServer = await listenHttp(createServer(app), options.bind.host, options.bind.port);
  const httpPort = (httpServer.address() as AddressInfo).port;
  const httpHost = options.advertiseHost ?? reachableHost(options.bind.host);
  const httpAddress = formatHostPort({ host: httpHost, port: httpPort });
  node.httpUrl = `http://${httpAddress}`;
  self.report = {
    status: () => node.status(),
    httpUrl: node.httpUrl,
    grpcAddress,
    liveVolumes: () => (driver.raft.isLeader() ? cluster.liveness.ownView(cluster.pool.records()) : []),
  };

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    clearInterval(registryTimer);
    await closeHttpServer(httpServer, coordServerBounds.httpDrainMs);
    await jobs.close();
    volumeControl.close();
    cluster.pool.close();
    await driver.stop();
    peerClient.close();
    await stopGrpcServer(grpcServer, coordServerBounds.grpcShutdownGraceMs);
  };
  return {
    id: options.id,
    httpAddress,
    grpcAddress,
    node,
    metrics,
    grpcServer,
    close: () => (closing ??= close()),
  };
}

/** A wildcard bind is not an address anyone can dial: peers on this machine use loopback. */
function reachableHost(bindHost: string): string {
  return bindHost === "0.0.0.0" || bindHost === "::" || bindHost === "" ? "127.0.0.1" : bindHost;
}

/**
 * Ids for `--peers` given as bare HOST:PORT, asked of each peer (RaftInternal.Identify)
 * until it answers: a brand-new cluster needs every member's id to bootstrap.
 */
async function identifyPeers(
  peers: readonly PeerSpec[],
  transport: GrpcTransport,
  logger: Logger,
): Promise<PeerAddresses> {
  const entries = await Promise.all(
    peers.map(async (peer): Promise<[string, string]> => [
      peer.id ?? (await identify(peer.address, transport, logger)),
      peer.address,
    ]),
  );
  return Object.fromEntries(entries);
}

async function identify(address: string, transport: GrpcTransport, logger: Logger): Promise<string> {
  const { identifyRetryMs, identifyTimeoutMs, identifyGiveUpMs } = coordServerBounds;
  const deadlineMs = Date.now() + identifyGiveUpMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await transport.identify(address, identifyTimeoutMs);
    } catch (err) {
      if (Date.now() > deadlineMs) {
        throw new MinikvError(ErrorCode.UNAVAILABLE, `peer ${address} did not tell its id`, { cause: err });
      }
      if (attempt === 1) logger.info({ peer: address }, "waiting for peer to tell its id");
      await new Promise((resolve) => setTimeout(resolve, identifyRetryMs));
    }
  }
}

/** The blob side of a coordinator: metadata over Raft, volume liveness, volume clients. */
function blobCluster(driver: OpenDriver, peers: PeerStatusClient): ClusterState {
  const liveness = new VolumeLiveness({
    isLeader: () => driver.raft.isLeader(),
    askLeader: async () => {
      const address = driver.raft.status().leaderAddress;
      return address === null ? null : peers.status(address, livenessAskTimeoutMs);
    },
  });
  return new ClusterState(new MetadataStore(driver.raft, driver.reader), liveness, new VolumePool());
}

const livenessAskTimeoutMs = 300;

interface OpenDriver {
  readonly raft: RaftDriver<CoordResult>;
  readonly reader: LevelStateMachine<CoordResult>;
  stop(): Promise<void>;
}

async function openDriver(
  options: ServeOptions,
  peers: PeerAddresses,
  transport: GrpcTransport,
  logger: Logger,
  hooks: CoordinatorHooks,
): Promise<OpenDriver> {
  const tuning = options.raft;
  const { tickIntervalMs } = tuning;
  const stateMachine = await LevelStateMachine.open(join(options.dbDir, "state"), coordCommandHandler, {
    syncApply: tuning.syncApply,
  });
  const storage = await LevelRaftStore.open(join(options.dbDir, "raft")).catch(async (err: unknown) => {
    await stateMachine.close();
    throw err;
  });
  const snapshots = await FileSnapshotStore.open(join(options.dbDir, "snapshots")).catch(
    async (err: unknown) => {
      await Promise.all([stateMachine.close(), storage.close()]);
      throw err;
    },
  );
  const raft = new RaftDriver<CoordResult>(
    {
      id: options.id,
      bootstrapMembers: [options.id, ...Object.keys(peers)].sort(),
      peers,
      tickMs: tickIntervalMs,
      electionTicks: Math.round(tuning.electionTimeoutMs / tickIntervalMs),
      heartbeatTicks: Math.max(1, Math.round(tuning.heartbeatIntervalMs / tickIntervalMs)),
      leaseRead: tuning.leaseReads,
      snapshotThresholdEntries: tuning.snapshotThresholdEntries,
      // A read barrier that cannot be confirmed answers 503 before a client's usual timeout.
      readTimeoutMs: 2_000,
      logger,
      onFatal: (err) => {
        logger.fatal({ err }, "raft persistence failed");
        hooks.onFatal?.(err);
      },
      ...hooks.raft,
    },
    { storage, snapshots, stateMachine, transport },
  );
  // Followers hear from the leader right before each pause of its major collections.
  const removeHeartbeatNotice = beforeMajorCollections(() => raft.heartbeatNow());
  return {
    raft,
    reader: stateMachine,
    stop: () => {
      removeHeartbeatNotice();
      return raft.stop();
    },
  };
}

function listenHttp(server: Server, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
