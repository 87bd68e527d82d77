/**
 * RawNode: the Ready/advance boundary around the Raft state machine (cf. etcd-io/raft
 * rawnode.go). See types.ts for the driver's side of the contract.
 */
import { encodeConfChange } from "./conf-change.js";
import * as leader from "./leader.js";
import { isWellFormed } from "./messages.js";
import { Raft } from "./raft.js";
import type {
  ConfChange,
  Config,
  HardState,
  Message,
  NodeId,
  ProposeResult,
  RawNode,
  Ready,
  RestoredState,
  Role,
  SnapshotMeta,
  SoftState,
  Status,
} from "./types.js";

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

class RawNodeImpl implements RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** The Ready handed out and not yet advanced; at most one at a time. */
  private outstanding: Ready | null = null;
  /** The term of the last hard state advanced past (stored durably). */
  private durableTerm: number;
  /** Messages at the head of the queue that takeEarlyMessages already held back. */
  private heldBack = 0;

  constructor(config: Config, restored: RestoredState) {
    this.raft = new Raft(config, restored);
    this.prevSoftState = this.softState();
    this.prevHardState = this.hardState();
    this.durableTerm = this.prevHardState.term;
  }

  private role(): Role {
    const r = this.raft;
    if (r.role === "follower" && r.conf.learners.includes(r.id)) return "learner";
    return r.role;
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.role() };
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  tick(): void {
    this.raft.tick();
  }

  /** On a leader, a heartbeat round now instead of at its next interval; else nothing. */
  heartbeat(): boolean {
    return this.raft.heartbeat();
  }

  advanceLeaseClock(ticks: number): void {
    if (this.raft.role === "leader" && ticks > 0) this.raft.leaderTicks += ticks;
  }

  step(message: Message): void {
    if (message.from === this.raft.id || message.to !== this.raft.id || !isWellFormed(message)) return;
    this.raft.step(message);
  }

  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose([{ term: 0, index: 0, type: "normal", data }]);
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(change, encodeConfChange(change));
  }

  readIndex(context: Uint8Array): void {
    this.raft.readIndex(context);
  }

  transferLeader(to: NodeId): void {
    this.raft.transferLeader(to);
  }

  campaign(): void {
    this.raft.hup(false);
  }

  compact(meta: SnapshotMeta): void {
    this.raft.compact(meta);
  }

  reportUnreachable(id: NodeId): void {
    if (this.raft.role === "leader") leader.reportUnreachable(this.raft, id);
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.raft.role === "leader") leader.reportSnapshot(this.raft, id, ok);
  }

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const r = this.raft;
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.appendsPending ||
      r.log.unstableSnapshot !== null ||
      r.log.stabled < r.log.lastIndex() ||
      r.log.hasNextCommitted() ||
      !sameHardState(this.hardState(), this.prevHardState) ||
      !this.sameSoftState(this.softState())
    );
  }

  private sameSoftState(s: SoftState): boolean {
    return s.leader === this.prevSoftState.leader && s.role === this.prevSoftState.role;
  }

  ready(): Ready {
    if (this.outstanding !== null) throw new Error("ready() called before advance() of the previous Ready");
    const r = this.raft;
    leader.flushAppends(r);
    const soft = this.softState();
    const hard = this.hardState();
    const hardChanged = !sameHardState(hard, this.prevHardState);
    const entries = r.log.unstableEntries();
    const snapshot = r.log.unstableSnapshot;
    const termAndVoteDurable = hard.term === this.prevHardState.term && hard.vote === this.prevHardState.vote;
    const ready: Ready = {
      softState: this.sameSoftState(soft) ? null : soft,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot,
      messages: r.msgs,
      // Dissertation §10.2.1; see types.ts. A node is leader only in a term it campaigned
      // in, so with term and vote unchanged since the last Ready every message here was
      // produced by this leader from durable term and vote.
      sendBeforePersist: soft.role === "leader" && termAndVoteDurable && snapshot === null,
      committedEntries: r.log.takeNextCommitted(),
      readStates: r.readStates,
      // A commit index alone may be written lazily: it can be recomputed after a crash.
      mustSync: entries.length > 0 || snapshot !== null || !termAndVoteDurable,
    };
    r.msgs = [];
    this.heldBack = 0;
    r.readStates = [];
    this.prevSoftState = soft;
    this.prevHardState = hard;
    this.outstanding = ready;
    return ready;
  }

  advance(ready: Ready): void {
    if (ready !== this.outstanding) throw new Error("advance() with a Ready that is not the outstanding one");
    this.outstanding = null;
    const r = this.raft;
    if (ready.hardState !== null) this.durableTerm = ready.hardState.term;
    if (ready.snapshot !== null) {
      if (r.log.unstableSnapshot?.index === ready.snapshot.index) r.log.unstableSnapshot = null;
      r.log.appliedTo(ready.snapshot.index);
    }
    const lastEntry = ready.entries.at(-1);
    if (lastEntry !== undefined) r.log.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = ready.committedEntries.at(-1);
    if (lastCommitted !== undefined) {
      r.log.appliedTo(lastCommitted.index);
      r.reduceUncommittedBytes(ready.committedEntries);
      r.applyCommittedConfChanges(ready.committedEntries);
    }
    if (r.role === "leader") leader.selfPersisted(r);
  }

  takeEarlyMessages(): Message[] {
    const r = this.raft;
    if (this.outstanding === null || r.msgs.length <= this.heldBack) return [];
    // The first `heldBack` messages were looked at by an earlier call and must wait; the
    // durable term they were judged by changes only at advance().
    const fresh = r.msgs.slice(this.heldBack);
    const early = fresh.filter((m) => isEarly(m, this.durableTerm));
    if (early.length > 0) r.msgs = r.msgs.filter((m) => !early.includes(m));
    this.heldBack = r.msgs.length;
    return early;
  }

  status(): Status {
    const r = this.raft;
    const progress: Record<NodeId, Status["progress"][string]> = {};
    if (r.role === "leader") {
      for (const [id, pr] of r.tracker.progress) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner };
      }
    }
    return {
      id: r.id,
      role: this.role(),
      term: r.term,
      leader: r.lead,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      firstIndex: r.log.firstIndex(),
      confState: { voters: [...r.conf.voters], learners: [...r.conf.learners] },
      progress,
      leadTransferee: r.leadTransferee,
    };
  }
}

/** Whether `m` may leave before the outstanding Ready is durable (RawNode.takeEarlyMessages). */
function isEarly(m: Message, durableTerm: number): boolean {
  const type = m.type;
  return (
    (type === "heartbeat" || type === "heartbeatResp" || type === "readIndexResp") && m.term === durableTerm
  );
}

/** Creates the Raft core of one node from what the driver loaded from stable storage. */
export function createRawNode(config: Config, restored: RestoredState): RawNode {
  return new RawNodeImpl(config, restored);
}
