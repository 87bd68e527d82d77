import { assert } from "../common/errors.js";

/**
 * The most recent `capacity` decided txids → committed version (0: aborted), oldest
 * forgotten first. A ring of txids beside a Map: evicting never iterates the Map (a V8 Map
 * keeps deleted entries as holes until it rehashes, so "delete the first key" would walk
 * every hole left by earlier evictions).
 */
export class RecentDecisions {
  private readonly ring: (string | undefined)[];
  private next = 0;
  private readonly versions = new Map<string, number>();

  constructor(private readonly capacity: number) {
    assert(capacity > 0, "capacity is positive");
    this.ring = new Array<string | undefined>(capacity);
  }

  get size(): number {
    return this.versions.size;
  }

  get(txid: string): number | undefined {
    return this.versions.get(txid);
  }

  has(txid: string): boolean {
    return this.versions.has(txid);
  }

  /** Records a decision; a txid decided again keeps its place and takes the new version. */
  set(txid: string, version: number): void {
    if (this.versions.has(txid)) {
      this.versions.set(txid, version);
      return;
    }
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.versions.delete(evicted);
    this.ring[this.next] = txid;
    this.next = (this.next + 1) % this.capacity;
    this.versions.set(txid, version);
  }

  /** Oldest first. */
  entries(): [string, number][] {
    const out: [string, number][] = [];
    for (let i = 0; i < this.capacity; i++) {
      const txid = this.ring[(this.next + i) % this.capacity];
      const version = txid === undefined ? undefined : this.versions.get(txid);
      if (txid !== undefined && version !== undefined) out.push([txid, version]);
    }
    return out;
  }
}
