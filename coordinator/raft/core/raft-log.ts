/**
 * The in-memory Raft log of one node: every entry after the latest snapshot, the commit,
 * apply and persistence cursors, and the log-matching operations of §5.3.
 *
 * Cursors: snapshotIndex ≤ applied ≤ applying ≤ committed ≤ lastIndex, and stabled ≤ lastIndex
 * (entries above stabled have not been handed to the driver for persistence yet).
 */
import type { Entry, SnapshotMeta } from "./types.js";

/** Payload bytes of an entry, the unit of batching and flow control. */
export function entryBytes(entry: Entry): number {
  return entry.data.byteLength;
}

/** Bytes of one block of the log's entry data (EntryBytes). */
export const ENTRY_BLOCK_BYTES = 256 * 1024;

/**
 * Where the log keeps its entries' data, appended or restored: copied, in index order, into blocks of
 * ENTRY_BLOCK_BYTES (an entry of more than an eighth of a block gets an exact buffer of its
 * own), so an entry holds on to its own bytes only. Without the copy an entry held whatever
 * its data was a view of: on a leader an 8 KiB slab of Node's allocation pool, shared with a
 * few other entries and short-lived buffers; on a follower the whole received message. With
 * tens of thousands of entries kept between two snapshots that was about 1 KiB per entry of
 * about 350 bytes (a blob PUT's). Compaction drops entries from the front, so every block but
 * the one at the cut is freed whole once its entries are gone.
 */
class EntryBytes {
  private block = new Uint8Array(0);
  private used = 0;

  keep(data: Uint8Array): Uint8Array {
    if (data.byteLength === 0) return data;
    if (data.byteLength > ENTRY_BLOCK_BYTES / 8) return new Uint8Array(data);
    if (this.used + data.byteLength > this.block.byteLength) {
      this.block = new Uint8Array(ENTRY_BLOCK_BYTES);
      this.used = 0;
    }
    const kept = this.block.subarray(this.used, this.used + data.byteLength);
    kept.set(data);
    this.used += data.byteLength;
    return kept;
  }
}

export class RaftLog {
  private entries: Entry[];
  private readonly bytes = new EntryBytes();
  private snapshotIndex: number;
  private snapshotTerm: number;
  /** Metadata of the latest snapshot (sent to followers behind the first index). */
  latestSnapshot: SnapshotMeta | null;
  /** A snapshot received from the leader that the driver has not persisted yet. */
  unstableSnapshot: SnapshotMeta | null = null;
  committed: number;
  /** Highest index the driver has applied (confirmed by advance). */
  applied: number;
  /** Highest index handed to the driver for applying (≥ applied). */
  applying: number;
  /** Highest index of the persisted prefix of this log. */
  stabled: number;

  constructor(snapshot: SnapshotMeta | null, entries: readonly Entry[], committed: number, applied: number) {
    this.latestSnapshot = snapshot;
    this.snapshotIndex = snapshot?.index ?? 0;
    this.snapshotTerm = snapshot?.term ?? 0;
    this.entries = entries.map((entry) => this.kept(entry));
    this.entries.forEach((entry, i) => {
      if (entry.index !== this.snapshotIndex + 1 + i) {
        throw new Error(`restored log is not contiguous at ${entry.index}`);
      }
    });
    this.stabled = this.lastIndex();
    this.applied = Math.max(applied, this.snapshotIndex);
    this.committed = Math.max(committed, this.applied);
    if (this.committed > this.lastIndex()) {
      throw new Error(`restored commit ${this.committed} is past the last index ${this.lastIndex()}`);
    }
    this.applying = this.applied;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at `index`, or undefined when compacted away or not yet written. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.entryAt(index)?.term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.snapshotIndex) return undefined;
    return this.entries[index - this.snapshotIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up-to-date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi), at most `maxBytes` of payload but always at least one. */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo < this.firstIndex()) throw new Error(`slice from compacted index ${lo}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < Math.min(hi, this.lastIndex() + 1); i++) {
      const entry = this.entryAt(i);
      if (entry === undefined) break;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  /**
   * Appends `entries`, replacing any suffix from entries[0].index on (§5.3). A committed
   * entry is never replaced: that would break state machine safety, so it is an assertion.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= this.committed) {
      throw new Error(`append would overwrite committed index ${first.index} (commit ${this.committed})`);
    }
    if (first.index > this.lastIndex() + 1) {
      throw new Error(`append leaves a gap: ${first.index} after ${this.lastIndex()}`);
    }
    this.entries.length = first.index - this.firstIndex();
    for (const entry of entries) this.entries.push(this.kept(entry));
    this.stabled = Math.min(this.stabled, first.index - 1);
  }

  /** First index where `entries` disagree with this log (or extend it); 0 when all match. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The follower side of AppendEntries (Figure 2, receiver steps 2–5). Returns the index of
   * the last entry known to match the leader's log, or null when prev does not match.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) this.append(entries.slice(conflict - prevIndex - 1));
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /**
   * Fast backtracking: the largest index ≤ `index` whose term is ≤ `term`, with that term.
   * A compacted index answers with term 0 (unknown: assume it may match).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i > 0; i--) {
      const mine = this.term(i);
      if (mine === undefined) return { index: i, term: 0 };
      if (mine <= term) return { index: i, term: mine };
    }
    return { index: 0, term: 0 };
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    if (index > this.lastIndex()) throw new Error(`commit ${index} past last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  unstableEntries(): Entry[] {
    return this.stabled >= this.lastIndex() ? [] : this.slice(this.stabled + 1, this.lastIndex() + 1);
  }

  /**
   * The highest index that may be handed out for applying: committed AND persisted here.
   * A leader may learn that an entry is committed (stored on a majority of followers)
   * before its own write of that entry is durable (dissertation §10.2.1); applying it only
   * once it is also in the local stable log keeps applied ≤ the stored last index across a
   * crash, and lets the driver apply a Ready's committed entries while it persists that
   * Ready's new ones.
   */
  private applicableTo(): number {
    return Math.min(this.committed, this.stabled);
  }

  hasNextCommitted(): boolean {
    return this.applicableTo() > this.applying;
  }

  /** Committed and persisted entries not yet handed out; marks them as being applied. */
  takeNextCommitted(): Entry[] {
    if (!this.hasNextCommitted()) return [];
    const upTo = this.applicableTo();
    const out = this.slice(this.applying + 1, upTo + 1);
    this.applying = upTo;
    return out;
  }

  /** The driver persisted entries up to (index, term); ignored if the log changed since. */
  stableTo(index: number, term: number): void {
    if (index > this.stabled && this.matchTerm(index, term)) this.stabled = index;
  }

  appliedTo(index: number): void {
    if (index > this.applied) this.applied = index;
  }

  /** Replaces the whole log by a snapshot received from the leader (§7). */
  restore(meta: SnapshotMeta): void {
    this.entries = [];
    this.snapshotIndex = meta.index;
    this.snapshotTerm = meta.term;
    this.latestSnapshot = meta;
    this.unstableSnapshot = meta;
    this.committed = meta.index;
    this.stabled = meta.index;
    this.applying = Math.max(this.applying, meta.index);
  }

  /** The entry as the log holds it: its data in the log's own blocks (EntryBytes). */
  private kept(entry: Entry): Entry {
    return entry.data.byteLength === 0 ? entry : { ...entry, data: this.bytes.keep(entry.data) };
  }

  /** Drops entries up to meta.index, which the driver has captured in a snapshot. */
  compact(meta: SnapshotMeta): boolean {
    if (meta.index <= this.snapshotIndex) return false;
    if (meta.index > this.applied) {
      throw new Error(`compact(${meta.index}) past the applied index ${this.applied}`);
    }
    if (this.term(meta.index) !== meta.term) {
      throw new Error(
        `compact(${meta.index}): term ${meta.term} differs from the log's ${this.term(meta.index)}`,
      );
    }
    this.entries = this.entries.slice(meta.index - this.snapshotIndex);
    this.snapshotIndex = meta.index;
    this.snapshotTerm = meta.term;
    this.latestSnapshot = meta;
    return true;
  }
}
