import { promises as fsp } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { readMarker } from "./compaction-marker.js";
import type { CompactionMarker } from "./compaction-marker.js";
import { writeDecisionRecord } from "./decision-writer.js";
import { fsyncDirectory, removeIfExists } from "./durable-fs.js";
import { loadSnapshot } from "./index-snapshot.js";
import type { SnapshotCoverage } from "./index-snapshot.js";
import { KeyIndex, SlotState } from "./key-index.js";
import type { RecordLocation } from "./key-index.js";
import { RecordType } from "./record-codec.js";
import type { DecodedHead } from "./record-codec.js";
import { scanSegment, zeroFrom } from "./segment-scan.js";
import { SEGMENT_FILE_HEADER_BYTES, compactingFileName, segmentFileName } from "./segment-file.js";
import type { SegmentFile } from "./segment-file.js";
import type { SegmentSet } from "./segment-set.js";
import { verifyRecordOnDisk } from "./value-reader.js";
import type { WalEntry, WalPrepare } from "./wal-record.js";
import type { WalPosition, WriteAheadLog } from "./wal.js";

/**
 * Open-time recovery (docs/volume-format.md, "Recovery"):
 *  1. a compaction marker is finished (output renamed in place) or, absent, its leftovers
 *     (`*.compacting`) are deleted;
 *  2. the index snapshot is loaded — or, when missing or unusable, the index is rebuilt by
 *     scanning every segment (every record verified whole);
 *  3. the WAL after the snapshot's position (all of it after a rebuild) is replayed; its
 *     decisions get fresh copies in the new active segment;
 *  4. the marker's switch is re-applied to the index;
 *  5. torn tails are cut: each segment keeps what the snapshot relied on and every record
 *     the index references; the last referenced record is verified against the end.
 */

export interface RecoveryContext {
  readonly dataDir: string;
  readonly segments: SegmentSet;
  readonly wal: WriteAheadLog;
  readonly logger: Logger;
}

export interface RecoveryReport {
  readonly mode: "snapshot" | "full-rebuild" | "empty";
  readonly snapshotProblem: string | undefined;
  readonly walRecordsReplayed: number;
  readonly walTornBytes: number;
  readonly droppedPrepares: number;
  readonly segmentBytesTruncated: number;
  readonly durationMs: number;
}

export interface RecoveryResult {
  readonly index: KeyIndex;
  readonly report: RecoveryReport;
  /** A compaction to finish: the store snapshots, deletes `sources`, then the marker. */
  readonly marker: CompactionMarker | undefined;
}

export async function recover(ctx: RecoveryContext): Promise<RecoveryResult> {
  const startedAt = performance.now();
  const marker = await settleMarker(ctx);
  const streamedAbove = await removeUnfinishedStreams(ctx);
  await ctx.segments.openAll();
  ctx.segments.reserveNumbersAbove(streamedAbove);
  if (marker !== undefined) ctx.segments.reserveNumbersAbove(marker.output);
  const sources = new Set(marker?.sources ?? []);
  const loaded = await loadUsableSnapshot(ctx, sources);
  const index = loaded.index;
  if (loaded.coverage !== undefined) ctx.segments.reserveNumbersAbove(loaded.coverage.nextSegment - 1);
  await ctx.segments.startActive();
  let decided: ReadonlySet<string> = new Set();
  let validEnds = new Map<number, number>();
  if (loaded.coverage === undefined)
    ({ decided, validEnds } = await rebuildFromSegments(ctx, index, sources));
  const replay = await replayWal(ctx, index, loaded.coverage?.wal, (txid) => decided.has(txid));
  if (marker !== undefined) await reapplySwitch(ctx, index, marker);
  const truncated = await cutTornTails(ctx, index, loaded.coverage, validEnds, sources);
  await ctx.segments.active?.sync();
  const empty = loaded.coverage === undefined && index.slotCount === 0 && index.prepared.size === 0;
  return {
    index,
    marker,
    report: {
      mode: loaded.coverage !== undefined ? "snapshot" : empty ? "empty" : "full-rebuild",
      snapshotProblem: loaded.problem,
      walRecordsReplayed: replay.records,
      walTornBytes: replay.tornBytes,
      droppedPrepares: replay.droppedPrepares,
      segmentBytesTruncated: truncated,
      durationMs: Math.round(performance.now() - startedAt),
    },
  };
}

// ---- 1. compaction marker -----------------------------------------------------------------

async function settleMarker(ctx: RecoveryContext): Promise<CompactionMarker | undefined> {
  await fsp.mkdir(ctx.dataDir, { recursive: true });
  const marker = await readMarker(ctx.dataDir);
  if (typeof marker === "string") {
    ctx.logger.error(
      { problem: marker },
      "unreadable compaction marker ignored; the compaction is rolled back",
    );
  }
  const decided = typeof marker === "string" ? undefined : marker;
  let changed = false;
  for (const name of await fsp.readdir(ctx.dataDir)) {
    const number = /^seg-(\d{12})\.dat\.compacting$/.exec(name)?.[1];
    if (number === undefined) continue;
    if (decided !== undefined && Number(number) === decided.output) {
      await fsp.rename(
        join(ctx.dataDir, compactingFileName(decided.output)),
        join(ctx.dataDir, segmentFileName(decided.output)),
      );
    } else {
      await removeIfExists(join(ctx.dataDir, name));
      ctx.logger.warn({ file: name }, "unfinished compaction output deleted");
    }
    changed = true;
  }
  if (changed) await fsyncDirectory(ctx.dataDir);
  return decided;
}

/**
 * Deletes `seg-N.dat.streaming` files: values of unknown length whose record was never
 * completed (no WAL record can name them). Returns the highest such number, so that it is
 * not reused.
 */
async function removeUnfinishedStreams(ctx: RecoveryContext): Promise<number> {
  let highest = 0;
  for (const name of await fsp.readdir(ctx.dataDir)) {
    const number = /^seg-(\d{12})\.dat\.streaming$/.exec(name)?.[1];
    if (number === undefined) continue;
    await removeIfExists(join(ctx.dataDir, name));
    ctx.logger.warn({ file: name }, "unfinished value of unknown length deleted");
    highest = Math.max(highest, Number(number));
  }
  if (highest > 0) await fsyncDirectory(ctx.dataDir);
  return highest;
}

// ---- 2. snapshot or full rebuild -----------------------------------------------------------

async function loadUsableSnapshot(
  ctx: RecoveryContext,
  sources: ReadonlySet<number>,
): Promise<{ index: KeyIndex; coverage: SnapshotCoverage | undefined; problem: string | undefined }> {
  const index = new KeyIndex();
  const loaded = await loadSnapshot(ctx.dataDir, index);
  if (loaded === undefined) return { index, coverage: undefined, problem: undefined };
  const problem = typeof loaded === "string" ? loaded : snapshotMismatch(ctx, index, loaded, sources);
  if (problem === undefined && typeof loaded !== "string") return { index, coverage: loaded, problem };
  ctx.logger.error({ problem }, "index snapshot unusable; rebuilding the index from the segments");
  return { index: new KeyIndex(), coverage: undefined, problem };
}

/** A snapshot is usable only if every segment and byte it relies on is still there. */
function snapshotMismatch(
  ctx: RecoveryContext,
  index: KeyIndex,
  coverage: SnapshotCoverage,
  sources: ReadonlySet<number>,
): string | undefined {
  for (const segment of index.referencedSegments()) {
    if (ctx.segments.get(segment) === undefined) return `segment ${segment} it references is missing`;
  }
  for (const [number, end] of coverage.segmentEnds) {
    const segment = ctx.segments.get(number);
    if (segment !== undefined && segment.end < end) return `segment ${number} is shorter than it was`;
    if (segment === undefined && index.referencedSegments().has(number) && !sources.has(number)) {
      return `segment ${number} is missing`;
    }
  }
  return undefined;
}

async function rebuildFromSegments(
  ctx: RecoveryContext,
  index: KeyIndex,
  exclude: ReadonlySet<number>,
): Promise<{ decided: Set<string>; validEnds: Map<number, number> }> {
  const decided = new Set<string>();
  const decidedEarly = new Map<string, number>();
  const validEnds = new Map<number, number>();
  for (const segment of ctx.segments.all) {
    if (segment === ctx.segments.active || exclude.has(segment.number)) continue;
    let validEnd = SEGMENT_FILE_HEADER_BYTES;
    const scan = scanSegment(segment, {
      verify: true,
      onGap: (gap) =>
        ctx.logger.warn({ segment: segment.number, ...gap }, "invalid records skipped in rebuild"),
    });
    for await (const { offset, head } of scan) {
      validEnd = offset + head.layout.recordBytes;
      applyScanned(
        index,
        decided,
        decidedEarly,
        { segment: segment.number, offset, recordBytes: head.layout.recordBytes },
        head,
      );
    }
    validEnds.set(segment.number, validEnd);
  }
  return { decided, validEnds };
}

/** Applies one record found by a segment scan; the order of records does not matter. */
function applyScanned(
  index: KeyIndex,
  decided: Set<string>,
  decidedEarly: Map<string, number>,
  location: RecordLocation,
  head: DecodedHead,
): void {
  const value = {
    ...location,
    key: head.key,
    txid: head.txid,
    contentType: head.contentType,
    size: head.valueBytes,
    crc32c: head.valueCrc32c,
    createdAtMs: head.createdAtMs,
  };
  switch (head.type) {
    case RecordType.PREPARE: {
      const decision = decidedEarly.get(head.txid);
      if (decision !== undefined) {
        if (decision > 0) index.offerValue({ ...value, version: decision });
      } else if (!index.prepared.has(head.txid) && !decided.has(head.txid)) {
        index.addPrepared(value);
      }
      return;
    }
    case RecordType.VALUE:
      decided.add(head.txid);
      index.offerValue({ ...value, version: head.version });
      return;
    case RecordType.COMMIT:
    case RecordType.ABORT: {
      const version = head.type === RecordType.COMMIT ? head.version : 0;
      decided.add(head.txid);
      if (!index.prepared.has(head.txid)) decidedEarly.set(head.txid, version);
      else if (version > 0) index.commitPrepared(head.txid, version);
      else index.abortPrepared(head.txid);
      return;
    }
    case RecordType.TOMBSTONE:
      index.applyTombstone(head.key, head.version, location);
      return;
  }
}

// ---- 3. WAL replay --------------------------------------------------------------------------

/** Replays the WAL from `from` into the index; decisions get fresh segment copies. */
async function replayWal(
  ctx: RecoveryContext,
  index: KeyIndex,
  from: WalPosition | undefined,
  isDecided: (txid: string) => boolean,
): Promise<{ records: number; tornBytes: number; droppedPrepares: number }> {
  const entries: WalEntry[] = [];
  const stats = await ctx.wal.replay(from, (entry) => entries.push(entry));
  const decidedInWal = new Set<string>();
  for (const entry of entries)
    if (entry.type === "commit" || entry.type === "abort") decidedInWal.add(entry.txid);
  let droppedPrepares = 0;
  for (const entry of entries) {
    if (!(await applyWalEntry(ctx, index, entry, isDecided, decidedInWal))) droppedPrepares += 1;
  }
  return { records: stats.records, tornBytes: stats.tornBytes, droppedPrepares };
}

async function applyWalEntry(
  ctx: RecoveryContext,
  index: KeyIndex,
  entry: WalEntry,
  isDecided: (txid: string) => boolean,
  decidedInWal: ReadonlySet<string>,
): Promise<boolean> {
  switch (entry.type) {
    case "prepare":
      if (index.prepared.has(entry.txid) || index.recentDecisions.has(entry.txid) || isDecided(entry.txid))
        return true;
      return applyPrepare(ctx, index, entry, !decidedInWal.has(entry.txid));
    case "commit": {
      const prepared = index.prepared.get(entry.txid);
      if (prepared === undefined) return true;
      await copyDecision(
        ctx,
        RecordType.COMMIT,
        prepared.key,
        entry.txid,
        entry.version,
        prepared.segment,
        entry.atMs,
      );
      index.commitPrepared(entry.txid, entry.version);
      return true;
    }
    case "abort": {
      const prepared = index.prepared.get(entry.txid);
      if (prepared === undefined) return true;
      await copyDecision(ctx, RecordType.ABORT, prepared.key, entry.txid, 0, prepared.segment, entry.atMs);
      index.abortPrepared(entry.txid);
      return true;
    }
    case "delete": {
      if (index.tombstoneEffect(entry.key, entry.version).effect === "noop") return true;
      const location = await copyDecision(
        ctx,
        RecordType.TOMBSTONE,
        entry.key,
        "",
        entry.version,
        0,
        entry.atMs,
      );
      index.applyTombstone(entry.key, entry.version, location);
      return true;
    }
  }
}

/**
 * A logged prepare is kept only if its record is intact where the WAL says it is. The WAL
 * record and the segment bytes are fsynced in parallel (wal.ts), so after a crash the WAL
 * may name bytes that never reached the disk: such a prepare was never acknowledged, and
 * `verifyWhole` checks every CRC of the record (header, key, value, block table) before
 * keeping it. A prepare the WAL later decides was durable before the decision was logged
 * (a decision is appended only once its prepare is applied, after both fsyncs): its head
 * is checked, and reads verify the rest.
 */
async function applyPrepare(
  ctx: RecoveryContext,
  index: KeyIndex,
  entry: WalPrepare,
  verifyWhole: boolean,
): Promise<boolean> {
  const segment = ctx.segments.get(entry.segment);
  const head = segment === undefined ? "segment missing" : await segment.readHead(entry.offset);
  let problem =
    typeof head === "string"
      ? head
      : head.type !== RecordType.PREPARE ||
          head.key !== entry.key ||
          head.txid !== entry.txid ||
          head.valueBytes !== entry.valueBytes ||
          head.valueCrc32c !== entry.valueCrc32c
        ? "record does not match the WAL"
        : undefined;
  if (problem === undefined && verifyWhole && segment !== undefined && typeof head !== "string") {
    problem = await verifyRecordOnDisk(segment, entry.offset, head);
  }
  if (problem !== undefined || typeof head === "string") {
    ctx.logger.error(
      { segment: entry.segment, offset: entry.offset, txid: entry.txid, problem },
      "logged prepare dropped",
    );
    return false;
  }
  index.addPrepared({
    txid: entry.txid,
    key: entry.key,
    contentType: entry.contentType,
    size: entry.valueBytes,
    crc32c: entry.valueCrc32c,
    createdAtMs: entry.createdAtMs,
    segment: entry.segment,
    offset: entry.offset,
    recordBytes: head.layout.recordBytes,
  });
  return true;
}

async function copyDecision(
  ctx: RecoveryContext,
  type: RecordType,
  key: string,
  txid: string,
  version: number,
  prepareSegment: number,
  atMs: number,
): Promise<RecordLocation> {
  const written = await writeDecisionRecord(ctx.segments, {
    type,
    key,
    txid,
    contentType: "",
    valueBytes: 0,
    version,
    createdAtMs: atMs,
    prepareSegment,
    valueCrc32c: 0,
  });
  written.segment.endWrite();
  return written.location;
}

// ---- 4. compaction switch -----------------------------------------------------------------

/**
 * Points the index at the output's copies of records it still finds in the marker's
 * sources (the snapshot may predate the switch). A tombstone the output does not hold is
 * written again: whether compaction meant to drop it cannot be known any more, and keeping
 * one is always safe.
 */
async function reapplySwitch(ctx: RecoveryContext, index: KeyIndex, marker: CompactionMarker): Promise<void> {
  const output = ctx.segments.get(marker.output);
  const sources = new Set(marker.sources);
  if (output === undefined) {
    ctx.logger.error({ marker }, "compaction output named by the marker is missing");
    return;
  }
  for await (const { offset, head } of scanSegment(output, { verify: false })) {
    const to = { segment: output.number, offset, recordBytes: head.layout.recordBytes };
    if (head.type === RecordType.VALUE)
      index.relocateFrom(sources, head.key, SlotState.LIVE, head.version, to);
    if (head.type === RecordType.TOMBSTONE)
      index.relocateFrom(sources, head.key, SlotState.DELETED, head.version, to);
  }
  const leftovers: { key: string; version: number; state: SlotState }[] = [];
  index.forEachSlot((slot) => {
    if (sources.has(slot.segment)) leftovers.push(slot);
  });
  for (const slot of leftovers) {
    if (slot.state !== SlotState.DELETED) {
      ctx.logger.error(
        { key: slot.key, version: slot.version },
        "value in a compacted segment has no copy; left in place",
      );
      continue;
    }
    const location = await copyDecision(ctx, RecordType.TOMBSTONE, slot.key, "", slot.version, 0, Date.now());
    index.relocateFrom(sources, slot.key, SlotState.DELETED, slot.version, location);
  }
}

// ---- 5. torn tails ------------------------------------------------------------------------

async function cutTornTails(
  ctx: RecoveryContext,
  index: KeyIndex,
  coverage: SnapshotCoverage | undefined,
  validEnds: ReadonlyMap<number, number>,
  sources: ReadonlySet<number>,
): Promise<number> {
  const reliedEnd = (segment: SegmentFile): number =>
    coverage?.segmentEnds.get(segment.number) ?? validEnds.get(segment.number) ?? SEGMENT_FILE_HEADER_BYTES;
  // Only a segment written after the snapshot (or longer than the scan found valid) can be torn.
  const suspects = ctx.segments.all.filter(
    (segment) =>
      segment !== ctx.segments.active &&
      !segment.compacted &&
      !sources.has(segment.number) &&
      (coverage === undefined
        ? segment.end > reliedEnd(segment)
        : segment.end !== coverage.segmentEnds.get(segment.number)),
  );
  if (suspects.length === 0) return 0;
  const last = index.lastReferencedRecords(new Set(suspects.map((segment) => segment.number)));
  let truncated = 0;
  for (const segment of suspects) {
    const lastRecord = last.get(segment.number);
    const keep = Math.max(
      reliedEnd(segment),
      lastRecord === undefined ? 0 : lastRecord.offset + lastRecord.recordBytes,
    );
    if (segment.end > keep) {
      const cut = { segment: segment.number, from: keep, bytes: segment.end - keep };
      if (await zeroFrom(segment, keep)) ctx.logger.info(cut, "zeroed tail cut");
      else {
        ctx.logger.warn(cut, "torn segment tail truncated");
        truncated += cut.bytes;
      }
      await segment.truncate(keep);
    }
    if (coverage !== undefined && lastRecord !== undefined) await checkLastRecord(ctx, segment, lastRecord);
  }
  return truncated;
}

/** The last record a segment must hold is verified whole against the segment's end. */
async function checkLastRecord(
  ctx: RecoveryContext,
  segment: SegmentFile,
  record: RecordLocation,
): Promise<void> {
  const head = await segment.readHead(record.offset);
  const problem = typeof head === "string" ? head : await verifyRecordOnDisk(segment, record.offset, head);
  if (problem !== undefined) {
    ctx.logger.error(
      { segment: segment.number, offset: record.offset, problem },
      "last acknowledged record of a segment is corrupt",
    );
  }
}
