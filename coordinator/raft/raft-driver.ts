/**
 * The Raft driver: owns one pure core (core/raft-node.ts) and does its I/O. A timer ticks
 * the core, and the leader's lease clock also counts the ticks a stalled event loop missed
 * (catchUpLeaseClock); one loop takes each Ready (core/types.ts) and:
 *   1. persists hard state, entries and any received snapshot in ONE storage batch,
 *      fsynced when the Ready says so (term, vote, entries, snapshot);
 *   2. sends the messages (snapshots stream beside their message): a leader's before or
 *      while its batch is written (Ready.sendBeforePersist, dissertation §10.2.1: its own
 *      entries count toward commitment only once advance() reports them durable), anyone
 *      else's only once the batch is durable (Figure 2);
 *   3. restores the state machine from a received snapshot (after 1);
 *   4. applies committed entries (atomically with the applied index, in the state
 *      machine) while 1 runs: they were stored by earlier Readys;
 *   5. advances the core once 1–4 are done.
 * Proposals, reads and messages arriving while a batch is being fsynced accumulate in the
 * core and leave together in the next Ready: many concurrent proposals share one fsync.
 * Only heartbeats and their answers leave meanwhile (sendEarly), so a slow fsync does not
 * end a leadership.
 *
 * Callers use propose() (resolves once applied here, with the state machine's result),
 * readIndex() (a linearizable read barrier, §6.4), the membership calls (one server at a
 * time, dissertation §4.1), transferLeadership(), status() and counters().
 */
import { ErrorCode, MinikvError, asError, toMinikvError } from "../../common/errors.js";
import { limits } from "../../common/limits.js";
import type { Logger } from "../../common/logger.js";
import { decodeConfChange } from "./core/conf-change.js";
import { createRawNode } from "./core/raft-node.js";
import type {
  ConfChange,
  Entry,
  Message,
  NodeId,
  ProposeResult,
  RawNode,
  Ready,
  Role,
  SnapshotMeta,
} from "./core/types.js";
import { loadStartupState } from "./driver-restore.js";
import type { Applied } from "./pending-requests.js";
import { ProposalTable, ReadTable, timeoutError } from "./pending-requests.js";
import {
  ENVELOPE_HEADER_BYTES,
  decodeConfContext,
  encodeConfContext,
  newNonce,
  ownSeq,
  payloadOf,
  wrapPayload,
} from "./proposal-envelope.js";
import type { StateMachine } from "./state-machine.js";
import type { PeerAddresses, RaftStorage, SnapshotStore } from "./storage.js";
import type { Transport } from "./transport.js";

export type { Applied } from "./pending-requests.js";

/** Tuning of one driver. Times are wall-clock; the core counts ticks of tickMs. */
export interface RaftDriverConfig {
  readonly id: NodeId;
  /**
   * Voters of a brand-new cluster, this node included: the same list on every member.
   * Empty for a node that will join an existing cluster (added with addLearner). Ignored
   * once the node has state on disk.
   */
  readonly bootstrapMembers: readonly NodeId[];
  /** Known peer addresses (id → "host:port"); more are learned from conf changes and snapshots. */
  readonly peers: PeerAddresses;
  readonly tickMs: number;
  /** Election timeout is random in [electionTicks, 2·electionTicks) ticks (§5.2). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /**
   * The leader answers reads from its check-quorum lease (dissertation §6.4.1) while it
   * holds one, without a heartbeat round; the lease is half an election timeout from the
   * quorum's oldest acknowledged heartbeat. Sound while clocks run at about the same rate.
   */
  readonly leaseRead: boolean;
  readonly maxMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly maxUncommittedBytes: number;
  /** A proposal not applied within this fails with TIMEOUT (or NO_QUORUM without a leader). */
  readonly proposalTimeoutMs: number;
  /** A read barrier not reached within this fails with NO_QUORUM (never a stale answer). */
  readonly readTimeoutMs: number;
  /** Proposals waiting to be applied; more get OVERLOADED. */
  readonly pendingProposalsMax: number;
  /** Reads waiting; more get OVERLOADED. */
  readonly pendingReadsMax: number;
  /** Applied entries past the last snapshot that trigger a snapshot and log compaction (§7). */
  readonly snapshotThresholdEntries: number;
  /** Snapshots kept on disk (the newest is always kept). */
  readonly snapshotsRetained: number;
  /** A learner is promoted only once its match index is within this many entries of the leader's. */
  readonly promoteLagEntriesMax: number;
  /** Followers forward proposals and reads to the leader; when false they fail with NOT_LEADER. */
  readonly forwardProposals: boolean;
  /** Seed of the core's election-timeout generator; random when undefined. */
  readonly seed: number | undefined;
  readonly logger: Logger | undefined;
  /** Called once if persistence fails: the driver has stopped and the process should exit. */
  readonly onFatal: ((err: Error) => void) | undefined;
}

export const raftDriverDefaults: Omit<RaftDriverConfig, "id" | "bootstrapMembers" | "peers"> = {
  tickMs: 10,
  electionTicks: 15,
  heartbeatTicks: 3,
  preVote: true,
  checkQuorum: true,
  leaseRead: false,
  maxMsgBytes: 1024 * 1024,
  maxInflightMsgs: 256,
  maxUncommittedBytes: 64 * 1024 * 1024,
  proposalTimeoutMs: 5000,
  readTimeoutMs: 5000,
  pendingProposalsMax: limits.walQueueDepthMax,
  pendingReadsMax: limits.raftPendingReadsMax,
  snapshotThresholdEntries: 10_000,
  snapshotsRetained: 2,
  promoteLagEntriesMax: 100,
  forwardProposals: true,
  seed: undefined,
  logger: undefined,
  onFatal: undefined,
};

/** What the driver owns and closes on stop(). */
export interface RaftDriverDeps<Result> {
  readonly storage: RaftStorage;
  readonly snapshots: SnapshotStore;
  readonly stateMachine: StateMachine<Result>;
  readonly transport: Transport;
}

/** One member as status() shows it. */
export interface RaftPeerStatus {
  readonly id: NodeId;
  /** "" when unknown. */
  readonly address: string;
  readonly voter: boolean;
  /** Leader only: replication progress (null elsewhere). */
  readonly match: number | null;
  readonly next: number | null;
}

/** State of this node for `/v1/cluster`. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  /** The leader's address, when known. */
  readonly leaderAddress: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** Every member, this node included. */
  readonly peers: readonly RaftPeerStatus[];
}

/** Monotonic counters for metrics (names as coordinator/coord-metrics.ts RaftCounters). */
export interface RaftDriverCounters {
  leaderChanges: number;
  elections: number;
  proposals: number;
  proposalsFailed: number;
  /** fsynced storage batches. */
  fsyncBatches: number;
  /** Log entries those batches wrote (fsyncEntries / fsyncBatches = entries per fsync). */
  fsyncEntries: number;
  /** Seconds those batches took to write and fsync. */
  fsyncSeconds: number;
  /** Those that took half an election timeout or more (each is logged). */
  slowFsyncs: number;
  /**
   * Ticks that came half an election timeout or more after the one before: the event loop
   * (or the whole process) stalled that long, and so did this node's heartbeats or its
   * answers to them (each is logged).
   */
  lateTicks: number;
  /** Heartbeats and answers sent while a batch was on the disk (sendEarly). */
  earlyMessages: number;
  snapshotsSent: number;
  snapshotsReceived: number;
  snapshotsTaken: number;
}

function failure(code: ErrorCode, message: string, detail?: Record<string, string>): MinikvError {
  return new MinikvError(code, message, detail === undefined ? undefined : { detail });
}

/** The core refused a proposal only because no leader is known yet (or one is being handed over). */
function leaderless(result: ProposeResult): boolean {
  return !result.ok && (result.reason === "noLeader" || result.reason === "transferring");
}

export class RaftDriver<Result = unknown> {
  private readonly config: RaftDriverConfig;
  private readonly nonce = newNonce();
  private readonly nonceHex = this.nonce.toString("hex");
  private readonly proposals: ProposalTable<Result>;
  private readonly reads: ReadTable;
  private readonly addresses = new Map<NodeId, string>();
  private readonly stats: RaftDriverCounters = {
    leaderChanges: 0,
    elections: 0,
    proposals: 0,
    proposalsFailed: 0,
    fsyncBatches: 0,
    fsyncEntries: 0,
    fsyncSeconds: 0,
    slowFsyncs: 0,
    lateTicks: 0,
    earlyMessages: 0,
    snapshotsSent: 0,
    snapshotsReceived: 0,
    snapshotsTaken: 0,
  };
  private node: RawNode | null = null;
  private seq = 0;
  private readSeq = 0;
  private role: Role = "follower";
  private leader: NodeId | null = null;
  private appliedTerm = 0;
  private snapshotIndex = 0;
  private snapshotting = false;
  private pendingCompaction: SnapshotMeta | null = null;
  private timer: NodeJS.Timeout | null = null;
  /**
   * When ticking started (performance.now()), and the ticks of time the lease clock has
   * counted since: one per timer, plus those catchUpLeaseClock added.
   */
  private tickOrigin = 0;
  /** When the last tick ran (performance.now()). */
  private lastTickAt = 0;
  private ticksDelivered = 0;
  private scheduled = false;
  private running: Promise<void> | null = null;
  private stopped = false;
  private fatal: Error | null = null;
  private readonly appliedListeners = new Set<() => void>();

  constructor(
    config: Pick<RaftDriverConfig, "id" | "bootstrapMembers" | "peers"> & Partial<RaftDriverConfig>,
    private readonly deps: RaftDriverDeps<Result>,
  ) {
    this.config = { ...raftDriverDefaults, ...config };
    this.proposals = new ProposalTable(this.config.pendingProposalsMax, this.config.proposalTimeoutMs);
    this.reads = new ReadTable(this.config.pendingReadsMax);
  }

  get id(): NodeId {
    return this.config.id;
  }

  /**
   * Loads state (restoring the state machine from the latest snapshot if it is behind it;
   * bootstrapping a brand-new cluster), starts the transport and the tick timer.
   */
  async start(): Promise<void> {
    const { storage, snapshots, stateMachine, transport } = this.deps;
    const startup = await loadStartupState(storage, snapshots, stateMachine, this.config.bootstrapMembers);
    this.appliedTerm = startup.appliedTerm;
    this.snapshotIndex = startup.snapshotIndex;
    for (const [id, address] of Object.entries({ ...startup.peerAddresses, ...this.config.peers })) {
      this.learnAddress(id, address);
    }
    this.node = createRawNode(this.coreConfig(), startup.restored);
    await transport.start({
      onMessage: (message) => this.onMessage(message),
      onSnapshot: (message, addresses, chunks) => this.onSnapshot(message, addresses, chunks),
      onUnreachable: (id) => this.node?.reportUnreachable(id),
    });
    this.tickOrigin = performance.now();
    this.lastTickAt = this.tickOrigin;
    this.timer = setInterval(() => this.onTick(), this.config.tickMs);
    this.schedule();
  }

  private coreConfig(): Parameters<typeof createRawNode>[0] {
    const c = this.config;
    return {
      id: c.id,
      electionTicks: c.electionTicks,
      heartbeatTicks: c.heartbeatTicks,
      preVote: c.preVote,
      checkQuorum: c.checkQuorum,
      leaseRead: c.leaseRead,
      maxMsgBytes: c.maxMsgBytes,
      maxInflightMsgs: c.maxInflightMsgs,
      maxUncommittedBytes: c.maxUncommittedBytes,
      seed: c.seed ?? Math.floor(Math.random() * 2 ** 31),
    };
  }

  /** Stops ticking and sending, fails every waiting caller with SHUTTING_DOWN, closes the deps. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.running;
    const err = failure(ErrorCode.SHUTTING_DOWN, "raft is shutting down");
    this.proposals.rejectAll(err);
    this.reads.rejectAll(err);
    const { transport, storage, snapshots, stateMachine } = this.deps;
    await transport.close();
    await snapshots.close();
    await storage.close();
    await stateMachine.close();
  }

  // ---- public requests -------------------------------------------------------------------

  /**
   * Replicates `data` (a command the state machine decodes) and resolves once it is
   * committed (fsynced by a majority) and applied on THIS node, with its index and the state
   * machine's result. A command the state machine refuses rejects with that MinikvError.
   * While an election is under way the proposal waits for a leader (within its timeout).
   * Rejects with NOT_LEADER (detail: leader, leaderAddress) when forwarding is off and this
   * node is not the leader, TOO_LARGE, OVERLOADED (queues full), TIMEOUT / NO_QUORUM when not
   * applied in time (the entry may still commit later), SHUTTING_DOWN.
   */
  propose(data: Uint8Array): Promise<Applied<Result>> {
    if (data.byteLength === 0) return Promise.reject(failure(ErrorCode.INVALID_ARGUMENT, "empty proposal"));
    if (data.byteLength + ENVELOPE_HEADER_BYTES > limits.raftEntryBytesMax) {
      return Promise.reject(
        failure(ErrorCode.TOO_LARGE, `proposal of ${data.byteLength} bytes is too large`),
      );
    }
    return this.submit((seq) => this.requireNode().propose(wrapPayload(this.nonce, seq, data)), "proposal");
  }

  /**
   * A linearizable read barrier (§6.4 ReadIndex): resolves with a read index once the
   * leader has confirmed it is still leader and this node's state machine has applied up to
   * that index — reads of the state machine after this see every write acknowledged before
   * the call. Works on followers (the leader is asked). Rejects with NO_QUORUM when it
   * cannot be confirmed in time (never with a stale answer), OVERLOADED, SHUTTING_DOWN.
   */
  readIndex(): Promise<number> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    if (!this.config.forwardProposals && this.role !== "leader") return Promise.reject(this.notLeader());
    if (!this.reads.hasRoom()) return Promise.reject(failure(ErrorCode.OVERLOADED, "too many reads waiting"));
    const promise = this.reads.add(Date.now() + this.config.readTimeoutMs);
    this.schedule();
    return promise;
  }

  /** Adds `id` (reachable at `address`) as a non-voting learner; resolves once applied here. */
  addLearner(id: NodeId, address: string): Promise<Applied<Result>> {
    if (id.length === 0 || address.length === 0) {
      return Promise.reject(failure(ErrorCode.INVALID_ARGUMENT, "addLearner needs an id and an address"));
    }
    // The address is learned when the change applies, on every member alike.
    return this.confChange("addLearner", id, address);
  }

  /**
   * Promotes learner `id` to voter once it has caught up (match within promoteLagEntriesMax
   * of the leader's log); waits for that up to proposalTimeoutMs. Leader only: elsewhere
   * NOT_LEADER.
   */
  async promote(id: NodeId): Promise<Applied<Result>> {
    const deadline = Date.now() + this.config.proposalTimeoutMs;
    for (;;) {
      const status = this.requireNode().status();
      if (status.role !== "leader") throw this.notLeader();
      const progress = status.progress[id];
      if (progress === undefined || !progress.isLearner) {
        throw failure(ErrorCode.INVALID_ARGUMENT, `${id} is not a learner`);
      }
      if (progress.match + this.config.promoteLagEntriesMax >= status.lastIndex) break;
      if (Date.now() > deadline) throw failure(ErrorCode.TIMEOUT, `${id} did not catch up in time`);
      await new Promise((resolve) => setTimeout(resolve, this.config.tickMs * 5));
    }
    return this.confChange("promote", id, "");
  }

  /** Removes member `id` (voter or learner); resolves once applied here. */
  removeNode(id: NodeId): Promise<Applied<Result>> {
    return this.confChange("remove", id, "");
  }

  /**
   * Hands leadership to voter `id` (TimeoutNow, dissertation §3.10) and resolves once this
   * node sees `id` as leader; TIMEOUT after two election timeouts.
   */
  async transferLeadership(id: NodeId): Promise<void> {
    const refused = this.refusal();
    if (refused !== null) throw refused;
    const deadline = Date.now() + 2 * this.electionTimeoutMs() + this.config.tickMs * 10;
    this.requireNode().transferLeader(id);
    this.schedule();
    while (this.leader !== id) {
      if (Date.now() > deadline) throw failure(ErrorCode.TIMEOUT, `leadership did not move to ${id} in time`);
      await new Promise((resolve) => setTimeout(resolve, this.config.tickMs));
    }
  }

  /**
   * On the leader, a heartbeat round now instead of at the next interval: for a process
   * about to pause (a requested garbage collection), so that its followers' election timers
   * restart just before the pause rather than up to a heartbeat interval earlier. Nothing on
   * any other node. Returns whether a round was sent.
   */
  heartbeatNow(): boolean {
    const node = this.node;
    if (node === null || this.stopped || !node.heartbeat()) return false;
    this.sendEarly(node);
    this.schedule();
    return true;
  }

  /** Starts an election now (tests and operators; normally the election timer does this). */
  campaign(): void {
    this.requireNode().campaign();
    this.schedule();
  }

  /** The leader this node knows of, as of the last Ready (cheaper than status()). */
  knownLeader(): NodeId | null {
    return this.leader;
  }

  status(): RaftStatus {
    const status = this.requireNode().status();
    const members = [...status.confState.voters, ...status.confState.learners];
    return {
      id: status.id,
      role: status.role,
      term: status.term,
      leader: status.leader,
      leaderAddress: status.leader === null ? null : (this.addressOf(status.leader) ?? null),
      commitIndex: status.commit,
      appliedIndex: status.applied,
      firstIndex: status.firstIndex,
      lastIndex: status.lastIndex,
      snapshotIndex: this.snapshotIndex,
      peers: members.map((id) => ({
        id,
        address: this.addressOf(id) ?? "",
        voter: status.confState.voters.includes(id),
        match: status.progress[id]?.match ?? null,
        next: status.progress[id]?.next ?? null,
      })),
    };
  }

  /**
   * Whether this node leads, as of the last Ready handled: status().role without building
   * the whole status (every request's liveness view asks).
   */
  isLeader(): boolean {
    return this.role === "leader";
  }

  /**
   * Whether a read barrier here costs no message: a leader with lease reads answers it from
   * its lease (while the lease holds; otherwise the core still runs a heartbeat round).
   */
  readsAreLocal(): boolean {
    return this.config.leaseRead && this.role === "leader";
  }

  /** A copy of the counters. */
  counters(): RaftDriverCounters {
    return { ...this.stats, proposalsFailed: this.proposals.rejected };
  }

  /** The address of `id`: this node's peers as configured and learned. */
  addressOf(id: NodeId): string | undefined {
    return this.addresses.get(id);
  }

  /** Resolves the next time the applied index moves (or after `timeoutMs`). */
  waitApplied(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.appliedListeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.appliedListeners.add(done);
    });
  }

  // ---- requests: shared paths --------------------------------------------------------------

  private requireNode(): RawNode {
    if (this.node === null) throw failure(ErrorCode.UNAVAILABLE, "raft is not started");
    return this.node;
  }

  private refusal(): MinikvError | null {
    if (this.fatal !== null) return failure(ErrorCode.UNAVAILABLE, `raft stopped: ${this.fatal.message}`);
    if (this.stopped) return failure(ErrorCode.SHUTTING_DOWN, "raft is shutting down");
    if (this.node === null) return failure(ErrorCode.UNAVAILABLE, "raft is not started");
    return null;
  }

  private notLeader(): MinikvError {
    const detail: Record<string, string> = {};
    if (this.leader !== null) detail["leader"] = this.leader;
    const address = this.leader === null ? undefined : this.addressOf(this.leader);
    if (address !== undefined) detail["leaderAddress"] = address;
    const message = this.leader === null ? "no leader is known" : `${this.leader} is the leader`;
    return failure(ErrorCode.NOT_LEADER, message, detail);
  }

  /** A fsync or a gap between ticks this long is logged and counted: half an election timeout. */
  private stallWarnMs(): number {
    return this.electionTimeoutMs() / 2;
  }

  private electionTimeoutMs(): number {
    return this.config.electionTicks * this.config.tickMs;
  }

  /**
   * Proposes through `propose(seq)` and waits for the entry tagged `seq` to be applied. The
   * common case (the core takes the proposal at once) is synchronous up to the wait: under
   * load every promise and closure per proposal shows in the leader's CPU.
   */
  private submit(propose: (seq: number) => ProposeResult, what: string): Promise<Applied<Result>> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    if (!this.config.forwardProposals && this.role !== "leader") return Promise.reject(this.notLeader());
    if (!this.proposals.hasRoom()) {
      return Promise.reject(failure(ErrorCode.OVERLOADED, "too many proposals waiting"));
    }
    this.seq += 1;
    const seq = this.seq;
    this.stats.proposals += 1;
    // The waiter exists before the entry can possibly be applied.
    const applied = this.proposals.wait(seq, what, performance.now());
    try {
      const result = propose(seq);
      if (leaderless(result) && this.config.forwardProposals) {
        void this.proposeOnceLeader(seq, propose, Date.now() + this.config.proposalTimeoutMs);
      } else if (!result.ok) {
        this.proposals.reject(seq, this.proposeRefusal(result.reason));
      }
    } catch (err) {
      this.proposals.reject(seq, toMinikvError(err));
    }
    this.schedule();
    return applied;
  }

  /**
   * While no leader is known (an election is under way), proposes `seq` again every tick
   * until the core takes it or the deadline passes; a final refusal rejects its waiter.
   */
  private async proposeOnceLeader(
    seq: number,
    propose: (seq: number) => ProposeResult,
    deadline: number,
  ): Promise<void> {
    try {
      let result: ProposeResult = { ok: false, reason: "noLeader" };
      while (leaderless(result) && Date.now() < deadline && this.refusal() === null) {
        await new Promise((resolve) => setTimeout(resolve, this.config.tickMs));
        result = propose(seq);
      }
      const refused = this.refusal();
      if (refused !== null) throw refused;
      if (!result.ok) this.proposals.reject(seq, this.proposeRefusal(result.reason));
    } catch (err) {
      this.proposals.reject(seq, toMinikvError(err));
    }
    this.schedule();
  }

  private proposeRefusal(reason: Exclude<ProposeResult, { ok: true }>["reason"]): MinikvError {
    switch (reason) {
      case "noLeader":
      case "transferring":
        return this.notLeader();
      case "dropped":
        return failure(ErrorCode.OVERLOADED, "too many uncommitted bytes; retry");
      case "tooLarge":
        return failure(ErrorCode.TOO_LARGE, "entry too large");
      case "confChangePending":
        return failure(ErrorCode.CONFLICT, "another membership change is in progress; retry");
      case "invalidConfChange":
        return failure(ErrorCode.INVALID_ARGUMENT, "the change does not fit the current membership");
    }
  }

  private confChange(type: ConfChange["type"], nodeId: NodeId, address: string): Promise<Applied<Result>> {
    return this.submit(
      (seq) =>
        this.requireNode().proposeConfChange({
          type,
          nodeId,
          context: encodeConfContext(address, this.nonce, seq),
        }),
      `${type} ${nodeId}`,
    );
  }

  // ---- inputs ------------------------------------------------------------------------------

  private onTick(): void {
    if (this.node === null || this.stopped) return;
    const now = performance.now();
    this.noteLateTick(now);
    this.node.tick();
    this.sendEarly(this.node);
    this.ticksDelivered += 1;
    // The lease clock reads the time itself (it is also caught up outside the tick): counted
    // from a moment earlier it would lag, and the lease would look younger than it is.
    this.catchUpLeaseClock(this.node);
    this.proposals.sweep(now, (what) => timeoutError(what, this.leader));
    this.reads.sweep(Date.now(), this.electionTimeoutMs(), () =>
      failure(ErrorCode.NO_QUORUM, "read index not confirmed in time"),
    );
    // Most ticks change nothing (no heartbeat or election due): then the loop has no work.
    if (this.node.hasReady() || this.reads.hasQueued() || this.pendingCompaction !== null) this.schedule();
  }

  /**
   * Counts and logs a tick that came half an election timeout or more after the previous one
   * (as etcd warns when a leader could not send its heartbeats on time): the gap is a stall
   * of this process, by a long task, a garbage collection or a starved CPU, during which its
   * followers heard nothing from it (a leader) or it answered nothing (a follower).
   */
  private noteLateTick(now: number): void {
    const gapMs = now - this.lastTickAt;
    this.lastTickAt = now;
    if (gapMs < this.stallWarnMs()) return;
    this.stats.lateTicks += 1;
    this.config.logger?.warn(
      { ms: Math.round(gapMs), role: this.role },
      "raft tick late: this process stalled half an election timeout or more",
    );
  }

  /**
   * Moves the leader's lease clock up to the wall-clock time elapsed (monotonic). setInterval
   * skips the ticks of a stalled event loop (GC, a busy machine), and a leader that missed
   * them would count its lease from a clock that stood still. Only the lease clock catches
   * up: heartbeats, check-quorum and election timers keep one tick per timer, so a stall
   * during which the peers' answers waited unread does not depose a leader.
   */
  private catchUpLeaseClock(node: RawNode): void {
    const due = Math.floor((performance.now() - this.tickOrigin) / this.config.tickMs);
    if (due <= this.ticksDelivered) return;
    node.advanceLeaseClock(due - this.ticksDelivered);
    this.ticksDelivered = due;
  }

  private onMessage(message: Message): void {
    if (this.node === null || this.stopped) return;
    this.node.step(message);
    this.sendEarly(this.node);
    this.schedule();
  }

  /**
   * While a batch is on the disk: heartbeats and their answers (and read answers) leave at
   * once instead of with the next Ready (RawNode.takeEarlyMessages), so a slow fsync does
   * not silence a leader or its followers.
   */
  private sendEarly(node: RawNode): void {
    const early = node.takeEarlyMessages();
    if (early.length === 0) return;
    this.stats.earlyMessages += early.length;
    for (const message of early) this.deps.transport.send(message);
  }

  /** Stores a leader's snapshot durably, then hands its message to the core. */
  private async onSnapshot(
    message: Message,
    addresses: PeerAddresses,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const meta = message.snapshot;
    if (meta === null || this.stopped) throw failure(ErrorCode.UNAVAILABLE, "not accepting snapshots");
    if (meta.index <= this.deps.stateMachine.appliedIndex()) {
      // Already past it: nothing to store; the core answers the leader with where we are.
      for await (const _chunk of chunks) continue;
      this.onMessage(message);
      return;
    }
    const sink = await this.deps.snapshots.create(meta, addresses);
    try {
      for await (const chunk of chunks) await sink.write(chunk);
      await sink.commit();
    } catch (err) {
      await sink.abort();
      throw err;
    }
    this.stats.snapshotsReceived += 1;
    for (const [id, address] of Object.entries(addresses)) this.learnAddress(id, address);
    this.onMessage(message);
  }

  private learnAddress(id: NodeId, address: string): void {
    if (address.length === 0 || this.addresses.get(id) === address) return;
    this.addresses.set(id, address);
    if (id !== this.config.id) this.deps.transport.setPeer(id, address);
  }

  // ---- the Ready loop ----------------------------------------------------------------------

  private schedule(): void {
    if (this.scheduled || this.stopped || this.node === null) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running === null) this.running = this.runLoop().finally(() => (this.running = null));
    });
  }

  private async runLoop(): Promise<void> {
    const node = this.node;
    if (node === null) return;
    try {
      for (;;) {
        if (this.stopped) return;
        await this.compactIfReady(node);
        this.issueReads(node);
        if (!node.hasReady()) break;
        const ready = node.ready();
        const settle = await this.handleReady(node, ready);
        node.advance(ready);
        // Callers hear of their entries only now, so status() already shows their effect.
        for (const run of settle) run();
        this.afterAdvance(node);
      }
    } catch (err) {
      this.die(err);
    }
  }

  private die(err: unknown): void {
    const error = asError(err);
    this.fatal = error;
    this.config.logger?.fatal({ err: error }, "raft driver stopped: persistence or apply failed");
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    const reason = failure(ErrorCode.UNAVAILABLE, `raft stopped: ${error.message}`);
    this.proposals.rejectAll(reason);
    this.reads.rejectAll(reason);
    this.config.onFatal?.(error);
  }

  private issueReads(node: RawNode): void {
    if (!this.reads.hasQueued()) return;
    // A read sent with no leader known is silently lost by the core: hold it until there is one.
    if (this.leader === null) return;
    this.readSeq += 1;
    const context = Buffer.alloc(16);
    this.nonce.copy(context, 0);
    context.writeBigUInt64BE(BigInt(this.readSeq), 8);
    this.reads.issue(context.toString("hex"), Date.now());
    // The core may answer from its lease: let it know how much time has passed.
    if (this.config.leaseRead) this.catchUpLeaseClock(node);
    node.readIndex(context);
  }

  /**
   * Steps 1–4 of a Ready, pipelined as core/types.ts allows; returns the answers to give
   * callers once it is advanced. A leader's messages leave before its fsync
   * (sendBeforePersist, dissertation §10.2.1); everyone else's only after it (Figure 2).
   * Committed entries, all stored by earlier Readys, are applied while this Ready's batch
   * is written, unless a received snapshot must be restored first.
   */
  private async handleReady(node: RawNode, ready: Ready): Promise<(() => void)[]> {
    if (ready.softState !== null) this.onSoftState(ready.softState.role, ready.softState.leader);
    if (ready.sendBeforePersist) this.sendAll(node, ready);
    const persisted = this.persist(ready).then(() => {
      if (!ready.sendBeforePersist) this.sendAll(node, ready);
    });
    if (ready.snapshot !== null) {
      await persisted;
      await this.restoreSnapshot(ready.snapshot);
    }
    for (const readState of ready.readStates) {
      this.reads.confirm(Buffer.from(readState.context).toString("hex"), readState.index);
    }
    const [settle] = await Promise.all([this.apply(ready.committedEntries), persisted]);
    const applied = this.deps.stateMachine.appliedIndex();
    settle.push(() => this.reads.applied(applied));
    return settle;
  }

  private sendAll(node: RawNode, ready: Ready): void {
    for (const message of ready.messages) this.sendMessage(node, message);
  }

  private onSoftState(role: Role, leader: NodeId | null): void {
    // One election: a pre-vote round, or a campaign that did not start with one.
    const campaigning = role === "preCandidate" || (role === "candidate" && this.role !== "preCandidate");
    if (campaigning && this.role !== role) this.stats.elections += 1;
    if (leader !== this.leader) {
      this.stats.leaderChanges += 1;
      this.config.logger?.info({ leader, role }, "raft leader changed");
    }
    this.role = role;
    this.leader = leader;
  }

  /** Step 1: one storage batch; fsynced unless only the commit index moved. */
  private async persist(ready: Ready): Promise<void> {
    const { storage } = this.deps;
    if (ready.hardState === null && ready.entries.length === 0 && ready.snapshot === null) return;
    const startedAt = performance.now();
    await storage.save({
      hardState: ready.hardState,
      resetTo: ready.snapshot?.index ?? null,
      entries: ready.entries,
      sync: ready.mustSync,
    });
    if (!ready.mustSync) return;
    const ms = performance.now() - startedAt;
    this.stats.fsyncBatches += 1;
    this.stats.fsyncEntries += ready.entries.length;
    this.stats.fsyncSeconds += ms / 1000;
    // No further Ready is taken while a batch is on the disk: only heartbeats and their
    // answers leave meanwhile (sendEarly); proposals, appends and their answers wait.
    if (ms >= this.stallWarnMs()) {
      this.stats.slowFsyncs += 1;
      this.config.logger?.warn(
        { ms: Math.round(ms), entries: ready.entries.length, role: this.role },
        "slow raft log fsync: half an election timeout or more",
      );
    }
  }

  private sendMessage(node: RawNode, message: Message): void {
    if (message.type !== "snapshot") {
      this.deps.transport.send(message);
      return;
    }
    const index = message.snapshot?.index ?? 0;
    void this.deps.snapshots
      .open(index)
      .then((source) => this.deps.transport.sendSnapshot(message, source))
      .then(
        () => {
          this.stats.snapshotsSent += 1;
          node.reportSnapshot(message.to, true);
          this.schedule();
        },
        (err: unknown) => {
          this.config.logger?.warn({ err, to: message.to, index }, "snapshot send failed");
          node.reportSnapshot(message.to, false);
          this.schedule();
        },
      );
  }

  /** Step 3: the state machine takes the leader's snapshot (stored by onSnapshot). */
  private async restoreSnapshot(meta: SnapshotMeta): Promise<void> {
    const source = await this.deps.snapshots.open(meta.index);
    try {
      await this.deps.stateMachine.restore(meta.index, source.chunks());
    } finally {
      await source.close();
    }
    this.appliedTerm = meta.term;
    this.snapshotIndex = meta.index;
    for (const [id, address] of Object.entries(source.info.peerAddresses)) this.learnAddress(id, address);
    this.notifyApplied();
  }

  /** Step 4: apply; returns the answers to the callers whose entries these were. */
  private async apply(committed: readonly Entry[]): Promise<(() => void)[]> {
    const applied = this.deps.stateMachine.appliedIndex();
    // Entries the state machine sees: payloads only. Indexed loops, no per-entry closures or
    // iterators: every replica runs this for every entry.
    const entries: Entry[] = [];
    for (const e of committed) {
      if (e.index <= applied) continue;
      entries.push(
        e.type === "normal" ? { term: e.term, index: e.index, type: e.type, data: payloadOf(e.data) } : e,
      );
    }
    const last = entries.at(-1);
    if (last === undefined) return [];
    const results = await this.deps.stateMachine.apply(entries);
    this.appliedTerm = last.term;
    // Our own proposals among them: seq, then index into `entries`.
    const answers: number[] = [];
    const offset = committed.length - entries.length;
    for (let i = 0; i < entries.length; i++) {
      const entry = committed[offset + i] as Entry;
      const seq =
        entry.type === "confChange" ? await this.applyConfChange(entry) : ownSeq(entry.data, this.nonce);
      if (seq !== null) answers.push(seq, i);
    }
    return [
      () => {
        for (let k = 0; k < answers.length; k += 2) {
          const seq = answers[k] as number;
          const i = answers[k + 1] as number;
          const result = results[i];
          if (result instanceof MinikvError) this.proposals.reject(seq, result);
          else this.proposals.resolve(seq, { index: (entries[i] as Entry).index, result });
        }
        this.notifyApplied();
      },
    ];
  }

  /** Learns or forgets the member's address; returns the change's proposal seq if it is ours. */
  private async applyConfChange(entry: Entry): Promise<number | null> {
    const change = decodeConfChange(entry.data);
    const context = decodeConfContext(change);
    if (change.type === "addLearner" && context.address.length > 0)
      this.learnAddress(change.nodeId, context.address);
    if (change.type === "remove" && change.nodeId !== this.config.id) {
      this.addresses.delete(change.nodeId);
      this.deps.transport.removePeer(change.nodeId);
    }
    await this.deps.storage.save({ peerAddresses: Object.fromEntries(this.addresses) });
    return context.tag !== null && context.tag.nonce === this.nonceHex ? context.tag.seq : null;
  }

  private notifyApplied(): void {
    for (const listener of [...this.appliedListeners]) listener();
  }

  // ---- snapshots and compaction (§7) -------------------------------------------------------

  /** Takes a snapshot in the background when enough entries were applied since the last one. */
  private afterAdvance(node: RawNode): void {
    const applied = this.deps.stateMachine.appliedIndex();
    if (this.snapshotting || applied - this.snapshotIndex < this.config.snapshotThresholdEntries) return;
    this.snapshotting = true;
    const meta: SnapshotMeta = { index: applied, term: this.appliedTerm, confState: node.status().confState };
    void this.takeSnapshot(meta)
      .then(
        () => {
          this.pendingCompaction = meta;
          this.schedule();
        },
        (err: unknown) => this.config.logger?.error({ err }, "snapshot failed; will retry"),
      )
      .finally(() => (this.snapshotting = false));
  }

  private async takeSnapshot(meta: SnapshotMeta): Promise<void> {
    const view = await this.deps.stateMachine.snapshot();
    try {
      if (view.index !== meta.index)
        throw new Error(`snapshot view at ${view.index}, expected ${meta.index}`);
      const sink = await this.deps.snapshots.create(meta, Object.fromEntries(this.addresses));
      try {
        for await (const chunk of view.chunks()) await sink.write(chunk);
        await sink.commit();
      } catch (err) {
        await sink.abort();
        throw err;
      }
    } finally {
      await view.close();
    }
    this.stats.snapshotsTaken += 1;
  }

  /** Between Readys: the core and the stored log drop what the new snapshot covers. */
  private async compactIfReady(node: RawNode): Promise<void> {
    const meta = this.pendingCompaction;
    if (meta === null) return;
    this.pendingCompaction = null;
    if (meta.index <= this.snapshotIndex) return;
    node.compact(meta);
    await this.deps.storage.save({ compactTo: meta.index });
    this.snapshotIndex = meta.index;
    await this.deps.snapshots.prune(this.config.snapshotsRetained);
  }
}
