import * as grpc from "@grpc/grpc-js";
import { ErrorCode, MinikvError, toMinikvError } from "../common/errors.js";
import { fromGrpcError, grpcChannelOptions, loadProto, toGrpcError } from "../common/grpc.js";
import type { ProtoGrpcType } from "../proto/generated/coordinator-peer.js";
import type { CoordinatorPeerClient } from "../proto/generated/minikv/coordinator/v1/CoordinatorPeer.js";
import type { PeerStatusReply } from "../proto/generated/minikv/coordinator/v1/PeerStatusReply.js";
import type { ClusterRole, NodeStatus } from "./coord-node.js";

/**
 * Both ends of `CoordinatorPeer.Status` (proto/coordinator-peer.proto): a coordinator
 * answers with its Raft state and addresses; PeerStatusClient asks peers, with a deadline,
 * for `GET /v1/cluster`, for the leader's HTTP URL, and for the ids of bare HOST:PORT peers.
 */

/** A peer's answer, numbers decoded. */
export interface PeerStatus extends NodeStatus {
  readonly httpUrl: string;
  readonly grpcAddress: string;
  /** The leader's live volumes (empty from followers). */
  readonly liveVolumes: readonly LiveVolume[];
}

/** A volume the leader has heard from within the liveness timeout. */
export interface LiveVolume {
  readonly id: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
}

/** What this coordinator says about itself. */
export interface SelfReport {
  status(): NodeStatus;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  /** Live volumes, as the leader knows them ([] on followers). */
  liveVolumes(): readonly LiveVolume[];
}

const proto = loadProto<ProtoGrpcType>("coordinator-peer.proto");
const CoordinatorPeer = proto.minikv.coordinator.v1.CoordinatorPeer;

/** Registers the CoordinatorPeer service on `server`; `self()` is read per call (it may not exist yet). */
export function addPeerStatusService(server: grpc.Server, self: () => SelfReport): void {
  server.addService(CoordinatorPeer.service, {
    Status: (
      _call: grpc.ServerUnaryCall<unknown, PeerStatusReply>,
      callback: grpc.sendUnaryData<PeerStatusReply>,
    ) => {
      try {
        callback(null, toReply(self()));
      } catch (err) {
        callback(toGrpcError(err));
      }
    },
  });
}

function toReply(self: SelfReport): PeerStatusReply {
  const s = self.status();
  return {
    id: s.id,
    role: s.role,
    term: s.term,
    commit_index: s.commitIndex,
    applied_index: s.appliedIndex,
    leader_id: s.leader ?? "",
    http_url: self.httpUrl,
    grpc_address: self.grpcAddress,
    live_volumes: self.liveVolumes().map((v) => ({
      id: v.id,
      capacity_bytes: v.capacityBytes,
      used_bytes: v.usedBytes,
    })),
  };
}

const ROLES: readonly string[] = ["leader", "follower", "candidate", "learner"] satisfies ClusterRole[];

/** Asks peers for their status over gRPC, one channel per address, each call bounded by a deadline. */
export class PeerStatusClient {
  private readonly clients = new Map<string, CoordinatorPeerClient>();

  constructor(private readonly selfId: string) {}

  /** One peer's status; rejects with UNAVAILABLE or TIMEOUT. */
  status(address: string, timeoutMs: number): Promise<PeerStatus> {
    const client = this.clientFor(address);
    return new Promise((resolve, reject) => {
      client.Status({ from_id: this.selfId }, { deadline: Date.now() + timeoutMs }, (err, reply) => {
        if (err !== null || reply === undefined) {
          reject(fromGrpcError(err));
          return;
        }
        // Thrown here, in grpc-js's callback, a bad answer would escape the promise as an
        // uncaught exception and end the process: it rejects instead.
        try {
          resolve(decode(reply));
        } catch (decodeErr) {
          reject(toMinikvError(decodeErr));
        }
      });
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private clientFor(address: string): CoordinatorPeerClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = new CoordinatorPeer(address, grpc.credentials.createInsecure(), grpcChannelOptions);
      this.clients.set(address, client);
    }
    return client;
  }
}

function decode(reply: {
  id: string;
  role: string;
  term: string;
  commit_index: string;
  applied_index: string;
  leader_id: string;
  http_url: string;
  grpc_address: string;
  live_volumes: { id: string; capacity_bytes: string; used_bytes: string }[];
}): PeerStatus {
  if (!ROLES.includes(reply.role)) {
    throw new MinikvError(ErrorCode.UNAVAILABLE, `peer ${reply.id} reported an unknown role "${reply.role}"`);
  }
  return {
    id: reply.id,
    role: reply.role as ClusterRole,
    term: Number(reply.term),
    commitIndex: Number(reply.commit_index),
    appliedIndex: Number(reply.applied_index),
    leader: reply.leader_id === "" ? null : reply.leader_id,
    httpUrl: reply.http_url,
    grpcAddress: reply.grpc_address,
    liveVolumes: reply.live_volumes.map((v) => ({
      id: v.id,
      capacityBytes: Number(v.capacity_bytes),
      usedBytes: Number(v.used_bytes),
    })),
  };
}
