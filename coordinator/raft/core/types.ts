/**
 * Types of the pure Raft core (Ongaro & Ousterhout 2014; Ongaro's dissertation 2014).
 *
 * The core does no I/O and reads no clock or entropy: time arrives as tick(), randomness
 * from a generator seeded by Config.seed, and every effect leaves through a Ready that the
 * driver must handle in order: persist hardState + entries (+ snapshot) with fsync, then
 * send messages, then apply committedEntries, then call advance().
 *
 * Snapshot bytes never enter the core: a snapshot is described by its metadata, and the
 * driver (or the simulator) moves the bytes beside the message that names it.
 */

export type NodeId = string;

export type EntryType = "normal" | "confChange";

/** A log entry. `data` is owned by the core once proposed; callers must not mutate it. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Empty for the no-op a new leader appends (§5.4.2, §8). */
  readonly data: Uint8Array;
}

/** What must be durable before any message depending on it is sent (Figure 2, "persistent state"). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * Membership change, one server at a time (dissertation §4.1 and §4.2.1: new servers join
 * as non-voting learners and are promoted once caught up). `context` carries what the
 * driver needs, e.g. the node's gRPC address; the core does not read it.
 */
export interface ConfChange {
  readonly type: "addLearner" | "promote" | "remove";
  readonly nodeId: NodeId;
  readonly context: string;
}

export interface SnapshotMeta {
  /** Last index the snapshot covers. */
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export type MessageType =
  | "preVote"
  | "preVoteResp"
  | "vote"
  | "voteResp"
  | "append"
  | "appendResp"
  | "heartbeat"
  | "heartbeatResp"
  /** InstallSnapshot (§7): the driver streams the bytes of `snapshot` with it. */
  | "snapshot"
  | "timeoutNow"
  /** A follower forwards proposals to the leader. */
  | "propose"
  /** A follower asks the leader for a read index (§6.4). */
  | "readIndex"
  | "readIndexResp"
  | "transferLeader";

/** One Raft RPC. Fields not used by a type are 0, empty or false. */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** append: prevLogTerm; vote/preVote: lastLogTerm. */
  readonly logTerm: number;
  /** append: prevLogIndex; vote/preVote: lastLogIndex; appendResp: last matching index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** appendResp on reject: the follower's hint for fast backtracking. */
  readonly rejectHint: number;
  /** Term of the entry at rejectHint, for backtracking by term (§5.3 "optimization"). */
  readonly rejectTermHint: number;
  readonly snapshot: SnapshotMeta | null;
  /** readIndex / readIndexResp / heartbeat: opaque request context. */
  readonly context: Uint8Array;
}

/** A linearizable read may be served once appliedIndex ≥ index (§6.4). */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

export type Role = "follower" | "candidate" | "preCandidate" | "leader" | "learner";

export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/**
 * Everything the driver must do, in order: (1) persist hardState, entries and snapshot in
 * one fsynced batch; (2) send messages; (3) if snapshot is set, restore the state machine
 * from it; (4) apply committedEntries in order; (5) call advance(ready).
 * Arrays are fresh and owned by the driver.
 */
export interface Ready {
  readonly softState: SoftState | null;
  /** Null when unchanged since the last Ready. */
  readonly hardState: HardState | null;
  /** Entries to append to the stable log; they may overwrite a conflicting suffix. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist and restore. */
  readonly snapshot: SnapshotMeta | null;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** False when only messages/committed entries changed: no fsync needed. */
  readonly mustSync: boolean;
}

export interface Config {
  readonly id: NodeId;
  /** Followers start an election after a random timeout in [electionTicks, 2*electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  /** A leader that has not heard from a quorum for electionTicks steps down. */
  readonly checkQuorum: boolean;
  /** Serve reads by leader lease instead of a ReadIndex round; requires checkQuorum. */
  readonly leaseRead: boolean;
  /** Bytes of entries per append message. */
  readonly maxMsgBytes: number;
  /** Append messages in flight to one follower (pipelining window). */
  readonly maxInflightMsgs: number;
  /** Bytes of proposed but uncommitted entries; proposals beyond are dropped. */
  readonly maxUncommittedBytes: number;
  /** Seed of the core's own generator (randomized election timeouts). */
  readonly seed: number;
}

/** What the driver loaded from stable storage at start-up. */
export interface RestoredState {
  readonly hardState: HardState;
  /** The latest snapshot's metadata, or null if none. */
  readonly snapshot: SnapshotMeta | null;
  /** Entries after the snapshot, in order. */
  readonly entries: readonly Entry[];
  /** Membership when neither snapshot nor entries say otherwise (a fresh cluster). */
  readonly initialConfState: ConfState;
  /** Highest index the state machine has applied (never goes backwards across restarts). */
  readonly applied: number;
}

export type ProposeResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: "noLeader" | "dropped" | "transferring" | "confChangePending" | "tooLarge";
    };

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly confState: ConfState;
  /** Leader only: per-peer match index. */
  readonly progress: Readonly<Record<NodeId, { readonly match: number; readonly next: number }>>;
}

/** The pure Raft state machine (cf. etcd-io/raft RawNode). */
export interface RawNode {
  tick(): void;
  step(message: Message): void;
  propose(data: Uint8Array): ProposeResult;
  proposeConfChange(change: ConfChange): ProposeResult;
  /** Requests a linearizable read point; answered through Ready.readStates with the same context. */
  readIndex(context: Uint8Array): void;
  transferLeader(to: NodeId): void;
  campaign(): void;
  /** The driver took a snapshot up to `meta.index`: entries up to it may be dropped. */
  compact(meta: SnapshotMeta): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, ok: boolean): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(ready: Ready): void;
  status(): Status;
}
