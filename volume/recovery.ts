import type { Logger } from "pino";
import { writeDecisionRecord } from "./decision-writer.js";
import type { KeyIndex } from "./key-index.js";
import { RecordType } from "./record-codec.js";
import type { SegmentSet } from "./segment-set.js";
import type { WalEntry, WalPrepare } from "./wal-record.js";
import type { WalPosition, WriteAheadLog } from "./wal.js";

/**
 * Open-time recovery (docs/volume-format.md, "Recovery"): rebuilds the index from what is
 * durable and leaves the volume ready for appends.
 */

export interface RecoveryContext {
  readonly index: KeyIndex;
  readonly segments: SegmentSet;
  readonly wal: WriteAheadLog;
  readonly logger: Logger;
}

export interface RecoveryReport {
  readonly mode: "snapshot" | "full-rebuild" | "empty";
  readonly walRecordsReplayed: number;
  readonly walTornBytes: number;
  readonly droppedPrepares: number;
  readonly durationMs: number;
}

/** Replays the WAL from `from` into the index; decisions get fresh segment copies. */
export async function replayWal(
  ctx: RecoveryContext,
  from: WalPosition | undefined,
): Promise<{ records: number; tornBytes: number; droppedPrepares: number }> {
  const entries: WalEntry[] = [];
  const stats = await ctx.wal.replay(from, (entry) => entries.push(entry));
  let droppedPrepares = 0;
  for (const entry of entries) {
    if (!(await applyWalEntry(ctx, entry))) droppedPrepares += 1;
  }
  await ctx.segments.active?.sync();
  return { records: stats.records, tornBytes: stats.tornBytes, droppedPrepares };
}

async function applyWalEntry(ctx: RecoveryContext, entry: WalEntry): Promise<boolean> {
  switch (entry.type) {
    case "prepare":
      return applyPrepare(ctx, entry);
    case "commit": {
      const prepared = ctx.index.prepared.get(entry.txid);
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
      ctx.index.commitPrepared(entry.txid, entry.version);
      return true;
    }
    case "abort": {
      const prepared = ctx.index.prepared.get(entry.txid);
      if (prepared === undefined) return true;
      await copyDecision(ctx, RecordType.ABORT, prepared.key, entry.txid, 0, prepared.segment, entry.atMs);
      ctx.index.abortPrepared(entry.txid);
      return true;
    }
    case "delete": {
      if (ctx.index.tombstoneEffect(entry.key, entry.version).effect === "noop") return true;
      const location = await copyDecision(
        ctx,
        RecordType.TOMBSTONE,
        entry.key,
        "",
        entry.version,
        0,
        entry.atMs,
      );
      ctx.index.applyTombstone(entry.key, entry.version, location);
      return true;
    }
  }
}

/** A logged prepare is kept only if its record is intact where the WAL says it is. */
async function applyPrepare(ctx: RecoveryContext, entry: WalPrepare): Promise<boolean> {
  if (ctx.index.prepared.has(entry.txid) || ctx.index.recentDecisions.has(entry.txid)) return true;
  const segment = ctx.segments.get(entry.segment);
  const head = segment === undefined ? "segment missing" : await segment.readHead(entry.offset);
  const problem =
    typeof head === "string"
      ? head
      : head.type !== RecordType.PREPARE ||
          head.key !== entry.key ||
          head.txid !== entry.txid ||
          head.valueBytes !== entry.valueBytes ||
          head.valueCrc32c !== entry.valueCrc32c
        ? "record does not match the WAL"
        : undefined;
  if (problem !== undefined || typeof head === "string") {
    ctx.logger.error(
      { segment: entry.segment, offset: entry.offset, txid: entry.txid, problem },
      "logged prepare dropped",
    );
    return false;
  }
  ctx.index.addPrepared({
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
): Promise<{ segment: number; offset: number; recordBytes: number }> {
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

export async function recover(ctx: RecoveryContext): Promise<RecoveryReport> {
  const startedAt = performance.now();
  const replay = await replayWal(ctx, undefined);
  return {
    mode: replay.records === 0 ? "empty" : "full-rebuild",
    walRecordsReplayed: replay.records,
    walTornBytes: replay.tornBytes,
    droppedPrepares: replay.droppedPrepares,
    durationMs: Math.round(performance.now() - startedAt),
  };
}
