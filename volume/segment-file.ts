import { constants as fsConstants, promises as fsp } from "node:fs";
import { randomInt } from "node:crypto";
import { join } from "node:path";
import { asError, assert, isOutOfSpace } from "../common/errors.js";
import { crc32c } from "../common/hashing.js";
import {
  diskError,
  fsyncDirectory,
  readAt,
  readAtNow,
  removeIfExists,
  writeFully,
  writevFully,
} from "./durable-fs.js";
import { engineLimits } from "./engine-limits.js";
import { decodeRecordHead, parseFixedHeader, readU64, writeU64 } from "./record-codec.js";
import type { DecodedHead } from "./record-codec.js";
import { limits } from "../common/limits.js";
import { GroupCommitQueue } from "./group-commit.js";
import { SyncCoalescer } from "./sync-coalescer.js";
import { ZeroFill, writeFirstZeros } from "./zero-fill.js";
import type { ZeroRoom } from "./zero-fill.js";

/**
 * One numbered, append-only segment file (docs/volume-format.md, "Segment files"). Keys
 * never name files: segments are `seg-<12-digit number>.dat`. Space for a record is
 * reserved synchronously at the end of the file and then written with positional writes,
 * so concurrent prepares stream into one segment without interleaving their bytes.
 *
 * Lifetime: the store holds one reference; readers and writers take more with acquire().
 * retire() unlinks the file (open handles keep the bytes readable) and the handle closes
 * when the last reference goes.
 */

export const SEGMENT_MAGIC = Buffer.from("MKVSEG01", "latin1");
export const SEGMENT_FILE_HEADER_BYTES = 32;
const HEAD_READ_BYTES = 512;
const SEGMENT_FORMAT_VERSION = 1;

export function segmentFileName(segment: number): string {
  return `seg-${String(segment).padStart(12, "0")}.dat`;
}

export function compactingFileName(segment: number): string {
  return `${segmentFileName(segment)}.compacting`;
}

/**
 * A segment being written by one prepare of unknown length: it is renamed to its final
 * name only once the record is complete and fsynced; boot deletes leftovers.
 */
export function streamingFileName(segment: number): string {
  return `${segmentFileName(segment)}.streaming`;
}

/** Segment numbers present in `dir`, ascending. */
export async function listSegmentNumbers(dir: string): Promise<number[]> {
  const names = await fsp.readdir(dir);
  return names
    .map((name) => /^seg-(\d{12})\.dat$/.exec(name)?.[1])
    .filter((digits): digits is string => digits !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Flag in the file header: the segment was written whole by compaction (never torn). */
export const SEGMENT_FLAG_COMPACTED = 1;

function encodeFileHeader(segment: number, salt: number, flags: number): Buffer {
  const header = Buffer.alloc(SEGMENT_FILE_HEADER_BYTES);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeUInt32LE(SEGMENT_FORMAT_VERSION, 8);
  header.writeUInt32LE(salt, 12);
  writeU64(header, 16, segment);
  header.writeUInt32LE(flags, 24);
  header.writeUInt32LE(crc32c(header.subarray(0, 28)), 28);
  return header;
}

function decodeFileHeader(header: Buffer, segment: number): { salt: number; flags: number } | string {
  if (header.length < SEGMENT_FILE_HEADER_BYTES) return "file shorter than its header";
  if (!header.subarray(0, 8).equals(SEGMENT_MAGIC)) return "bad magic";
  if (crc32c(header.subarray(0, 28)) !== header.readUInt32LE(28)) return "header CRC mismatch";
  if (header.readUInt32LE(8) !== SEGMENT_FORMAT_VERSION) return "unknown format version";
  if (readU64(header, 16) !== segment) return "segment number does not match the file name";
  if ((header.readUInt32LE(24) & ~SEGMENT_FLAG_COMPACTED) !== 0) return "unknown flags";
  return { salt: header.readUInt32LE(12), flags: header.readUInt32LE(24) };
}

/** Reads readShared() joins: regions at most this far apart, spans at most this long. */
const READ_SHARED_GAP_BYTES_MAX = 16 * 1024;
const READ_SHARED_SPAN_BYTES_MAX = 256 * 1024;

interface PendingRead {
  readonly position: number;
  readonly length: number;
  bytes: Buffer | undefined;
}

/** Bytes to put at a position of the file (a whole record, a head). */
export interface SegmentPart {
  readonly data: Uint8Array;
  readonly position: number;
}

/**
 * The second handle of a segment this run writes, opened O_DSYNC: a write through it
 * returns once its bytes (and the file size) are as durable as after an fdatasync, so a
 * group-commit round makes its records durable with one trip to the disk instead of a
 * write and then an fsync.
 */
const DURABLE_OPEN_FLAGS = fsConstants.O_WRONLY | fsConstants.O_DSYNC;

export class SegmentFile {
  private refs = 1;
  private retired = false;
  /** Writes in progress: from reservation until the write's WAL record is applied. */
  private writers = 0;
  /**
   * Writes not yet covered by an fsync. Set when a write completes, not when it starts: an
   * fsync that began while the write was in flight clears the flag without covering it.
   */
  dirty = false;
  /** No more reservations: the segment is full or belongs to a previous run. */
  sealed = false;
  private readonly syncer: SyncCoalescer;
  private readonly readQueue = new GroupCommitQueue<PendingRead>(
    (batch) => this.readBatch(batch),
    limits.walQueueDepthMax,
    limits.walGroupRecordsMax,
  );
  private readonly writeQueue = new GroupCommitQueue<SegmentPart>(
    (batch) => this.writeBatch(batch),
    limits.walQueueDepthMax,
    limits.walGroupRecordsMax,
  );
  /**
   * The first failed fsync, answered to every later one: after a failure the kernel may
   * have dropped dirty pages and reports the error once, so a later fsync that succeeds
   * would not mean the earlier writes are durable.
   */
  private syncFailure: Error | undefined;
  /** Zeros kept ahead of the end (the active segment); undefined once trimmed, or never. */
  private zeroFill: ZeroFill | undefined;

  private constructor(
    readonly number: number,
    readonly path: string,
    readonly salt: number,
    /** SEGMENT_FLAG_* bits from the file header. */
    readonly flags: number,
    private readonly handle: fsp.FileHandle,
    /** O_DSYNC handle (segments created by this run); undefined: write, then fsync. */
    private readonly durableHandle: fsp.FileHandle | undefined,
    /** End of the reserved area: where the next record goes. */
    private endOffset: number,
    onSync: (seconds: number) => void,
  ) {
    this.syncer = new SyncCoalescer(async () => {
      if (this.syncFailure !== undefined) throw this.syncFailure;
      this.dirty = false;
      const startedAt = performance.now();
      try {
        await this.handle.datasync();
      } catch (err) {
        this.syncFailure = asError(err);
        throw err;
      }
      onSync((performance.now() - startedAt) / 1000);
    });
  }

  /**
   * Creates a new empty segment (header fsynced, directory fsynced). `zeroFill` (the active
   * segment): zeros are kept ahead of its end for the O_DSYNC writes of small records
   * (ZeroFill), written `chunkBytes` at a time, the first with the header, while `room`
   * allows them.
   */
  static async create(
    path: string,
    segment: number,
    onSync: (seconds: number) => void,
    flags = 0,
    zeroFill?: { readonly chunkBytes: number; readonly room: ZeroRoom },
  ): Promise<SegmentFile> {
    const salt = randomInt(1, 0xffff_ffff);
    const handle = await fsp.open(path, "wx+");
    let durableHandle: fsp.FileHandle | undefined;
    let zeroed = false;
    try {
      await writeFully(handle, encodeFileHeader(segment, salt, flags), 0);
      if (zeroFill !== undefined && zeroFill.chunkBytes > 0) {
        zeroed = await writeFirstZeros(handle, SEGMENT_FILE_HEADER_BYTES, zeroFill.chunkBytes, zeroFill.room);
      }
      await handle.sync();
      durableHandle = await fsp.open(path, DURABLE_OPEN_FLAGS);
      await fsyncDirectory(join(path, ".."));
    } catch (err) {
      await durableHandle?.close();
      await handle.close();
      // Made a moment ago (exclusively) and never used: a file system out of room keeps no
      // empty or half-written segment.
      await removeIfExists(path);
      throw isOutOfSpace(err) ? diskError(err, "creating a segment failed") : err;
    }
    const file = new SegmentFile(
      segment,
      path,
      salt,
      flags,
      handle,
      durableHandle,
      SEGMENT_FILE_HEADER_BYTES,
      onSync,
    );
    if (zeroed && zeroFill !== undefined) {
      // A fill that fails for another reason than a full disk leaves the file's state
      // unknown, like a failed fsync: every later fsync fails too.
      file.zeroFill = await ZeroFill.open(
        path,
        SEGMENT_FILE_HEADER_BYTES + zeroFill.chunkBytes,
        zeroFill.chunkBytes,
        (err) => (file.syncFailure ??= asError(err)),
        zeroFill.room,
      );
    }
    return file;
  }

  /** Opens an existing segment; its end is the file's size. Reason string if unusable. */
  static async open(
    path: string,
    segment: number,
    onSync: (seconds: number) => void,
  ): Promise<SegmentFile | string> {
    const handle = await fsp.open(path, "r+");
    const header = await readAt(handle, 0, SEGMENT_FILE_HEADER_BYTES);
    const decoded = decodeFileHeader(header, segment);
    if (typeof decoded === "string") {
      await handle.close();
      return decoded;
    }
    const { size } = await handle.stat();
    return new SegmentFile(segment, path, decoded.salt, decoded.flags, handle, undefined, size, onSync);
  }

  get compacted(): boolean {
    return (this.flags & SEGMENT_FLAG_COMPACTED) !== 0;
  }

  /** fsyncs data and metadata (a sealed or finished segment). */
  async syncAll(): Promise<void> {
    if (this.syncFailure !== undefined) throw this.syncFailure;
    this.dirty = false;
    try {
      await this.handle.sync();
    } catch (err) {
      this.syncFailure = asError(err);
      throw err;
    }
  }

  get end(): number {
    return this.endOffset;
  }

  /** Bytes of records (the file minus its header). */
  get recordAreaBytes(): number {
    return this.endOffset - SEGMENT_FILE_HEADER_BYTES;
  }

  /** Reserves `bytes` at the end; returns where they start. */
  reserve(bytes: number): number {
    assert(!this.sealed && !this.retired, "reserve in a sealed segment");
    const offset = this.endOffset;
    this.endOffset += bytes;
    this.zeroFill?.advance(this.endOffset);
    return offset;
  }

  /**
   * Cuts the zeros kept ahead of the end (a sealed or closing segment takes no more
   * records). The cut is durable after the next syncAll(); a crash before leaves zeros
   * that recovery cuts.
   */
  async trimZeroFill(): Promise<void> {
    const fill = this.zeroFill;
    // A segment retired meanwhile (compacted away) has nothing left to trim.
    if (fill === undefined || !this.acquire()) return;
    this.zeroFill = undefined;
    try {
      await fill.close();
      await this.handle.truncate(this.endOffset);
    } finally {
      await this.release();
    }
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    assert(
      position >= SEGMENT_FILE_HEADER_BYTES && position + data.length <= this.endOffset,
      "write inside the reserved area",
    );
    try {
      const fill = this.zeroFill?.before(position, position + data.length);
      if (fill !== undefined) await fill;
      await writeFully(this.handle, data, position);
    } finally {
      this.dirty = true;
    }
  }

  /**
   * Like write(), for small writes: calls made while a batch is being written queue, and
   * the next batch writes each run of adjacent regions (concurrent records reserved one
   * after another) with one write. Resolves once this region is written; the caller must
   * not change `data` until then. A failed write fails its whole batch.
   */
  writeShared(data: Uint8Array, position: number): Promise<void> {
    assert(
      position >= SEGMENT_FILE_HEADER_BYTES && position + data.length <= this.endOffset,
      "write inside the reserved area",
    );
    return this.writeQueue.enqueue({ data, position });
  }

  private writeBatch(batch: readonly SegmentPart[]): Promise<void> {
    return this.writeParts(batch, false);
  }

  /**
   * Writes every part at its position: each run of adjacent parts (records reserved one
   * after another) with one write. `durable`: through the O_DSYNC handle, so the parts are
   * on disk when it resolves (as after sync()); else they are only written. Parts never
   * overlap. A failure fails every part; a durable write that fails for another reason
   * than a full disk fails every later sync() too (see syncFailure).
   */
  async writeParts(parts: readonly SegmentPart[], durable: boolean): Promise<void> {
    if (durable && this.syncFailure !== undefined) throw this.syncFailure;
    const handle = durable ? (this.durableHandle ?? this.handle) : this.handle;
    const writes: Promise<void>[] = [];
    const runs = adjacentRuns(parts);
    const last = runs.at(-1);
    const fill = last === undefined ? undefined : this.zeroFill?.before(runs[0]?.position ?? 0, last.end);
    if (fill !== undefined) await fill;
    for (const run of runs) {
      assert(
        run.position >= SEGMENT_FILE_HEADER_BYTES && run.end <= this.endOffset,
        "write inside the reserved area",
      );
      const first = run.data[0];
      if (run.data.length === 1 && first !== undefined) writes.push(writeFully(handle, first, run.position));
      else writes.push(writevFully(handle, run.data, run.position));
    }
    try {
      await Promise.all(writes);
      if (durable && this.durableHandle === undefined) await this.sync();
    } catch (err) {
      if (durable && !isOutOfSpace(err)) this.syncFailure ??= asError(err);
      throw err;
    } finally {
      if (!durable) this.dirty = true;
    }
  }

  read(position: number, length: number): Promise<Buffer> {
    if (length <= engineLimits.syncReadBytesMax) return readAtNow(this.handle, position, length);
    return readAt(this.handle, position, length);
  }

  /**
   * Like read(), for small reads: calls made while a batch is being read queue, and the
   * next batch reads each cluster of nearby regions with one read (the buffers returned
   * may share memory; they belong to the caller).
   */
  readShared(position: number, length: number): Promise<Buffer> {
    const pending: PendingRead = { position, length, bytes: undefined };
    return this.readQueue.enqueue(pending).then(() => {
      assert(pending.bytes !== undefined, "a read resolved as done was done");
      return pending.bytes;
    });
  }

  private async readBatch(batch: readonly PendingRead[]): Promise<void> {
    const sorted = [...batch].sort((a, b) => a.position - b.position);
    const reads: Promise<void>[] = [];
    let cluster: PendingRead[] = [];
    let start = 0;
    let end = 0;
    const readCluster = (): void => {
      const members = cluster;
      if (members.length === 0) return;
      const from = start;
      reads.push(
        this.read(from, end - from).then((span) => {
          for (const m of members) {
            const at = Math.min(span.length, m.position - from);
            m.bytes = span.subarray(at, Math.min(span.length, at + m.length));
          }
        }),
      );
    };
    for (const pending of sorted) {
      const pendingEnd = pending.position + pending.length;
      if (
        cluster.length > 0 &&
        pending.position <= end + READ_SHARED_GAP_BYTES_MAX &&
        Math.max(end, pendingEnd) - start <= READ_SHARED_SPAN_BYTES_MAX
      ) {
        cluster.push(pending);
        end = Math.max(end, pendingEnd);
        continue;
      }
      readCluster();
      cluster = [pending];
      start = pending.position;
      end = pendingEnd;
    }
    readCluster();
    await Promise.all(reads);
  }

  /** Reads and verifies the head of the record at `offset`; a reason string if invalid. */
  async readHead(offset: number): Promise<DecodedHead | string> {
    // One read covers the heads of typical records (short keys, txids and content types).
    const first = await this.read(offset, HEAD_READ_BYTES);
    const parsed = parseFixedHeader(first, this.salt);
    if (typeof parsed === "string") return parsed;
    const head = parsed.headBytes <= first.length ? first : await this.read(offset, parsed.headBytes);
    return this.decodeHead(head);
  }

  /** Verifies the head at the start of `bytes` (a record of this segment read whole). */
  decodeHead(bytes: Uint8Array): DecodedHead | string {
    return decodeRecordHead(bytes, this.salt);
  }

  /** fsyncs the data written so far, sharing the fsync with concurrent callers. */
  sync(): Promise<void> {
    return this.syncer.sync();
  }

  /** Cuts the file at `end` (a torn tail) and fsyncs it. */
  async truncate(end: number): Promise<void> {
    assert(end >= SEGMENT_FILE_HEADER_BYTES && end <= this.endOffset, "truncate inside the file");
    await this.handle.truncate(end);
    await this.handle.sync();
    this.endOffset = end;
  }

  /** Counts a writer in; compaction leaves a segment alone while any is in. */
  beginWrite(): void {
    this.writers += 1;
  }

  endWrite(): void {
    this.writers -= 1;
    assert(this.writers >= 0, "segment writer count below zero");
  }

  get writersInProgress(): number {
    return this.writers;
  }

  acquire(): boolean {
    if (this.retired) return false;
    this.refs += 1;
    return true;
  }

  async release(): Promise<void> {
    this.refs -= 1;
    assert(this.refs >= 0, "segment reference count below zero");
    if (this.refs > 0) return;
    const fill = this.zeroFill;
    this.zeroFill = undefined;
    await fill?.close();
    await this.durableHandle?.close();
    await this.handle.close();
  }

  get isRetired(): boolean {
    return this.retired;
  }

  /** Drops the store's reference; the handle closes when the last reader is done. */
  async retire(): Promise<void> {
    if (this.retired) return;
    this.retired = true;
    await this.release();
  }
}

interface Run {
  readonly position: number;
  readonly data: Uint8Array[];
  end: number;
}

/** Parts sorted by position and joined into runs of adjacent ones (asserts no overlap). */
function adjacentRuns(parts: readonly SegmentPart[]): Run[] {
  const sorted = isSorted(parts) ? parts : [...parts].sort((a, b) => a.position - b.position);
  const runs: Run[] = [];
  let run: Run | undefined;
  for (const { data, position } of sorted) {
    assert(run === undefined || position >= run.end, "segment writes never overlap");
    if (run !== undefined && position === run.end) run.data.push(data);
    else runs.push((run = { position, data: [data], end: position }));
    run.end += data.length;
  }
  return runs;
}

function isSorted(parts: readonly SegmentPart[]): boolean {
  for (let i = 1; i < parts.length; i++) {
    if ((parts[i]?.position ?? 0) < (parts[i - 1]?.position ?? 0)) return false;
  }
  return true;
}
