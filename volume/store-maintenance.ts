import type { Logger } from "pino";
import { ErrorCode, MinikvError, isMinikvError } from "../common/errors.js";
import { SHARD_COUNT } from "../common/hashing.js";
import type { BloomFilter, KeyHashList } from "./bloom-filter.js";
import type { BloomRegistry } from "./bloom-registry.js";
import { compactSegments, compactable } from "./compaction.js";
import type { CompactionHost, CompactionStep } from "./compaction.js";
import { removeMarker } from "./compaction-marker.js";
import type { DiskSpace } from "./durable-fs.js";
import { writeSnapshot } from "./index-snapshot.js";
import type { KeyIndex } from "./key-index.js";
import type { SegmentFile } from "./segment-file.js";
import type { SegmentSet } from "./segment-set.js";
import type { CompactResult } from "./store-api.js";
import type { StoreMetrics } from "./store-metrics.js";
import type { WriteAheadLog } from "./wal.js";

/**
 * The engine's background work: index snapshots (on a timer, after N WAL records, after a
 * compaction, at close), compactions (automatic by garbage ratio, or on request), and the
 * bloom filters of sealed segments. Everything that rewrites files runs one task at a time
 * in one chain, so a snapshot never sees a half-switched compaction.
 */

export interface MaintenancePolicy {
  readonly dataDir: string;
  readonly segmentBytesMax: number;
  readonly snapshotIntervalMs: number;
  readonly snapshotEveryWalRecords: number;
  readonly compactionGarbageRatio: number;
  readonly compactionCheckIntervalMs: number;
  readonly bloomFalsePositiveRate: number;
  readonly diskSpace: () => Promise<DiskSpace>;
  readonly onCompactionStep: ((step: CompactionStep) => Promise<void> | void) | undefined;
}

/** What maintenance reads from the store (the index exists only after recovery). */
export interface MaintenanceContext {
  readonly policy: MaintenancePolicy;
  readonly segments: SegmentSet;
  readonly blooms: BloomRegistry;
  readonly metrics: StoreMetrics;
  readonly logger: Logger;
  index(): KeyIndex;
  wal(): WriteAheadLog;
  now(): number;
  /** The store is closing: no new work, and compactions stop before their marker. */
  closing(): boolean;
  /** The store's files were closed under us (simulated crash): touch nothing more. */
  crashed(): boolean;
  corruption(segment: number, offset: number, problem: string, key: string): MinikvError;
  /** See CompactionHost.releaseRestartReserve. */
  releaseRestartReserve(): Promise<boolean>;
}

export class StoreMaintenance {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly background = new Set<Promise<unknown>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private walRecordsSinceSnapshot = 0;
  private snapshotRequested = false;
  /** Bytes kept in compaction outputs only for a full rebuild (decisions the index does not reference). */
  private readonly pinnedBytes = new Map<number, number>();
  /** Segments whose compaction found a corrupt record: automatic compaction leaves them alone. */
  private readonly corruptSegments = new Set<number>();
  /** Compaction outputs being made (CompactionHost.holdOutput). */
  private readonly outputsInProgress = new Set<SegmentFile>();

  constructor(private readonly ctx: MaintenanceContext) {}

  /** Starts the timers (snapshot interval, compaction checks, and `extra`). */
  startTimers(extra: readonly (readonly [number, () => void])[] = []): void {
    const { policy } = this.ctx;
    const every = (ms: number, task: () => void): void => {
      if (ms <= 0) return;
      const timer = setInterval(task, ms);
      timer.unref();
      this.timers.push(timer);
    };
    for (const [ms, task] of extra) every(ms, task);
    every(policy.snapshotIntervalMs, () => {
      if (this.walRecordsSinceSnapshot > 0) this.requestSnapshot();
    });
    every(policy.compactionCheckIntervalMs, () => this.inBackground(this.compactGarbage()));
  }

  stopTimers(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  /** A simulated crash: closes the compaction outputs being made, as the process's end would. */
  async closeOutputs(): Promise<void> {
    for (const output of this.outputsInProgress) await output.retire();
    this.outputsInProgress.clear();
  }

  /** Waits for the background tasks started so far. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  onWalFlush(records: number): void {
    this.walRecordsSinceSnapshot += records;
    if (this.walRecordsSinceSnapshot >= this.ctx.policy.snapshotEveryWalRecords) this.requestSnapshot();
  }

  /** A sealed segment: fsync it whole and persist its bloom filter, in the background. */
  onSealed(segment: SegmentFile, keys: KeyHashList, filter: BloomFilter): void {
    // Compactions consult this filter at once; a compact one built from the hashes and
    // persisted replaces it once the segment is fsynced.
    this.ctx.blooms.adopt(segment.number, filter);
    this.inBackground(
      (async () => {
        while (segment.writersInProgress > 0) await new Promise((resolve) => setTimeout(resolve, 5));
        if (segment.isRetired || this.ctx.crashed()) return;
        await segment.trimZeroFill();
        await segment.syncAll();
        this.checkAlive();
        await this.ctx.blooms.buildFromHashes(segment, keys);
      })(),
    );
  }

  /** Rebuilds missing filters one after the other, behind other maintenance. */
  rebuildFilters(segments: readonly SegmentFile[]): void {
    for (const segment of segments)
      this.inBackground(this.serialize(() => this.ctx.blooms.rebuildByScan(segment)));
  }

  inBackground(work: Promise<unknown>): void {
    const tracked = work.catch((err: unknown) => {
      if (!this.ctx.crashed()) this.ctx.logger.error({ err }, "background storage task failed");
    });
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  /** Runs `task` after every maintenance task before it (never after a simulated crash). */
  serialize<T>(task: () => Promise<T>): Promise<T> {
    const guarded = (): Promise<T> => {
      this.checkAlive();
      return task();
    };
    const run = this.chain.then(guarded, guarded);
    this.chain = run.catch(() => undefined);
    return run;
  }

  // ---- snapshots -----------------------------------------------------------------------

  /** Writes an index snapshot soon (coalesced with one already queued). */
  requestSnapshot(): void {
    if (this.snapshotRequested || this.ctx.closing()) return;
    this.snapshotRequested = true;
    this.inBackground(
      this.serialize(async () => {
        this.snapshotRequested = false;
        await this.snapshotNow();
      }),
    );
  }

  /** Writes an index snapshot now (inside the chain), then deletes the WAL files it covers. */
  async snapshotNow(): Promise<void> {
    const { segments, metrics, logger } = this.ctx;
    const startedAt = performance.now();
    const wal = this.ctx.wal();
    // Captured at a WAL roll: the snapshot covers whole WAL files, all deleted after it.
    const captured = await wal.rollAt((position) => ({
      position,
      image: this.ctx.index().captureImage(),
      recordsCovered: this.walRecordsSinceSnapshot,
      segmentEnds: new Map(segments.all.map((segment) => [segment.number, segment.end] as const)),
      nextSegment: segments.peekNextNumber(),
    }));
    const { position, image, recordsCovered, segmentEnds, nextSegment } = captured;
    // Decision copies the snapshot lets the WAL forget must be on disk first.
    await segments.syncDirty();
    const coverage = { wal: position, nextSegment, segmentEnds, createdAtMs: this.ctx.now() };
    const info = await writeSnapshot(this.ctx.policy.dataDir, image, coverage, () => this.checkAlive());
    this.walRecordsSinceSnapshot -= recordsCovered;
    this.checkAlive();
    const retired = await wal.retireBefore(position);
    metrics.snapshots.inc();
    const seconds = (performance.now() - startedAt) / 1000;
    metrics.snapshotSeconds.set(seconds);
    logger.debug({ ...info, seconds, walFilesRetired: retired }, "index snapshot written");
  }

  /** Boot found a compaction marker and switched the index: snapshot, delete the sources, drop the marker. */
  async finishCompaction(sources: readonly number[]): Promise<void> {
    const { segments, blooms } = this.ctx;
    await this.snapshotNow();
    for (const number of sources) {
      if (segments.get(number) !== undefined) await segments.retire(number);
      await blooms.remove(number);
    }
    await segments.syncDirectory();
    await removeMarker(this.ctx.policy.dataDir);
    this.ctx.logger.info({ sources }, "interrupted compaction finished");
  }

  // ---- compaction ----------------------------------------------------------------------

  /** Compacts segments with garbage: all of them, or those holding values of `shard`. */
  compact(shard: number | undefined): Promise<CompactResult> {
    if (shard !== undefined && !(Number.isInteger(shard) && shard >= 0 && shard < SHARD_COUNT)) {
      return Promise.reject(
        new MinikvError(ErrorCode.INVALID_ARGUMENT, `shard must be 0..${SHARD_COUNT - 1}`),
      );
    }
    return this.serialize(async () => {
      const holding = shard === undefined ? undefined : this.ctx.index().segmentsOfShard(shard);
      const candidates = this.ctx.segments.all.filter(
        (segment) =>
          compactable(this.host, segment) &&
          (holding === undefined || holding.has(segment.number)) &&
          this.garbageBytesOf(segment) > 0,
      );
      return this.compactInGroups(candidates);
    });
  }

  /** Automatic compaction: sealed segments whose garbage ratio passed the threshold. */
  compactGarbage(): Promise<CompactResult> {
    const threshold = this.ctx.policy.compactionGarbageRatio;
    return this.serialize(async () => {
      const candidates = this.ctx.segments.all.filter(
        (segment) =>
          compactable(this.host, segment) &&
          !this.corruptSegments.has(segment.number) &&
          segment.recordAreaBytes > 0 &&
          this.garbageBytesOf(segment) / segment.recordAreaBytes >= threshold,
      );
      const result = await this.compactInGroups(candidates);
      if (result.segmentsCompacted > 0) this.ctx.logger.info(result, "automatic compaction finished");
      return result;
    });
  }

  /** Bytes of a segment that a compaction would reclaim. */
  private garbageBytesOf(segment: SegmentFile): number {
    const kept = this.ctx.index().liveBytesOf(segment.number) + (this.pinnedBytes.get(segment.number) ?? 0);
    return Math.max(0, segment.recordAreaBytes - kept);
  }

  /** Compacts `candidates`, several into one output while their live bytes fit a segment. */
  private async compactInGroups(candidates: readonly SegmentFile[]): Promise<CompactResult> {
    const total = { segmentsCompacted: 0, bytesFreed: 0 };
    let group: SegmentFile[] = [];
    let groupBytes = 0;
    const flush = async (): Promise<void> => {
      if (group.length === 0) return;
      const result = await this.compactGroup(group);
      total.segmentsCompacted += result.segmentsCompacted;
      total.bytesFreed += result.bytesFreed;
      group = [];
      groupBytes = 0;
    };
    for (const segment of candidates) {
      const live = this.ctx.index().liveBytesOf(segment.number);
      if (group.length > 0 && groupBytes + live > this.ctx.policy.segmentBytesMax) await flush();
      group.push(segment);
      groupBytes += live;
    }
    await flush();
    return total;
  }

  private async compactGroup(group: readonly SegmentFile[]): Promise<CompactResult> {
    try {
      const result = await compactSegments(this.host, group);
      this.ctx.metrics.compactions.inc();
      this.ctx.metrics.compactionBytesFreed.inc(result.bytesFreed);
      return result;
    } catch (err) {
      // Automatic compaction stops retrying segments with a corrupt record (logged once).
      if (isMinikvError(err, ErrorCode.DATA_CORRUPT))
        for (const s of group) this.corruptSegments.add(s.number);
      throw err;
    }
  }

  private checkAlive(): void {
    if (this.ctx.crashed())
      throw new MinikvError(ErrorCode.SHUTTING_DOWN, "compaction stopped: files closed");
  }

  private checkOpen(): void {
    if (this.ctx.closing()) {
      throw new MinikvError(ErrorCode.SHUTTING_DOWN, "compaction stopped: the volume is shutting down");
    }
  }

  private get host(): CompactionHost {
    const { ctx } = this;
    return {
      dataDir: ctx.policy.dataDir,
      index: ctx.index(),
      segments: ctx.segments,
      logger: ctx.logger,
      bloomFalsePositiveRate: ctx.policy.bloomFalsePositiveRate,
      diskSpace: ctx.policy.diskSpace,
      releaseRestartReserve: () => ctx.releaseRestartReserve(),
      mayExistElsewhere: (key, exclude) => ctx.blooms.mayExistElsewhere(key, exclude),
      adoptBloom: (segment, filter) => ctx.blooms.adopt(segment, filter),
      forgetBloom: (segment) => ctx.blooms.forget(segment),
      setPinnedBytes: (segment, bytes) => {
        if (bytes > 0) this.pinnedBytes.set(segment, bytes);
        else this.pinnedBytes.delete(segment);
      },
      writeSnapshot: () => this.snapshotNow(),
      reportCorrupt: (segment, offset, problem, key) => ctx.corruption(segment, offset, problem, key),
      step: async (step) => {
        await ctx.policy.onCompactionStep?.(step);
        this.checkAlive();
        if (step === "output-written" || step === "output-synced") this.checkOpen();
      },
      holdOutput: (output) => {
        this.outputsInProgress.add(output);
        return () => void this.outputsInProgress.delete(output);
      },
      checkOpen: () => this.checkOpen(),
      checkAlive: () => this.checkAlive(),
      onCopied: (bytes) => ctx.metrics.compactionBytesCopied.inc(bytes),
    };
  }
}
