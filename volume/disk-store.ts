import type { Registry } from "prom-client";
import type { Logger } from "pino";
import { ErrorCode, MinikvError, assert } from "../common/errors.js";
import { shardOf } from "../common/hashing.js";
import { limits } from "../common/limits.js";
import { createLogger } from "../common/logger.js";
import { validateKey } from "../common/keys.js";
import { compareUtf8 } from "./key-order.js";
import { diskSpaceOf } from "./durable-fs.js";
import type { DiskSpace } from "./durable-fs.js";
import { engineLimits } from "./engine-limits.js";
import { SlotState } from "./key-index.js";
import type { KeyIndex, IndexedValue, PreparedEntry } from "./key-index.js";
import { BloomRegistry } from "./bloom-registry.js";
import type { CompactionStep } from "./compaction.js";
import { StoreMaintenance } from "./store-maintenance.js";
import type { MaintenancePolicy } from "./store-maintenance.js";
import { writePreparedValue } from "./prepare-writer.js";
import { reserveDecisionRecord } from "./decision-writer.js";
import { RecordType } from "./record-codec.js";
import type { DecodedHead, RecordFields } from "./record-codec.js";
import { recover } from "./recovery.js";
import type { RecoveryReport } from "./recovery.js";
import { SegmentSet } from "./segment-set.js";
import type { SegmentFile } from "./segment-file.js";
import { createStoreMetrics } from "./store-metrics.js";
import type { StoreMetrics } from "./store-metrics.js";
import type {
  ChecksumResult,
  CompactResult,
  PrepareHeader,
  PrepareResult,
  ReadOptions,
  StoreStats,
  StoredValueInfo,
  VolumeStore,
} from "./store-api.js";
import { RestartReserve, restartReserveBytesFor } from "./restart-reserve.js";
import { computeValueCrc, recordInMemory, streamVerifiedValue } from "./value-reader.js";
import { WriteAheadLog } from "./wal.js";
import type { ZeroRoom } from "./zero-fill.js";

/** How to open a volume's storage engine. Everything but the two directories has a default. */
export interface DiskStoreOptions {
  /** Segment files, bloom filters, index snapshots, compaction markers. */
  readonly dataDir: string;
  /** WAL files (may be a faster device). */
  readonly walDir: string;
  /** Roll size of segments; default limits.segmentBytesDefault. */
  readonly segmentBytesMax?: number;
  /** An index snapshot is written this often when the WAL has grown (default 60 s; 0: only on close). */
  readonly snapshotIntervalMs?: number;
  /** ...and after this many WAL records, whichever comes first (default 100,000). */
  readonly snapshotEveryWalRecords?: number;
  /** A sealed segment whose garbage passes this fraction is compacted automatically (default 0.5). */
  readonly compactionGarbageRatio?: number;
  /** How often the automatic compaction looks for such segments (default 30 s; 0: never). */
  readonly compactionCheckIntervalMs?: number;
  /** Target false-positive rate of the per-segment bloom filters (default 0.01). */
  readonly bloomFalsePositiveRate?: number;
  readonly registry?: Registry;
  readonly logger?: Logger;
  /** Clock (ms since the epoch); tests pass their own. */
  readonly now?: () => number;
  /** Free/total bytes of a directory's file system; tests pass their own. */
  readonly diskSpace?: (dir: string) => Promise<DiskSpace>;
  /** How often free space is reread and a missing restart reserve made again (default 5 s). */
  readonly diskSpaceRefreshMs?: number;
  /** Prepared-but-undecided writes held at once before OVERLOADED (default limits.preparedTxMax). */
  readonly preparedTxMax?: number;
  /** Longest value a prepare of unknown size may stream before TOO_LARGE (default limits.blobBytesMax). */
  readonly valueBytesMax?: number;
  /** Test hook: awaited at each step of a compaction (see CompactionStep). */
  readonly onCompactionStep?: (step: CompactionStep) => Promise<void> | void;
}

interface InflightPrepare {
  stopReason: MinikvError | undefined;
  /** The prepare's work (awaited, outcome ignored, by an abort that stops it). */
  readonly work: Promise<unknown>;
}

const DISK_SPACE_REFRESH_MS = 5_000;
/**
 * A record up to this size is read whole with one read and verified in memory; a larger
 * one is read piece by piece (head, block table, value in chunks, trailer), in bounded
 * memory.
 */
const WHOLE_RECORD_READ_BYTES_MAX = limits.streamChunkBytes;

/** The options' background policy with defaults filled in. */
function policyOf(options: DiskStoreOptions): MaintenancePolicy {
  return {
    dataDir: options.dataDir,
    segmentBytesMax: options.segmentBytesMax ?? limits.segmentBytesDefault,
    snapshotIntervalMs: options.snapshotIntervalMs ?? 60_000,
    snapshotEveryWalRecords: options.snapshotEveryWalRecords ?? 100_000,
    compactionGarbageRatio: options.compactionGarbageRatio ?? 0.5,
    compactionCheckIntervalMs: options.compactionCheckIntervalMs ?? 30_000,
    bloomFalsePositiveRate: options.bloomFalsePositiveRate ?? 0.01,
    diskSpace: () => (options.diskSpace ?? diskSpaceOf)(options.dataDir),
    onCompactionStep: options.onCompactionStep,
  };
}

/**
 * The volume's storage engine on local disk (docs/volume-format.md): append-only segments
 * of CRC-checked records, a group-committed WAL, an in-memory index. See VolumeStore for
 * the contract; `openDiskStore` recovers the volume before it resolves.
 */
export class DiskStore implements VolumeStore {
  private index!: KeyIndex;
  private readonly inflightPrepares = new Map<string, InflightPrepare>();
  private readonly decisionChains = new Map<string, Promise<unknown>>();
  private readonly keyChains = new Map<string, Promise<unknown>>();
  private readonly pendingOps = new Set<Promise<unknown>>();
  private readonly metrics: StoreMetrics;
  private readonly now: () => number;
  private closing = false;
  private crashed = false;
  private lastDiskSpace: DiskSpace = { freeBytes: 0, totalBytes: 0 };
  /**
   * Sizes of the admitted values the last reading of the free space may not show (admitted
   * since, or still being written then), which usableFreeBytes subtracts; and of those
   * whose prepare has not ended yet.
   */
  private unshownBytes = 0;
  private unendedBytes = 0;
  private recoveryReport: RecoveryReport | undefined;
  readonly logger: Logger;
  private readonly segments: SegmentSet;
  private readonly blooms: BloomRegistry;
  private readonly maintenance: StoreMaintenance;
  private wal!: WriteAheadLog;
  private restartReserve!: RestartReserve;

  private constructor(private readonly options: DiskStoreOptions) {
    this.logger = options.logger ?? createLogger("volume-store");
    this.now = options.now ?? Date.now;
    this.metrics = createStoreMetrics(options.registry, {
      keys: () => this.index.keyCount,
      prepared: () => this.index.prepared.size,
      liveBytes: () => this.index.totalLiveBytes(),
      usedBytes: () => this.segments.totalBytes,
    });
    // Label lookups hashed once, not on every fsync.
    const segmentFsyncSeconds = this.metrics.fsyncSeconds.labels("segment");
    const policy = policyOf(options);
    this.segments = new SegmentSet({
      dataDir: options.dataDir,
      segmentBytesMax: policy.segmentBytesMax,
      logger: this.logger,
      onSegmentSync: (seconds) => {
        this.metrics.segmentFsyncs.inc();
        segmentFsyncSeconds.observe(seconds);
      },
      onSealed: (segment, keys, filter) => this.maintenance.onSealed(segment, keys, filter),
      bloomFalsePositiveRate: policy.bloomFalsePositiveRate,
      zeroRoom: this.zeroRoom(options.dataDir),
    });
    this.blooms = new BloomRegistry(
      options.dataDir,
      this.segments,
      policy.bloomFalsePositiveRate,
      this.logger,
    );
    this.maintenance = new StoreMaintenance({
      policy,
      segments: this.segments,
      blooms: this.blooms,
      metrics: this.metrics,
      logger: this.logger,
      index: () => this.index,
      wal: () => this.wal,
      now: this.now,
      closing: () => this.closing,
      crashed: () => this.crashed,
      corruption: (segment, offset, problem, key) => this.corruption(segment, offset, problem, key),
      releaseRestartReserve: () => this.restartReserve.release(this.options.dataDir),
    });
  }

  /** Opens (creating when empty) and recovers a volume. */
  static async open(options: DiskStoreOptions): Promise<DiskStore> {
    const store = new DiskStore(options);
    await store.start();
    return store;
  }

  private async start(): Promise<void> {
    this.restartReserve = await RestartReserve.open(
      [this.options.dataDir, this.options.walDir],
      this.readDiskSpace,
      this.logger,
    );
    const walFsyncSeconds = this.metrics.fsyncSeconds.labels("wal");
    this.wal = await WriteAheadLog.open({
      dir: this.options.walDir,
      logger: this.logger,
      zeroRoom: this.zeroRoom(this.options.walDir),
      onFlush: (records, fsyncSeconds) => {
        this.metrics.walFsyncs.inc();
        walFsyncSeconds.observe(fsyncSeconds);
        this.metrics.walRecords.inc(records);
        this.metrics.walBatchRecords.observe(records);
        this.maintenance.onWalFlush(records);
      },
    });
    const recovered = await recover({
      dataDir: this.options.dataDir,
      segments: this.segments,
      wal: this.wal,
      logger: this.logger,
    });
    this.index = recovered.index;
    this.recoveryReport = recovered.report;
    const needFilters = await this.blooms.loadAll();
    await this.refreshDiskSpace();
    if (recovered.marker !== undefined) await this.maintenance.finishCompaction(recovered.marker.sources);
    else if (recovered.report.mode === "full-rebuild" || recovered.report.walRecordsReplayed > 0) {
      this.maintenance.requestSnapshot();
    }
    this.maintenance.rebuildFilters(needFilters);
    this.maintenance.startTimers([
      [this.options.diskSpaceRefreshMs ?? DISK_SPACE_REFRESH_MS, () => void this.refreshDiskSpace()],
    ]);
    this.logger.info({ ...this.recoveryReport, keys: this.index.keyCount }, "volume store open");
  }

  /** What the last open found and did (for logs, tests and the benchmark). */
  get recovery(): RecoveryReport | undefined {
    return this.recoveryReport;
  }

  // ---- writes --------------------------------------------------------------------------

  prepare(header: PrepareHeader, body: AsyncIterable<Uint8Array>): Promise<PrepareResult> {
    return this.track(async () => {
      this.checkPrepareHeader(header);
      if (
        this.inflightPrepares.has(header.txid) ||
        this.index.prepared.has(header.txid) ||
        this.index.recentDecisions.has(header.txid)
      ) {
        throw new MinikvError(ErrorCode.CONFLICT, `txid ${header.txid} was already used`);
      }
      const preparedMax = this.options.preparedTxMax ?? limits.preparedTxMax;
      if (this.index.prepared.size + this.inflightPrepares.size >= preparedMax) {
        throw new MinikvError(
          ErrorCode.OVERLOADED,
          `${preparedMax} prepared writes are waiting for a decision`,
        );
      }
      const freeBytes = this.prepareRoomBytes();
      if (header.sizeUnknown !== true && freeBytes !== undefined && header.size > freeBytes) {
        throw new MinikvError(ErrorCode.DISK_FULL, `no room for ${header.size} bytes`, {
          detail: {
            freeBytes: String(freeBytes),
            restartReserveOwedBytes: String(this.restartReserve.owedBytes),
            deleteHeadroomBytes: String(this.deleteHeadroomBytes()),
          },
        });
      }
      const admitted = header.sizeUnknown === true ? 0 : header.size;
      this.unshownBytes += admitted;
      this.unendedBytes += admitted;
      const work = this.runPrepare(header, body);
      this.inflightPrepares.set(header.txid, { stopReason: undefined, work });
      try {
        return await work;
      } finally {
        this.unendedBytes -= admitted;
        this.inflightPrepares.delete(header.txid);
      }
    });
  }

  private checkPrepareHeader(header: PrepareHeader): void {
    validateKey(header.key);
    const txidBytes = Buffer.byteLength(header.txid, "utf8");
    if (txidBytes === 0 || txidBytes > engineLimits.txidBytesMax || !header.txid.isWellFormed()) {
      throw new MinikvError(
        ErrorCode.INVALID_ARGUMENT,
        `txid must be 1..${engineLimits.txidBytesMax} bytes of UTF-8`,
      );
    }
    const valueBytesMax = this.valueBytesMax;
    if (
      header.sizeUnknown !== true &&
      (!Number.isSafeInteger(header.size) || header.size < 0 || header.size > valueBytesMax)
    ) {
      throw new MinikvError(
        ErrorCode.TOO_LARGE,
        `size must be 0..${valueBytesMax} bytes, got ${header.size}`,
      );
    }
    const crcGiven = header.crc32cUnknown !== true && header.sizeUnknown !== true;
    if (crcGiven && (!Number.isInteger(header.crc32c) || header.crc32c < 0 || header.crc32c > 0xffff_ffff)) {
      throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "crc32c must be a u32");
    }
    if (
      Buffer.byteLength(header.contentType, "utf8") > limits.contentTypeBytesMax ||
      !header.contentType.isWellFormed()
    ) {
      throw new MinikvError(
        ErrorCode.INVALID_ARGUMENT,
        `content type longer than ${limits.contentTypeBytesMax} bytes`,
      );
    }
  }

  private get valueBytesMax(): number {
    return this.options.valueBytesMax ?? limits.blobBytesMax;
  }

  private async runPrepare(header: PrepareHeader, body: AsyncIterable<Uint8Array>): Promise<PrepareResult> {
    const createdAtMs = this.now();
    const written = await writePreparedValue({
      header,
      body,
      createdAtMs,
      segments: this.segments,
      checkContinue: () => this.checkPrepareContinues(header.txid),
      valueBytesMax: this.valueBytesMax,
      freeBytes: this.prepareRoomBytes(),
    });
    const { segment, offset } = written.reservation;
    try {
      this.checkPrepareContinues(header.txid);
      const entry: PreparedEntry = {
        txid: header.txid,
        key: header.key,
        contentType: header.contentType,
        size: written.size,
        crc32c: written.crc32c,
        createdAtMs,
        segment: segment.number,
        offset,
        recordBytes: written.layout.recordBytes,
      };
      await this.wal.append(
        {
          type: "prepare",
          txid: entry.txid,
          key: entry.key,
          contentType: entry.contentType,
          segment: entry.segment,
          offset,
          valueBytes: entry.size,
          valueCrc32c: entry.crc32c,
          createdAtMs,
        },
        () => this.index.addPrepared(entry),
        written.unwritten === undefined
          ? { syncWith: segment }
          : { write: { file: segment, data: written.unwritten, position: offset, durable: true } },
      );
      return { size: written.size, crc32c: written.crc32c };
    } finally {
      segment.endWrite();
    }
  }

  private checkPrepareContinues(txid: string): void {
    const reason = this.inflightPrepares.get(txid)?.stopReason;
    if (reason !== undefined) throw reason;
    if (this.closing) throw new MinikvError(ErrorCode.SHUTTING_DOWN, "the volume is shutting down");
  }

  commit(txid: string, version: number): Promise<void> {
    return this.track(() =>
      this.serialized(this.decisionChains, txid, async () => {
        checkVersion(version);
        const entry = this.index.prepared.get(txid);
        if (entry === undefined) return this.commitOfUnknown(txid, version);
        await this.logDecision(
          { type: RecordType.COMMIT, key: entry.key, txid, version, prepareSegment: entry.segment },
          { type: "commit", txid, version, atMs: this.now() },
          () => void this.index.commitPrepared(txid, version),
        );
      }),
    );
  }

  private commitOfUnknown(txid: string, version: number): void {
    const decided = this.index.recentDecisions.get(txid);
    if (decided === version) return;
    if (decided !== undefined && decided > 0) {
      throw new MinikvError(
        ErrorCode.CONFLICT,
        `txid ${txid} was committed at version ${decided}, not ${version}`,
      );
    }
    throw new MinikvError(ErrorCode.TX_NOT_FOUND, `no prepared write with txid ${txid}`);
  }

  abort(txid: string): Promise<void> {
    return this.track(() =>
      this.serialized(this.decisionChains, txid, async () => {
        const inflight = this.inflightPrepares.get(txid);
        if (inflight !== undefined) {
          inflight.stopReason = new MinikvError(ErrorCode.CLIENT_ABORTED, `txid ${txid} was aborted`);
          await inflight.work.catch(() => undefined);
        }
        const entry = this.index.prepared.get(txid);
        if (entry === undefined) return;
        await this.logDecision(
          { type: RecordType.ABORT, key: entry.key, txid, version: 0, prepareSegment: entry.segment },
          { type: "abort", txid, atMs: this.now() },
          () => void this.index.abortPrepared(txid),
        );
      }),
    );
  }

  delete(key: string, version: number): Promise<boolean> {
    return this.track(() =>
      this.serialized(this.keyChains, key, async () => {
        validateKey(key);
        checkVersion(version);
        if (this.index.tombstoneEffect(key, version).effect === "noop") return false;
        let existed = false;
        await this.logDecision(
          { type: RecordType.TOMBSTONE, key, txid: "", version, prepareSegment: 0 },
          { type: "delete", key, version, atMs: this.now() },
          (location) => {
            existed = this.index.applyTombstone(key, version, location);
          },
        );
        return existed;
      }),
    );
  }

  /**
   * Logs a decision: its WAL record and its segment copy are written in the same
   * group-commit round (the copy without an fsync of its own); `apply` runs once the WAL
   * record is durable and the copy written.
   */
  private async logDecision(
    fields: { type: RecordType; key: string; txid: string; version: number; prepareSegment: number },
    walEntry: Parameters<WriteAheadLog["append"]>[0],
    apply: (location: { segment: number; offset: number; recordBytes: number }) => void,
  ): Promise<void> {
    if (this.closing) throw new MinikvError(ErrorCode.SHUTTING_DOWN, "the volume is shutting down");
    const atMs = "atMs" in walEntry ? walEntry.atMs : this.now();
    // Every field spelled out, in the order prepares use: one object shape for the encoder.
    const record: RecordFields = {
      type: fields.type,
      key: fields.key,
      txid: fields.txid,
      contentType: "",
      valueBytes: 0,
      version: fields.version,
      createdAtMs: atMs,
      prepareSegment: fields.prepareSegment,
      valueCrc32c: 0,
    };
    const reserved = reserveDecisionRecord(this.segments, record);
    const decision = reserved instanceof Promise ? await reserved : reserved;
    const { segment, location } = decision;
    try {
      await this.wal.append(walEntry, () => apply(location), {
        write: { file: segment, data: decision.bytes, position: location.offset, durable: false },
      });
    } finally {
      segment.endWrite();
    }
  }

  // ---- reads ---------------------------------------------------------------------------

  stat(key: string): StoredValueInfo | undefined {
    const value = this.index.get(key);
    return value === undefined ? undefined : infoOf(value, false);
  }

  read(key: string, options: ReadOptions = {}): AsyncIterable<Buffer> {
    return this.readValue(key, options);
  }

  private async *readValue(key: string, options: ReadOptions): AsyncGenerator<Buffer> {
    validateKey(key);
    const value = this.index.get(key);
    if (value === undefined || (options.version !== undefined && options.version !== value.version)) {
      throw new MinikvError(
        ErrorCode.KEY_NOT_FOUND,
        `key not found${options.version === undefined ? "" : ` at version ${options.version}`}`,
      );
    }
    const { start, length } = rangeOf(value.size, options);
    // Lookup and acquire happen in one synchronous step: compaction can move the record
    // later, but the segment it was in stays open until this read ends.
    const segment = this.segments.acquire(value.segment);
    assert(segment !== undefined, `segment ${value.segment} of an indexed value is open`);
    try {
      const whole = value.recordBytes <= WHOLE_RECORD_READ_BYTES_MAX;
      const bytes = whole ? await segment.read(value.offset, value.recordBytes) : undefined;
      const head =
        bytes === undefined
          ? await this.readCheckedHead(segment, value)
          : this.checkedHead(segment, value, segment.decodeHead(bytes));
      yield* streamVerifiedValue({
        segment: bytes === undefined ? segment : recordInMemory(bytes, value.offset),
        recordOffset: value.offset,
        head,
        start,
        length,
        corrupt: (problem, at) => this.corruption(segment.number, at, problem, key),
      });
    } finally {
      await segment.release();
    }
  }

  /** Reads a record's head and checks it against the index (pair assertion around the disk). */
  private async readCheckedHead(segment: SegmentFile, value: IndexedValue): Promise<DecodedHead> {
    return this.checkedHead(segment, value, await segment.readHead(value.offset));
  }

  private checkedHead(segment: SegmentFile, value: IndexedValue, head: DecodedHead | string): DecodedHead {
    if (typeof head === "string") throw this.corruption(segment.number, value.offset, head, value.key);
    const matches =
      (head.type === RecordType.PREPARE ||
        (head.type === RecordType.VALUE && head.version === value.version)) &&
      head.key === value.key &&
      head.valueBytes === value.size &&
      head.valueCrc32c === value.crc32c &&
      head.layout.recordBytes === value.recordBytes;
    if (!matches)
      throw this.corruption(segment.number, value.offset, "record does not match the index", value.key);
    return head;
  }

  private corruption(segment: number, offset: number, problem: string, key: string): MinikvError {
    this.metrics.corruptReads.inc();
    this.logger.error({ segment, offset, problem, key }, "corrupt record not served");
    return new MinikvError(
      ErrorCode.DATA_CORRUPT,
      `corrupt record in segment ${segment} at offset ${offset}: ${problem}`,
    );
  }

  listKeys(shard: number | undefined, includePrepared: boolean): StoredValueInfo[] {
    const out: StoredValueInfo[] = [];
    this.index.forEachLive(shard, (value) => out.push(infoOf(value, false)));
    if (includePrepared) {
      for (const entry of this.index.prepared.values()) {
        if (shard === undefined || shardMatches(entry.key, shard))
          out.push(infoOf({ ...entry, version: 0 }, true));
      }
    }
    return out.sort((a, b) => compareUtf8(a.key, b.key) || a.version - b.version);
  }

  async checksum(key: string): Promise<ChecksumResult> {
    validateKey(key);
    const value = this.index.get(key);
    if (value === undefined) throw new MinikvError(ErrorCode.KEY_NOT_FOUND, "key not found");
    const segment = this.segments.acquire(value.segment);
    assert(segment !== undefined, `segment ${value.segment} of an indexed value is open`);
    try {
      const head = await this.readCheckedHead(segment, value);
      const crc32c = await computeValueCrc(segment, value.offset, head);
      return { key, size: value.size, version: value.version, crc32c, recordedCrc32c: head.valueCrc32c };
    } finally {
      await segment.release();
    }
  }

  preparedOlderThan(ageMs: number): StoredValueInfo[] {
    const cutoff = this.now() - ageMs;
    return [...this.index.prepared.values()]
      .filter((entry) => entry.createdAtMs <= cutoff)
      .sort((a, b) => a.createdAtMs - b.createdAtMs)
      .map((entry) => infoOf({ ...entry, version: 0 }, true));
  }

  compact(options: { shard?: number } = {}): Promise<CompactResult> {
    return this.track(() => this.maintenance.compact(options.shard));
  }

  /**
   * The index in a canonical text form (values with their locations, remembered
   * tombstones, prepared writes), for tests that compare two recoveries. O(keys).
   */
  describeIndex(): { values: string[]; tombstones: string[]; prepared: string[] } {
    const values: string[] = [];
    const tombstones: string[] = [];
    this.index.forEachSlot((slot) => {
      if (slot.state === SlotState.DELETED) {
        tombstones.push(`${slot.key} v${slot.version}`);
        return;
      }
      const v = this.index.get(slot.key);
      if (v === undefined) return;
      values.push(
        `${v.key} v${v.version} ${v.size}B crc${v.crc32c} ${v.txid} ${v.contentType} @${v.segment}:${v.offset}`,
      );
    });
    const prepared = [...this.index.prepared.values()].map(
      (p) => `${p.txid} ${p.key} @${p.segment}:${p.offset}`,
    );
    return { values: values.sort(), tombstones: tombstones.sort(), prepared: prepared.sort() };
  }

  /** Numbers of the segment files, the active one last (tests, diagnostics). */
  segmentNumbers(): number[] {
    return this.segments.all.map((segment) => segment.number);
  }

  stats(): StoreStats {
    const usedBytes = this.segments.totalBytes;
    return {
      keys: this.index.keyCount,
      preparedCount: this.index.prepared.size,
      liveBytes: this.index.totalLiveBytes(),
      usedBytes,
      capacityBytes: usedBytes + (this.prepareRoomBytes() ?? this.lastDiskSpace.freeBytes),
    };
  }

  /**
   * Free bytes the volume may write into: the file system's at its last reading, less the
   * values admitted since or still being written then (the reading is up to
   * `diskSpaceRefreshMs` old, and writes between two readings could otherwise run past the
   * delete headroom), less a missing restart reserve (restart-reserve.ts). Undefined while
   * the disk's size is unknown.
   */
  private usableFreeBytes(): number | undefined {
    if (this.lastDiskSpace.totalBytes === 0) return undefined;
    return Math.max(0, this.lastDiskSpace.freeBytes - this.unshownBytes - this.restartReserve.owedBytes);
  }

  /**
   * Room for new values: the usable free bytes less the delete headroom, which only
   * tombstones, decisions, index snapshots and compaction may use, so that a volume whose
   * disk filled with values can still delete and compact its way back (as Swift's
   * fallocate_reserve and SeaweedFS's minFreeSpace keep room).
   */
  private prepareRoomBytes(): number | undefined {
    const usable = this.usableFreeBytes();
    return usable === undefined ? undefined : Math.max(0, usable - this.deleteHeadroomBytes());
  }

  private deleteHeadroomBytes(): number {
    return deleteHeadroomBytesFor(this.lastDiskSpace.totalBytes);
  }

  /**
   * Zeros kept ahead of the WAL and the active segment (docs/volume-format.md, "Zeroed
   * tails") are an optimization and come last: a fill goes ahead only if the file system of
   * `dir` keeps, after it, the delete headroom and a restart reserve's size free (whether or
   * not the reserve is made). Without this the fills took the headroom on a small disk, and
   * a volume full of values could no longer compact (docs/RELIABILITY.md, Findings 17).
   */
  private zeroRoom(dir: string): ZeroRoom {
    return async (bytes) => {
      try {
        const { freeBytes, totalBytes } = await this.readDiskSpace(dir);
        return freeBytes - bytes >= deleteHeadroomBytesFor(totalBytes) + restartReserveBytesFor(totalBytes);
      } catch {
        return false;
      }
    };
  }

  private readonly readDiskSpace = (dir: string): Promise<DiskSpace> =>
    (this.options.diskSpace ?? diskSpaceOf)(dir);

  /** Rereads the free space, first making a missing restart reserve when there is room. */
  private async refreshDiskSpace(): Promise<void> {
    try {
      await this.restartReserve.replenish();
      // Values whose prepare ended are in the reading; one still being written may not be.
      const shown = this.unshownBytes - this.unendedBytes;
      this.lastDiskSpace = await this.readDiskSpace(this.options.dataDir);
      this.unshownBytes -= shown;
    } catch (err) {
      this.logger.warn({ err }, "cannot read free disk space");
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.maintenance.stopTimers();
    await this.restartReserve.settled();
    const stop = new MinikvError(ErrorCode.SHUTTING_DOWN, "the volume is shutting down");
    for (const inflight of this.inflightPrepares.values()) inflight.stopReason ??= stop;
    await this.drain();
    await this.maintenance.settle();
    await this.maintenance
      .serialize(async () => {
        await this.maintenance.snapshotNow();
        // The next run starts a new active segment: persist this one's filter now.
        const active = this.segments.active;
        if (active === undefined) return;
        await this.blooms.buildFromHashes(active, this.segments.activeKeyHashes);
        // The zeros kept ahead of the active segment's end go: the next run only reads it.
        await active.trimZeroFill();
        await active.syncAll();
      })
      .catch((err: unknown) => {
        this.logger.error({ err }, "index snapshot at close failed; the next open replays the WAL");
      });
    await this.wal.close();
    await this.segments.close();
  }

  /**
   * Test stand-in for kill -9: stops everything and closes the files without writing
   * anything more (no snapshot, no finishing of a compaction). Unlike a real crash the
   * page cache survives, so the multi-process tests in test/ cover lost unsynced writes.
   */
  async simulateCrash(): Promise<void> {
    this.closing = true;
    this.crashed = true;
    this.maintenance.stopTimers();
    await this.restartReserve.settled();
    await this.wal.close();
    await this.segments.close();
    await this.maintenance.closeOutputs();
  }

  private async drain(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, engineLimits.closeDrainMs);
    });
    await Promise.race([Promise.allSettled([...this.pendingOps]), timeout]);
    clearTimeout(timer);
  }

  private track<T>(work: () => Promise<T>): Promise<T> {
    if (this.closing)
      return Promise.reject(new MinikvError(ErrorCode.SHUTTING_DOWN, "the volume is shutting down"));
    const promise = work();
    this.pendingOps.add(promise);
    const forget = (): void => void this.pendingOps.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /**
   * Runs `work` after every earlier call with the same id (per txid, per key); at once when
   * none is pending (the usual case: two promises per call, not four).
   */
  private serialized<T>(
    chains: Map<string, Promise<unknown>>,
    id: string,
    work: () => Promise<T>,
  ): Promise<T> {
    const previous = chains.get(id);
    const next = previous === undefined ? work() : previous.then(work, work);
    const forget = (): void => {
      if (chains.get(id) === tail) chains.delete(id);
    };
    const tail: Promise<void> = next.then(forget, forget);
    chains.set(id, tail);
    return next;
  }
}

/** Opens the storage engine (see DiskStore). */
export async function openDiskStore(options: DiskStoreOptions): Promise<DiskStore> {
  return DiskStore.open(options);
}

function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `version must be a positive integer, got ${version}`);
  }
}

function rangeOf(size: number, options: ReadOptions): { start: number; length: number } {
  const start = options.offset ?? 0;
  if (!Number.isSafeInteger(start) || start < 0 || start > size) {
    throw new MinikvError(ErrorCode.RANGE_NOT_SATISFIABLE, `offset ${start} is outside a ${size}-byte value`);
  }
  const length = options.length ?? size - start;
  if (!Number.isSafeInteger(length) || length < 0 || start + length > size) {
    throw new MinikvError(
      ErrorCode.RANGE_NOT_SATISFIABLE,
      `range ${start}+${length} is outside a ${size}-byte value`,
    );
  }
  return { start, length };
}

function infoOf(
  value: Omit<IndexedValue, "segment" | "offset" | "recordBytes"> & Partial<IndexedValue>,
  prepared: boolean,
): StoredValueInfo {
  return {
    key: value.key,
    size: value.size,
    crc32c: value.crc32c,
    version: value.version,
    contentType: value.contentType,
    createdAtMs: value.createdAtMs,
    txid: value.txid,
    prepared,
  };
}

function shardMatches(key: string, shard: number): boolean {
  return shardOf(key) === shard;
}

/** engineLimits.deleteHeadroomBytes, at most 1/32 of a file system of `totalBytes`. */
function deleteHeadroomBytesFor(totalBytes: number): number {
  return Math.min(engineLimits.deleteHeadroomBytes, Math.floor(totalBytes / 32));
}
