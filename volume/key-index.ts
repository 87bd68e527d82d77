import { assert } from "../common/errors.js";
import { shardOf } from "../common/hashing.js";
import { engineLimits } from "./engine-limits.js";

/**
 * The in-memory index: key → location and state of the value served for it, plus the
 * prepared (undecided) writes by txid. Memory per key is what limits a volume's key count,
 * so keys map to integer slots and every per-key field lives in a typed-array column
 * (about 70 bytes a key beyond the strings; `bytesPerKeyEstimate` and
 * scripts measure it). A slot is LIVE (a committed version is served) or DELETED (a
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

/** Result of a delete against the index (the store writes a tombstone only for "tombstone"). */
export type TombstoneEffect = "noop" | "tombstone";

const GROWTH_FACTOR = 1.5;
const INITIAL_SLOTS = 1024;

export class KeyIndex {
  private readonly slotOf = new Map<string, number>();
  private keys: (string | undefined)[] = [];
  private txids: string[] = [];
  private state = new Uint8Array(INITIAL_SLOTS);
  private shard = new Uint8Array(INITIAL_SLOTS);
  private contentTypeId = new Uint16Array(INITIAL_SLOTS);
  private segment = new Uint32Array(INITIAL_SLOTS);
  private crc = new Uint32Array(INITIAL_SLOTS);
  private offset = new Float64Array(INITIAL_SLOTS);
  private recordBytes = new Float64Array(INITIAL_SLOTS);
  private size = new Float64Array(INITIAL_SLOTS);
  private version = new Float64Array(INITIAL_SLOTS);
  private createdAtMs = new Float64Array(INITIAL_SLOTS);
  private highWater = 0;
  private readonly freeSlots: number[] = [];
  private liveCount = 0;

  private readonly contentTypes: string[] = [""];
  private readonly contentTypeIds = new Map<string, number>([["", 0]]);

  readonly prepared = new Map<string, PreparedEntry>();
  /** Recently decided txids → committed version (0: aborted). Bounded, oldest dropped first. */
  readonly recentDecisions = new Map<string, number>();

  private readonly liveBytesBySegment = new Map<number, number>();
  private readonly preparedBySegment = new Map<number, number>();

  /** Committed keys served. */
  get keyCount(): number {
    return this.liveCount;
  }

  /** Slots in use (live keys and remembered tombstones). */
  get slotCount(): number {
    return this.slotOf.size;
  }

  get slotCapacity(): number {
    return this.state.length;
  }

  // ---- lookups -------------------------------------------------------------------------

  /** The committed value served for `key`, if any. */
  get(key: string): IndexedValue | undefined {
    const slot = this.slotOf.get(key);
    if (slot === undefined || this.state[slot] !== SlotState.LIVE) return undefined;
    return this.valueAt(slot);
  }

  /** The tombstone version remembered for a deleted key. */
  tombstoneVersion(key: string): number | undefined {
    const slot = this.slotOf.get(key);
    if (slot === undefined || this.state[slot] !== SlotState.DELETED) return undefined;
    return this.version[slot];
  }

  slotView(key: string): SlotView | undefined {
    const slot = this.slotOf.get(key);
    return slot === undefined ? undefined : this.viewAt(slot);
  }

  private valueAt(slot: number): IndexedValue {
    return {
      key: this.keys[slot] ?? "",
      txid: this.txids[slot] ?? "",
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

  private viewAt(slot: number): SlotView {
    return {
      state: (this.state[slot] ?? 0) as SlotState,
      key: this.keys[slot] ?? "",
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
    this.recentDecisions.delete(txid);
    this.recentDecisions.set(txid, version);
    if (this.recentDecisions.size > engineLimits.recentDecisionsMax) {
      const oldest = this.recentDecisions.keys().next();
      if (oldest.done !== true) this.recentDecisions.delete(oldest.value);
    }
  }

  // ---- committed values and tombstones --------------------------------------------------

  /** Installs `value` if it is newer than what the key holds; returns whether it is served. */
  offerValue(value: IndexedValue): boolean {
    let slot = this.slotOf.get(value.key);
    if (slot !== undefined && (this.version[slot] ?? 0) >= value.version) return false;
    if (slot === undefined) slot = this.newSlot(value.key);
    else this.dropReference(slot);
    this.fill(slot, value, SlotState.LIVE);
    return true;
  }

  /** What a delete of `key` at `version` would do, and whether a committed version existed. */
  tombstoneEffect(key: string, version: number): { effect: TombstoneEffect; existed: boolean } {
    const slot = this.slotOf.get(key);
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
    let slot = this.slotOf.get(key);
    if (slot === undefined) slot = this.newSlot(key);
    else this.dropReference(slot);
    this.fill(
      slot,
      { key, txid: "", contentType: "", size: 0, crc32c: 0, version, createdAtMs: 0, ...location },
      SlotState.DELETED,
    );
    return existed;
  }

  /** Moves a record the index references from `from` to `to` (compaction); false if it changed. */
  relocate(key: string, from: RecordLocation, to: RecordLocation): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined || !this.slotIsAt(slot, from)) return false;
    this.dropReference(slot);
    this.segment[slot] = to.segment;
    this.offset[slot] = to.offset;
    this.recordBytes[slot] = to.recordBytes;
    this.account(to, +1);
    return true;
  }

  /** Forgets a deleted key whose tombstone at `at` is no longer needed on disk. */
  forgetTombstone(key: string, at: RecordLocation): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined || this.state[slot] !== SlotState.DELETED || !this.slotIsAt(slot, at))
      return false;
    this.dropReference(slot);
    this.freeSlot(slot, key);
    return true;
  }

  /** Relocates a prepared entry (rebuild only: prepares are never compacted). */
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
    this.slotOf.set(key, slot);
    this.keys[slot] = key;
    this.shard[slot] = shardOf(key);
    return slot;
  }

  private freeSlot(slot: number, key: string): void {
    this.slotOf.delete(key);
    this.keys[slot] = undefined;
    this.txids[slot] = "";
    this.state[slot] = SlotState.FREE;
    this.freeSlots.push(slot);
  }

  /** The slot's current record stops being referenced: its bytes become garbage. */
  private dropReference(slot: number): void {
    if (this.state[slot] === SlotState.LIVE) this.liveCount -= 1;
    this.account(this.viewAt(slot), -1);
  }

  private fill(slot: number, value: IndexedValue, state: SlotState): void {
    this.state[slot] = state;
    if (state === SlotState.LIVE) this.liveCount += 1;
    this.txids[slot] = value.txid;
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
    const bytes = this.liveBytesOf(location.segment) + sign * location.recordBytes;
    assert(bytes >= 0, "segment live bytes below zero");
    if (bytes === 0) this.liveBytesBySegment.delete(location.segment);
    else this.liveBytesBySegment.set(location.segment, bytes);
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
  }

  /** Makes room for `slots` slots at once (snapshot load: no repeated growth). */
  reserve(slots: number): void {
    if (slots > this.state.length) this.grow(slots);
  }
}
