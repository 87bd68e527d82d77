/**
 * The byte format of a key-value state machine's snapshot, shared by the memory and LevelDB
 * state machines: "MKVSM001", then records (u32 keyLength, key, u32 valueLength, value),
 * then an end record (keyLength 0xFFFFFFFF, u32 record count). A stream without its end
 * record, or with a wrong count, is DATA_CORRUPT (truncated).
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";
import { limits } from "../../common/limits.js";

const MAGIC = Buffer.from("MKVSM001", "latin1");
const END_MARK = 0xffffffff;

export type KvRecord = readonly [key: Uint8Array, value: Uint8Array];

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Serializes records into chunks of about limits.streamChunkBytes. */
export async function* encodeKvRecords(records: AsyncIterable<KvRecord>): AsyncIterable<Uint8Array> {
  async function* single(): AsyncIterable<readonly KvRecord[]> {
    for await (const record of records) yield [record];
  }
  yield* encodeKvRecordBatches(single());
}

/** Bytes `records` take in the stream. */
function encodedBytes(records: readonly KvRecord[]): number {
  let bytes = 0;
  for (const [key, value] of records) bytes += 8 + key.byteLength + value.byteLength;
  return bytes;
}

/** Lays `records` out into `out` from `offset`; returns the offset after them. */
function writeRecords(out: Buffer, offset: number, records: readonly KvRecord[]): number {
  let at = offset;
  for (const [key, value] of records) {
    out.writeUInt32BE(key.byteLength, at);
    out.set(key, at + 4);
    at += 4 + key.byteLength;
    out.writeUInt32BE(value.byteLength, at);
    out.set(value, at + 4);
    at += 4 + value.byteLength;
  }
  return at;
}

/**
 * encodeKvRecords for a source that reads records in batches (a LevelDB iterator's
 * nextv): one buffer and one pass per batch, not four allocations and an await per record.
 */
export async function* encodeKvRecordBatches(
  batches: AsyncIterable<readonly KvRecord[]>,
): AsyncIterable<Uint8Array> {
  let parts: Buffer[] = [MAGIC];
  let pending = MAGIC.length;
  let count = 0;
  for await (const batch of batches) {
    if (batch.length === 0) continue;
    const out = Buffer.allocUnsafe(encodedBytes(batch));
    writeRecords(out, 0, batch);
    parts.push(out);
    pending += out.length;
    count += batch.length;
    if (pending >= limits.streamChunkBytes) {
      yield parts.length === 1 ? out : Buffer.concat(parts);
      parts = [];
      pending = 0;
    }
  }
  parts.push(u32(END_MARK), u32(count));
  yield Buffer.concat(parts);
}

function corrupt(message: string): MinikvError {
  return new MinikvError(ErrorCode.DATA_CORRUPT, `snapshot: ${message}`);
}

/** Accumulates chunks and hands out byte runs of requested lengths. */
class ByteQueue {
  private buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): void {
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
  }

  take(length: number): Buffer | null {
    if (this.buffer.length < length) return null;
    const out = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return out;
  }

  peekU32(offset: number): number | null {
    return this.buffer.length >= offset + 4 ? this.buffer.readUInt32BE(offset) : null;
  }

  get length(): number {
    return this.buffer.length;
  }
}

type Step = { record: KvRecord } | { end: number } | null;

function nextRecord(queue: ByteQueue): Step {
  const keyLength = queue.peekU32(0);
  if (keyLength === null) return null;
  if (keyLength === END_MARK) {
    const count = queue.peekU32(4);
    if (count === null) return null;
    queue.take(8);
    return { end: count };
  }
  const valueLength = queue.peekU32(4 + keyLength);
  if (valueLength === null) return null;
  if (queue.length < 8 + keyLength + valueLength) return null;
  queue.take(4);
  const key = Uint8Array.from(queue.take(keyLength) ?? []);
  queue.take(4);
  const value = Uint8Array.from(queue.take(valueLength) ?? []);
  return { record: [key, value] };
}

/** Parses a snapshot stream back into records; DATA_CORRUPT when malformed or truncated. */
export async function* decodeKvRecords(chunks: AsyncIterable<Uint8Array>): AsyncIterable<KvRecord> {
  const queue = new ByteQueue();
  let sawMagic = false;
  let count = 0;
  let ended = false;
  for await (const chunk of chunks) {
    if (ended && chunk.byteLength > 0) throw corrupt("bytes after the end record");
    queue.push(chunk);
    if (!sawMagic) {
      const magic = queue.take(MAGIC.length);
      if (magic === null) continue;
      if (!magic.equals(MAGIC)) throw corrupt("bad magic");
      sawMagic = true;
    }
    for (let step = nextRecord(queue); step !== null; step = nextRecord(queue)) {
      if ("end" in step) {
        if (step.end !== count) throw corrupt(`end record says ${step.end} records, read ${count}`);
        ended = true;
        break;
      }
      count += 1;
      yield step.record;
    }
    if (ended && queue.length > 0) throw corrupt("bytes after the end record");
  }
  if (!ended) throw corrupt("truncated (no end record)");
}
