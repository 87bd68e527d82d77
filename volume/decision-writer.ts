import { assert, isMinikvError } from "../common/errors.js";
import { limits } from "../common/limits.js";
import { encodeRecord, layoutOf } from "./record-codec.js";
import type { RecordFields } from "./record-codec.js";
import type { RecordLocation } from "./key-index.js";
import type { SegmentFile } from "./segment-file.js";
import type { SegmentSet } from "./segment-set.js";
import { diskError } from "./durable-fs.js";
import { GroupCommitQueue } from "./group-commit.js";

/**
 * Appends decision records (COMMIT, ABORT, TOMBSTONE) to the active segment. The WAL
 * record makes the decision durable; this copy makes the data directory describe itself
 * (a full rebuild reads segments), and is fsynced before any snapshot that lets the WAL
 * record go. The returned segment still counts the writer in: end it once the WAL record
 * is applied (compaction leaves the segment alone until then).
 */
export interface WrittenDecision {
  readonly location: RecordLocation;
  readonly segment: SegmentFile;
}

export async function writeDecisionRecord(
  segments: SegmentSet,
  fields: RecordFields,
): Promise<WrittenDecision> {
  const layout = layoutOf(fields);
  const { segment, offset } = await segments.reserve(layout.recordBytes, fields.key);
  try {
    const record = encodeRecord(fields, Buffer.alloc(0), segment.salt);
    await segment.write(record, offset);
    return { segment, location: { segment: segment.number, offset, recordBytes: layout.recordBytes } };
  } catch (err) {
    segment.endWrite();
    throw diskError(err, "writing a decision record failed");
  }
}

/** Bytes of decision records written at once, at most (a run never overfills a small segment). */
const RUN_BYTES_MAX = 32 * 1024;

interface PendingDecision {
  readonly fields: RecordFields;
  written: WrittenDecision | undefined;
}

/**
 * Writes the decision records of concurrent writers together (group commit for the
 * segment copies): while one write is in flight the next records queue, and then go to
 * the active segment as one contiguous region and one write. Each record is its own
 * writer of the segment, as with writeDecisionRecord.
 */
export class DecisionAppender {
  private readonly queue: GroupCommitQueue<PendingDecision>;

  constructor(private readonly segments: SegmentSet) {
    this.queue = new GroupCommitQueue(
      (batch) => this.writeBatch(batch),
      limits.walQueueDepthMax,
      limits.walGroupRecordsMax,
    );
  }

  /** Resolves once the record is written (not fsynced); see WrittenDecision. */
  async append(fields: RecordFields): Promise<WrittenDecision> {
    const pending: PendingDecision = { fields, written: undefined };
    await this.queue.enqueue(pending);
    assert(pending.written !== undefined, "a decision record resolved as written was written");
    return pending.written;
  }

  private async writeBatch(batch: readonly PendingDecision[]): Promise<void> {
    let run: PendingDecision[] = [];
    let runBytes = 0;
    try {
      for (const pending of batch) {
        const recordBytes = layoutOf(pending.fields).recordBytes;
        if (run.length > 0 && runBytes + recordBytes > RUN_BYTES_MAX) {
          await this.writeRun(run, runBytes);
          run = [];
          runBytes = 0;
        }
        run.push(pending);
        runBytes += recordBytes;
      }
      await this.writeRun(run, runBytes);
    } catch (err) {
      // All or nothing for the batch: every waiter fails, so no segment writer may stay in.
      for (const pending of batch) pending.written?.segment.endWrite();
      throw isMinikvError(err) ? err : diskError(err, "writing decision records failed");
    }
  }

  private async writeRun(run: readonly PendingDecision[], runBytes: number): Promise<void> {
    const { segment, offset } = await this.segments.reserveRun(
      runBytes,
      run.map((pending) => pending.fields.key),
    );
    let at = offset;
    for (const pending of run) {
      const recordBytes = layoutOf(pending.fields).recordBytes;
      pending.written = { segment, location: { segment: segment.number, offset: at, recordBytes } };
      at += recordBytes;
    }
    const records = run.map((pending) => encodeRecord(pending.fields, Buffer.alloc(0), segment.salt));
    await segment.write(Buffer.concat(records, runBytes), offset);
  }
}
