import { assert } from "../common/errors.js";

/**
 * Key → slot for the index: an open-addressing hash table (linear probing, backward-shift
 * deletion) over slot numbers, with each slot's key string and hash kept in columns. It
 * replaces a `Map<string, number>`: it can be sized once when a snapshot is loaded (a Map
 * rehashes ~20 times on the way to a million keys) and costs ~12 bytes a key instead of ~30.
 * The hash is computed here (FNV-1a over UTF-16 code units, murmur3 finalizer); it never
 * leaves memory, so it is not part of any on-disk format.
 */

const EMPTY = -1;
const LOAD_FACTOR_MAX = 0.6;

export function hashString(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function powerOfTwoAtLeast(n: number): number {
  let size = 16;
  while (size < n) size *= 2;
  return size;
}

export class KeyTable {
  private buckets: Int32Array;
  private mask: number;
  private entries = 0;
  /** slot → key (undefined: the slot is free). */
  private keys: (string | undefined)[];
  /** slot → hash of its key. */
  private hashes: Uint32Array;

  constructor(slotCapacity: number) {
    this.keys = new Array<string | undefined>(slotCapacity);
    this.hashes = new Uint32Array(slotCapacity);
    const size = powerOfTwoAtLeast(Math.ceil(slotCapacity / LOAD_FACTOR_MAX));
    this.buckets = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
  }

  get size(): number {
    return this.entries;
  }

  /** Bytes of the table's typed arrays and slot array (not the key strings). */
  get overheadBytes(): number {
    return this.buckets.byteLength + this.hashes.byteLength + 8 * this.keys.length;
  }

  keyAt(slot: number): string | undefined {
    return this.keys[slot];
  }

  /** Makes room for slots below `capacity` (the index's columns grew). */
  growSlots(capacity: number): void {
    if (capacity <= this.hashes.length) return;
    const keys = new Array<string | undefined>(capacity);
    for (let i = 0; i < this.keys.length; i++) keys[i] = this.keys[i];
    this.keys = keys;
    const hashes = new Uint32Array(capacity);
    hashes.set(this.hashes);
    this.hashes = hashes;
  }

  /** The slot holding `key`, or -1. */
  find(key: string): number {
    const hash = hashString(key);
    for (let b = hash & this.mask; ; b = (b + 1) & this.mask) {
      const slot = this.buckets[b] ?? EMPTY;
      if (slot === EMPTY) return -1;
      if (this.hashes[slot] === hash && this.keys[slot] === key) return slot;
    }
  }

  /** Maps `key` (absent) to `slot` (free, below the slot capacity). */
  insert(key: string, slot: number): void {
    assert(this.insertIfAbsent(key, slot), "inserted key is absent");
  }

  /** Maps `key` to `slot` unless `key` is present already (then returns false). */
  insertIfAbsent(key: string, slot: number): boolean {
    assert(slot < this.hashes.length && this.keys[slot] === undefined, "insert into a free slot");
    if (this.entries + 1 > this.buckets.length * LOAD_FACTOR_MAX) this.rehash(this.buckets.length * 2);
    const hash = hashString(key);
    let b = hash & this.mask;
    for (let other = this.buckets[b] ?? EMPTY; other !== EMPTY; other = this.buckets[b] ?? EMPTY) {
      if (this.hashes[other] === hash && this.keys[other] === key) return false;
      b = (b + 1) & this.mask;
    }
    this.keys[slot] = key;
    this.hashes[slot] = hash;
    this.buckets[b] = slot;
    this.entries += 1;
    return true;
  }

  /** Unmaps the key of `slot` and frees the slot. */
  remove(slot: number): void {
    const hash = this.hashes[slot] ?? 0;
    let b = hash & this.mask;
    while (this.buckets[b] !== slot) {
      assert(this.buckets[b] !== EMPTY, "removed slot is in the table");
      b = (b + 1) & this.mask;
    }
    // Backward-shift deletion: pull later entries of the probe run into the hole.
    let hole = b;
    for (let next = (hole + 1) & this.mask; this.buckets[next] !== EMPTY; next = (next + 1) & this.mask) {
      const moving = this.buckets[next] ?? EMPTY;
      const home = (this.hashes[moving] ?? 0) & this.mask;
      const distanceFromHome = (next - home) & this.mask;
      const distanceToHole = (next - hole) & this.mask;
      if (distanceFromHome >= distanceToHole) {
        this.buckets[hole] = moving;
        hole = next;
      }
    }
    this.buckets[hole] = EMPTY;
    this.keys[slot] = undefined;
    this.entries -= 1;
  }

  private rehash(size: number): void {
    const old = this.buckets;
    this.buckets = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
    for (const slot of old) {
      if (slot === EMPTY) continue;
      let b = (this.hashes[slot] ?? 0) & this.mask;
      while (this.buckets[b] !== EMPTY) b = (b + 1) & this.mask;
      this.buckets[b] = slot;
    }
  }
}
