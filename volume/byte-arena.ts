import { assert } from "../common/errors.js";

/**
 * Short strings of the index's slots (keys, txids) as UTF-8 bytes in one growing buffer,
 * addressed by (offset, length) columns: a 26-byte txid costs 32 bytes instead of a
 * 48-byte string object plus its pointer, the garbage collector sees one buffer instead of
 * millions of strings, and a snapshot stores and loads it as one block. Replacing a
 * slot's bytes leaves the old ones as garbage; the arena compacts itself when garbage
 * passes half.
 */
export class ByteArena {
  private bytes: Buffer;
  private used = 0;
  private garbage = 0;
  private offsets: Uint32Array;
  private lengths: Uint16Array;

  constructor(slotCapacity: number, initialBytes = 64 * 1024) {
    this.bytes = Buffer.allocUnsafe(initialBytes);
    this.offsets = new Uint32Array(slotCapacity);
    this.lengths = new Uint16Array(slotCapacity);
  }

  get usedBytes(): number {
    return this.used;
  }

  get overheadBytes(): number {
    return this.bytes.length + this.offsets.byteLength + this.lengths.byteLength;
  }

  growSlots(capacity: number): void {
    if (capacity <= this.offsets.length) return;
    const offsets = new Uint32Array(capacity);
    offsets.set(this.offsets);
    this.offsets = offsets;
    const lengths = new Uint16Array(capacity);
    lengths.set(this.lengths);
    this.lengths = lengths;
  }

  get(slot: number): string {
    const length = this.lengths[slot] ?? 0;
    if (length === 0) return "";
    const offset = this.offsets[slot] ?? 0;
    return this.bytes.toString("utf8", offset, offset + length);
  }

  lengthOf(slot: number): number {
    return this.lengths[slot] ?? 0;
  }

  /** Whether the slot holds exactly `source[0..length)`. */
  equals(slot: number, source: Uint8Array, length: number): boolean {
    if (this.lengths[slot] !== length) return false;
    const offset = this.offsets[slot] ?? 0;
    for (let i = 0; i < length; i++) if (this.bytes[offset + i] !== source[i]) return false;
    return true;
  }

  /** The arena's buffer (valid until the next set); a slot's bytes start at offsetOf(slot). */
  get buffer(): Buffer {
    return this.bytes;
  }

  offsetOf(slot: number): number {
    return this.offsets[slot] ?? 0;
  }

  set(slot: number, value: string): void {
    this.clear(slot);
    if (value.length === 0) return;
    const length = Buffer.byteLength(value, "utf8");
    assert(length <= 0xffff, "length fits the column");
    if (this.used + length > this.bytes.length) this.makeRoom(length);
    this.bytes.write(value, this.used, "utf8");
    this.offsets[slot] = this.used;
    this.lengths[slot] = length;
    this.used += length;
  }

  /** Stores `source[0..length)` as the slot's bytes. */
  setBytes(slot: number, source: Uint8Array, length: number): void {
    this.clear(slot);
    if (length === 0) return;
    if (this.used + length > this.bytes.length) this.makeRoom(length);
    this.bytes.set(source.subarray(0, length), this.used);
    this.offsets[slot] = this.used;
    this.lengths[slot] = length;
    this.used += length;
  }

  clear(slot: number): void {
    this.garbage += this.lengths[slot] ?? 0;
    this.lengths[slot] = 0;
  }

  private makeRoom(length: number): void {
    if (this.garbage > this.used / 2) this.compact();
    if (this.used + length <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + length));
    this.bytes.copy(grown, 0, 0, this.used);
    this.bytes = grown;
  }

  /** Rewrites the live txids contiguously (slot order). */
  compact(): void {
    const next = Buffer.allocUnsafe(Math.max(64 * 1024, this.used - this.garbage));
    let at = 0;
    for (let slot = 0; slot < this.lengths.length; slot++) {
      const length = this.lengths[slot] ?? 0;
      if (length === 0) continue;
      const offset = this.offsets[slot] ?? 0;
      this.bytes.copy(next, at, offset, offset + length);
      this.offsets[slot] = at;
      at += length;
    }
    this.bytes = next;
    this.used = at;
    this.garbage = 0;
  }

  /** Lengths of `slots` slots and their bytes back to back in slot order (for a snapshot). */
  export(slots: number): { lengths: Uint16Array; bytes: Buffer } {
    // Slots get txids in any order (free slots are reused): compaction restores slot order.
    this.compact();
    return { lengths: this.lengths.slice(0, slots), bytes: Buffer.from(this.bytes.subarray(0, this.used)) };
  }

  /** Loads what export() produced (into an empty arena). */
  import(lengths: Uint16Array, bytes: Buffer): void {
    assert(this.used === 0, "import into an empty arena");
    this.growSlots(lengths.length);
    // lengths may be longer than the slots in use (allocated at capacity): zeros past them.
    // A copy with room to grow (`bytes` may be a view into a whole snapshot file).
    this.bytes = Buffer.allocUnsafe(Math.max(64 * 1024, Math.ceil(bytes.length * 1.25)));
    bytes.copy(this.bytes);
    let at = 0;
    for (let slot = 0; slot < lengths.length; slot++) {
      const length = lengths[slot] ?? 0;
      this.offsets[slot] = at;
      this.lengths[slot] = length;
      at += length;
    }
    if (at !== bytes.length) throw new RangeError("bytes do not match their lengths");
    this.used = at;
  }
}
