import { diskError } from "./durable-fs.js";
import type { RecordLocation } from "./key-index.js";
import { RecordType, encodeRecord, layoutOf } from "./record-codec.js";
import type { RecordFields, RecordLayout } from "./record-codec.js";
import type { SegmentFile } from "./segment-file.js";
import type { Reservation, SegmentSet } from "./segment-set.js";

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

const NO_VALUE = new Uint8Array(0);

/**
 * Resolves once the record is written (not fsynced). Concurrent decisions and small
 * prepared records are reserved one after another, so the segment's shared writes put
 * them on disk together (one write per run of adjacent records).
 */
export async function writeDecisionRecord(
  segments: SegmentSet,
  fields: RecordFields,
): Promise<WrittenDecision> {
  const { segment, location, bytes } = await reserveDecisionRecord(segments, fields);
  try {
    await segment.writeShared(bytes, location.offset);
    return { segment, location };
  } catch (err) {
    segment.endWrite();
    throw diskError(err, "writing a decision record failed");
  }
}

/** A decision record encoded and its place reserved, not yet written. */
export interface ReservedDecision extends WrittenDecision {
  /** The record, to be written at `location.offset` of `segment`. */
  readonly bytes: Buffer;
}

/**
 * Reserves room for a decision record in the active segment and encodes it; the caller
 * writes it (the store: in its WAL record's group-commit round) and ends the writer. A
 * promise only when the active segment must roll first: otherwise the record is ready in
 * the caller's own turn, so its WAL record joins the round being gathered.
 */
export function reserveDecisionRecord(
  segments: SegmentSet,
  fields: RecordFields,
): ReservedDecision | Promise<ReservedDecision> {
  const layout = layoutOf(fields);
  const reservation = segments.tryReserve(layout.recordBytes, fields.key, keySegmentOf(fields));
  if (reservation !== undefined) return encodeReserved(fields, layout, reservation);
  return segments
    .reserve(layout.recordBytes, fields.key)
    .then((rolled) => encodeReserved(fields, layout, rolled));
}

/** A COMMIT or ABORT has the same key as its PREPARE, in `prepareSegment`. */
function keySegmentOf(fields: RecordFields): number | undefined {
  const decidesPrepare = fields.type === RecordType.COMMIT || fields.type === RecordType.ABORT;
  return decidesPrepare ? fields.prepareSegment : undefined;
}

function encodeReserved(
  fields: RecordFields,
  layout: RecordLayout,
  reservation: Reservation,
): ReservedDecision {
  const { segment, offset } = reservation;
  const location = { segment: segment.number, offset, recordBytes: layout.recordBytes };
  return { segment, location, bytes: encodeRecord(fields, NO_VALUE, segment.salt) };
}
