import type { Role } from "./raft/core/types.js";

/**
 * What the coordinator's HTTP and gRPC adapters need from its Raft node. The adapters
 * parse, call one of these, and map errors; everything Raft lives behind this interface
 * (coord-server.ts implements it over the driver).
 */

/** Roles as the API shows them (DESIGN.md §4): a pre-candidate is shown as a candidate. */
export type ClusterRole = "leader" | "follower" | "candidate" | "learner";

export function toClusterRole(role: Role): ClusterRole {
  return role === "preCandidate" ? "candidate" : role;
}

/** One coordinator's Raft state as seen by itself. */
export interface NodeStatus {
  readonly id: string;
  readonly role: ClusterRole;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

/** A member of the Raft group as `GET /v1/cluster` lists it. */
export interface MemberStatus extends NodeStatus {
  /** gRPC address peers use. */
  readonly address: string;
  /** HTTP base URL, when the member answered. */
  readonly httpUrl: string | null;
  /** False when the member did not answer in time; its state fields are then the last known or zero. */
  readonly reachable: boolean;
}

/** Log and snapshot figures of this node (the `replication` part of `GET /v1/cluster`). */
export interface ReplicationStatus {
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly snapshotsSent: number;
  readonly snapshotsReceived: number;
  /** Leader only: each follower's match index. */
  readonly matchIndex: Readonly<Record<string, number>>;
}

/** The Raft part of `GET /v1/cluster`. */
export interface ClusterView {
  readonly self: NodeStatus;
  readonly members: readonly MemberStatus[];
  readonly replication: ReplicationStatus;
}

/** A value read at a linearizable point (§6.4 ReadIndex). */
export interface ReadResult {
  /** The read index the value is current at. */
  readonly index: number;
  /** Undefined when the key holds nothing. Owned by the caller. */
  readonly value: Uint8Array | undefined;
}

/**
 * The coordinator's Raft node as its adapters see it. Errors are MinikvError:
 * NOT_LEADER (detail `leader`, `leaderUrl` when known) when this node cannot serve the
 * call and cannot forward it, NO_QUORUM or TIMEOUT when the group cannot commit in time,
 * TOO_LARGE for oversized entries, SHUTTING_DOWN during close.
 */
export interface CoordinatorNode {
  readonly id: string;
  /** The gRPC address others use to reach this coordinator (`--advertise` applied). */
  readonly grpcAddress: string;
  status(): NodeStatus;
  /** This node and its peers; peers that do not answer within a short bound are marked unreachable. */
  cluster(): Promise<ClusterView>;
  /**
   * Sets `key` to `value` in the replicated key-value state machine. Resolves once the
   * entry is committed by a majority (fsynced) and applied on this node, with its index.
   */
  put(key: string, value: Uint8Array): Promise<{ readonly index: number }>;
  /** Reads `key` linearizably: confirms leadership (ReadIndex), waits for apply, then reads. */
  read(key: string): Promise<ReadResult>;
}
