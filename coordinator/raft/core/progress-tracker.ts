/**
 * The leader's view of each follower (§5.3 nextIndex/matchIndex), with the flow-control
 * states of etcd-style replication:
 * - probe: one append at a time until the follower's log position is found;
 * - replicate: optimistic pipelining, next advances as appends leave, bounded by the
 *   inflight window;
 * - snapshot: a snapshot is on its way; nothing else is sent until it lands or fails.
 */
import { Inflights } from "./inflights.js";
import type { ConfState, NodeId } from "./types.js";

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** Snapshot index being sent while in the snapshot state. */
  pendingSnapshot = 0;
  /** In probe state: an append is outstanding, wait for its answer or a heartbeat response. */
  probeSent = false;
  /** Heard from since the last check-quorum round (dissertation §6.2). */
  recentActive = false;
  /** Leader clock (ticks) at which the newest heartbeat this peer acknowledged was sent; -1 if none. */
  leaseAckTick = -1;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflightMsgs: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    const pendingSnapshot = this.pendingSnapshot;
    const wasSnapshot = this.state === "snapshot";
    this.resetState("probe");
    this.next = wasSnapshot ? Math.max(this.match + 1, pendingSnapshot + 1) : this.match + 1;
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement up to `index`; false when it is stale (already known). */
  maybeUpdate(index: number): boolean {
    const updated = index > this.match;
    if (updated) {
      this.match = index;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the append whose prev index was `rejected`; `hintIndex` is where the
   * leader should probe next. False when the rejection is stale.
   */
  maybeDecrTo(rejected: number, hintIndex: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hintIndex + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Records an append of `count` entries ending at `lastIndex` (or an empty probe). */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }
}

/** Progress of every member, rebuilt when a leader is elected and updated by conf changes. */
export class ProgressTracker {
  readonly progress = new Map<NodeId, Progress>();

  constructor(private readonly maxInflightMsgs: number) {}

  reset(conf: ConfState, next: number): void {
    this.progress.clear();
    for (const id of conf.voters) this.progress.set(id, new Progress(next, this.maxInflightMsgs, false));
    for (const id of conf.learners) this.progress.set(id, new Progress(next, this.maxInflightMsgs, true));
  }

  /** Brings the set of tracked members in line with `conf`, keeping existing progress. */
  sync(conf: ConfState, next: number): void {
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    const place = (id: NodeId, isLearner: boolean): void => {
      const existing = this.progress.get(id);
      if (existing === undefined) this.progress.set(id, new Progress(next, this.maxInflightMsgs, isLearner));
      else existing.isLearner = isLearner;
    };
    conf.voters.forEach((id) => place(id, false));
    conf.learners.forEach((id) => place(id, true));
  }

  get(id: NodeId): Progress | undefined {
    return this.progress.get(id);
  }
}
