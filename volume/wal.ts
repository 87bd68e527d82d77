import { constants as fsConstants, promises as fsp } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { ErrorCode, MinikvError, assert, isOutOfSpace } from "../common/errors.js";
import { crc32c } from "../common/hashing.js";
import { limits } from "../common/limits.js";
import { diskError, fsyncDirectory, writeFully } from "./durable-fs.js";
import { engineLimits } from "./engine-limits.js";
import { GroupCommitQueue } from "./group-commit.js";
import { readU64, writeU64 } from "./record-codec.js";
import { decodeWalRecord, encodeWalRecord } from "./wal-record.js";
import type { WalEntry } from "./wal-record.js";
import { ZeroFill, endBeforeZeroTail, writeFirstZeros } from "./zero-fill.js";
import type { ZeroRoom } from "./zero-fill.js";

/** A batch refused (out of space) and undone: the WAL is as it was before it, still usable. */
class UndoneWrite extends Error {
  constructor(readonly error: MinikvError) {
    super(error.message);
  }
}

/** The default ZeroRoom: zeros go ahead whenever the disk takes them. */
const anyRoom: ZeroRoom = () => Promise.resolve(true);

/** An out-of-space failure as an UndoneWrite (the WAL stays usable); anything else as it is. */
function undoneIfFull(err: unknown): Error {
  if (isOutOfSpace(err)) return new UndoneWrite(diskError(err, "starting a WAL file failed"));
  return err instanceof Error ? err : diskError(err, "starting a WAL file failed");
}

/**
 * The write-ahead log in the `--wal` directory (docs/volume-format.md, "WAL"): numbered
 * files `wal-<16 digits>.log`, each a 24-byte header then framed records. Every record is
 * fsynced before the write that made it is acknowledged; concurrent writers share one
 * write + fsync per batch (group commit). A new file is started at every open, so files
 * from earlier runs are only ever read, and whole files are deleted once an index
 * snapshot covers them.
 */

export const WAL_MAGIC = Buffer.from("MKVWAL01", "latin1");
export const WAL_FILE_HEADER_BYTES = 24;

/** A point in the WAL: `offset` is where the record after the covered ones starts. */
export interface WalPosition {
  readonly file: number;
  readonly offset: number;
}

export interface WalReplayStats {
  readonly records: number;
  readonly tornBytes: number;
  readonly corruptFiles: readonly number[];
}

/**
 * A file holding bytes a WAL record names (a segment): fsynced in the same group-commit
 * round as the record, in parallel with the WAL's own write.
 */
export interface SyncedWith {
  sync(): Promise<void>;
}

/** A file a group-commit round writes records into (a segment; see SegmentFile.writeParts). */
export interface WrittenWith {
  writeParts(parts: readonly RoundWrite[], durable: boolean): Promise<void>;
}

/** Bytes written in a WAL record's group-commit round, in parallel with the WAL write. */
export interface RoundWrite {
  readonly file: WrittenWith;
  readonly data: Uint8Array;
  readonly position: number;
  /** On disk when the round ends (a prepared record); else only written (a decision's copy). */
  readonly durable: boolean;
}

/** What a WAL record's round does besides writing it (see WriteAheadLog.append). */
export interface RoundCompanion {
  /** A file holding bytes the record names, written before the append: fsynced in the round. */
  readonly syncWith?: SyncedWith;
  /** The segment record the WAL record goes with: written in the round. */
  readonly write?: RoundWrite;
}

interface PendingRecord {
  readonly bytes: Buffer;
  readonly apply: (position: WalPosition) => void;
  readonly companion: RoundCompanion | undefined;
}

type PendingAppend =
  | PendingRecord
  /** Starts a new file between two batches, then runs `atRoll` with nothing in flight. */
  | {
      readonly bytes: undefined;
      readonly atRoll: (position: WalPosition) => void;
      /** The roll did not happen (no room for a new file); the WAL goes on in its current one. */
      readonly refuse: (err: MinikvError) => void;
    };

/**
 * WAL files are opened O_DSYNC: each write returns once its bytes are as durable as after an
 * fdatasync, so a group-commit round is one write (one trip to the thread pool instead of a
 * write and then an fdatasync), in parallel with the fsyncs of the segments it names.
 */
const WAL_OPEN_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_DSYNC;

export function walFileName(file: number): string {
  return `wal-${String(file).padStart(16, "0")}.log`;
}

async function listWalFiles(dir: string): Promise<number[]> {
  const names = await fsp.readdir(dir);
  return names
    .map((name) => /^wal-(\d{16})\.log$/.exec(name)?.[1])
    .filter((digits): digits is string => digits !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

function encodeWalFileHeader(file: number): Buffer {
  const header = Buffer.alloc(WAL_FILE_HEADER_BYTES);
  WAL_MAGIC.copy(header, 0);
  writeU64(header, 8, file);
  header.writeUInt32LE(1, 16);
  header.writeUInt32LE(crc32c(header.subarray(0, 20)), 20);
  return header;
}

function walFileHeaderProblem(bytes: Buffer, file: number): string | undefined {
  if (bytes.length < WAL_FILE_HEADER_BYTES) return "shorter than its header";
  if (!bytes.subarray(0, 8).equals(WAL_MAGIC)) return "bad magic";
  if (crc32c(bytes.subarray(0, 20)) !== bytes.readUInt32LE(20)) return "header CRC mismatch";
  if (readU64(bytes, 8) !== file || bytes.readUInt32LE(16) !== 1) return "header names another file";
  return undefined;
}

/** What replaying one file found: its records, and where a record first failed, if one did. */
type FileReplay =
  | { readonly records: number; readonly problemAt?: undefined }
  | {
      readonly records: number;
      readonly problemAt: number;
      /** Where the file's bytes end once an all-zero tail is left off. */
      readonly dataEnd: number;
      readonly problem: string;
    };

export interface WalOptions {
  readonly dir: string;
  readonly logger: Logger;
  /** Called after every WAL fsync with the number of records it covered and its duration. */
  readonly onFlush?: (records: number, fsyncSeconds: number) => void;
  readonly fileBytesMax?: number;
  /** Whether the WAL directory's file system may take zeros ahead of the tail (default: while it has room). */
  readonly zeroRoom?: ZeroRoom;
}

export class WriteAheadLog {
  private files: number[] = [];
  private handle: fsp.FileHandle | undefined;
  /** Zeros kept ahead of the tail of the file being appended to. */
  private zeroFill: ZeroFill | undefined;
  private tailFile = 0;
  private tailOffset = 0;
  private broken: MinikvError | undefined;
  /** close() has run: a file started after it is not taken up. */
  private closed = false;
  private readonly queue: GroupCommitQueue<PendingAppend>;
  private readonly fileBytesMax: number;

  private constructor(private readonly options: WalOptions) {
    this.fileBytesMax = options.fileBytesMax ?? engineLimits.walFileBytesMax;
    this.queue = new GroupCommitQueue(
      (batch) => this.flush(batch),
      limits.walQueueDepthMax,
      limits.walGroupRecordsMax,
      { halveAbove: engineLimits.walHalveBatchAbove, startAtTurnEnd: true },
    );
  }

  static async open(options: WalOptions): Promise<WriteAheadLog> {
    await fsp.mkdir(options.dir, { recursive: true });
    const wal = new WriteAheadLog(options);
    wal.files = await listWalFiles(options.dir);
    return wal;
  }

  /** Oldest WAL file present, if any (a full rebuild replays from there). */
  get oldestPosition(): WalPosition | undefined {
    const first = this.files[0];
    return first === undefined ? undefined : { file: first, offset: WAL_FILE_HEADER_BYTES };
  }

  /**
   * Visits every valid record from `from` (or the oldest file) in order, truncates a torn
   * tail, then starts a new file for appends. A record that fails its checks ends its file:
   * in the newest file that is the zeroed tail when only zeros follow, else a torn write
   * (either is cut off); in an older one it is corruption (logged, the rest of that file
   * skipped), zeros included: a file is cut at its last record before the next one starts.
   */
  async replay(from: WalPosition | undefined, visit: (entry: WalEntry) => void): Promise<WalReplayStats> {
    assert(this.handle === undefined, "replay runs once, before appends");
    let records = 0;
    let tornBytes = 0;
    const corruptFiles: number[] = [];
    const last = this.files.at(-1);
    for (const file of this.files) {
      if (from !== undefined && file < from.file) continue;
      const start = from !== undefined && file === from.file ? from.offset : WAL_FILE_HEADER_BYTES;
      const result = await this.replayFile(file, start, visit);
      records += result.records;
      if (result.problemAt === undefined) continue;
      const zeroTail = result.dataEnd === result.problemAt;
      if (file === last) {
        // The zeros after a torn record are the zeroed tail, not torn bytes.
        tornBytes = result.dataEnd - result.problemAt;
        await this.truncateTail(file, result.problemAt, zeroTail ? undefined : result.problem);
      } else {
        corruptFiles.push(file);
        this.options.logger.error(
          {
            walFile: file,
            offset: result.problemAt,
            problem: zeroTail ? "only zeros from here on (blocks lost)" : result.problem,
          },
          "corrupt WAL record in a sealed WAL file; skipping the rest of the file",
        );
      }
    }
    await this.startFile(Math.max(last ?? 0, from?.file ?? 0) + 1);
    return { records, tornBytes, corruptFiles };
  }

  private async replayFile(
    file: number,
    start: number,
    visit: (entry: WalEntry) => void,
  ): Promise<FileReplay> {
    const bytes = await fsp.readFile(join(this.options.dir, walFileName(file)));
    const headerProblem = walFileHeaderProblem(bytes, file);
    if (headerProblem !== undefined)
      return { records: 0, problemAt: 0, dataEnd: bytes.length, problem: headerProblem };
    let at = Math.min(start, bytes.length);
    let records = 0;
    while (at < bytes.length) {
      const decoded = decodeWalRecord(bytes, at);
      if ("problem" in decoded) {
        // Where the bytes end before an all-zero tail (the zeros kept ahead of the appends).
        const dataEnd = endBeforeZeroTail(bytes, at);
        return { records, problemAt: at, dataEnd, problem: decoded.problem };
      }
      visit(decoded.entry);
      records += 1;
      at += decoded.recordBytes;
    }
    return { records };
  }

  /** Cuts the newest file at `at`: a torn tail (`problem`), or only its zeroed tail. */
  private async truncateTail(file: number, at: number, problem: string | undefined): Promise<void> {
    const path = join(this.options.dir, walFileName(file));
    if (problem === undefined) this.options.logger.info({ walFile: file, offset: at }, "zeroed WAL tail cut");
    else this.options.logger.warn({ walFile: file, offset: at, problem }, "torn WAL tail truncated");
    if (at < WAL_FILE_HEADER_BYTES) {
      await fsp.unlink(path);
      this.files = this.files.filter((f) => f !== file);
      await fsyncDirectory(this.options.dir);
      return;
    }
    const handle = await fsp.open(path, "r+");
    try {
      await handle.truncate(at);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async startFile(file: number): Promise<void> {
    await this.cutZeroedTail();
    const path = join(this.options.dir, walFileName(file));
    const handle = await fsp
      .open(path, WAL_OPEN_FLAGS)
      .catch((err: unknown) => Promise.reject(undoneIfFull(err)));
    let zeroFill: ZeroFill | undefined;
    try {
      // The first zeros ahead of the appends go with the header (see ZeroFill).
      const chunk = engineLimits.zeroFillChunkBytes;
      await writeFully(handle, encodeWalFileHeader(file), 0);
      const room = this.options.zeroRoom ?? anyRoom;
      const zeroed = await writeFirstZeros(handle, WAL_FILE_HEADER_BYTES, chunk, room);
      await handle.sync();
      await fsyncDirectory(this.options.dir);
      // Records are written O_DSYNC, each reporting its own failure: a failed fill (of
      // zeros alone) is only logged.
      const onError = (err: unknown): void =>
        this.options.logger.warn({ err, walFile: file }, "zeroing ahead of the WAL failed; appends go on");
      if (zeroed) zeroFill = await ZeroFill.open(path, WAL_FILE_HEADER_BYTES + chunk, chunk, onError, room);
    } catch (err) {
      await handle.close();
      // Out of space: the new file goes (removing needs no room), the current one stays.
      if (isOutOfSpace(err)) await fsp.rm(path, { force: true });
      throw undoneIfFull(err);
    }
    if (this.closed) {
      // close() ran while this file was being started: its handles would outlive the WAL,
      // so they are closed here and the file is not taken up. It holds a header and zeros,
      // which the next open reads as a file without records.
      await zeroFill?.close();
      await handle.close();
      throw new UndoneWrite(new MinikvError(ErrorCode.SHUTTING_DOWN, "the WAL is closed"));
    }
    const previous = this.handle;
    this.handle = handle;
    this.zeroFill = zeroFill;
    this.tailFile = file;
    this.tailOffset = WAL_FILE_HEADER_BYTES;
    this.files.push(file);
    await previous?.close();
  }

  /**
   * Cuts the file being appended to at its last record, durably, before another starts:
   * only the newest WAL file ever ends in zeros, so zeros at the end of an older one are
   * lost blocks, which replay reports. A file refused its successor (a full disk) goes on
   * without zeros ahead.
   */
  private async cutZeroedTail(): Promise<void> {
    const handle = this.handle;
    const fill = this.zeroFill;
    if (handle === undefined || fill === undefined) return;
    this.zeroFill = undefined;
    await fill.close();
    await handle.truncate(this.tailOffset);
    await handle.datasync();
  }

  /** Where the next record goes; every record before it is durable and applied. */
  get position(): WalPosition {
    return { file: this.tailFile, offset: this.tailOffset };
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  /**
   * Appends `entry`; resolves once it is durable. `apply` runs right after, in WAL order
   * and synchronously with the position update, so an index snapshot taken at any instant
   * covers exactly the records before `position`. The same round, in parallel with the WAL
   * write, fsyncs `companion.syncWith` (a segment holding bytes the record names) and
   * writes `companion.write` (the segment record itself; every such write of a round to one
   * segment is one write per run of adjacent records, through the segment's O_DSYNC handle
   * when any of them must be durable). The WAL record may reach the disk before those
   * bytes, so replay keeps a prepare only if the segment record it names verifies whole
   * (recovery.ts), and nothing is applied or acknowledged before all of them are done.
   */
  append(entry: WalEntry, apply: (position: WalPosition) => void, companion?: RoundCompanion): Promise<void> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    assert(this.handle !== undefined, "append after replay");
    return this.queue.enqueue({ bytes: encodeWalRecord(entry), apply, companion });
  }

  /**
   * Starts a new WAL file and runs `capture` at that instant — every record before it
   * applied, none after it written — so an index snapshot taken in `capture` covers whole
   * files, and after it is durable every older file can be deleted.
   */
  rollAt<T>(capture: (position: WalPosition) => T): Promise<T> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    let result: T | undefined;
    let captured = false;
    let refused: MinikvError | undefined;
    const done = this.queue.enqueue({
      bytes: undefined,
      atRoll: (position) => {
        result = capture(position);
        captured = true;
      },
      refuse: (err) => (refused = err),
    });
    return done.then(() => {
      if (refused !== undefined) throw refused;
      assert(captured, "the roll ran");
      return result as T;
    });
  }

  private async flush(batch: readonly PendingAppend[]): Promise<void> {
    let run: PendingRecord[] = [];
    for (const item of batch) {
      if (item.bytes !== undefined) {
        run.push(item);
        continue;
      }
      await this.flushRun(run);
      run = [];
      try {
        await this.guarded(() => this.startFile(this.tailFile + 1));
      } catch (err) {
        if (this.broken !== undefined || !(err instanceof MinikvError)) throw err;
        item.refuse(err);
        continue;
      }
      item.atRoll(this.position);
    }
    await this.flushRun(run);
  }

  private async guarded(work: () => Promise<void>): Promise<void> {
    if (this.broken !== undefined) throw this.broken;
    try {
      await work();
    } catch (err) {
      if (err instanceof UndoneWrite) throw err.error;
      // After a failed write or fsync the file's state is unknown (the page cache may have
      // dropped the dirty pages): stop appending; a restart replays what is really there.
      this.broken = diskError(err, "WAL write failed");
      this.options.logger.error({ err }, "WAL write failed; the WAL refuses further writes");
      throw this.broken;
    }
  }

  private async flushRun(batch: readonly PendingRecord[]): Promise<void> {
    const first = batch[0];
    if (first === undefined) return;
    const bytes = batch.length === 1 ? first.bytes : Buffer.concat(batch.map((item) => item.bytes));
    const companions = companionsOf(batch);
    let fsyncSeconds = 0;
    // A failed segment fsync breaks the WAL too: its records are written by then, and what
    // the disk holds of the segment is unknown until a restart verifies it.
    await this.guarded(async () => {
      if (this.tailOffset > WAL_FILE_HEADER_BYTES && this.tailOffset + bytes.length > this.fileBytesMax) {
        await this.startFile(this.tailFile + 1);
      }
      const handle = this.handle;
      assert(handle !== undefined, "WAL open");
      const fill = this.zeroFill?.before(this.tailOffset, this.tailOffset + bytes.length);
      if (fill !== undefined) await fill;
      const startedAt = performance.now();
      const walWritten = this.writeDurably(handle, bytes).then(() => {
        fsyncSeconds = (performance.now() - startedAt) / 1000;
      });
      if (companions.syncs.size === 0 && companions.writes.size === 0) return walWritten;
      // One allSettled observes every promise from the start (a write refused while the
      // others still run is never an unhandled rejection); all settle before the round ends.
      const syncFiles = [...companions.syncs];
      const [wal, ...rest] = await Promise.allSettled([
        walWritten,
        ...syncFiles.map((file) => file.sync()),
        ...[...companions.writes].map(([file, group]) => file.writeParts(group.parts, group.durable)),
      ]);
      const syncs = rest.slice(0, syncFiles.length);
      const writes = rest.slice(syncFiles.length);
      await this.settleRound(handle, wal, syncs, writes);
    });
    for (const item of batch) {
      this.tailOffset += item.bytes.length;
      item.apply({ file: this.tailFile, offset: this.tailOffset });
    }
    this.zeroFill?.advance(this.tailOffset);
    this.options.onFlush?.(batch.length, fsyncSeconds);
  }

  /**
   * Decides a round whose WAL write ran beside segment fsyncs and writes. A failed fsync,
   * or a failed segment write for another reason than a full disk, wins: the segments'
   * state on disk is unknown, so the WAL must stop. A full disk fails only the batch: a
   * refused WAL write is already cut back; WAL records written beside a refused segment
   * write are cut back here (durably: they name records that are not on disk).
   */
  private async settleRound(
    handle: fsp.FileHandle,
    wal: PromiseSettledResult<void> | undefined,
    syncs: readonly PromiseSettledResult<void>[],
    writes: readonly PromiseSettledResult<void>[],
  ): Promise<void> {
    for (const outcome of syncs) if (outcome.status === "rejected") throw outcome.reason;
    let full: unknown;
    for (const outcome of writes) {
      if (outcome.status !== "rejected") continue;
      if (!isOutOfSpace(outcome.reason)) throw outcome.reason;
      full ??= outcome.reason;
    }
    if (wal?.status === "rejected") throw wal.reason;
    if (full === undefined) return;
    this.zeroFill?.cutAt(this.tailOffset);
    await handle.truncate(this.tailOffset);
    await handle.datasync();
    throw new UndoneWrite(diskError(full, "writing segment records failed"));
  }

  /** Writes a batch at the tail (O_DSYNC: durable once written). */
  private async writeDurably(handle: fsp.FileHandle, bytes: Buffer): Promise<void> {
    try {
      await writeFully(handle, bytes, this.tailOffset);
    } catch (err) {
      if (!isOutOfSpace(err)) throw err;
      // Out of space: the batch fails unacknowledged and every earlier record is durable;
      // what reached the file past the tail is cut (replay would cut it as a torn tail
      // anyway), and the WAL takes the next batch once there is room (a full disk is not a
      // broken one).
      this.zeroFill?.cutAt(this.tailOffset);
      await handle.truncate(this.tailOffset);
      throw new UndoneWrite(diskError(err, "WAL write failed"));
    }
  }

  /** Deletes WAL files wholly before `position` (a snapshot covers them). */
  async retireBefore(position: WalPosition): Promise<number> {
    if (this.handle === undefined) return 0; // closed: files are no longer ours to delete
    const old = this.files.filter((file) => file < position.file && file !== this.tailFile);
    for (const file of old) await fsp.rm(join(this.options.dir, walFileName(file)), { force: true });
    if (old.length > 0) await fsyncDirectory(this.options.dir);
    this.files = this.files.filter((file) => !old.includes(file));
    return old.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.broken ??= new MinikvError(ErrorCode.SHUTTING_DOWN, "the WAL is closed");
    await this.zeroFill?.close();
    this.zeroFill = undefined;
    await this.handle?.close();
    this.handle = undefined;
  }
}

interface RoundCompanions {
  readonly syncs: Set<SyncedWith>;
  readonly writes: Map<WrittenWith, { readonly parts: RoundWrite[]; durable: boolean }>;
}

/** The fsyncs and writes of a batch, grouped by file. */
function companionsOf(batch: readonly PendingRecord[]): RoundCompanions {
  const syncs = new Set<SyncedWith>();
  const writes = new Map<WrittenWith, { readonly parts: RoundWrite[]; durable: boolean }>();
  for (const { companion } of batch) {
    if (companion === undefined) continue;
    if (companion.syncWith !== undefined) syncs.add(companion.syncWith);
    const write = companion.write;
    if (write === undefined) continue;
    const group = writes.get(write.file);
    if (group === undefined) writes.set(write.file, { parts: [write], durable: write.durable });
    else {
      group.parts.push(write);
      group.durable ||= write.durable;
    }
  }
  return { syncs, writes };
}
