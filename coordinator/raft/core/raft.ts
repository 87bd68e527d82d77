/**
 * The Raft state machine of one node (Ongaro & Ousterhout 2014, Figure 2; Ongaro's
 * dissertation 2014). Pure: every input is a method call, every output is queued in
 * `msgs`/`readStates` or visible in the log, and RawNode (raft-node.ts) packs them into a
 * Ready. The leader's replication logic lives in leader.ts; this file holds terms, roles,
 * elections and the follower side.
 */
import { confChangeProblem, decodeConfChange, applyConfChange, sameConfState } from "./conf-change.js";
import { limits } from "../../../common/limits.js";
import { makeMessage, type MessageFields } from "./messages.js";
import { ProgressTracker } from "./progress-tracker.js";
import { voteOutcome } from "./quorum.js";
import { RaftLog, entryBytes } from "./raft-log.js";
import { ReadOnlyQueue, type ReadRequest } from "./read-only.js";
import { createRng, type Rng } from "./rng.js";
import type {
  ConfChange,
  ConfState,
  Config,
  Entry,
  Message,
  NodeId,
  ProposeResult,
  ReadState,
  RestoredState,
  SnapshotMeta,
} from "./types.js";
import * as leader from "./leader.js";

/** Roles of the protocol; "learner" is a display role derived from the configuration. */
export type RaftRole = "follower" | "preCandidate" | "candidate" | "leader";

/** Context of a vote request forced by leadership transfer (TimeoutNow, dissertation §3.10). */
export const TRANSFER_CONTEXT = new TextEncoder().encode("transfer");

function isTransferContext(context: Uint8Array): boolean {
  return context.length === TRANSFER_CONTEXT.length && context.every((b, i) => b === TRANSFER_CONTEXT[i]);
}

export function validateConfig(config: Config): void {
  const positive = (name: string, value: number): void => {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`config.${name} must be a positive integer, got ${value}`);
  };
  positive("electionTicks", config.electionTicks);
  positive("heartbeatTicks", config.heartbeatTicks);
  positive("maxMsgBytes", config.maxMsgBytes);
  positive("maxInflightMsgs", config.maxInflightMsgs);
  positive("maxUncommittedBytes", config.maxUncommittedBytes);
  if (config.heartbeatTicks >= config.electionTicks) {
    throw new RangeError("config.heartbeatTicks must be smaller than config.electionTicks");
  }
  if (config.leaseRead && !config.checkQuorum) {
    throw new RangeError("config.leaseRead requires config.checkQuorum (dissertation §6.4.1)");
  }
  if (config.id.length === 0) throw new RangeError("config.id must not be empty");
}

export class Raft {
  readonly id: NodeId;
  readonly config: Config;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  readonly readOnly = new ReadOnlyQueue();
  private readonly rng: Rng;
  private readonly initialConfState: ConfState;

  term: number;
  vote: NodeId | null;
  lead: NodeId | null = null;
  role: RaftRole = "follower";
  /** Membership in force: changes take effect when applied (see applyCommittedConfChanges). */
  conf: ConfState;
  /** Index of the last conf change (or snapshot) reflected in `conf`. */
  confIndex: number;
  votes = new Map<NodeId, boolean>();
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTicks = 0;
  leadTransferee: NodeId | null = null;
  /** Leader: ticks since the current leadership transfer began. */
  transferElapsed = 0;
  /** Leader: index of the latest conf change it appended; no new one until it is applied. */
  pendingConfIndex = 0;
  /** Leader: payload bytes appended but not yet committed (flow control). */
  uncommittedBytes = 0;
  /** Leader: read requests waiting for the first commit of its term (§6.4 step 1). */
  readonly readsAwaitingCommit: ReadRequest[] = [];
  /** Leader: appends to broadcast when the next Ready is built (batches proposals). */
  appendsPending = false;
  /** Leader: ticks since it was elected, the clock of its lease (dissertation §6.4.1). */
  leaderTicks = 0;
  /** Leader: false once it sent timeoutNow in this term (a forced campaign ignores leases). */
  leaseUsable = true;
  /**
   * With leaseRead, a node that restarts ignores vote requests for an election timeout as
   * if it had heard from a leader: it may have acknowledged a leader's heartbeat before it
   * went down, and that leader may be serving reads from a lease counting on it.
   */
  private startupLease = false;
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  constructor(config: Config, restored: RestoredState) {
    validateConfig(config);
    this.id = config.id;
    this.config = config;
    this.rng = createRng(config.seed);
    const { hardState, snapshot, entries } = restored;
    this.log = new RaftLog(snapshot, entries, hardState.commit, restored.applied);
    this.tracker = new ProgressTracker(config.maxInflightMsgs);
    this.initialConfState = restored.initialConfState;
    this.conf = this.confStateAt(this.log.applied);
    this.confIndex = this.log.applied;
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, null);
    // A node that never had a term never acknowledged anyone's heartbeat.
    this.startupLease = config.leaseRead && hardState.term > 0;
  }

  // ---- configuration -------------------------------------------------------------------

  /** Membership as of `index` (≥ the snapshot index): the snapshot's, then every conf change up to it. */
  confStateAt(index: number): ConfState {
    let conf = this.log.latestSnapshot?.confState ?? this.initialConfState;
    for (let i = this.log.firstIndex(); i <= Math.min(index, this.log.lastIndex()); i++) {
      const entry = this.log.entryAt(i);
      if (entry?.type === "confChange") conf = applyConfChange(conf, decodeConfChange(entry.data));
    }
    return conf;
  }

  isVoter(id: NodeId): boolean {
    return this.conf.voters.includes(id);
  }

  /** Only voters campaign; learners and removed nodes never do (dissertation §4.2.1). */
  promotable(): boolean {
    return this.isVoter(this.id);
  }

  /**
   * Conf changes take effect when APPLIED (as in etcd), not when appended (the
   * dissertation's rule). Why: an uncommitted change can never be in force anywhere, so
   * truncating a conflicting suffix never has to roll a configuration back, and the
   * snapshot of an applied index carries exactly the configuration in force. Safety then
   * rests on three rules that keep every node within one change of the latest committed
   * configuration, so any two quorums in use intersect:
   * (1) a leader appends a change only when its previous one is applied (pendingConfIndex);
   * (2) and only after committing an entry of its own term (the fix of Ongaro's 2015
   *     raft-dev note on single-server changes);
   * (3) a node does not campaign while a committed conf change is not yet applied.
   */
  applyCommittedConfChanges(committed: readonly Entry[]): void {
    let changed = false;
    for (const entry of committed) {
      if (entry.type !== "confChange" || entry.index <= this.confIndex) continue;
      this.conf = applyConfChange(this.conf, decodeConfChange(entry.data));
      this.confIndex = entry.index;
      changed = true;
    }
    if (changed && this.role === "leader") leader.onConfChanged(this);
  }

  hasUnappliedConfChanges(): boolean {
    for (let i = this.log.applied + 1; i <= this.log.committed; i++) {
      if (this.log.entryAt(i)?.type === "confChange") return true;
    }
    return false;
  }

  /** The driver compacted its log into a snapshot whose configuration must match ours. */
  compact(meta: SnapshotMeta): void {
    if (meta.index <= this.log.firstIndex() - 1) return;
    const expected = this.confStateAt(meta.index);
    if (!sameConfState(expected, meta.confState)) {
      throw new Error(
        `compact(${meta.index}): snapshot confState differs from the log's configuration at that index`,
      );
    }
    this.log.compact(meta);
  }

  // ---- messages ------------------------------------------------------------------------

  send(fields: Omit<MessageFields, "from">): void {
    const local =
      fields.type === "propose" || fields.type === "readIndex" || fields.type === "transferLeader";
    this.msgs.push(makeMessage({ term: local ? 0 : this.term, ...fields, from: this.id }));
  }

  // ---- role transitions ----------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTicks();
    this.leadTransferee = null;
    this.votes.clear();
    this.readOnly.clear();
    this.readsAwaitingCommit.length = 0;
    this.uncommittedBytes = 0;
    this.appendsPending = false;
    this.pendingConfIndex = 0;
    this.leaderTicks = 0;
    this.leaseUsable = true;
    this.startupLease = false;
  }

  private resetRandomizedElectionTicks(): void {
    this.randomizedElectionTicks = this.config.electionTicks + this.rng.nextInt(this.config.electionTicks);
  }

  becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.role = "follower";
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    if (this.role === "leader") throw new Error("leader cannot become pre-candidate");
    // §9.6: a pre-election changes neither term nor vote.
    this.votes.clear();
    this.lead = null;
    this.resetRandomizedElectionTicks();
    this.role = "preCandidate";
  }

  private becomeCandidate(): void {
    if (this.role === "leader") throw new Error("leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  becomeLeader(): void {
    if (this.role !== "candidate") throw new Error(`${this.role} cannot become leader`);
    this.reset(this.term);
    this.role = "leader";
    this.lead = this.id;
    leader.initialize(this);
  }

  // ---- ticks ---------------------------------------------------------------------------

  /** A leader's heartbeat round now (leader.heartbeatNow); nothing on any other node. */
  heartbeat(): boolean {
    if (this.role !== "leader") return false;
    leader.heartbeatNow(this);
    return true;
  }

  tick(): void {
    if (this.role === "leader") {
      leader.tick(this);
      return;
    }
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  // ---- elections (§5.2, §9.6) ----------------------------------------------------------

  /** Starts an election; `transfer` skips pre-vote and overrides leases (TimeoutNow). */
  hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    if (this.config.preVote && !transfer) this.campaign("preVote", false);
    else this.campaign("vote", transfer);
  }

  private campaign(kind: "preVote" | "vote", transfer: boolean): void {
    if (kind === "preVote") this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = kind === "preVote" ? this.term + 1 : this.term;
    if (this.recordVote(this.id, true)) return;
    for (const id of this.conf.voters) {
      if (id === this.id) continue;
      this.send({
        type: kind,
        to: id,
        term: voteTerm,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        context: transfer ? TRANSFER_CONTEXT : new Uint8Array(0),
      });
    }
  }

  /** Tallies a vote; true when the tally decided the election (and acted on it). */
  private recordVote(from: NodeId, granted: boolean): boolean {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    const outcome = voteOutcome(this.conf.voters, this.votes);
    if (outcome === "won") {
      if (this.role === "preCandidate") this.campaign("vote", false);
      else leader.becomeLeaderAndAnnounce(this);
      return true;
    }
    if (outcome === "lost") {
      this.becomeFollower(this.term, null);
      return true;
    }
    return false;
  }

  /** Dissertation §4.2.3: a node that heard from a live leader within an election timeout ignores vote requests. */
  private inLease(type: "vote" | "preVote"): boolean {
    const heardFromLeader =
      (this.lead !== null || this.startupLease) && this.electionElapsed < this.config.electionTicks;
    return heardFromLeader && (this.config.checkQuorum || (this.config.preVote && type === "preVote"));
  }

  private handleVoteRequest(m: Message): void {
    const respType = m.type === "vote" ? "voteResp" : "preVoteResp";
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === "preVote" && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The granted response carries the request's term; for a vote, the vote and term are
      // in the hard state of the same Ready, so they are durable before this leaves.
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
      return;
    }
    this.send({ type: respType, to: m.from, term: this.term, reject: true });
  }

  // ---- step ----------------------------------------------------------------------------

  step(m: Message): void {
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term && m.term !== 0) {
      this.stepLowerTerm(m);
      return;
    }
    if (m.type === "vote" || m.type === "preVote") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        leader.step(this, m);
        return;
      case "candidate":
      case "preCandidate":
        this.stepCandidate(m);
        return;
      case "follower":
        this.stepFollower(m);
        return;
    }
  }

  /** §5.1: a higher term makes a node follower — except lease-protected and pre-vote traffic. False: drop m. */
  private stepHigherTerm(m: Message): boolean {
    if (
      (m.type === "vote" || m.type === "preVote") &&
      !isTransferContext(m.context) &&
      this.inLease(m.type)
    ) {
      return false;
    }
    if (m.type === "preVote") return true; // §9.6: never change term for a pre-vote
    if (m.type === "preVoteResp" && !m.reject) return true; // granted at our future term
    const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
    this.becomeFollower(m.term, fromLeader ? m.from : null);
    return true;
  }

  private stepLowerTerm(m: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && (m.type === "heartbeat" || m.type === "append")) {
      // A stale leader (or a node that inflated its term while partitioned, when its vote
      // requests are ignored by leases) learns our term from this and steps down.
      this.send({ type: "appendResp", to: m.from });
    } else if (m.type === "preVote") {
      this.send({ type: "preVoteResp", to: m.from, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    const myResp = this.role === "preCandidate" ? "preVoteResp" : "voteResp";
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        // §5.2: a leader of our term exists.
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case "voteResp":
      case "preVoteResp":
        if (m.type === myResp) this.recordVote(m.from, !m.reject);
        return;
      case "propose":
      case "readIndex":
      case "transferLeader":
      case "readIndexResp":
      case "timeoutNow":
      case "appendResp":
      case "heartbeatResp":
      case "vote":
      case "preVote":
        return; // requests wait for a leader (the driver retries); the rest is stale.
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        this.electionElapsed = 0;
        this.lead = m.from;
        if (m.type === "append") this.handleAppend(m);
        else if (m.type === "heartbeat") this.handleHeartbeat(m);
        else this.handleSnapshot(m);
        return;
      case "readIndexResp":
        this.readStates.push({ index: m.index, context: m.context });
        return;
      case "timeoutNow":
        this.hup(true);
        return;
      case "propose":
      case "readIndex":
      case "transferLeader":
      case "appendResp":
      case "heartbeatResp":
      case "voteResp":
      case "preVoteResp":
      case "vote":
      case "preVote":
        return; // forwarded requests are for leaders only (no forwarding loops); the rest is stale.
    }
  }

  // ---- follower side of replication (§5.3, §7) ----------------------------------------

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: "appendResp", to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.send({ type: "appendResp", to: m.from, index: lastNew });
      return;
    }
    // Fast backtracking: point the leader at the last entry that may still match.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: "appendResp",
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      rejectTermHint: hint.term,
    });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    // Echo the leader's clock so it can date the lease this acknowledgement extends.
    this.send({ type: "heartbeatResp", to: m.from, context: m.context, index: m.index });
  }

  private handleSnapshot(m: Message): void {
    const meta = m.snapshot;
    if (meta === null) return;
    if (this.restore(meta)) {
      this.send({ type: "appendResp", to: m.from, index: this.log.lastIndex() });
    } else {
      this.send({ type: "appendResp", to: m.from, index: this.log.committed });
    }
  }

  /** Installs a leader's snapshot unless the log already holds its last entry. */
  private restore(meta: SnapshotMeta): boolean {
    if (meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(meta.index, meta.term)) {
      this.log.commitTo(meta.index);
      return false;
    }
    this.log.restore(meta);
    // The snapshot holds only committed state, so its configuration is in force at once.
    this.conf = meta.confState;
    this.confIndex = meta.index;
    return true;
  }

  // ---- client requests -----------------------------------------------------------------

  propose(entries: readonly Entry[]): ProposeResult {
    for (const entry of entries) {
      if (entry.data.byteLength > limits.raftEntryBytesMax) return { ok: false, reason: "tooLarge" };
    }
    if (this.role === "leader") return leader.propose(this, entries);
    if (this.role !== "follower" || this.lead === null) return { ok: false, reason: "noLeader" };
    this.send({ type: "propose", to: this.lead, entries });
    return { ok: true };
  }

  proposeConfChange(change: ConfChange, data: Uint8Array): ProposeResult {
    if (this.role === "leader" && confChangeProblem(this.conf, change) !== null) {
      return { ok: false, reason: "invalidConfChange" };
    }
    return this.propose([{ term: 0, index: 0, type: "confChange", data }]);
  }

  readIndex(context: Uint8Array): void {
    if (this.role === "leader") {
      leader.handleReadIndex(this, { index: 0, context, from: this.id });
    } else if (this.role === "follower" && this.lead !== null) {
      this.send({ type: "readIndex", to: this.lead, context });
    }
  }

  transferLeader(to: NodeId): void {
    if (this.role === "leader") leader.transfer(this, to);
    else if (this.role === "follower" && this.lead !== null) {
      this.send({ type: "transferLeader", to: this.lead, context: new TextEncoder().encode(to) });
    }
  }

  /** Payload bytes of committed entries handed to the driver no longer count as uncommitted. */
  reduceUncommittedBytes(committed: readonly Entry[]): void {
    if (this.role !== "leader") return;
    let bytes = 0;
    for (const entry of committed) bytes += entryBytes(entry);
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }
}
