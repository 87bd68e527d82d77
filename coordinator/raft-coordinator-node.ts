import { ErrorCode, MinikvError, isMinikvError } from "../common/errors.js";
import {
  toClusterRole,
  type ClusterView,
  type CoordinatorNode,
  type MemberStatus,
  type NodeStatus,
  type ReadResult,
} from "./coord-node.js";
import type { RaftCounters } from "./coord-metrics.js";
import type { PeerStatus, PeerStatusClient } from "./peer-status.js";
import type { KvReader } from "./raft/kv-commands.js";
import type { CoordResult } from "./coord-commands.js";
import { encodeKvCommand } from "./raft/kv-commands.js";
import type { RaftDriver, RaftStatus } from "./raft/raft-driver.js";

/** Bounds of the calls this node makes to its peers on behalf of a request. */
export const peerCallBounds = {
  /** A member that does not answer `CoordinatorPeer.Status` within this is shown unreachable. */
  statusTimeoutMs: 300,
} as const;

/**
 * The coordinator's Raft node over the driver and the plain key-value state machine:
 * writes are `put` commands proposed through Raft (a follower's driver forwards them to
 * the leader and still answers once the entry is applied here), reads take a ReadIndex
 * barrier (§6.4) and then read the local state machine.
 */
export class RaftCoordinatorNode implements CoordinatorNode {
  /** Last answer of each peer (by gRPC address), shown when a later call times out. */
  private readonly lastSeen = new Map<string, PeerStatus>();
  /** This node's HTTP base URL, once its listener is bound. */
  httpUrl: string | null = null;

  constructor(
    private readonly driver: RaftDriver<CoordResult>,
    private readonly reader: KvReader,
    private readonly peers: PeerStatusClient,
    readonly grpcAddress: string,
  ) {}

  get id(): string {
    return this.driver.id;
  }

  status(): NodeStatus {
    return nodeStatus(this.driver.status());
  }

  counters(): RaftCounters {
    return this.driver.counters();
  }

  async cluster(): Promise<ClusterView> {
    const raft = this.driver.status();
    const self = nodeStatus(raft);
    const members = await Promise.all(
      raft.peers.map((peer) => this.member(peer.id, peer.address, raft, self)),
    );
    return {
      self,
      members,
      replication: {
        firstIndex: raft.firstIndex,
        lastIndex: raft.lastIndex,
        snapshotIndex: raft.snapshotIndex,
        snapshotsSent: this.driver.counters().snapshotsSent,
        snapshotsReceived: this.driver.counters().snapshotsReceived,
        matchIndex: Object.fromEntries(
          raft.peers.flatMap((p) => (p.match === null ? [] : [[p.id, p.match]])),
        ),
      },
    };
  }

  async put(key: string, value: Uint8Array): Promise<{ readonly index: number }> {
    // Without a known leader the client hears so at once and retries (or follows another
    // coordinator) rather than holding a connection through an election.
    if (this.driver.knownLeader() === null) {
      throw new MinikvError(ErrorCode.NOT_LEADER, "no leader is known; retry shortly");
    }
    const command = encodeKvCommand({ type: "put", key: Buffer.from(key, "utf8"), value });
    try {
      const { index } = await this.driver.propose(command);
      return { index };
    } catch (err) {
      throw await this.withLeaderUrl(err);
    }
  }

  async read(key: string): Promise<ReadResult> {
    try {
      const index = await this.driver.readIndex();
      return { index, value: await this.reader.get(Buffer.from(key, "utf8")) };
    } catch (err) {
      throw await this.withLeaderUrl(err);
    }
  }

  private async member(
    id: string,
    address: string,
    raft: RaftStatus,
    self: NodeStatus,
  ): Promise<MemberStatus> {
    if (id === raft.id) return { ...self, address: this.grpcAddress, httpUrl: this.httpUrl, reachable: true };
    const answer =
      address === ""
        ? undefined
        : await this.peers.status(address, peerCallBounds.statusTimeoutMs).catch(() => undefined);
    if (answer !== undefined) this.lastSeen.set(address, answer);
    const known = answer ?? this.lastSeen.get(address);
    return {
      id,
      role: known?.role ?? "follower",
      term: known?.term ?? 0,
      leader: known?.leader ?? null,
      commitIndex: known?.commitIndex ?? 0,
      appliedIndex: known?.appliedIndex ?? 0,
      address,
      httpUrl: known?.httpUrl ?? null,
      reachable: answer !== undefined,
    };
  }

  /** Adds the leader's HTTP URL to a NOT_LEADER error, so clients can follow the hint. */
  private async withLeaderUrl(err: unknown): Promise<unknown> {
    if (!isMinikvError(err, ErrorCode.NOT_LEADER)) return err;
    const address = err.detail?.["leaderAddress"];
    if (address === undefined) return err;
    const leader = await this.peers.status(address, peerCallBounds.statusTimeoutMs).catch(() => undefined);
    if (leader === undefined || leader.httpUrl === "") return err;
    return new MinikvError(err.code, err.message, {
      cause: err,
      detail: { ...err.detail, leaderUrl: leader.httpUrl },
    });
  }
}

function nodeStatus(raft: RaftStatus): NodeStatus {
  return {
    id: raft.id,
    role: toClusterRole(raft.role),
    term: raft.term,
    leader: raft.leader,
    commitIndex: raft.commitIndex,
    appliedIndex: raft.appliedIndex,
  };
}
