import { ErrorCode, MinikvError, assert, isMinikvError } from "../common/errors.js";
import { engineLimits } from "./engine-limits.js";
import type { SegmentFile } from "./segment-file.js";
import type { PrepareHeader } from "./store-api.js";
import { RecordEncoder, RecordType, encodeRecordHead, recordLayout } from "./record-codec.js";
import type { RecordLayout } from "./record-codec.js";
import type { Reservation, SegmentSet } from "./segment-set.js";
import { diskError } from "./durable-fs.js";

/**
 * Phase one of a write, on disk: reserves the record's space in the active segment, streams
 * the value in with bounded memory (one coalescing buffer of two value blocks; the body is
 * pulled chunk by chunk, so a slow disk slows the sender), checks size and CRC32C,
 * writes the trailer and fsyncs (sharing the fsync with concurrent prepares). On success
 * the reservation still counts its writer in: the caller ends it once the WAL record is
 * applied. On failure it is ended here and the space is garbage.
 */

export interface PreparedRecord {
  readonly reservation: Reservation;
  readonly layout: RecordLayout;
}

export interface PrepareWriteOptions {
  readonly header: PrepareHeader;
  readonly body: AsyncIterable<Uint8Array>;
  readonly createdAtMs: number;
  readonly segments: SegmentSet;
  /** Throws to stop the write (abort of the txid, shutdown); checked between chunks. */
  readonly checkContinue: () => void;
}

export async function writePreparedValue(options: PrepareWriteOptions): Promise<PreparedRecord> {
  const { header } = options;
  const layout = recordLayout(
    Buffer.byteLength(header.key, "utf8"),
    Buffer.byteLength(header.txid, "utf8"),
    Buffer.byteLength(header.contentType, "utf8"),
    header.size,
  );
  const reservation = await options.segments.reserve(layout.recordBytes, header.key);
  try {
    await streamRecord(options, reservation, layout);
    await reservation.segment.sync();
    await checkWrittenHead(options, reservation);
    return { reservation, layout };
  } catch (err) {
    reservation.segment.endWrite();
    throw isMinikvError(err) ? err : diskError(err, "writing a prepared value failed");
  }
}

async function streamRecord(
  options: PrepareWriteOptions,
  reservation: Reservation,
  layout: RecordLayout,
): Promise<void> {
  const { header } = options;
  const { segment, offset } = reservation;
  const head = encodeRecordHead(
    {
      type: RecordType.PREPARE,
      key: header.key,
      txid: header.txid,
      contentType: header.contentType,
      valueBytes: header.size,
      version: 0,
      createdAtMs: options.createdAtMs,
      prepareSegment: 0,
      valueCrc32c: header.crc32c,
    },
    segment.salt,
  );
  const encoder = new RecordEncoder(head, layout, header.size);
  const out = new CoalescingWriter(segment, offset, Math.min(layout.recordBytes, WRITE_BUFFER_BYTES));
  await out.add(head);
  for await (const chunk of bodyChunks(options.body)) {
    options.checkContinue();
    if (encoder.valueBytesSeen + chunk.length > header.size) {
      throw new MinikvError(
        ErrorCode.SIZE_MISMATCH,
        `value is longer than the declared ${header.size} bytes`,
      );
    }
    encoder.update(chunk);
    await out.add(chunk);
  }
  if (encoder.valueBytesSeen !== header.size) {
    throw new MinikvError(
      ErrorCode.SIZE_MISMATCH,
      `value has ${encoder.valueBytesSeen} bytes; the header declared ${header.size}`,
    );
  }
  if (encoder.valueCrc32c !== header.crc32c >>> 0) {
    throw new MinikvError(ErrorCode.CHECKSUM_MISMATCH, "value CRC32C does not match the header's");
  }
  await out.add(encoder.trailer());
  await out.flush();
  // Pair assertion: exactly the reserved length was written.
  assert(out.position === offset + layout.recordBytes, "record length written matches its layout");
}

/** Bytes a prepare buffers before writing: small records go to disk in one write. */
const WRITE_BUFFER_BYTES = 2 * engineLimits.valueBlockBytes;

/** Collects bytes into writes of a fixed-size buffer at consecutive positions. */
class CoalescingWriter {
  private readonly buffer: Buffer;
  private filled = 0;

  constructor(
    private readonly segment: SegmentFile,
    public position: number,
    bufferBytes: number,
  ) {
    this.buffer = Buffer.allocUnsafe(bufferBytes);
  }

  async add(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) {
      const take = Math.min(bytes.length - at, this.buffer.length - this.filled);
      this.buffer.set(bytes.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === this.buffer.length) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.filled === 0) return;
    await this.segment.write(this.buffer.subarray(0, this.filled), this.position);
    this.position += this.filled;
    this.filled = 0;
  }
}

/** Iterates the body, turning a failing stream into CLIENT_ABORTED. */
async function* bodyChunks(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const iterator = body[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await iterator.next();
      } catch (err) {
        finished = true;
        if (isMinikvError(err)) throw err;
        throw new MinikvError(ErrorCode.CLIENT_ABORTED, "the value stream failed", { cause: err });
      }
      if (step.done === true) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    // Stopped early (size mismatch, abort): let the source release what it holds.
    if (!finished) await iterator.return?.().catch(() => undefined);
  }
}

/** Reads the head back after the fsync: what is on disk is what we meant to write. */
async function checkWrittenHead(options: PrepareWriteOptions, reservation: Reservation): Promise<void> {
  const head = await reservation.segment.readHead(reservation.offset);
  const { header } = options;
  const same =
    typeof head !== "string" &&
    head.key === header.key &&
    head.txid === header.txid &&
    head.valueBytes === header.size &&
    head.valueCrc32c === header.crc32c >>> 0;
  if (!same) {
    throw new MinikvError(
      ErrorCode.DATA_CORRUPT,
      `prepared record did not read back intact (segment ${reservation.segment.number})`,
    );
  }
}
