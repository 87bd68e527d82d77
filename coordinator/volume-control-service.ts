/**
 * The coordinator side of VolumeControl (proto/coordinator.proto): volumes register (a Raft
 * command, only when something changed), heartbeat (the leader's soft state; a follower
 * records it and forwards it to the leader), and ask the fate of prepared writes held too
 * long. A write is committed iff the key's metadata names its txid; otherwise the
 * coordinators decide "aborted" through Raft (presumed abort), after which the write's own
 * metadata commit is refused, so the two can never both happen.
 */
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, MinikvError, isMinikvError } from "../common/errors.js";
import { fromGrpcError, grpcChannelOptions, loadProto, toGrpcError } from "../common/grpc.js";
import type { Logger } from "../common/logger.js";
import type { ProtoGrpcType } from "../proto/generated/coordinator.js";
import type { HeartbeatReply } from "../proto/generated/minikv/coordinator/v1/HeartbeatReply.js";
import type { HeartbeatRequest__Output } from "../proto/generated/minikv/coordinator/v1/HeartbeatRequest.js";
import type { RegisterReply } from "../proto/generated/minikv/coordinator/v1/RegisterReply.js";
import type { RegisterRequest__Output } from "../proto/generated/minikv/coordinator/v1/RegisterRequest.js";
import type { ResolveTransactionReply } from "../proto/generated/minikv/coordinator/v1/ResolveTransactionReply.js";
import type { ResolveTransactionRequest__Output } from "../proto/generated/minikv/coordinator/v1/ResolveTransactionRequest.js";
import type { VolumeControlClient } from "../proto/generated/minikv/coordinator/v1/VolumeControl.js";
import type { VolumeInfo__Output } from "../proto/generated/minikv/coordinator/v1/VolumeInfo.js";
import type { MetadataStore } from "./metadata-store.js";
import type { LiveVolume } from "./peer-status.js";
import { livenessBounds, type VolumeLiveness } from "./volume-liveness.js";

export interface VolumeControlDeps {
  readonly coordinatorId: string;
  readonly store: MetadataStore;
  readonly liveness: VolumeLiveness;
  readonly logger: Logger;
  /** The leader's gRPC address, or null when this node leads or no leader is known. */
  leaderAddress(): string | null;
  now(): number;
}

const FORWARD_TIMEOUT_MS = 1_000;

const proto = loadProto<ProtoGrpcType>("coordinator.proto");
const VolumeControl = proto.minikv.coordinator.v1.VolumeControl;

type Unary<Req, Rep> = (call: grpc.ServerUnaryCall<Req, Rep>, callback: grpc.sendUnaryData<Rep>) => void;

function unary<Req, Rep>(handler: (request: Req) => Promise<Rep>): Unary<Req, Rep> {
  return (call, callback) => {
    handler(call.request).then(
      (reply) => callback(null, reply),
      (err: unknown) => callback(toGrpcError(err)),
    );
  };
}

export function addVolumeControlService(server: grpc.Server, deps: VolumeControlDeps): { close(): void } {
  const forwarder = new HeartbeatForwarder();
  server.addService(VolumeControl.service, {
    Register: unary<RegisterRequest__Output, RegisterReply>((req) => register(deps, req)),
    Heartbeat: unary<HeartbeatRequest__Output, HeartbeatReply>((req) => heartbeat(deps, forwarder, req)),
    ResolveTransaction: unary<ResolveTransactionRequest__Output, ResolveTransactionReply>((req) =>
      resolve(deps, req),
    ),
  });
  return { close: () => forwarder.close() };
}

function volumeOf(info: VolumeInfo__Output | null): VolumeInfo__Output {
  if (info === null || info.volume_id === "" || info.grpc_address === "") {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "volume id and gRPC address are required");
  }
  return info;
}

function liveOf(info: VolumeInfo__Output): LiveVolume {
  return {
    id: info.volume_id,
    capacityBytes: Number(info.capacity_bytes),
    usedBytes: Number(info.used_bytes),
  };
}

async function register(deps: VolumeControlDeps, req: RegisterRequest__Output): Promise<RegisterReply> {
  const info = volumeOf(req.volume);
  const known = (await deps.store.volumes()).find((v) => v.id === info.volume_id);
  const changed =
    known === undefined ||
    known.grpcAddress !== info.grpc_address ||
    known.httpUrl !== info.http_url ||
    known.capacityBytes !== Number(info.capacity_bytes);
  if (changed) {
    await deps.store.commit({
      op: "registerVolume",
      id: info.volume_id,
      grpcAddress: info.grpc_address,
      httpUrl: info.http_url,
      capacityBytes: Number(info.capacity_bytes),
      atMs: deps.now(),
    });
    deps.logger.info({ volume: info.volume_id, address: info.grpc_address }, "volume registered");
  }
  deps.liveness.heard(liveOf(info));
  return { coordinator_id: deps.coordinatorId, heartbeat_interval_ms: livenessBounds.heartbeatIntervalMs };
}

async function heartbeat(
  deps: VolumeControlDeps,
  forwarder: HeartbeatForwarder,
  req: HeartbeatRequest__Output,
): Promise<HeartbeatReply> {
  const info = volumeOf(req.volume);
  // An unknown volume (say, after its registration was lost with a wiped cluster) must register again.
  if (!(await deps.store.volumes()).some((v) => v.id === info.volume_id)) {
    throw new MinikvError(ErrorCode.NOT_FOUND, `volume ${info.volume_id} is not registered`);
  }
  deps.liveness.heard(liveOf(info));
  const leader = deps.leaderAddress();
  if (leader !== null) forwarder.forward(leader, info, deps.logger);
  return {};
}

async function resolve(
  deps: VolumeControlDeps,
  req: ResolveTransactionRequest__Output,
): Promise<ResolveTransactionReply> {
  if (req.txid === "" || req.key === "") {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "txid and key are required");
  }
  try {
    const blob = await deps.store.getBlob(req.key);
    if (blob !== null && blob.txid === req.txid) return { outcome: "COMMITTED", version: blob.version };
    const { result } = await deps.store.commit({
      op: "abortTx",
      txid: req.txid,
      key: req.key,
      atMs: deps.now(),
    });
    return result.outcome === "committed"
      ? { outcome: "COMMITTED", version: result.version }
      : { outcome: "ABORTED", version: 0 };
  } catch (err) {
    // No quorum, no leader: the volume keeps the record and asks again later.
    if (isMinikvError(err)) return { outcome: "UNKNOWN", version: 0 };
    throw err;
  }
}

/** Sends followers' heartbeats on to the leader, one channel per leader address, fire and forget. */
class HeartbeatForwarder {
  private readonly clients = new Map<string, VolumeControlClient>();

  forward(address: string, info: VolumeInfo__Output, logger: Logger): void {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = new VolumeControl(address, grpc.credentials.createInsecure(), grpcChannelOptions);
      this.clients.set(address, client);
    }
    client.Heartbeat({ volume: info }, { deadline: Date.now() + FORWARD_TIMEOUT_MS }, (err) => {
      if (err !== null)
        logger.debug({ err: fromGrpcError(err), leader: address }, "heartbeat forward failed");
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
