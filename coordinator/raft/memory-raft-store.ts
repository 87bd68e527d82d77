/**
 * The in-memory twin of LevelRaftStore (cf. hashicorp/raft `inmem_store.go`). A
 * MemoryRaftDisk outlives the store, so a test can "restart" a node over the same disk:
 * whatever save() resolved is there again, nothing else.
 */
import type { Entry, HardState } from "./core/types.js";
import { EMPTY_HARD_STATE } from "./storage.js";
import type { PeerAddresses, RaftStorage, StorageUpdate } from "./storage.js";
import { checkRange, planUpdate } from "./storage-update.js";

/** What survives a restart of a MemoryRaftStore. */
export class MemoryRaftDisk {
  /** entries[i] has index first + i. */
  entries: Entry[] = [];
  first = 1;
  hardState: HardState = EMPTY_HARD_STATE;
  peerAddresses: PeerAddresses = {};
}

function copyEntry(entry: Entry): Entry {
  return { term: entry.term, index: entry.index, type: entry.type, data: Uint8Array.from(entry.data) };
}

export class MemoryRaftStore implements RaftStorage {
  private syncs = 0;
  private closed = false;

  constructor(private readonly disk: MemoryRaftDisk = new MemoryRaftDisk()) {}

  firstIndex(): number {
    return this.disk.first;
  }

  lastIndex(): number {
    return this.disk.first + this.disk.entries.length - 1;
  }

  async entries(lo: number, hi: number): Promise<Entry[]> {
    await Promise.resolve();
    checkRange({ first: this.firstIndex(), last: this.lastIndex() }, lo, hi);
    const { first } = this.disk;
    return this.disk.entries.slice(lo - first, hi - first).map(copyEntry);
  }

  append(entries: readonly Entry[]): Promise<void> {
    return this.save({ entries });
  }

  compact(index: number): Promise<void> {
    return this.save({ compactTo: index });
  }

  reset(index: number): Promise<void> {
    return this.save({ resetTo: index });
  }

  hardState(): HardState {
    return this.disk.hardState;
  }

  setHardState(hardState: HardState): Promise<void> {
    return this.save({ hardState });
  }

  peerAddresses(): PeerAddresses {
    return this.disk.peerAddresses;
  }

  setPeerAddresses(peerAddresses: PeerAddresses): Promise<void> {
    return this.save({ peerAddresses });
  }

  async save(update: StorageUpdate): Promise<void> {
    await Promise.resolve();
    if (this.closed) throw new Error("MemoryRaftStore is closed");
    const bounds = planUpdate({ first: this.firstIndex(), last: this.lastIndex() }, this.hardState(), update);
    this.applyUpdate(update, bounds.first);
    if (update.sync !== false) this.syncs += 1;
  }

  private applyUpdate(update: StorageUpdate, newFirst: number): void {
    const disk = this.disk;
    if (update.resetTo !== undefined && update.resetTo !== null) {
      disk.entries = [];
      disk.first = update.resetTo + 1;
    }
    const head = update.entries?.[0];
    if (head !== undefined && update.entries !== undefined) {
      disk.entries = disk.entries.slice(0, head.index - disk.first).concat(update.entries.map(copyEntry));
    }
    if (newFirst > disk.first) {
      disk.entries = disk.entries.slice(newFirst - disk.first);
      disk.first = newFirst;
    }
    if (update.hardState !== undefined && update.hardState !== null) disk.hardState = { ...update.hardState };
    if (update.peerAddresses !== undefined && update.peerAddresses !== null) {
      disk.peerAddresses = { ...update.peerAddresses };
    }
  }

  syncCount(): number {
    return this.syncs;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
