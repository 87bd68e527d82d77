import type { Entry, HardState, SnapshotMeta } from "../core/types.js";

/** A snapshot as stored: the core's metadata and the state machine's bytes. */
export interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/**
 * One node's simulated Raft disk: hard state, log and snapshots. The state machine keeps
 * its own durable state (see SimNode): each apply writes its result and the applied index
 * in one synced batch, so it survives every crash as it is.
 */
export interface DiskImage {
  readonly hardState: HardState;
  readonly snapshot: StoredSnapshot | null;
  /** Log entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
}

/** One write to the disk. Writes are applied in order; `sync` makes all earlier ones durable. */
export type DiskWrite =
  | { readonly kind: "hardState"; readonly hardState: HardState }
  /** Appends entries, replacing any suffix from the first one's index (§5.3). */
  | { readonly kind: "append"; readonly entries: readonly Entry[] }
  /**
   * Stores a snapshot. One taken locally (compaction) drops the entries it covers and keeps
   * the rest; one received from a leader (`replacesLog`) drops the whole log, as the core's
   * Ready contract says (§7).
   */
  | { readonly kind: "snapshot"; readonly snapshot: StoredSnapshot; readonly replacesLog: boolean };

export const emptyHardState: HardState = { term: 0, vote: null, commit: 0 };

export function emptyDisk(): DiskImage {
  return { hardState: emptyHardState, snapshot: null, entries: [] };
}

function snapshotIndex(disk: DiskImage): number {
  return disk.snapshot?.meta.index ?? 0;
}

/** Term of the entry at `index` on `disk`, the snapshot's term at its index, 0 before anything. */
export function termAt(disk: DiskImage, index: number): number | undefined {
  const base = snapshotIndex(disk);
  if (index === base) return disk.snapshot?.meta.term ?? 0;
  if (index < base) return undefined;
  return disk.entries[index - base - 1]?.term;
}

export function lastIndexOf(disk: DiskImage): number {
  return snapshotIndex(disk) + disk.entries.length;
}

function appendEntries(disk: DiskImage, entries: readonly Entry[]): DiskImage {
  const first = entries[0];
  if (first === undefined) return disk;
  const base = snapshotIndex(disk);
  if (first.index <= base) throw new Error(`disk: append at ${first.index} below the snapshot at ${base}`);
  if (first.index > lastIndexOf(disk) + 1)
    throw new Error(`disk: append at ${first.index} leaves a gap after ${lastIndexOf(disk)}`);
  entries.forEach((entry, i) => {
    if (entry.index !== first.index + i) throw new Error(`disk: entries not contiguous at ${entry.index}`);
  });
  return { ...disk, entries: [...disk.entries.slice(0, first.index - base - 1), ...entries] };
}

function storeSnapshot(disk: DiskImage, snapshot: StoredSnapshot, replacesLog: boolean): DiskImage {
  const { index, term } = snapshot.meta;
  if (replacesLog) return { ...disk, snapshot, entries: [] };
  if (index <= snapshotIndex(disk)) throw new Error(`disk: compaction at ${index} is not past the snapshot`);
  if (termAt(disk, index) !== term)
    throw new Error(`disk: compaction at (${index}, t${term}) disagrees with the log`);
  return { ...disk, snapshot, entries: disk.entries.slice(index - snapshotIndex(disk)) };
}

/** Applies one write to a disk image (images are immutable; a new one is returned). */
export function applyWrite(disk: DiskImage, write: DiskWrite): DiskImage {
  switch (write.kind) {
    case "hardState":
      return { ...disk, hardState: write.hardState };
    case "append":
      return appendEntries(disk, write.entries);
    case "snapshot":
      return storeSnapshot(disk, write.snapshot, write.replacesLog);
  }
}

/**
 * A simulated disk with a page cache: a write is visible at once (`current`) but durable
 * only after `sync()`. A crash keeps the durable image plus a prefix of the unsynced writes
 * (chosen by the simulator's seed), which is what a power loss does to a write-ahead log.
 */
export class SimStorage {
  private durable: DiskImage;
  private volatile: DiskImage;
  private unsynced: DiskWrite[] = [];

  constructor(image: DiskImage = emptyDisk()) {
    this.durable = image;
    this.volatile = image;
  }

  /** What the running process sees (durable + unsynced writes). */
  get current(): DiskImage {
    return this.volatile;
  }

  /** What would survive a power loss right now. */
  get durableImage(): DiskImage {
    return this.durable;
  }

  get unsyncedCount(): number {
    return this.unsynced.length;
  }

  write(write: DiskWrite): void {
    this.volatile = applyWrite(this.volatile, write);
    this.unsynced.push(write);
  }

  sync(): void {
    this.durable = this.volatile;
    this.unsynced = [];
  }

  /** Power loss: the first `survivingWrites` unsynced writes reach the disk, the rest are lost. */
  crash(survivingWrites: number): void {
    const kept = this.unsynced.slice(0, Math.max(0, survivingWrites));
    this.durable = kept.reduce(applyWrite, this.durable);
    this.volatile = this.durable;
    this.unsynced = [];
  }
}
