/**
 * The pipelining window of one follower: the last index of each append message sent and not
 * yet acknowledged, oldest first. The leader stops sending to a follower whose window is full.
 */
export class Inflights {
  private readonly lastIndexes: number[] = [];

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`inflight capacity must be a positive integer, got ${capacity}`);
    }
  }

  get count(): number {
    return this.lastIndexes.length;
  }

  full(): boolean {
    return this.lastIndexes.length >= this.capacity;
  }

  add(lastIndex: number): void {
    if (this.full()) throw new Error("inflights: add to a full window");
    this.lastIndexes.push(lastIndex);
  }

  /** Acknowledges every message whose last index is ≤ `index`. */
  freeUpTo(index: number): void {
    let n = 0;
    while (n < this.lastIndexes.length && (this.lastIndexes[n] ?? 0) <= index) n++;
    if (n > 0) this.lastIndexes.splice(0, n);
  }

  freeFirst(): void {
    this.lastIndexes.shift();
  }

  reset(): void {
    this.lastIndexes.length = 0;
  }
}
