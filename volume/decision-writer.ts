import { encodeRecord, layoutOf } from "./record-codec.js";
import type { RecordFields } from "./record-codec.js";
import type { RecordLocation } from "./key-index.js";
import type { SegmentFile } from "./segment-file.js";
import type { SegmentSet } from "./segment-set.js";
import { diskError } from "./durable-fs.js";

/**
 * Appends a decision record (COMMIT, ABORT, TOMBSTONE) to the active segment. The WAL
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
