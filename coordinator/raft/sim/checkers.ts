import type { Entry, NodeId, SnapshotMeta } from "../core/types.js";

/** A broken Raft safety property. The simulator adds the seed and the trace tail. */
export class SafetyViolation extends Error {
  constructor(
    readonly property: string,
    detail: string,
  ) {
    super(`${property}: ${detail}`);
    this.name = "SafetyViolation";
  }
}

/** Read access to one node's log as written to its disk. */
export interface LogView {
  /** Term at `index`, the snapshot's term at its index, undefined when compacted or absent. */
  termAt(index: number): number | undefined;
  /** Index of the snapshot (0 if none): entries at or below it are compacted. */
  snapshotIndex(): number;
  lastIndex(): number;
}

interface CommittedEntry {
  readonly term: number;
  readonly dataHash: string;
  /**
   * An upper bound on the term in which the entry was committed: the smallest term a node
   * was in when it applied it (a node learns of a commit from a leader of at least that term).
   */
  commitTermBound: number;
}

interface LeaderRecord {
  readonly nodeId: NodeId;
  readonly term: number;
  readonly snapshotIndex: number;
  /** terms[k] is the term at snapshotIndex + k, as the log stood when it became leader. */
  readonly terms: readonly number[];
}

interface NodeProgress {
  incarnation: number;
  commit: number;
  applied: number;
  durableApplied: number;
}

export function hashBytes(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return `${bytes.byteLength}:${hash.toString(16)}`;
}

/**
 * The safety properties of Raft (Figure 3 of the paper), checked incrementally as the
 * simulator reports what each node does, so that a run fails at the first step that breaks
 * one:
 * - election safety: at most one leader per term (§5.2);
 * - log matching: same index and term ⇒ same entry and same history before it (§5.3),
 *   checked as "same (index, term) ⇒ same data and same previous term", which implies it
 *   by induction;
 * - leader completeness: a leader holds every entry committed in an earlier term (§5.4);
 * - state machine safety: no two nodes apply different entries at one index, and state
 *   machines that reached one index by different paths (log or snapshot) are equal (§5.4.3);
 * - commit and applied indexes never decrease, also across restarts.
 */
export class SafetyCheckers {
  private readonly leaders = new Map<number, NodeId>();
  private readonly leaderRecords: LeaderRecord[] = [];
  private readonly entries = new Map<string, { dataHash: string; prevTerm: number }>();
  private readonly committed = new Map<number, CommittedEntry>();
  private readonly digests = new Map<number, string>();
  private readonly progress = new Map<NodeId, NodeProgress>();
  /** Checks done, for the run summary (a checker that never runs proves nothing). */
  readonly counts = { leaderChecks: 0, appendChecks: 0, applyChecks: 0, completenessChecks: 0 };

  /** A node is leader of `term` (called at every step it is seen as leader). */
  observeLeader(nodeId: NodeId, term: number, log: LogView): void {
    this.counts.leaderChecks++;
    const known = this.leaders.get(term);
    if (known === nodeId) return;
    if (known !== undefined) {
      throw new SafetyViolation(
        "election safety (§5.2)",
        `term ${term} has two leaders: ${known} and ${nodeId}`,
      );
    }
    this.leaders.set(term, nodeId);
    const snapshotIndex = log.snapshotIndex();
    const terms: number[] = [];
    for (let i = snapshotIndex; i <= log.lastIndex(); i++) terms.push(log.termAt(i) ?? -1);
    const record: LeaderRecord = { nodeId, term, snapshotIndex, terms };
    this.leaderRecords.push(record);
    for (const [index, entry] of this.committed) this.checkCompleteness(record, index, entry);
  }

  leaderOf(term: number): NodeId | undefined {
    return this.leaders.get(term);
  }

  private checkCompleteness(record: LeaderRecord, index: number, entry: CommittedEntry): void {
    if (record.term <= entry.commitTermBound || index < record.snapshotIndex) return;
    this.counts.completenessChecks++;
    const term = record.terms[index - record.snapshotIndex];
    if (term !== entry.term) {
      throw new SafetyViolation(
        "leader completeness (§5.4)",
        `${record.nodeId} became leader of term ${record.term} with term ${term ?? "none"} at index ${index}, ` +
          `but (${index}, term ${entry.term}) was committed by term ${entry.commitTermBound}`,
      );
    }
  }

  /** `entries` were written to `nodeId`'s log after an entry of term `prevTerm`. */
  observeAppend(nodeId: NodeId, entries: readonly Entry[], prevTerm: number): void {
    let prev = prevTerm;
    for (const entry of entries) {
      this.counts.appendChecks++;
      const key = `${entry.index}/${entry.term}`;
      const dataHash = `${entry.type}:${hashBytes(entry.data)}`;
      const known = this.entries.get(key);
      if (known === undefined) {
        this.entries.set(key, { dataHash, prevTerm: prev });
      } else if (known.dataHash !== dataHash || known.prevTerm !== prev) {
        throw new SafetyViolation(
          "log matching (§5.3)",
          `${nodeId} holds (${entry.index}, term ${entry.term}) with data ${dataHash} after term ${prev}; ` +
            `another log holds it with data ${known.dataHash} after term ${known.prevTerm}`,
        );
      }
      prev = entry.term;
    }
  }

  /** `nodeId` applied `entry` while in `nodeTerm`; `digest` is its state machine afterwards. */
  observeApply(nodeId: NodeId, entry: Entry, nodeTerm: number, digest: string): void {
    this.counts.applyChecks++;
    const dataHash = `${entry.type}:${hashBytes(entry.data)}`;
    const known = this.committed.get(entry.index);
    if (known !== undefined && (known.term !== entry.term || known.dataHash !== dataHash)) {
      throw new SafetyViolation(
        "state machine safety (§5.4.3)",
        `${nodeId} applied (${entry.index}, term ${entry.term}, ${dataHash}); ` +
          `another node applied (${entry.index}, term ${known.term}, ${known.dataHash})`,
      );
    }
    this.observeDigest(nodeId, entry.index, digest);
    if (known !== undefined) {
      known.commitTermBound = Math.min(known.commitTermBound, nodeTerm);
      return;
    }
    const committed: CommittedEntry = { term: entry.term, dataHash, commitTermBound: nodeTerm };
    this.committed.set(entry.index, committed);
    for (const record of this.leaderRecords) this.checkCompleteness(record, entry.index, committed);
  }

  /** A state machine at `index` (after applying it, restoring or taking a snapshot) has `digest`. */
  observeDigest(nodeId: NodeId, index: number, digest: string): void {
    const known = this.digests.get(index);
    if (known === undefined) this.digests.set(index, digest);
    else if (known !== digest) {
      throw new SafetyViolation(
        "state machine safety (§5.4.3)",
        `${nodeId}'s state machine at index ${index} has digest ${digest}, another node's has ${known}`,
      );
    }
  }

  /** A snapshot (index, term) was stored or restored by `nodeId`. */
  observeSnapshot(nodeId: NodeId, meta: SnapshotMeta, digest: string): void {
    const known = this.committed.get(meta.index);
    if (known !== undefined && known.term !== meta.term) {
      throw new SafetyViolation(
        "state machine safety (§7)",
        `${nodeId} holds a snapshot at (${meta.index}, term ${meta.term}) but term ${known.term} was applied there`,
      );
    }
    this.observeDigest(nodeId, meta.index, digest);
  }

  /** Commit and applied indexes seen on a running node. */
  observeIndexes(nodeId: NodeId, incarnation: number, commit: number, applied: number): void {
    const last = this.progress.get(nodeId);
    if (applied > commit) {
      throw new SafetyViolation("applied ≤ commit", `${nodeId} applied ${applied} past its commit ${commit}`);
    }
    if (last === undefined) {
      this.progress.set(nodeId, { incarnation, commit, applied, durableApplied: 0 });
      return;
    }
    const sameRun = last.incarnation === incarnation;
    if (sameRun && commit < last.commit) {
      throw new SafetyViolation(
        "commit index monotonic",
        `${nodeId} commit went from ${last.commit} to ${commit}`,
      );
    }
    const floor = sameRun ? last.applied : last.durableApplied;
    if (applied < floor) {
      throw new SafetyViolation(
        "applied index monotonic",
        `${nodeId} applied went from ${floor} to ${applied}${sameRun ? "" : " across a restart"}`,
      );
    }
    Object.assign(last, { incarnation, commit, applied });
  }

  /** The applied index that is durable on `nodeId` (written with its state machine). */
  observeDurableApplied(nodeId: NodeId, applied: number): void {
    const last = this.progress.get(nodeId);
    if (last !== undefined) last.durableApplied = Math.max(last.durableApplied, applied);
  }

  /** A node restarted with a commit index of `restoredCommit`, at least `durableCommit`. */
  observeRestart(nodeId: NodeId, durableCommit: number, statusCommit: number, statusApplied: number): void {
    if (statusCommit < durableCommit) {
      throw new SafetyViolation(
        "commit index monotonic",
        `${nodeId} restarted with commit ${statusCommit} below its durable commit ${durableCommit}`,
      );
    }
    const last = this.progress.get(nodeId);
    if (last !== undefined && statusApplied < last.durableApplied) {
      throw new SafetyViolation(
        "applied index monotonic",
        `${nodeId} restarted with applied ${statusApplied} below its durable ${last.durableApplied}`,
      );
    }
  }

  committedCount(): number {
    return this.committed.size;
  }
}
