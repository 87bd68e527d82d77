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
  /** A follower forwards transferLeader(to) to the leader; `context` holds `to` in UTF-8. */
  | "transferLeader";

/** One Raft RPC. Fields not used by a type are 0, empty or false. */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** append: prevLogTerm; vote/preVote: lastLogTerm. */
  readonly logTerm: number;
  /**
   * append: prevLogIndex; vote/preVote: lastLogIndex; appendResp: last matching index (on
   * reject: the rejected prevLogIndex); readIndexResp: the read index; heartbeat and
   * heartbeatResp: the leader's tick count when the heartbeat left (dates its lease).
   */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** appendResp on reject: the follower's hint for fast backtracking. */
  readonly rejectHint: number;
  /** Term of the entry at rejectHint, for backtracking by term (§5.3 "optimization"). */
  readonly rejectTermHint: number;
  readonly snapshot: SnapshotMeta | null;
  /**
   * readIndex / readIndexResp / heartbeat / heartbeatResp: opaque request context.
   * vote: non-empty when the campaign was forced by timeoutNow (leadership transfer), which
   * overrides leader leases; transports must carry it.
   */
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
 * Everything the driver must do: (1) persist hardState, entries and snapshot in one
 * fsynced batch; (2) send messages; (3) if snapshot is set, restore the state machine from
 * it; (4) apply committedEntries in order; (5) call advance(ready). Arrays are fresh and
 * owned by the driver.
 *
 * Order: (2) waits for (1) unless sendBeforePersist; (3) waits for (1); (4) may run
 * concurrently with (1) and (2) when snapshot is null, since committedEntries hold only
 * entries persisted by earlier Readys (never one of this Ready's `entries`), but follows
 * (3) otherwise; (5) comes last, once all of them are done. Readys are handled one at a
 * time, so entries are applied in log order.
 */
export interface Ready {
  readonly softState: SoftState | null;
  /** Null when unchanged since the last Ready. */
  readonly hardState: HardState | null;
  /**
   * Entries to append to the stable log. Every stored entry with index ≥ entries[0].index
   * is replaced (a conflicting suffix, §5.3), including stored entries past the last one.
   */
  readonly entries: readonly Entry[];
  /**
   * A snapshot received from the leader, to persist and restore. It replaces the whole
   * stable log (every stored entry is dropped; the log restarts after snapshot.index)
   * before `entries` are appended. The bytes are those that arrived with the `snapshot`
   * message naming this metadata.
   */
  readonly snapshot: SnapshotMeta | null;
  readonly messages: readonly Message[];
  /**
   * True when no message depends on what this Ready persists: this node is the leader, in
   * a term and with a vote made durable by an earlier Ready, and no snapshot arrived. The
   * driver may then send the messages before or while it persists `entries`: the leader
   * replicates in parallel with writing its own log (dissertation §10.2.1). That is safe
   * because the leader counts its own entries toward the commit index only at advance(),
   * once they are durable (its match index moves there), so an entry is committed only
   * when a majority holds it durably (§5.4.2, Figure 8 rule unchanged). False: every
   * message waits for the fsync (Figure 2: a follower acknowledges entries, and a voter
   * grants its vote, only once they are on stable storage).
   */
  readonly sendBeforePersist: boolean;
  /**
   * Committed entries to apply, in order: only entries already persisted on this node by
   * earlier Readys, so the applied index never passes the stored log (a leader may learn
   * an entry is committed by its followers before its own write of it is durable).
   */
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /**
   * True when term, vote, entries or snapshot changed: they must be fsynced before the
   * messages leave. False when only the commit index (which may be written lazily),
   * messages or committed entries changed.
   */
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
  /**
   * Serve reads by leader lease instead of a ReadIndex round; requires checkQuorum. The
   * lease lasts half an election timeout from the oldest heartbeat a quorum acknowledged,
   * and assumes the driver ticks every node at the same rate and delivers the ticks of all
   * elapsed time (catching up after a stall) before it steps anything else.
   */
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
  /**
   * Membership before the first snapshot and the first conf-change entry. Founding members
   * pass the same founding configuration; a node joining later passes an empty one and
   * learns membership by replaying conf changes from the log (or from a snapshot), so the
   * founding configuration must itself be in the log (bootstrap conf-change entries at
   * term 1, as the driver writes) for such a node to see it.
   */
  readonly initialConfState: ConfState;
  /** Highest index the state machine has applied (never goes backwards across restarts). */
  readonly applied: number;
}

export type ProposeResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /**
       * noLeader: none known (retry later). dropped: flow control (uncommitted bytes over
       * maxUncommittedBytes) or this leader was removed. transferring: a leadership
       * transfer is under way. confChangePending: the previous conf change is not applied
       * yet, or the leader has not committed an entry of its term. tooLarge: payload over
       * limits.raftEntryBytesMax. invalidConfChange: the change does not fit the current
       * configuration (adding a member, promoting a non-learner, removing a non-member or
       * the last voter).
       */
      readonly reason:
        "noLeader" | "dropped" | "transferring" | "confChangePending" | "tooLarge" | "invalidConfChange";
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
  /** Membership in force on this node: the configuration as of the applied index. */
  readonly confState: ConfState;
  /**
   * Leader only (empty elsewhere): replication progress of every member, this node
   * included. `state` is probe (finding the follower's log position), replicate
   * (pipelining) or snapshot (waiting for reportSnapshot / the follower's answer). A learner
   * is caught up when its match is close to the leader's lastIndex.
   */
  readonly progress: Readonly<
    Record<
      NodeId,
      {
        readonly match: number;
        readonly next: number;
        readonly state: "probe" | "replicate" | "snapshot";
        readonly isLearner: boolean;
      }
    >
  >;
  /** Leader only: the target of a leadership transfer under way, else null. */
  readonly leadTransferee: NodeId | null;
}

/**
 * The pure Raft state machine (cf. etcd-io/raft RawNode); create it with createRawNode
 * (raft-node.ts). Not reentrant; every method is synchronous.
 *
 * Readys are strictly sequential: after ready(), hasReady() is false and ready() throws
 * until advance(thatReady). tick/step/propose may be called while a Ready is being
 * handled; what they produce goes into the next Ready.
 *
 * Membership: a conf change takes effect on a node when it is applied, i.e. at the
 * advance() of the Ready whose committedEntries hold it (see Raft.applyCommittedConfChanges
 * for why that is safe); a snapshot's confState takes effect when it is received.
 * status().confState is therefore the configuration as of status().applied.
 */
export interface RawNode {
  tick(): void;
  /**
   * Leader: `ticks` more ticks of elapsed time on its lease clock alone — no heartbeat,
   * check-quorum or election timer moves. For a driver whose timer missed ticks (a stalled
   * process): a lease must not outlive the time that really passed, while check-quorum
   * should not count a stall during which answers were waiting unread as silence.
   */
  advanceLeaseClock(ticks: number): void;
  /**
   * Leader: a heartbeat round now, restarting the heartbeat interval (etcd's MsgBeat), for
   * a driver about to pause its process. Any other node: nothing. Returns whether a round
   * was sent.
   */
  heartbeat(): boolean;
  /** Feeds a message from a peer. Malformed or stale messages are ignored. */
  step(message: Message): void;
  /**
   * Leader: appends `data` (replicated with the next Ready). Follower: forwards it to the
   * leader and answers ok, with no guarantee it is appended (watch the applied entries).
   */
  propose(data: Uint8Array): ProposeResult;
  /**
   * One server at a time (dissertation §4.1). The leader refuses with confChangePending
   * while its previous change is unapplied or before it has committed in its term.
   */
  proposeConfChange(change: ConfChange): ProposeResult;
  /**
   * Requests a linearizable read point; answered through Ready.readStates with the same
   * context (which must be unique). Never answered if leadership is lost meanwhile or no
   * leader is known: the driver times the read out.
   */
  readIndex(context: Uint8Array): void;
  /** Leader: hands leadership to voter `to`; a follower forwards the request to its leader. */
  transferLeader(to: NodeId): void;
  /** Starts an election now (with pre-vote if configured), as an election timeout would. */
  campaign(): void;
  /**
   * The driver took a snapshot at `meta.index` (≤ applied) whose confState is the
   * configuration at that index (status().confState if taken at status().applied):
   * entries up to it are dropped, and followers behind it will be sent `snapshot`
   * messages naming this metadata. Throws if meta disagrees with the log.
   */
  compact(meta: SnapshotMeta): void;
  /** The transport failed to deliver to `id`: stop pipelining to it. */
  reportUnreachable(id: NodeId): void;
  /**
   * The driver finished (ok) or gave up (not ok) streaming the snapshot named by a
   * `snapshot` message to `id`. Must be called once per such message, or the leader keeps
   * waiting for that follower.
   */
  reportSnapshot(id: NodeId, ok: boolean): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(ready: Ready): void;
  /**
   * While a Ready is outstanding (its batch on the disk): takes, out of what the next Ready
   * would carry, the messages that depend on nothing unpersisted, for the driver to send at
   * once: heartbeat, heartbeatResp and readIndexResp of a term already durable. They carry
   * no entries and no vote, so Figure 2's "respond after persisting" does not bind them; a
   * follower's append answers and every vote wait as before (etcd-io/raft sends the same
   * ones early in its asynchronous-storage mode). Without them a leader's heartbeats, and
   * its followers' answers, wait behind a slow fsync, and one slower than the election
   * timeout ends the leadership. Empty when no Ready is outstanding.
   */
  takeEarlyMessages(): Message[];
  status(): Status;
}
