import { crc32c } from "../common/hashing.js";
import { limits } from "../common/limits.js";
import { engineLimits } from "./engine-limits.js";
import type { DecodedHead } from "./record-codec.js";
import type { SegmentFile } from "./segment-file.js";

/**
 * Streams a record's value (or a byte range of it) from disk, verifying every block against
 * its CRC32C before any of its bytes are yielded. A full read also checks the value CRC and
 * the whole-record CRC, and holds back its last chunk until they match: a full read either
 * yields the exact value or fails before it completes. Memory: two chunks of
 * limits.streamChunkBytes at most. Yielded buffers belong to the caller.
 */

const BLOCKS_PER_READ = Math.max(1, Math.floor(limits.streamChunkBytes / engineLimits.valueBlockBytes));
const TABLE_WINDOW_ENTRIES = 4096;

/** Where a record's bytes are read from: its segment file, or the record already in memory. */
export interface RecordSource {
  read(position: number, length: number): Promise<Buffer>;
}

/**
 * A record read whole into `bytes` (from segment offset `recordOffset`), served as a
 * RecordSource: verification then reads memory instead of making one trip to the disk for
 * the head, one for the block table, one for the value and one for the trailer.
 */
export function recordInMemory(bytes: Buffer, recordOffset: number): RecordSource {
  return {
    read: (position, length) => {
      const from = position - recordOffset;
      return Promise.resolve(bytes.subarray(from, from + length));
    },
  };
}

export interface ValueStreamRequest {
  readonly segment: RecordSource;
  /** Offset of the record in the segment. */
  readonly recordOffset: number;
  /** The record's head, already read and checked against the index. */
  readonly head: DecodedHead;
  readonly start: number;
  readonly length: number;
  /** Builds the error thrown on corruption (and reports it); `at` is a segment offset. */
  readonly corrupt: (problem: string, at: number) => Error;
}

/** Reads the block CRC table of a record a window at a time. */
class BlockTable {
  private windowStart = -1;
  private window: Buffer = Buffer.alloc(0);

  constructor(
    private readonly request: ValueStreamRequest,
    private readonly tableOffset: number,
    private readonly blockCount: number,
  ) {}

  async crcOf(block: number): Promise<number> {
    if (block < this.windowStart || block >= this.windowStart + this.window.length / 4) {
      const entries = Math.min(TABLE_WINDOW_ENTRIES, this.blockCount - block);
      this.window = await this.request.segment.read(this.tableOffset + 4 * block, 4 * entries);
      this.windowStart = block;
      if (this.window.length !== 4 * entries) {
        throw this.request.corrupt("block table cut short", this.tableOffset + 4 * block);
      }
    }
    return this.window.readUInt32LE(4 * (block - this.windowStart));
  }

  /** Continues `seed` over the whole table (for the record CRC). */
  async crcOfAll(seed: number): Promise<number> {
    let crc = seed;
    for (let block = 0; block < this.blockCount; block += TABLE_WINDOW_ENTRIES) {
      const entries = Math.min(TABLE_WINDOW_ENTRIES, this.blockCount - block);
      const bytes = await this.request.segment.read(this.tableOffset + 4 * block, 4 * entries);
      if (bytes.length !== 4 * entries) throw this.request.corrupt("block table cut short", this.tableOffset);
      crc = crc32c(bytes, crc);
    }
    return crc;
  }
}

export async function* streamVerifiedValue(request: ValueStreamRequest): AsyncGenerator<Buffer> {
  const { head, start, length, segment, recordOffset } = request;
  const blockBytes = engineLimits.valueBlockBytes;
  const full = start === 0 && length === head.valueBytes;
  const { layout } = head;
  const table = new BlockTable(request, recordOffset + layout.tableOffset, layout.blockCount);
  const firstBlock = Math.floor(start / blockBytes);
  const endBlock = length === 0 ? firstBlock : Math.ceil((start + length) / blockBytes);
  let recordCrc = full ? crc32c(head.raw) : 0;
  let valueCrc = 0;
  let held: Buffer | undefined;
  for (let block = firstBlock; block < endBlock; block += BLOCKS_PER_READ) {
    const stop = Math.min(endBlock, block + BLOCKS_PER_READ);
    const valueStart = block * blockBytes;
    const valueEnd = Math.min(head.valueBytes, stop * blockBytes);
    const at = recordOffset + layout.valueOffset + valueStart;
    const bytes = await segment.read(at, valueEnd - valueStart);
    if (bytes.length !== valueEnd - valueStart) throw request.corrupt("record cut short", at);
    for (let b = block; b < stop; b++) {
      const from = (b - block) * blockBytes;
      const crc = crc32c(bytes.subarray(from, from + blockBytes));
      if (crc !== (await table.crcOf(b))) throw request.corrupt("block CRC mismatch", at + from);
    }
    if (full) {
      recordCrc = crc32c(bytes, recordCrc);
      valueCrc = crc32c(bytes, valueCrc);
    }
    const out = bytes.subarray(
      Math.max(start, valueStart) - valueStart,
      Math.min(start + length, valueEnd) - valueStart,
    );
    if (!full) yield out;
    else {
      if (held !== undefined) yield held;
      held = out;
    }
  }
  if (!full) return;
  await checkWholeRecord(request, table, recordCrc, valueCrc);
  if (held !== undefined) yield held;
}

async function checkWholeRecord(
  request: ValueStreamRequest,
  table: BlockTable,
  recordCrcSoFar: number,
  valueCrc: number,
): Promise<void> {
  const { head, recordOffset, segment } = request;
  const { layout } = head;
  if (valueCrc !== head.valueCrc32c) throw request.corrupt("value CRC mismatch", recordOffset);
  const recordCrc = await table.crcOfAll(recordCrcSoFar);
  const tail = await segment.read(recordOffset + layout.crcOffset, layout.recordBytes - layout.crcOffset);
  if (tail.length !== layout.recordBytes - layout.crcOffset) {
    throw request.corrupt("record cut short", recordOffset + layout.crcOffset);
  }
  if (tail.readUInt32LE(0) !== recordCrc) throw request.corrupt("record CRC mismatch", recordOffset);
  if (tail.subarray(4).some((byte) => byte !== 0)) throw request.corrupt("padding not zero", recordOffset);
}

/** Verifies a whole record on disk; returns the problem, or undefined when it is intact. */
export async function verifyRecordOnDisk(
  segment: SegmentFile,
  recordOffset: number,
  head: DecodedHead,
): Promise<string | undefined> {
  class Corrupt extends Error {}
  try {
    const stream = streamVerifiedValue({
      segment,
      recordOffset,
      head,
      start: 0,
      length: head.valueBytes,
      corrupt: (problem) => new Corrupt(problem),
    });
    for await (const _chunk of stream) {
      // each chunk is verified before it arrives; nothing else to do with it
    }
    return undefined;
  } catch (err) {
    if (err instanceof Corrupt) return err.message;
    throw err;
  }
}

/** CRC32C of a value's bytes as they lie on disk, without judging them (checksum()). */
export async function computeValueCrc(
  segment: SegmentFile,
  recordOffset: number,
  head: DecodedHead,
): Promise<number> {
  let crc = 0;
  const base = recordOffset + head.layout.valueOffset;
  for (let at = 0; at < head.valueBytes; at += limits.streamChunkBytes) {
    const want = Math.min(limits.streamChunkBytes, head.valueBytes - at);
    const bytes = await segment.read(base + at, want);
    crc = crc32c(bytes, crc);
    if (bytes.length < want) break;
  }
  return crc;
}
