import { promises as fsp } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { ErrorCode, MinikvError, assert, isOutOfSpace } from "../common/errors.js";
import { BloomFilter, KeyHashList, bloomFileName, hashKey, writeBloomFile } from "./bloom-filter.js";
import { engineLimits } from "./engine-limits.js";
import { removeMarker, writeMarker } from "./compaction-marker.js";
import { writeDecisionRecord } from "./decision-writer.js";
import { diskError, fsyncDirectory, removeIfExists } from "./durable-fs.js";
import type { DiskSpace } from "./durable-fs.js";
import { SlotState } from "./key-index.js";
import type { KeyIndex, RecordLocation } from "./key-index.js";
import { RecordEncoder, RecordType, encodeRecord, encodeRecordHead } from "./record-codec.js";
import type { DecodedHead, RecordFields } from "./record-codec.js";
import { scanSegment } from "./segment-scan.js";
import { SEGMENT_FLAG_COMPACTED, SegmentFile, compactingFileName, segmentFileName } from "./segment-file.js";
import type { SegmentSet } from "./segment-set.js";
import type { CompactResult } from "./store-api.js";
import { streamVerifiedValue } from "./value-reader.js";

/**
 * Compaction (docs/volume-format.md, "Compaction"): copies what is still needed from some
 * sealed segments into one new segment and deletes them. Crash-safe by a marker:
 *
 *   output-written  the new segment is complete as `seg-N.dat.compacting`
 *   output-synced   ...and fsynced, with its bloom filter
 *   marker-written  `compaction.marker` {N ← sources} is durable: the switch is decided
 *   output-renamed  `seg-N.dat` in place
 *   index-switched  the index points at the copies
 *   snapshot-written an index snapshot no longer references the sources
 *   sources-deleted the source segments are gone
 *   marker-removed  done
 *
 * A crash before the marker rolls back (boot deletes `*.compacting`); after it, boot
 * finishes the switch. A close stops a compaction only before its marker; each step is
 * checked with the host first, so nothing runs on after a (simulated) crash. Writes go on meanwhile: they land in the active segment, and the
 * switch moves an index entry only if it still points at the copied record, so a key
 * overwritten or deleted during the copy keeps its newer state.
 *
 * What is kept: values the index serves (as VALUE records carrying their version), the
 * tombstone the index remembers for a key while another segment may still hold an older
 * record of that key (asked of the bloom filters), and COMMIT/ABORT records whose PREPARE
 * is still in a segment that is not being compacted. Segments with prepared writes or
 * writes in progress are left alone until those are decided.
 */

export type CompactionStep =
  | "output-written"
  | "output-synced"
  | "marker-written"
  | "output-renamed"
  | "index-switched"
  | "snapshot-written"
  | "sources-deleted"
  | "marker-removed";

/** What compaction needs from the store. */
export interface CompactionHost {
  readonly dataDir: string;
  readonly index: KeyIndex;
  readonly segments: SegmentSet;
  readonly logger: Logger;
  readonly bloomFalsePositiveRate: number;
  diskSpace(): Promise<DiskSpace>;
  /** Gives up the restart reserve of the data directory's file system; true when one was there. */
  releaseRestartReserve(): Promise<boolean>;
  /** May a segment other than `exclude` hold a record of `key`? (bloom filters, no false negatives) */
  mayExistElsewhere(key: string, exclude: ReadonlySet<number>): boolean;
  adoptBloom(segment: number, filter: BloomFilter): void;
  forgetBloom(segment: number): void;
  /** Records kept only for a full rebuild (bytes the index does not reference) in an output. */
  setPinnedBytes(segment: number, bytes: number): void;
  writeSnapshot(): Promise<void>;
  reportCorrupt(segment: number, offset: number, problem: string, key: string): Error;
  /**
   * Holds an output being made until it joins the segment set or is abandoned (call the
   * returned function then), so that a simulated crash closes it as a process's end would.
   */
  holdOutput(output: SegmentFile): () => void;
  /** Test hook: runs at each step; a promise that never settles freezes the compaction there. */
  step(step: CompactionStep): Promise<void>;
  /** Throws (SHUTTING_DOWN) when the store is closing; checked between records while copying. */
  checkOpen(): void;
  /** Throws when the store's files were closed under it (simulated crash): nothing more may be touched. */
  checkAlive(): void;
  onCopied(bytes: number): void;
}

interface Copy {
  readonly key: string;
  readonly from: RecordLocation;
  readonly to: RecordLocation;
}

interface DroppedTombstone {
  readonly key: string;
  readonly version: number;
  readonly at: RecordLocation;
}

interface OutputPlan {
  readonly output: SegmentFile;
  readonly keys: KeyHashList;
  readonly copies: Copy[];
  readonly dropped: DroppedTombstone[];
  pinnedBytes: number;
}

/** Whether compaction may touch a segment now. */
export function compactable(host: CompactionHost, segment: SegmentFile): boolean {
  return (
    segment.sealed &&
    segment !== host.segments.active &&
    !segment.isRetired &&
    segment.writersInProgress === 0 &&
    host.index.preparedIn(segment.number) === 0
  );
}

/** Compacts `sources` into one new segment. The caller serializes compactions. */
export async function compactSegments(
  host: CompactionHost,
  sources: readonly SegmentFile[],
): Promise<CompactResult> {
  const eligible = sources.filter((segment) => compactable(host, segment));
  if (eligible.length === 0) return { segmentsCompacted: 0, bytesFreed: 0 };
  await checkRoom(host, eligible);
  host.checkAlive();
  const number = host.segments.allocateNumber();
  const compactingPath = join(host.dataDir, compactingFileName(number));
  const output = await SegmentFile.create(compactingPath, number, () => undefined, SEGMENT_FLAG_COMPACTED);
  const letGo = host.holdOutput(output);
  let plan: OutputPlan;
  let bloom: BloomFilter;
  try {
    plan = await writeOutput(host, output, eligible);
    await host.step("output-written");
    await output.syncAll();
    bloom = BloomFilter.fromHashes(plan.keys.hashes(), plan.keys.length, host.bloomFalsePositiveRate);
    await writeBloomFile(host.dataDir, number, bloom);
    await host.step("output-synced");
  } catch (err) {
    // After a (simulated) crash nothing is cleaned: boot does that, as after a real one.
    letGo();
    if (!isCrashStop(host)) await abandonOutput(host, output, compactingPath);
    throw isOutOfSpace(err) ? diskError(err, "writing the compaction output failed") : err;
  }
  const sourceNumbers = eligible.map((segment) => segment.number);
  await writeMarker(host.dataDir, { output: number, sources: sourceNumbers });
  await host.step("marker-written");
  await fsp.rename(compactingPath, join(host.dataDir, segmentFileName(number)));
  await fsyncDirectory(host.dataDir);
  await host.step("output-renamed");
  await switchIndex(host, plan, bloom, new Set(sourceNumbers));
  letGo();
  await host.step("index-switched");
  await host.writeSnapshot();
  await host.step("snapshot-written");
  const sourceBytes = eligible.reduce((sum, segment) => sum + segment.end, 0);
  // Pair assertion: nothing the index references may be left in a source before it goes.
  const stillReferenced = sourceNumbers.filter((number) => host.index.liveBytesOf(number) > 0);
  assert(
    stillReferenced.length === 0,
    `compacted segments ${stillReferenced.join(",")} are still referenced`,
  );
  await deleteSources(host, sourceNumbers);
  await host.step("sources-deleted");
  await removeMarker(host.dataDir);
  await host.step("marker-removed");
  return { segmentsCompacted: eligible.length, bytesFreed: Math.max(0, sourceBytes - output.end) };
}

/**
 * Refuses (DISK_FULL) unless the file system has room for the output: the records the index
 * still references in the sources, plus a margin for the decision records kept beside them,
 * the bloom filter and the marker. A segment that is mostly garbage needs little room, so a
 * nearly full disk can still be compacted; that is how it gets room back. An output that
 * runs out of room all the same fails like any other (ENOSPC is DISK_FULL) and is removed.
 */
async function checkRoom(host: CompactionHost, sources: readonly SegmentFile[]): Promise<void> {
  const live = sources.reduce((sum, segment) => sum + host.index.liveBytesOf(segment.number), 0);
  const needed = live + engineLimits.compactionRoomMarginBytes;
  let { freeBytes } = await host.diskSpace();
  // A disk filled to the last byte (the delete headroom used up by WAL files and snapshots)
  // can neither compact nor delete: the restart reserve is the room left to start from.
  if (freeBytes < needed && (await host.releaseRestartReserve())) ({ freeBytes } = await host.diskSpace());
  if (freeBytes < needed) {
    throw new MinikvError(
      ErrorCode.DISK_FULL,
      `compaction needs room for ${needed} bytes (${live} still referenced); ${freeBytes} bytes are free`,
    );
  }
}

function isCrashStop(host: CompactionHost): boolean {
  try {
    host.checkAlive();
    return false;
  } catch {
    return true;
  }
}

async function abandonOutput(host: CompactionHost, output: SegmentFile, path: string): Promise<void> {
  await output.retire();
  await removeIfExists(path);
  await removeIfExists(join(host.dataDir, bloomFileName(output.number)));
  await fsyncDirectory(host.dataDir);
}

async function writeOutput(
  host: CompactionHost,
  output: SegmentFile,
  sources: readonly SegmentFile[],
): Promise<OutputPlan> {
  const plan: OutputPlan = {
    output,
    keys: new KeyHashList(),
    copies: [],
    dropped: [],
    pinnedBytes: 0,
  };
  const sourceNumbers = new Set(sources.map((segment) => segment.number));
  for (const source of sources) {
    if (!source.acquire()) throw new MinikvError(ErrorCode.INTERNAL, `segment ${source.number} went away`);
    try {
      for await (const { offset, head } of scanSegment(source, { verify: false })) {
        host.checkOpen();
        await copyIfNeeded(host, plan, source, offset, head, sourceNumbers);
      }
    } finally {
      await source.release();
    }
  }
  return plan;
}

async function copyIfNeeded(
  host: CompactionHost,
  plan: OutputPlan,
  source: SegmentFile,
  offset: number,
  head: DecodedHead,
  sources: ReadonlySet<number>,
): Promise<void> {
  const from = { segment: source.number, offset, recordBytes: head.layout.recordBytes };
  const view = host.index.slotView(head.key);
  const referenced = view !== undefined && view.segment === from.segment && view.offset === from.offset;
  switch (head.type) {
    case RecordType.PREPARE:
    case RecordType.VALUE:
      if (referenced && view.state === SlotState.LIVE)
        await copyValue(host, plan, source, from, head, view.version);
      return;
    case RecordType.TOMBSTONE:
      if (!referenced || view.state !== SlotState.DELETED) return;
      if (host.mayExistElsewhere(head.key, sources)) await copySmall(plan, head, from, true);
      else plan.dropped.push({ key: head.key, version: head.version, at: from });
      return;
    case RecordType.COMMIT:
    case RecordType.ABORT:
      // Needed while its PREPARE exists outside this compaction (a rebuild pairs them).
      if (!sources.has(head.prepareSegment) && host.segments.get(head.prepareSegment) !== undefined) {
        await copySmall(plan, head, from, false);
      }
      return;
  }
}

function fieldsOf(head: DecodedHead, type: RecordType, version: number): RecordFields {
  return {
    type,
    key: head.key,
    txid: head.txid,
    contentType: head.contentType,
    valueBytes: head.valueBytes,
    version,
    createdAtMs: head.createdAtMs,
    prepareSegment: head.prepareSegment,
    valueCrc32c: head.valueCrc32c,
  };
}

/** Copies a decision record; tombstones the index uses are switched, others are pinned. */
async function copySmall(
  plan: OutputPlan,
  head: DecodedHead,
  from: RecordLocation,
  switched: boolean,
): Promise<void> {
  const record = encodeRecord(fieldsOf(head, head.type, head.version), Buffer.alloc(0), plan.output.salt);
  const offset = plan.output.reserve(record.length);
  await plan.output.write(record, offset);
  plan.keys.push(hashKey(head.key));
  const to = { segment: plan.output.number, offset, recordBytes: record.length };
  if (switched) plan.copies.push({ key: head.key, from, to });
  else plan.pinnedBytes += record.length;
}

/** Copies a live value as a VALUE record, verifying every source block on the way. */
async function copyValue(
  host: CompactionHost,
  plan: OutputPlan,
  source: SegmentFile,
  from: RecordLocation,
  head: DecodedHead,
  version: number,
): Promise<void> {
  const out = plan.output;
  const newHead = encodeRecordHead(fieldsOf(head, RecordType.VALUE, version), out.salt);
  const offset = out.reserve(head.layout.recordBytes);
  const encoder = new RecordEncoder(newHead, head.layout, head.valueBytes);
  await out.write(newHead, offset);
  let position = offset + head.layout.valueOffset;
  const stream = streamVerifiedValue({
    segment: source,
    recordOffset: from.offset,
    head,
    start: 0,
    length: head.valueBytes,
    // A corrupt record is never copied: a fresh CRC over bad bytes would launder them.
    corrupt: (problem, at) => host.reportCorrupt(source.number, at, problem, head.key),
  });
  for await (const chunk of stream) {
    encoder.update(chunk);
    await out.write(chunk, position);
    position += chunk.length;
  }
  await out.write(encoder.trailer(), position);
  plan.keys.push(hashKey(head.key));
  plan.copies.push({
    key: head.key,
    from,
    to: { segment: out.number, offset, recordBytes: head.layout.recordBytes },
  });
  host.onCopied(head.layout.recordBytes);
}

/**
 * The switch, synchronous up to the tombstones that must be written again: entries still
 * at their copied record move to the copy; a dropped tombstone is forgotten only if its key
 * has not appeared anywhere since the decision (else it is written again, in the active
 * segment, before the sources go).
 */
async function switchIndex(
  host: CompactionHost,
  plan: OutputPlan,
  bloom: BloomFilter,
  sources: ReadonlySet<number>,
): Promise<void> {
  const { index, segments } = host;
  for (const copy of plan.copies) index.relocate(copy.key, copy.from, copy.to);
  const rewrite: DroppedTombstone[] = [];
  for (const dropped of plan.dropped) {
    if (host.mayExistElsewhere(dropped.key, sources)) rewrite.push(dropped);
    else index.forgetTombstone(dropped.key, dropped.at);
  }
  segments.adopt(plan.output);
  host.adoptBloom(plan.output.number, bloom);
  host.setPinnedBytes(plan.output.number, plan.pinnedBytes);
  for (const dropped of rewrite) {
    const written = await writeDecisionRecord(segments, {
      type: RecordType.TOMBSTONE,
      key: dropped.key,
      txid: "",
      contentType: "",
      valueBytes: 0,
      version: dropped.version,
      createdAtMs: Date.now(),
      prepareSegment: 0,
      valueCrc32c: 0,
    });
    index.relocate(dropped.key, dropped.at, written.location);
    written.segment.endWrite();
  }
}

async function deleteSources(host: CompactionHost, sources: readonly number[]): Promise<void> {
  for (const number of sources) {
    host.checkAlive();
    await host.segments.retire(number);
    await removeIfExists(join(host.dataDir, bloomFileName(number)));
    host.forgetBloom(number);
    host.setPinnedBytes(number, 0);
  }
  await fsyncDirectory(host.dataDir);
}
