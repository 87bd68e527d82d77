import { assert } from "../common/errors.js";
import { shardOf } from "../common/hashing.js";
import { engineLimits } from "./engine-limits.js";
import { KeyTable } from "./key-table.js";
import { RecentDecisions } from "./recent-decisions.js";
import { ByteArena } from "./byte-arena.js";

/**
 * The in-memory index: key → location and state of the value served for it, plus the
 * prepared (undecided) writes by txid. Memory per key is what limits a volume's key count,
 * so keys map to integer slots (KeyTable) and every per-key field lives in a typed-array
 * column, keys and txids as UTF-8 in byte arenas (ByteArena): no object per key. engine-probe.ts measures
 * the bytes per key. A slot is LIVE (a committed version is served) or DELETED (a
 * tombstone hides every version up to `version`, and must be remembered while older
 * records of the key may still exist on disk).
 *
 * It also keeps, per segment, the bytes of records the index still references (live
 * values, prepared values, tombstones in use): everything else in a segment is garbage.
 */

export const SlotState = { FREE: 0, LIVE: 1, DELETED: 2 } as const;
export type SlotState = (typeof SlotState)[keyof typeof SlotState];

export interface RecordLocation {
  readonly segment: number;
  readonly offset: number;
  readonly recordBytes: number;
}

/** A prepared write: its value is durable in a segment, waiting for commit or abort. */
export interface PreparedEntry extends RecordLocation {
  readonly txid: string;
  readonly key: string;
  readonly contentType: string;
  readonly size: number;
  readonly crc32c: number;
  readonly createdAtMs: number;
}

/** A committed value as the index stores it. */
export interface IndexedValue extends RecordLocation {
  readonly key: string;
  readonly txid: string;
  readonly contentType: string;
  readonly size: number;
  readonly crc32c: number;
  readonly version: number;
  readonly createdAtMs: number;
}

/** A slot in the columns, for code that walks the index (snapshots, compaction). */
export interface SlotView extends RecordLocation {
  readonly state: SlotState;
  readonly key: string;
  readonly version: number;
}

/**
 * A frozen copy of the index for an index snapshot: taken synchronously (typed-array
 * copies, not a walk), so the snapshot is consistent with the WAL position read in the
 * same tick while the encoding runs later, off the hot path. It is also what a snapshot
 * load hands back to restore().
 */
export interface IndexColumns {
  readonly slots: number;
  readonly state: Uint8Array;
  readonly shard: Uint8Array;
  readonly contentTypeId: Uint16Array;
  readonly segment: Uint32Array;
  readonly crc: Uint32Array;
  readonly offset: Float64Array;
  readonly recordBytes: Float64Array;
  readonly size: Float64Array;
  readonly version: Float64Array;
  readonly createdAtMs: Float64Array;
  /** UTF-8 length of each slot's key (0 for free slots). */
  readonly keyLengths: Uint16Array;
  /** The keys of all slots back to back, in slot order. */
  readonly keyBytes: Buffer;
  readonly txidLengths: Uint16Array;
  /** The txids of all slots back to back, in slot order. */
  readonly txidBytes: Buffer;
  readonly contentTypes: readonly string[];
}

export interface IndexImage extends IndexColumns {
  readonly prepared: readonly PreparedEntry[];
  readonly recentDecisions: readonly (readonly [string, number])[];
}

/** Result of a delete against the index (the store writes a tombstone only for "tombstone"). */
export type TombstoneEffect = "noop" | "tombstone";

const GROWTH_FACTOR = 1.5;
const INITIAL_SLOTS = 1024;

/** Slot capacity after restoring `slots` slots: room for 1/8 more before the first growth. */
export function restoredCapacity(slots: number): number {
  return Math.max(INITIAL_SLOTS, slots + Math.ceil(slots / 8));
}

export class KeyIndex {
  private table = new KeyTable(INITIAL_SLOTS);
  private txids = new ByteArena(INITIAL_SLOTS);
  private state: Uint8Array = new Uint8Array(INITIAL_SLOTS);
  private shard: Uint8Array = new Uint8Array(INITIAL_SLOTS);
  private contentTypeId: Uint16Array = new Uint16Array(INITIAL_SLOTS);
  private segment: Uint32Array = new Uint32Array(INITIAL_SLOTS);
  private crc: Uint32Array = new Uint32Array(INITIAL_SLOTS);
  private offset: Float64Array = new Float64Array(INITIAL_SLOTS);
  private recordBytes: Float64Array = new Float64Array(INITIAL_SLOTS);
  private size: Float64Array = new Float64Array(INITIAL_SLOTS);
  private version: Float64Array = new Float64Array(INITIAL_SLOTS);
  private createdAtMs: Float64Array = new Float64Array(INITIAL_SLOTS);
  private highWater = 0;
  private freeSlots: number[] = [];
  private liveCount = 0;

  private readonly contentTypes: string[] = [""];
  private readonly contentTypeIds = new Map<string, number>([["", 0]]);

  readonly prepared = new Map<string, PreparedEntry>();
  /** Recently decided txids → committed version (0: aborted). Bounded, oldest dropped first. */
  readonly recentDecisions = new RecentDecisions(engineLimits.recentDecisionsMax);

  private readonly liveBytesBySegment = new Map<number, number>();
  private readonly preparedBySegment = new Map<number, number>();

  /** Committed keys served. */
  get keyCount(): number {
    return this.liveCount;
  }

  /** Slots in use (live keys and remembered tombstones). */
  get slotCount(): number {
    return this.table.size;
  }

  get slotCapacity(): number {
    return this.state.length;
  }

  /** Bytes of the index's own structures (columns, table, txids), not the key strings. */
  get structureBytes(): number {
    const columns = this.state.length * (1 + 1 + 2 + 4 + 4 + 8 * 6);
    return columns + this.table.overheadBytes + this.txids.overheadBytes;
  }

  // ---- lookups -------------------------------------------------------------------------

  private slotOf(key: string): number | undefined {
    const slot = this.table.find(key);
    return slot < 0 ? undefined : slot;
  }

  /** The committed value served for `key`, if any. */
  get(key: string): IndexedValue | undefined {
    const slot = this.slotOf(key);
    if (slot === undefined || this.state[slot] !== SlotState.LIVE) return undefined;
    return this.valueAt(slot, key);
  }

  /** The tombstone version remembered for a deleted key. */
  tombstoneVersion(key: string): number | undefined {
    const slot = this.slotOf(key);
    if (slot === undefined || this.state[slot] !== SlotState.DELETED) return undefined;
    return this.version[slot];
  }

  slotView(key: string): SlotView | undefined {
    const slot = this.slotOf(key);
    return slot === undefined ? undefined : this.viewAt(slot, key);
  }

  /** `key` is the slot's key when the caller has it (decoding it again allocates). */
  private valueAt(slot: number, key = this.table.keyAt(slot)): IndexedValue {
    return {
      key,
      txid: this.txids.get(slot),
      contentType: this.contentTypes[this.contentTypeId[slot] ?? 0] ?? "",
      size: this.size[slot] ?? 0,
      crc32c: this.crc[slot] ?? 0,
      version: this.version[slot] ?? 0,
      createdAtMs: this.createdAtMs[slot] ?? 0,
      segment: this.segment[slot] ?? 0,
      offset: this.offset[slot] ?? 0,
      recordBytes: this.recordBytes[slot] ?? 0,
    };
  }

  private viewAt(slot: number, key = this.table.keyAt(slot)): SlotView {
    return {
      state: (this.state[slot] ?? 0) as SlotState,
      key,
      version: this.version[slot] ?? 0,
      segment: this.segment[slot] ?? 0,
      offset: this.offset[slot] ?? 0,
      recordBytes: this.recordBytes[slot] ?? 0,
    };
  }

  /** Calls `visit` for every LIVE slot whose shard matches (all when undefined). */
  forEachLive(shard: number | undefined, visit: (value: IndexedValue) => void): void {
    for (let slot = 0; slot < this.highWater; slot++) {
      if (this.state[slot] !== SlotState.LIVE) continue;
      if (shard !== undefined && this.shard[slot] !== shard) continue;
      visit(this.valueAt(slot));
    }
  }

  /** Calls `visit` for every used slot (LIVE and DELETED). */
  forEachSlot(visit: (view: SlotView) => void): void {
    for (let slot = 0; slot < this.highWater; slot++) {
      if (this.state[slot] !== SlotState.FREE) visit(this.viewAt(slot));
    }
  }

  /** Segments holding a LIVE record of `shard`. */
  segmentsOfShard(shard: number): Set<number> {
    const segments = new Set<number>();
    for (let slot = 0; slot < this.highWater; slot++) {
      if (this.state[slot] === SlotState.LIVE && this.shard[slot] === shard)
        segments.add(this.segment[slot] ?? 0);
    }
    return segments;
  }

  liveBytesOf(segment: number): number {
    return this.liveBytesBySegment.get(segment) ?? 0;
  }

  totalLiveBytes(): number {
    let total = 0;
    for (const bytes of this.liveBytesBySegment.values()) total += bytes;
    return total;
  }

  preparedIn(segment: number): number {
    return this.preparedBySegment.get(segment) ?? 0;
  }

  // ---- prepared writes -----------------------------------------------------------------

  addPrepared(entry: PreparedEntry): void {
    assert(!this.prepared.has(entry.txid), "txid prepared twice");
    this.prepared.set(entry.txid, entry);
    this.account(entry, +1);
    this.preparedBySegment.set(entry.segment, this.preparedIn(entry.segment) + 1);
  }

  private removePrepared(txid: string): PreparedEntry | undefined {
    const entry = this.prepared.get(txid);
    if (entry === undefined) return undefined;
    this.prepared.delete(txid);
    this.account(entry, -1);
    const left = this.preparedIn(entry.segment) - 1;
    if (left === 0) this.preparedBySegment.delete(entry.segment);
    else this.preparedBySegment.set(entry.segment, left);
    return entry;
  }

  /** Aborts a prepared write; its record becomes garbage. */
  abortPrepared(txid: string): PreparedEntry | undefined {
    const entry = this.removePrepared(txid);
    if (entry !== undefined) this.rememberDecision(txid, 0);
    return entry;
  }

  /**
   * Commits a prepared write at `version`. It is served unless a newer version is, or a
   * tombstone at least as new exists (an older version committed late never wins).
   */
  commitPrepared(txid: string, version: number): { entry: PreparedEntry; visible: boolean } | undefined {
    const entry = this.removePrepared(txid);
    if (entry === undefined) return undefined;
    this.rememberDecision(txid, version);
    const visible = this.offerValue({ ...entry, version });
    return { entry, visible };
  }

  rememberDecision(txid: string, version: number): void {
    this.recentDecisions.set(txid, version);
  }

  // ---- committed values and tombstones --------------------------------------------------

  /**
   * Installs `value` if it is newer than what the key holds; returns whether it is served.
   * A tombstone at exactly the value's version does not block it: versions are Raft indexes,
   * unique per write, so such a value is a copy of that write placed here again (rebalance
   * moving a key back after it was moved away), not an older write resurfacing.
   */
  offerValue(value: IndexedValue): boolean {
    let slot = this.slotOf(value.key);
    if (slot !== undefined) {
      const held = this.version[slot] ?? 0;
      const blocked = this.state[slot] === SlotState.DELETED ? held > value.version : held >= value.version;
      if (blocked) return false;
    }
    if (slot === undefined) slot = this.newSlot(value.key);
    else this.dropReference(slot);
    this.fill(slot, value, SlotState.LIVE);
    return true;
  }

  /** What a delete of `key` at `version` would do, and whether a committed version existed. */
  tombstoneEffect(key: string, version: number): { effect: TombstoneEffect; existed: boolean } {
    const slot = this.slotOf(key);
    if (slot === undefined) return { effect: "tombstone", existed: false };
    const current = this.version[slot] ?? 0;
    if (this.state[slot] === SlotState.LIVE) {
      return current <= version ? { effect: "tombstone", existed: true } : { effect: "noop", existed: false };
    }
    return current < version ? { effect: "tombstone", existed: false } : { effect: "noop", existed: false };
  }

  /**
   * Applies a durable tombstone record at `location`: every version of `key` up to
   * `version` is gone. Returns whether a committed version was served before.
   */
  applyTombstone(key: string, version: number, location: RecordLocation): boolean {
    const { effect, existed } = this.tombstoneEffect(key, version);
    if (effect === "noop") return false;
    let slot = this.slotOf(key);
    if (slot === undefined) slot = this.newSlot(key);
    else this.dropReference(slot);
    const tombstone = {
      key,
      txid: "",
      contentType: "",
      size: 0,
      crc32c: 0,
      version,
      createdAtMs: 0,
      ...location,
    };
    this.fill(slot, tombstone, SlotState.DELETED);
    return existed;
  }

  /** Moves a record the index references from `from` to `to` (compaction); false if it changed. */
  relocate(key: string, from: RecordLocation, to: RecordLocation): boolean {
    const slot = this.slotOf(key);
    if (slot === undefined || !this.slotIsAt(slot, from)) return false;
    this.moveSlot(slot, to);
    return true;
  }

  /**
   * Compaction switch by content (boot, finishing a marker): if `key`'s slot references a
   * record in one of `sources` with this state and version, point it at `to`.
   */
  relocateFrom(
    sources: ReadonlySet<number>,
    key: string,
    state: SlotState,
    version: number,
    to: RecordLocation,
  ): boolean {
    const slot = this.slotOf(key);
    if (slot === undefined || this.state[slot] !== state || this.version[slot] !== version) return false;
    if (!sources.has(this.segment[slot] ?? 0)) return false;
    this.moveSlot(slot, to);
    return true;
  }

  private moveSlot(slot: number, to: RecordLocation): void {
    this.accountBytes(this.segment[slot] ?? 0, this.recordBytes[slot] ?? 0, -1);
    this.segment[slot] = to.segment;
    this.offset[slot] = to.offset;
    this.recordBytes[slot] = to.recordBytes;
    this.account(to, +1);
  }

  /** Forgets a deleted key whose tombstone at `at` is no longer needed on disk. */
  forgetTombstone(key: string, at: RecordLocation): boolean {
    const slot = this.slotOf(key);
    if (slot === undefined || this.state[slot] !== SlotState.DELETED || !this.slotIsAt(slot, at))
      return false;
    this.dropReference(slot);
    this.freeSlot(slot);
    return true;
  }

  private slotIsAt(slot: number, at: RecordLocation): boolean {
    return this.segment[slot] === at.segment && this.offset[slot] === at.offset;
  }

  // ---- slots ---------------------------------------------------------------------------

  private newSlot(key: string): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.highWater === this.state.length) this.grow(Math.ceil(this.state.length * GROWTH_FACTOR));
      slot = this.highWater++;
    }
    this.table.insert(key, slot);
    this.shard[slot] = shardOf(key);
    return slot;
  }

  private freeSlot(slot: number): void {
    this.table.remove(slot);
    this.txids.clear(slot);
    this.state[slot] = SlotState.FREE;
    this.freeSlots.push(slot);
  }

  /** The slot's current record stops being referenced: its bytes become garbage. */
  private dropReference(slot: number): void {
    if (this.state[slot] === SlotState.LIVE) this.liveCount -= 1;
    // From the columns: a SlotView would decode the key (a string) for nothing.
    this.accountBytes(this.segment[slot] ?? 0, this.recordBytes[slot] ?? 0, -1);
  }

  private fill(slot: number, value: IndexedValue, state: SlotState): void {
    this.state[slot] = state;
    if (state === SlotState.LIVE) this.liveCount += 1;
    this.txids.set(slot, value.txid);
    this.contentTypeId[slot] = this.internContentType(value.contentType);
    this.segment[slot] = value.segment;
    this.offset[slot] = value.offset;
    this.recordBytes[slot] = value.recordBytes;
    this.size[slot] = value.size;
    this.crc[slot] = value.crc32c;
    this.version[slot] = value.version;
    this.createdAtMs[slot] = value.createdAtMs;
    this.account(value, +1);
  }

  private account(location: RecordLocation, sign: 1 | -1): void {
    this.accountBytes(location.segment, location.recordBytes, sign);
  }

  private accountBytes(segment: number, recordBytes: number, sign: 1 | -1): void {
    const bytes = this.liveBytesOf(segment) + sign * recordBytes;
    assert(bytes >= 0, "segment live bytes below zero");
    if (bytes === 0) this.liveBytesBySegment.delete(segment);
    else this.liveBytesBySegment.set(segment, bytes);
  }

  private internContentType(contentType: string): number {
    const known = this.contentTypeIds.get(contentType);
    if (known !== undefined) return known;
    // Past the bound the index keeps the empty type; the record on disk keeps the real one.
    if (this.contentTypes.length > engineLimits.contentTypesMax) return 0;
    const id = this.contentTypes.length;
    this.contentTypes.push(contentType);
    this.contentTypeIds.set(contentType, id);
    return id;
  }

  private grow(capacity: number): void {
    const grown = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(
      old: T,
      make: (n: number) => T,
    ): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.state = grown(this.state, (n) => new Uint8Array(n));
    this.shard = grown(this.shard, (n) => new Uint8Array(n));
    this.contentTypeId = grown(this.contentTypeId, (n) => new Uint16Array(n));
    this.segment = grown(this.segment, (n) => new Uint32Array(n));
    this.crc = grown(this.crc, (n) => new Uint32Array(n));
    this.offset = grown(this.offset, (n) => new Float64Array(n));
    this.recordBytes = grown(this.recordBytes, (n) => new Float64Array(n));
    this.size = grown(this.size, (n) => new Float64Array(n));
    this.version = grown(this.version, (n) => new Float64Array(n));
    this.createdAtMs = grown(this.createdAtMs, (n) => new Float64Array(n));
    this.table.growSlots(capacity);
    this.txids.growSlots(capacity);
  }

  // ---- snapshots -----------------------------------------------------------------------

  captureImage(): IndexImage {
    const n = this.highWater;
    const keys = this.table.export(n);
    const txids = this.txids.export(n);
    return {
      slots: n,
      state: this.state.slice(0, n),
      shard: this.shard.slice(0, n),
      contentTypeId: this.contentTypeId.slice(0, n),
      segment: this.segment.slice(0, n),
      crc: this.crc.slice(0, n),
      offset: this.offset.slice(0, n),
      recordBytes: this.recordBytes.slice(0, n),
      size: this.size.slice(0, n),
      version: this.version.slice(0, n),
      createdAtMs: this.createdAtMs.slice(0, n),
      keyLengths: keys.lengths,
      keyBytes: keys.bytes,
      txidLengths: txids.lengths,
      txidBytes: txids.bytes,
      contentTypes: [...this.contentTypes],
      prepared: [...this.prepared.values()],
      recentDecisions: this.recentDecisions.entries(),
    };
  }

  /**
   * Restores this (empty) index from a snapshot's columns, taking ownership of the arrays.
   * Throws RangeError when they are inconsistent (the caller treats the snapshot as corrupt).
   */
  restore(columns: IndexColumns): void {
    assert(this.table.size === 0 && this.prepared.size === 0, "restore into an empty index");
    const n = columns.slots;
    const capacity = restoredCapacity(n);
    this.table = new KeyTable(capacity);
    this.txids = new ByteArena(capacity);
    this.txids.import(columns.txidLengths, columns.txidBytes);
    // Columns a snapshot load allocated with room to grow are taken as they are.
    const sized = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(
      from: T,
      make: (n: number) => T,
    ): T => {
      if (from.length < n) throw new RangeError("column shorter than the slot count");
      if (from.length >= capacity) return from;
      const next = make(capacity);
      next.set(from);
      return next;
    };
    this.state = sized(columns.state, (c) => new Uint8Array(c));
    this.shard = sized(columns.shard, (c) => new Uint8Array(c));
    this.contentTypeId = sized(columns.contentTypeId, (c) => new Uint16Array(c));
    this.segment = sized(columns.segment, (c) => new Uint32Array(c));
    this.crc = sized(columns.crc, (c) => new Uint32Array(c));
    this.offset = sized(columns.offset, (c) => new Float64Array(c));
    this.recordBytes = sized(columns.recordBytes, (c) => new Float64Array(c));
    this.size = sized(columns.size, (c) => new Float64Array(c));
    this.version = sized(columns.version, (c) => new Float64Array(c));
    this.createdAtMs = sized(columns.createdAtMs, (c) => new Float64Array(c));
    for (const contentType of columns.contentTypes.slice(1)) this.internContentType(contentType);
    if (this.contentTypes.length !== columns.contentTypes.length)
      throw new RangeError("duplicate content types");
    this.highWater = n;
    this.table.restore(columns.keyLengths, columns.keyBytes, n);
    this.restoreSlots(columns.keyLengths);
  }

  /** Checks the restored slots against their keys and rebuilds the per-segment accounting. */
  private restoreSlots(keyLengths: Uint16Array): void {
    const live = new Map<number, number>();
    // Slots of one segment come in runs: sum a run before touching the map.
    let runSegment = -1;
    let runBytes = 0;
    for (let slot = 0; slot < this.highWater; slot++) {
      const state = this.state[slot];
      const hasKey = (keyLengths[slot] ?? 0) > 0;
      if (state === SlotState.FREE && !hasKey) {
        this.freeSlots.push(slot);
        continue;
      }
      if (!hasKey || (state !== SlotState.LIVE && state !== SlotState.DELETED)) {
        throw new RangeError(`slot ${slot} is malformed`);
      }
      if ((this.contentTypeId[slot] ?? 0) >= this.contentTypes.length) {
        throw new RangeError("unknown content type");
      }
      if (state === SlotState.LIVE) this.liveCount += 1;
      const segment = this.segment[slot] ?? 0;
      if (segment !== runSegment) {
        if (runSegment >= 0) live.set(runSegment, (live.get(runSegment) ?? 0) + runBytes);
        runSegment = segment;
        runBytes = 0;
      }
      runBytes += this.recordBytes[slot] ?? 0;
    }
    if (runSegment >= 0) live.set(runSegment, (live.get(runSegment) ?? 0) + runBytes);
    for (const [segment, bytes] of live) this.liveBytesBySegment.set(segment, bytes);
    this.freeSlots.reverse();
  }

  /** Restores the recently decided txids, oldest first. */
  restoreDecisions(decisions: Iterable<readonly [string, number]>): void {
    for (const [txid, version] of decisions) this.recentDecisions.set(txid, version);
  }

  /** Segments referenced by any slot or prepared entry (a snapshot needs them all present). */
  referencedSegments(): Set<number> {
    const segments = new Set<number>(this.liveBytesBySegment.keys());
    for (const entry of this.prepared.values()) segments.add(entry.segment);
    return segments;
  }

  /**
   * For each of `segments`, the referenced record that ends furthest (recovery cuts torn
   * tails after it). One pass over the columns, no allocation per slot.
   */
  lastReferencedRecords(segments: ReadonlySet<number>): Map<number, RecordLocation> {
    const last = new Map<number, RecordLocation>();
    const consider = (segment: number, offset: number, recordBytes: number): void => {
      const known = last.get(segment);
      if (known === undefined || known.offset < offset) last.set(segment, { segment, offset, recordBytes });
    };
    for (let slot = 0; slot < this.highWater; slot++) {
      const segment = this.segment[slot] ?? 0;
      if (this.state[slot] === SlotState.FREE || !segments.has(segment)) continue;
      consider(segment, this.offset[slot] ?? 0, this.recordBytes[slot] ?? 0);
    }
    for (const entry of this.prepared.values()) {
      if (segments.has(entry.segment)) consider(entry.segment, entry.offset, entry.recordBytes);
    }
    return last;
  }
}
