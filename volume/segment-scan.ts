import { engineLimits } from "./engine-limits.js";
import {
  RECORD_ALIGN_BYTES,
  RECORD_FIXED_HEADER_BYTES,
  RECORD_MAGIC,
  decodeRecordHead,
  parseFixedHeader,
  verifyRecordBody,
} from "./record-codec.js";
import type { DecodedHead } from "./record-codec.js";
import { SEGMENT_FILE_HEADER_BYTES } from "./segment-file.js";
import type { SegmentFile } from "./segment-file.js";
import { verifyRecordOnDisk } from "./value-reader.js";
import { endBeforeZeroTail } from "./zero-fill.js";

/**
 * Walks the records of a segment in file order. Concurrent prepares write into reserved
 * regions, so after a crash a region in the middle may be torn while later ones are
 * intact: on an invalid record the scan reports the gap and resynchronizes at the next
 * 8-byte-aligned position holding a valid record head of this segment (the segment's salt
 * in every head keeps records embedded in stored values from matching).
 */

export interface ScannedRecord {
  readonly offset: number;
  readonly head: DecodedHead;
}

export interface ScanGap {
  readonly offset: number;
  readonly resumeAt: number;
  readonly problem: string;
}

export interface ScanOptions {
  /** Verify every record whole (all CRCs), not only its head. */
  readonly verify: boolean;
  readonly start?: number;
  readonly onGap?: (gap: ScanGap) => void;
}

/** A window of the file kept in memory while scanning. */
class Window {
  private start = 0;
  private bytes: Buffer = Buffer.alloc(0);

  constructor(private readonly segment: SegmentFile) {}

  /** `length` bytes at `offset`, fewer at the end of the file. */
  async get(offset: number, length: number): Promise<Buffer> {
    if (offset < this.start || offset + length > this.start + this.bytes.length) {
      const want = Math.max(length, engineLimits.scanReadBytes);
      this.bytes = await this.segment.read(offset, Math.min(want, Math.max(0, this.segment.end - offset)));
      this.start = offset;
    }
    const from = offset - this.start;
    return this.bytes.subarray(from, Math.min(from + length, this.bytes.length));
  }
}

export async function* scanSegment(
  segment: SegmentFile,
  options: ScanOptions,
): AsyncGenerator<ScannedRecord> {
  const window = new Window(segment);
  let offset = options.start ?? SEGMENT_FILE_HEADER_BYTES;
  while (offset + RECORD_FIXED_HEADER_BYTES <= segment.end) {
    const found = await recordAt(segment, window, offset, options.verify);
    if (typeof found !== "string") {
      yield { offset, head: found };
      offset += found.layout.recordBytes;
      continue;
    }
    // The zeroed tail kept ahead of the appends (volume/zero-fill.ts) ends the records.
    if (await zeroFrom(segment, offset)) return;
    const resumeAt = await resync(segment, window, offset + RECORD_ALIGN_BYTES, options.verify);
    options.onGap?.({ offset, resumeAt, problem: found });
    offset = resumeAt;
  }
  if (offset < segment.end) options.onGap?.({ offset, resumeAt: segment.end, problem: "trailing bytes" });
}

async function recordAt(
  segment: SegmentFile,
  window: Window,
  offset: number,
  verify: boolean,
): Promise<DecodedHead | string> {
  const fixed = await window.get(offset, RECORD_FIXED_HEADER_BYTES);
  const parsed = parseFixedHeader(fixed, segment.salt);
  if (typeof parsed === "string") return parsed;
  const head = decodeRecordHead(await window.get(offset, parsed.headBytes), segment.salt);
  if (typeof head === "string") return head;
  if (offset + head.layout.recordBytes > segment.end) return "record runs past the end of the file";
  if (!verify) return head;
  if (head.layout.recordBytes <= engineLimits.scanReadBytes) {
    const record = await window.get(offset, head.layout.recordBytes);
    return verifyRecordBody(record, head) ?? head;
  }
  return (await verifyRecordOnDisk(segment, offset, head)) ?? head;
}

/** Whether every byte of `segment` from `from` to its end is zero. */
export async function zeroFrom(segment: SegmentFile, from: number): Promise<boolean> {
  for (let at = from; at < segment.end; at += engineLimits.scanReadBytes) {
    const bytes = await segment.read(at, Math.min(engineLimits.scanReadBytes, segment.end - at));
    if (bytes.length === 0) return true;
    if (endBeforeZeroTail(bytes, 0) !== 0) return false;
  }
  return true;
}

/** The next offset at or after `from` where a valid record starts, or the end of the file. */
async function resync(segment: SegmentFile, window: Window, from: number, verify: boolean): Promise<number> {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(RECORD_MAGIC, 0);
  for (let offset = from; offset + RECORD_FIXED_HEADER_BYTES <= segment.end; offset += RECORD_ALIGN_BYTES) {
    const probe = await window.get(offset, 4);
    if (!probe.equals(magic)) continue;
    if (typeof (await recordAt(segment, window, offset, verify)) !== "string") return offset;
  }
  return segment.end;
}
