import { assert } from "../common/errors.js";
import { ByteArena } from "./byte-arena.js";

/**
 * Key → slot for the index: an open-addressing hash table (linear probing, backward-shift
 * deletion) over slot numbers, with each slot's key kept as UTF-8 bytes in a ByteArena and
 * its hash in a column. No string object per key: a million keys are one buffer for the
 * garbage collector, a snapshot loads them with one copy, and the table is sized once
 * (a Map rehashes ~20 times on the way to a million keys and costs ~30 bytes a key more).
 * The hash (MurmurHash3-style over the UTF-8 bytes) never leaves memory.
 */

const EMPTY = -1;
const LOAD_FACTOR_MAX = 0.6;
const encoder = new TextEncoder();

function hashBytes(bytes: Uint8Array, start: number, length: number): number {
  // MurmurHash3-style: four bytes per step, then the tail, then the finalizer.
  let h = 0x9747b28c ^ length;
  const end = start + length;
  const blocksEnd = start + (length & ~3);
  let i = start;
  for (; i < blocksEnd; i += 4) {
    let k =
      (bytes[i] ?? 0) |
      ((bytes[i + 1] ?? 0) << 8) |
      ((bytes[i + 2] ?? 0) << 16) |
      ((bytes[i + 3] ?? 0) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let shift = 0; i < end; i++, shift += 8) k |= (bytes[i] ?? 0) << shift;
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
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
  private readonly keys: ByteArena;
  /** slot → hash of its key. */
  private hashes: Uint32Array;
  /** The key being looked up, encoded (keys are at most 1024 UTF-8 bytes; longer lookups miss). */
  private readonly scratch = new Uint8Array(4096);

  constructor(slotCapacity: number) {
    this.keys = new ByteArena(slotCapacity);
    this.hashes = new Uint32Array(slotCapacity);
    const size = powerOfTwoAtLeast(Math.ceil(slotCapacity / LOAD_FACTOR_MAX));
    this.buckets = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
  }

  get size(): number {
    return this.entries;
  }

  /** Bytes of the table's arrays and key bytes. */
  get overheadBytes(): number {
    return this.buckets.byteLength + this.hashes.byteLength + this.keys.overheadBytes;
  }

  /** The key of a used slot (decoded: a new string each call). */
  keyAt(slot: number): string {
    return this.keys.get(slot);
  }

  /** Makes room for slots below `capacity` (the index's columns grew). */
  growSlots(capacity: number): void {
    if (capacity <= this.hashes.length) return;
    this.keys.growSlots(capacity);
    const hashes = new Uint32Array(capacity);
    hashes.set(this.hashes);
    this.hashes = hashes;
  }

  /** Encodes `key` into the scratch buffer; -1 when it cannot be a stored key. */
  private encode(key: string): number {
    if (key.length > this.scratch.length / 3 || !key.isWellFormed()) return -1;
    return encoder.encodeInto(key, this.scratch).written;
  }

  /** The slot holding `key`, or -1. */
  find(key: string): number {
    const length = this.encode(key);
    if (length <= 0) return -1;
    const hash = hashBytes(this.scratch, 0, length);
    for (let b = hash & this.mask; ; b = (b + 1) & this.mask) {
      const slot = this.buckets[b] ?? EMPTY;
      if (slot === EMPTY) return -1;
      if (this.hashes[slot] === hash && this.keys.equals(slot, this.scratch, length)) return slot;
    }
  }

  /** Maps `key` (absent, well-formed, non-empty) to `slot` (free, below the slot capacity). */
  insert(key: string, slot: number): void {
    const length = this.encode(key);
    assert(length > 0, "inserted keys are well-formed and non-empty");
    assert(
      this.place(slot, hashBytes(this.scratch, 0, length), length, this.scratch),
      "inserted key is absent",
    );
  }

  /**
   * Puts `slot` (whose key bytes are `source[0..length)`) into the table unless an equal
   * key is there already (then returns false and changes nothing).
   */
  private place(slot: number, hash: number, length: number, source: Uint8Array | undefined): boolean {
    if (this.entries + 1 > this.buckets.length * LOAD_FACTOR_MAX) this.rehash(this.buckets.length * 2);
    let b = hash & this.mask;
    for (let other = this.buckets[b] ?? EMPTY; other !== EMPTY; other = this.buckets[b] ?? EMPTY) {
      if (this.hashes[other] === hash && this.sameKey(other, slot, length, source)) return false;
      b = (b + 1) & this.mask;
    }
    if (source !== undefined) this.keys.setBytes(slot, source, length);
    this.hashes[slot] = hash;
    this.buckets[b] = slot;
    this.entries += 1;
    return true;
  }

  private sameKey(other: number, slot: number, length: number, source: Uint8Array | undefined): boolean {
    if (source !== undefined) return this.keys.equals(other, source, length);
    return this.keys.equals(other, this.keys.buffer.subarray(this.keys.offsetOf(slot)), length);
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
      if (((next - home) & this.mask) >= ((next - hole) & this.mask)) {
        this.buckets[hole] = moving;
        hole = next;
      }
    }
    this.buckets[hole] = EMPTY;
    this.keys.clear(slot);
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

  /** Key lengths of `slots` slots and the key bytes back to back in slot order (a snapshot). */
  export(slots: number): { lengths: Uint16Array; bytes: Buffer } {
    return this.keys.export(slots);
  }

  /**
   * Loads keys exported by export() into this empty table: every slot with a non-empty key
   * is mapped. Throws RangeError on a duplicate key or inconsistent lengths.
   */
  restore(lengths: Uint16Array, bytes: Buffer, slots: number): void {
    assert(this.entries === 0, "restore into an empty table");
    this.keys.import(lengths, bytes);
    for (let slot = 0; slot < slots; slot++) {
      const length = this.keys.lengthOf(slot);
      if (length === 0) continue;
      const hash = hashBytes(this.keys.buffer, this.keys.offsetOf(slot), length);
      if (!this.place(slot, hash, length, undefined))
        throw new RangeError(`key of slot ${slot} appears twice`);
    }
  }
}
