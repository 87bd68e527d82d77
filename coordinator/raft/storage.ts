/**
 * The storage seams of the Raft driver (cf. hashicorp/raft `LogStore`, `StableStore`,
 * `SnapshotStore`), adapted to the pure core in `core/`: the core keeps the log between
 * snapshots in memory, so the stores are written on every Ready and read only at start-up.
 *
 * Every implementation has an in-memory twin and passes the same conformance suite
 * (`*.conformance.ts`). Errors are MinikvError with a stable code.
 */
import type { Entry, HardState, NodeId, SnapshotMeta } from "./core/types.js";

/** The hard state of a node that has never persisted anything. */
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };

/** Where peers can be reached: node id → gRPC address ("host:port"). */
export type PeerAddresses = Readonly<Record<NodeId, string>>;

/**
 * The durable Raft log. Indexes are contiguous: the store keeps entries
 * [firstIndex(), lastIndex()] and nothing else. Before any write the log is empty with
 * firstIndex() = 1 and lastIndex() = 0.
 *
 * Every write resolves only once it is durable (fsynced); a write that rejects changed
 * nothing. Writes are not concurrent: the caller awaits one before starting the next.
 */
export interface LogStore {
  /** Index of the first entry kept; lastIndex() + 1 when the log is empty. */
  firstIndex(): number;
  /** Index of the last entry; when no entry is kept, the index the log restarts after. */
  lastIndex(): number;
  /**
   * Entries with lo ≤ index < hi, in order. Throws INVALID_ARGUMENT unless
   * firstIndex() ≤ lo ≤ hi ≤ lastIndex() + 1. The returned entries are owned by the caller.
   */
  entries(lo: number, hi: number): Promise<Entry[]>;
  /**
   * Appends contiguous entries. The first one's index must lie in
   * [firstIndex(), lastIndex() + 1]; stored entries at or after it are replaced (a leader
   * overwriting a conflicting suffix, §5.3). Throws INVALID_ARGUMENT otherwise.
   */
  append(entries: readonly Entry[]): Promise<void>;
  /**
   * Drops entries with index ≤ `index` (a snapshot covers them, §7). `index` may exceed
   * lastIndex(): the log is then empty and restarts after `index`. A no-op when
   * index < firstIndex().
   */
  compact(index: number): Promise<void>;
  /** Drops every entry; the log restarts after `index` (installing a leader's snapshot). */
  reset(index: number): Promise<void>;
}

/**
 * Small durable records: the hard state (term, vote, commit: Figure 2 "persistent state")
 * and the addresses of peers learned at runtime. The applied index is not here: it belongs
 * to the state machine, written atomically with what it applies.
 */
export interface StableStore {
  /** The last hard state saved, or EMPTY_HARD_STATE. */
  hardState(): HardState;
  setHardState(hardState: HardState): Promise<void>;
  /** The last peer addresses saved, or {}. */
  peerAddresses(): PeerAddresses;
  setPeerAddresses(addresses: PeerAddresses): Promise<void>;
}

/**
 * One write of a Ready, applied atomically in this order: reset, entries, compact, then
 * hard state and addresses. Absent parts are left unchanged.
 */
export interface StorageUpdate {
  readonly hardState?: HardState | null;
  /** Drop the whole log, restarting it after this index (before appending `entries`). */
  readonly resetTo?: number | null;
  readonly entries?: readonly Entry[];
  /** Drop entries ≤ this index (after appending `entries`). */
  readonly compactTo?: number | null;
  readonly peerAddresses?: PeerAddresses | null;
  /**
   * fsync the batch (default true). False only for a hard state whose commit index alone
   * moved: the write is ordered with the others and survives a process crash; a machine
   * crash may lose it, and the commit index is then re-learned from the leader (it never
   * falls below what the state machine applied).
   */
  readonly sync?: boolean;
}

/**
 * Log and hard state in one store so that a Ready's entries and hard state are written as
 * ONE fsynced batch before any message depending on them leaves (Figure 2: "updated on
 * stable storage before responding to RPCs").
 */
export interface RaftStorage extends LogStore, StableStore {
  /**
   * Writes the update atomically: after a crash either all of it or none of it is visible.
   * Resolves once fsynced. Validation is as for append/compact/reset; an invalid update
   * changes nothing. Saves called while others are in flight take effect one after the
   * other in call order (the driver writes a Ready while applying conf changes that save
   * peer addresses).
   */
  save(update: StorageUpdate): Promise<void>;
  /** Number of fsynced batches written since open (for metrics; unsynced ones not counted). */
  syncCount(): number;
  close(): Promise<void>;
}

/** A snapshot as stored: the core's metadata plus the peer addresses known at its index. */
export interface SnapshotInfo {
  readonly meta: SnapshotMeta;
  readonly peerAddresses: PeerAddresses;
  /** Bytes of state machine data (not counting framing). */
  readonly sizeBytes: number;
}

/** An in-progress snapshot write; invisible to readers until commit() resolves. */
export interface SnapshotSink {
  /** Appends bytes; the sink copies what it keeps, so the caller may reuse the buffer. */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the snapshot durable (fsync) and the latest at its index; resolves with its info. */
  commit(): Promise<SnapshotInfo>;
  /** Discards the partial snapshot. Safe to call after a failed write or twice. */
  abort(): Promise<void>;
}

/**
 * A committed snapshot opened for reading. Its bytes have been checked (CRC) before open()
 * resolved, and are checked again as they are read; a mismatch throws DATA_CORRUPT.
 */
export interface SnapshotSource {
  readonly info: SnapshotInfo;
  /** The state machine bytes in order. Chunks are fresh buffers owned by the reader. Single use. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Releases the file; safe after the iteration ended or twice. */
  close(): Promise<void>;
}

/**
 * Durable snapshots (§7). Several may exist; the one with the highest index is the latest.
 * Creating a snapshot at an index that already has one replaces it on commit.
 */
export interface SnapshotStore {
  /** Starts a snapshot; nothing is visible until the sink commits. */
  create(meta: SnapshotMeta, peerAddresses: PeerAddresses): Promise<SnapshotSink>;
  /** Committed snapshots, newest (highest index) first. */
  list(): Promise<SnapshotInfo[]>;
  /** The latest committed snapshot, or null. */
  latest(): Promise<SnapshotInfo | null>;
  /** Opens the committed snapshot at `index`; NOT_FOUND if there is none; DATA_CORRUPT if damaged. */
  open(index: number): Promise<SnapshotSource>;
  /** Deletes all but the `retain` newest snapshots (at least one is always kept). */
  prune(retain: number): Promise<void>;
  close(): Promise<void>;
}
