import { promises as fsp } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { assert } from "../common/errors.js";
import { BloomFilter, KeyHashList, hashKey } from "./bloom-filter.js";
import { fsyncDirectory } from "./durable-fs.js";
import { engineLimits } from "./engine-limits.js";
import { RECORD_FIXED_HEADER_BYTES } from "./record-codec.js";
import type { ZeroRoom } from "./zero-fill.js";
import {
  SEGMENT_FILE_HEADER_BYTES,
  SegmentFile,
  listSegmentNumbers,
  segmentFileName,
  streamingFileName,
} from "./segment-file.js";

/**
 * All segment files of a volume and the one being appended to (the active segment).
 * Reservations roll the active segment once it would pass `segmentBytesMax`; a record
 * larger than that gets a segment of its own. Keys of every record reserved in the active
 * segment are remembered (as their hashes) so its bloom filter can be built when it is
 * sealed.
 */

export interface Reservation {
  readonly segment: SegmentFile;
  readonly offset: number;
}

export interface SegmentSetOptions {
  readonly dataDir: string;
  readonly segmentBytesMax: number;
  readonly logger: Logger;
  /** Called after each shared segment fsync with its duration. */
  readonly onSegmentSync: (seconds: number) => void;
  /**
   * Called (not awaited) when a segment stops taking records, with its keys' hashes and a
   * filter of them to use until a compact one is built from the hashes.
   */
  readonly onSealed: (segment: SegmentFile, keys: KeyHashList, filter: BloomFilter) => void;
  readonly bloomFalsePositiveRate: number;
  /** Whether the data directory's file system may take zeros ahead of the active segment. */
  readonly zeroRoom: ZeroRoom;
}

export class SegmentSet {
  private readonly byNumber = new Map<number, SegmentFile>();
  private activeSegment: SegmentFile | undefined;
  /** Hashes of the keys reserved in the active segment, and a filter over them. */
  private activeKeys = new KeyHashList();
  private activeFilter: BloomFilter | undefined;
  private rolling: Promise<void> | undefined;
  private nextNumber = 1;

  constructor(private readonly options: SegmentSetOptions) {}

  /** Opens every segment file; unreadable ones are renamed aside (`.unreadable`) and logged. */
  async openAll(): Promise<void> {
    await fsp.mkdir(this.options.dataDir, { recursive: true });
    for (const number of await listSegmentNumbers(this.options.dataDir)) {
      const path = join(this.options.dataDir, segmentFileName(number));
      const opened = await SegmentFile.open(path, number, this.options.onSegmentSync);
      this.nextNumber = Math.max(this.nextNumber, number + 1);
      if (typeof opened === "string") {
        this.options.logger.error({ segment: number, problem: opened }, "unreadable segment file set aside");
        await fsp.rename(path, `${path}.unreadable`);
        continue;
      }
      opened.sealed = true;
      this.byNumber.set(number, opened);
    }
  }

  /** Makes sure new segment numbers are above `number` (numbers are never reused). */
  reserveNumbersAbove(number: number): void {
    this.nextNumber = Math.max(this.nextNumber, number + 1);
  }

  /** The number the next new segment gets. */
  peekNextNumber(): number {
    return this.nextNumber;
  }

  allocateNumber(): number {
    return this.nextNumber++;
  }

  get(number: number): SegmentFile | undefined {
    return this.byNumber.get(number);
  }

  get all(): SegmentFile[] {
    return [...this.byNumber.values()].sort((a, b) => a.number - b.number);
  }

  get active(): SegmentFile | undefined {
    return this.activeSegment;
  }

  /** Starts a new, empty active segment (at open: segments of a previous run take no more records). */
  async startActive(): Promise<void> {
    const number = this.allocateNumber();
    const path = join(this.options.dataDir, segmentFileName(number));
    // Zeros ahead of the end, never more than a segment holds (tests use tiny segments).
    const chunkBytes = Math.min(engineLimits.zeroFillChunkBytes, this.options.segmentBytesMax);
    const segment = await SegmentFile.create(path, number, this.options.onSegmentSync, 0, {
      chunkBytes,
      room: this.options.zeroRoom,
    });
    const previous = this.activeSegment;
    const previousKeys = this.activeKeys;
    const previousFilter = this.activeFilter;
    this.byNumber.set(number, segment);
    this.activeSegment = segment;
    this.activeKeys = new KeyHashList();
    // Sized for the most records a segment can hold, so it never needs to grow.
    const recordsMax = Math.ceil(this.options.segmentBytesMax / (RECORD_FIXED_HEADER_BYTES + 8));
    this.activeFilter = BloomFilter.create(recordsMax, this.options.bloomFalsePositiveRate);
    if (previous !== undefined && previousFilter !== undefined) {
      previous.sealed = true;
      this.options.onSealed(previous, previousKeys, previousFilter);
    }
  }

  /**
   * Reserves `recordBytes` for a record of `key` in the active segment, rolling it when
   * full. The returned segment counts one writer in; the caller ends it with endWrite().
   */
  async reserve(recordBytes: number, key: string): Promise<Reservation> {
    for (;;) {
      if (this.rolling !== undefined) {
        await this.rolling;
        continue;
      }
      const reservation = this.tryReserve(recordBytes, key);
      if (reservation !== undefined) return reservation;
      this.rolling = this.startActive().finally(() => {
        this.rolling = undefined;
      });
    }
  }

  /**
   * reserve() without waiting: undefined when the active segment must roll first (or is
   * rolling), and then the caller awaits reserve(). The usual case takes no promise.
   * `keyRecordedIn`: a segment known to hold a record of `key` already (a decision's
   * PREPARE); when that is the active segment, its filter has the key and it is not added
   * again.
   */
  tryReserve(recordBytes: number, key: string, keyRecordedIn?: number): Reservation | undefined {
    if (this.rolling !== undefined) return undefined;
    const active = this.activeSegment;
    assert(active !== undefined, "an active segment exists");
    const empty = active.end === SEGMENT_FILE_HEADER_BYTES;
    if (!empty && active.end + recordBytes > this.options.segmentBytesMax) return undefined;
    const offset = active.reserve(recordBytes);
    active.beginWrite();
    if (keyRecordedIn !== active.number) {
      const hash = hashKey(key);
      this.activeKeys.push(hash);
      this.activeFilter?.addHash(hash);
    }
    return { segment: active, offset };
  }

  /** Hashes of the keys of the active segment's records (its bloom filter at close). */
  get activeKeyHashes(): KeyHashList {
    return this.activeKeys;
  }

  /** Whether the active segment may hold a record of `key` (no false negatives). */
  activeMayContain(key: string): boolean {
    return this.activeFilter?.mayContain(key) ?? true;
  }

  /**
   * A new segment for one record of unknown length (`seg-N.dat.streaming`), outside the
   * set until adoptStreamed(). It counts one writer in; the caller ends it once the
   * record's WAL record is applied.
   */
  async createStreaming(): Promise<SegmentFile> {
    const number = this.allocateNumber();
    const path = join(this.options.dataDir, streamingFileName(number));
    const segment = await SegmentFile.create(path, number, this.options.onSegmentSync);
    segment.beginWrite();
    return segment;
  }

  /**
   * Makes a finished, fsynced streaming segment a sealed segment of the set: renamed to
   * its final name, directory fsynced, its bloom filter built from `key`.
   */
  async adoptStreamed(segment: SegmentFile, key: string): Promise<void> {
    const dir = this.options.dataDir;
    await fsp.rename(
      join(dir, streamingFileName(segment.number)),
      join(dir, segmentFileName(segment.number)),
    );
    await fsyncDirectory(dir);
    segment.sealed = true;
    this.byNumber.set(segment.number, segment);
    const keys = new KeyHashList();
    keys.push(hashKey(key));
    const filter = BloomFilter.create(1, this.options.bloomFalsePositiveRate);
    filter.add(key);
    this.options.onSealed(segment, keys, filter);
  }

  /** Deletes a streaming segment that will not be adopted (the prepare failed). */
  async discardStreaming(segment: SegmentFile): Promise<void> {
    segment.sealed = true;
    await segment.retire();
    await fsp.rm(join(this.options.dataDir, streamingFileName(segment.number)), { force: true });
  }

  /** Adds a finished compaction output. */
  adopt(segment: SegmentFile): void {
    segment.sealed = true;
    this.byNumber.set(segment.number, segment);
  }

  /** Takes a read reference on a segment; undefined if it is gone (compacted away). */
  acquire(number: number): SegmentFile | undefined {
    const segment = this.byNumber.get(number);
    return segment !== undefined && segment.acquire() ? segment : undefined;
  }

  /** Removes a segment: unlinks its file; readers holding it finish on the open handle. */
  async retire(number: number): Promise<void> {
    const segment = this.byNumber.get(number);
    assert(segment !== this.activeSegment, "the active segment is never retired");
    this.byNumber.delete(number);
    await fsp.rm(join(this.options.dataDir, segmentFileName(number)), { force: true });
    await segment?.retire();
  }

  async syncDirectory(): Promise<void> {
    await fsyncDirectory(this.options.dataDir);
  }

  /** fsyncs every segment with unsynced writes (before a snapshot relies on them). */
  async syncDirty(): Promise<void> {
    await Promise.all(this.all.filter((segment) => segment.dirty).map((segment) => segment.sync()));
  }

  get totalBytes(): number {
    let total = 0;
    for (const segment of this.byNumber.values()) total += segment.end;
    return total;
  }

  async close(): Promise<void> {
    for (const segment of this.byNumber.values()) await segment.retire();
    this.byNumber.clear();
    this.activeSegment = undefined;
  }
}
