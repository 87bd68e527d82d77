import { ErrorCode, MinikvError, assert, isMinikvError } from "../common/errors.js";
import { engineLimits } from "./engine-limits.js";
import type { SegmentFile } from "./segment-file.js";
import { SEGMENT_FILE_HEADER_BYTES } from "./segment-file.js";
import type { PrepareHeader } from "./store-api.js";
import {
  RECORD_FIXED_HEADER_BYTES,
  RecordType,
  ValueDigest,
  encodeRecordHead,
  recordLayout,
} from "./record-codec.js";
import type { RecordLayout } from "./record-codec.js";
import type { Reservation, SegmentSet } from "./segment-set.js";
import { diskError } from "./durable-fs.js";

/**
 * Phase one of a write, on disk (docs/volume-format.md, "Writing a prepare"). The value
 * streams in with bounded memory (one write buffer; the body is pulled chunk by chunk, so
 * a slow disk slows the sender) while its CRCs are computed in the same pass; the record's
 * head is written last, once the value's length and CRC32C are known, so a sender may
 * leave both to the volume. The caller's WAL append makes the record durable in the WAL's
 * group-commit round, in parallel with the WAL record (replay keeps the prepare only if the
 * record verifies whole).
 *
 * - Known size: the record's full length is reserved in the active segment up front. A
 *   record that fits one write buffer is built whole in memory and handed back unwritten:
 *   the WAL round writes it (O_DSYNC). A larger one streams into place and its head, written
 *   last, is read back; the WAL round fsyncs the segment.
 * - Unknown size: the body is buffered up to `engineLimits.unsizedInlineBytesMax`; a body
 *   that ends by then is written like a sized one. A longer one gets a segment of its own
 *   (`seg-N.dat.streaming`, renamed into place once complete).
 *
 * On success the segment still counts its writer in: the caller ends it once the WAL
 * record is applied. On failure it is ended here and the space is garbage.
 */

export interface PreparedRecord {
  readonly reservation: Reservation;
  readonly layout: RecordLayout;
  /** The stored value's length and CRC32C (computed over the bytes written). */
  readonly size: number;
  readonly crc32c: number;
  /**
   * A record that fit one write buffer, whole and not yet written: the caller writes it
   * durably at the reservation in the WAL PREPARE's group-commit round. Undefined: the
   * record is written, and the caller fsyncs its segment in that round.
   */
  readonly unwritten: Buffer | undefined;
}

export interface PrepareWriteOptions {
  readonly header: PrepareHeader;
  readonly body: AsyncIterable<Uint8Array>;
  readonly createdAtMs: number;
  readonly segments: SegmentSet;
  /** Throws to stop the write (abort of the txid, shutdown); checked between chunks. */
  readonly checkContinue: () => void;
  /** Longest value of unknown size accepted; longer streams fail with TOO_LARGE. */
  readonly valueBytesMax: number;
  /** Free bytes on the data disk at last look (undefined: unknown); a longer value of unknown size fails with DISK_FULL. */
  readonly freeBytes: number | undefined;
}

export function writePreparedValue(options: PrepareWriteOptions): Promise<PreparedRecord> {
  const { header } = options;
  if (header.sizeUnknown !== true && fitsWhole(header, header.size)) {
    return buildWhole(options, header.size, options.body);
  }
  return writeStreamed(options);
}

function fitsWhole(header: PrepareHeader, size: number): boolean {
  return layoutFor(header, size).recordBytes <= engineLimits.prepareWriteBufferBytes;
}

async function writeStreamed(options: PrepareWriteOptions): Promise<PreparedRecord> {
  const chunks = bodyChunks(options.body);
  try {
    if (options.header.sizeUnknown !== true) return await writeSized(options, options.header.size, chunks);
    const prefix = await bufferPrefix(options, chunks);
    if (prefix.ended && fitsWhole(options.header, prefix.bytes)) {
      return await buildWhole(options, prefix.bytes, replay(prefix.chunks));
    }
    if (prefix.ended) return await writeSized(options, prefix.bytes, replay(prefix.chunks));
    return await writeOwnSegment(options, prefix.chunks, chunks);
  } finally {
    // Stopped early: lets the body's source release what it holds (a no-op once it ended).
    await chunks.return(undefined).catch(() => undefined);
  }
}

// ---- values of known size: a reservation in the active segment ---------------------------

/** Writes up to this long (heads, short tails) of concurrent streamed prepares share writes. */
const WRITE_SHARED_BYTES_MAX = 16 * 1024;

/**
 * A record that fits one write buffer (the common small write), built whole in memory: the
 * value is copied in as it arrives (the sender may reuse a chunk once the next is asked
 * for), then the trailer and the head. Nothing is written here: the caller's WAL round
 * writes it together with the other records of the round (one O_DSYNC write per run of
 * adjacent records), in parallel with the WAL PREPARE.
 */
async function buildWhole(
  options: PrepareWriteOptions,
  size: number,
  body: AsyncIterable<Uint8Array>,
): Promise<PreparedRecord> {
  const { header, segments } = options;
  const layout = layoutFor(header, size);
  const reservation =
    segments.tryReserve(layout.recordBytes, header.key) ??
    (await segments.reserve(layout.recordBytes, header.key));
  const { segment } = reservation;
  try {
    const record = recordBuffer(layout.recordBytes);
    const digest = new ValueDigest();
    await pullBody(body, (chunk) => {
      options.checkContinue();
      checkNotLonger(digest, chunk, size);
      record.set(chunk, layout.valueOffset + digest.valueBytesSeen);
      digest.update(chunk);
    });
    const crc32c = checkedValueCrc(header, digest, size);
    const head = encodePrepareHead(options, digest, segment);
    const trailer = digest.trailer(head, layout);
    // Pair assertion: the parts fill exactly the reserved length.
    assert(layout.tableOffset + trailer.length === record.length, "record length matches its layout");
    head.copy(record, 0);
    trailer.copy(record, layout.tableOffset);
    return { reservation, layout, size, crc32c, unwritten: record };
  } catch (err) {
    segment.endWrite();
    throw isMinikvError(err) ? err : diskError(err, "writing a prepared value failed");
  }
}

/**
 * Small whole records are carved from shared slabs: Node gives a buffer of 4 KiB or more
 * its own ArrayBuffer (an allocation, and external memory the GC is told about), which
 * at tens of thousands of prepares a second costs more than the copy into it. A slab is
 * freed once all its records are; records are short-lived (until their WAL round), and a
 * slow prepare pins at most one slab.
 */
const RECORD_SLAB_BYTES = 64 * 1024;
const SLAB_RECORD_BYTES_MAX = 8 * 1024;
let slab = Buffer.allocUnsafe(0);
let slabUsed = 0;

function recordBuffer(bytes: number): Buffer {
  if (bytes > SLAB_RECORD_BYTES_MAX) return Buffer.allocUnsafe(bytes);
  if (slabUsed + bytes > slab.length) {
    slab = Buffer.allocUnsafeSlow(RECORD_SLAB_BYTES);
    slabUsed = 0;
  }
  const record = slab.subarray(slabUsed, slabUsed + bytes);
  slabUsed += bytes;
  return record;
}

function checkNotLonger(digest: ValueDigest, chunk: Uint8Array, size: number): void {
  if (digest.valueBytesSeen + chunk.length > size) {
    throw new MinikvError(ErrorCode.SIZE_MISMATCH, `value is longer than the declared ${size} bytes`);
  }
}

/** The value's CRC32C once it is whole, checked against the declared length and CRC. */
function checkedValueCrc(header: PrepareHeader, digest: ValueDigest, size: number): number {
  if (digest.valueBytesSeen !== size) {
    throw new MinikvError(
      ErrorCode.SIZE_MISMATCH,
      `value has ${digest.valueBytesSeen} bytes; the header declared ${size}`,
    );
  }
  const crc32c = digest.valueCrc32c;
  if (header.crc32cUnknown !== true && header.sizeUnknown !== true && crc32c !== header.crc32c >>> 0) {
    throw new MinikvError(ErrorCode.CHECKSUM_MISMATCH, "value CRC32C does not match the header's");
  }
  return crc32c;
}

async function writeSized(
  options: PrepareWriteOptions,
  size: number,
  chunks: AsyncIterable<Uint8Array>,
): Promise<PreparedRecord> {
  const { header } = options;
  const layout = layoutFor(header, size);
  const reservation =
    options.segments.tryReserve(layout.recordBytes, header.key) ??
    (await options.segments.reserve(layout.recordBytes, header.key));
  const { segment, offset } = reservation;
  const out = new HeadLastWriter(segment, offset, layout.headBytes, writeBufferBytesFor(layout.recordBytes));
  try {
    const digest = new ValueDigest();
    for await (const chunk of chunks) {
      options.checkContinue();
      checkNotLonger(digest, chunk, size);
      digest.update(chunk);
      await out.add(chunk);
    }
    const crc32c = checkedValueCrc(header, digest, size);
    const head = await finishRecord(options, out, digest, layout, segment);
    // Pair assertion: exactly the reserved length was written.
    assert(out.end === offset + layout.recordBytes, "record length written matches its layout");
    await checkWrittenHead(reservation, head);
    return { reservation, layout, size, crc32c, unwritten: undefined };
  } catch (err) {
    await out.settle();
    segment.endWrite();
    throw isMinikvError(err) ? err : diskError(err, "writing a prepared value failed");
  }
}

/** Encodes the head now that length and CRC are known; writes trailer, then head (returned). */
async function finishRecord(
  options: PrepareWriteOptions,
  out: HeadLastWriter,
  digest: ValueDigest,
  layout: RecordLayout,
  segment: SegmentFile,
): Promise<Buffer> {
  const head = encodePrepareHead(options, digest, segment);
  await out.add(digest.trailer(head, layout));
  await out.finish(head);
  return head;
}

function encodePrepareHead(options: PrepareWriteOptions, digest: ValueDigest, segment: SegmentFile): Buffer {
  const { header } = options;
  return encodeRecordHead(
    {
      type: RecordType.PREPARE,
      key: header.key,
      txid: header.txid,
      contentType: header.contentType,
      valueBytes: digest.valueBytesSeen,
      version: 0,
      createdAtMs: options.createdAtMs,
      prepareSegment: 0,
      valueCrc32c: digest.valueCrc32c,
    },
    segment.salt,
  );
}

function layoutFor(header: PrepareHeader, size: number): RecordLayout {
  return recordLayout(
    Buffer.byteLength(header.key, "utf8"),
    Buffer.byteLength(header.txid, "utf8"),
    Buffer.byteLength(header.contentType, "utf8"),
    size,
  );
}

// ---- values of unknown size --------------------------------------------------------------

interface BufferedPrefix {
  readonly chunks: Uint8Array[];
  readonly bytes: number;
  /** The whole body fit: its length is now known. */
  readonly ended: boolean;
}

/** Reads the body until it ends or passes `unsizedInlineBytesMax`. */
async function bufferPrefix(
  options: PrepareWriteOptions,
  chunks: AsyncIterator<Uint8Array>,
): Promise<BufferedPrefix> {
  const held: Uint8Array[] = [];
  let bytes = 0;
  while (bytes <= engineLimits.unsizedInlineBytesMax) {
    const step = await chunks.next();
    if (step.done === true) return { chunks: held, bytes, ended: true };
    options.checkContinue();
    checkUnsizedRoom(options, bytes + step.value.length);
    // A copy: the sender may reuse its buffer once the next chunk is asked for.
    held.push(Buffer.from(step.value));
    bytes += step.value.length;
  }
  return { chunks: held, bytes, ended: false };
}

// eslint-disable-next-line @typescript-eslint/require-await -- an async iterable over held chunks
async function* replay(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

function checkUnsizedRoom(options: PrepareWriteOptions, valueBytes: number): void {
  if (valueBytes > options.valueBytesMax) {
    throw new MinikvError(
      ErrorCode.TOO_LARGE,
      `value is longer than the limit of ${options.valueBytesMax} bytes`,
    );
  }
  if (options.freeBytes !== undefined && valueBytes > options.freeBytes) {
    throw new MinikvError(ErrorCode.DISK_FULL, `no room for more than ${options.freeBytes} bytes`);
  }
}

/**
 * A value whose length is known only at its end: its own segment, the record at the first
 * record offset, the head written last; renamed into place once complete and fsynced.
 */
async function writeOwnSegment(
  options: PrepareWriteOptions,
  prefix: readonly Uint8Array[],
  rest: AsyncIterator<Uint8Array>,
): Promise<PreparedRecord> {
  const { header, segments } = options;
  const segment = await segments.createStreaming();
  let adopted = false;
  const offset = SEGMENT_FILE_HEADER_BYTES;
  const headBytes = layoutFor(header, 0).headBytes;
  const out = new HeadLastWriter(segment, offset, headBytes, engineLimits.prepareStreamBufferBytes, true);
  try {
    const digest = new ValueDigest();
    const take = async (chunk: Uint8Array): Promise<void> => {
      options.checkContinue();
      checkUnsizedRoom(options, digest.valueBytesSeen + chunk.length);
      digest.update(chunk);
      await out.add(chunk);
    };
    for (const chunk of prefix) await take(chunk);
    for (let step = await rest.next(); step.done !== true; step = await rest.next()) await take(step.value);
    const size = digest.valueBytesSeen;
    const crc32c = digest.valueCrc32c;
    const layout = layoutFor(header, size);
    const head = await finishRecord(options, out, digest, layout, segment);
    assert(out.end === offset + layout.recordBytes, "record length written matches its layout");
    await segment.sync();
    await segments.adoptStreamed(segment, header.key);
    adopted = true;
    const reservation = { segment, offset };
    await checkWrittenHead(reservation, head);
    return { reservation, layout, size, crc32c, unwritten: undefined };
  } catch (err) {
    await out.settle();
    segment.endWrite();
    // Before adoption the file is still `.streaming`: delete it. After, it is garbage.
    if (!adopted) await segments.discardStreaming(segment).catch(() => undefined);
    throw isMinikvError(err) ? err : diskError(err, "writing a prepared value failed");
  }
}

// ---- writing ---------------------------------------------------------------------------

/**
 * A record that fits `prepareWriteBufferBytes` is written in one write; a larger one
 * streams through two buffers of `prepareStreamBufferBytes` (fewer, larger writes).
 */
function writeBufferBytesFor(recordBytes: number): number {
  return recordBytes <= engineLimits.prepareWriteBufferBytes
    ? recordBytes
    : engineLimits.prepareStreamBufferBytes;
}

/**
 * Collects a record's bytes after its head into writes of a fixed-size buffer at
 * consecutive positions, leaving room for the head; finish() writes the head — in the
 * same write as the rest when the whole record fit the buffer. A record larger than one
 * buffer is double-buffered: one write is in flight while the next buffer fills, so the
 * disk and the CPU (receiving, checksumming) overlap. Every `prepareWriteBehindBytes`
 * written, an fsync of the segment starts in the background (write-behind), so the disk
 * works while the value streams and the fsync that makes the prepare durable finds little
 * left to write; its outcome is awaited by finish().
 */
class HeadLastWriter {
  private buffer: Buffer;
  /** The other buffer, free once `inFlight` settles (allocated on the first flush). */
  private spare: Buffer | undefined;
  private inFlight: Promise<void> | undefined;
  /** Bytes whose write completed since the last write-behind fsync started. */
  private writtenSinceSync = 0;
  private pendingBytes = 0;
  private behind: Promise<void> | undefined;
  /** File position of buffer[0]. */
  private position: number;
  /** Where the unwritten bytes of the buffer start (the head's room, at first). */
  private from: number;
  private filled: number;
  private flushedOnce = false;

  constructor(
    private readonly segment: SegmentFile,
    private readonly recordOffset: number,
    private readonly headBytes: number,
    bufferBytes: number,
    /** The record's length is unknown: reserve the segment's space as bytes arrive. */
    private readonly growing = false,
  ) {
    assert(bufferBytes >= RECORD_FIXED_HEADER_BYTES, "write buffer holds a fixed header");
    this.buffer = Buffer.allocUnsafe(Math.max(bufferBytes, headBytes));
    this.position = recordOffset;
    this.from = headBytes;
    this.filled = headBytes;
  }

  /** File position after the last byte added. */
  get end(): number {
    return this.position + this.filled;
  }

  async add(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) {
      // Flushed only when more bytes come: a record that fits is written whole by finish().
      if (this.filled === this.buffer.length) await this.flush();
      const take = Math.min(bytes.length - at, this.buffer.length - this.filled);
      this.buffer.set(bytes.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
    }
  }

  /**
   * Starts writing the buffer and switches to the spare one (after the previous write);
   * the last flush keeps the buffer (no spare is needed for a record written whole).
   */
  private async flush(last = false): Promise<void> {
    const bytes = this.buffer.subarray(this.from, this.filled);
    const position = this.position + this.from;
    await this.inFlight;
    this.inFlight = undefined;
    this.writtenSinceSync += this.pendingBytes;
    this.pendingBytes = bytes.length;
    if (this.writtenSinceSync >= engineLimits.prepareWriteBehindBytes) this.startWriteBehind();
    if (bytes.length > 0) {
      const write = this.writeAt(bytes, position);
      // Observed here so a failure is never unhandled; awaited (and thrown) by the next flush.
      write.catch(() => undefined);
      this.inFlight = write;
      this.flushedOnce = true;
    }
    this.position += this.filled;
    this.from = 0;
    this.filled = 0;
    if (last) return;
    const next = this.spare ?? Buffer.allocUnsafe(this.buffer.length);
    this.spare = this.buffer;
    this.buffer = next;
  }

  /** Starts a background fsync unless one is still running (it then covers less). */
  private startWriteBehind(): void {
    if (this.behind !== undefined) return;
    this.writtenSinceSync = 0;
    const sync = this.segment.sync().finally(() => {
      if (this.behind === sync) this.behind = undefined;
    });
    // Observed here so a failure is never unhandled; finish() awaits it (and throws).
    sync.catch(() => undefined);
    this.behind = sync;
  }

  /** Writes what is buffered and the head; resolves once every write is done. */
  async finish(head: Buffer): Promise<void> {
    assert(head.length === this.headBytes, "head length");
    if (!this.flushedOnce && this.position === this.recordOffset) {
      head.copy(this.buffer, 0);
      this.from = 0;
    }
    const whole = this.from === 0 && this.position === this.recordOffset;
    await this.flush(true);
    await this.inFlight;
    if (!whole) await this.writeAt(head, this.recordOffset);
    await this.behind;
  }

  /** Waits for a write or fsync still in flight, ignoring its outcome (on a failure path). */
  async settle(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    await this.behind?.catch(() => undefined);
  }

  private async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    const end = position + bytes.length;
    if (this.growing && end > this.segment.end) this.segment.reserve(end - this.segment.end);
    // Small writes (heads, short tails) of concurrent prepares share writes.
    if (bytes.length <= WRITE_SHARED_BYTES_MAX) await this.segment.writeShared(bytes, position);
    else await this.segment.write(bytes, position);
  }
}

/**
 * Hands every chunk of the body to `take`, in order, turning a failing stream into
 * CLIENT_ABORTED; when `take` throws, the body's source is told to stop (it may release
 * what it holds).
 */
async function pullBody(body: AsyncIterable<Uint8Array>, take: (chunk: Uint8Array) => void): Promise<void> {
  const iterator = body[Symbol.asyncIterator]();
  for (;;) {
    let step: IteratorResult<Uint8Array>;
    try {
      step = await iterator.next();
    } catch (err) {
      if (isMinikvError(err)) throw err;
      throw new MinikvError(ErrorCode.CLIENT_ABORTED, "the value stream failed", { cause: err });
    }
    if (step.done === true) return;
    try {
      take(step.value);
    } catch (err) {
      await iterator.return?.().catch(() => undefined);
      throw err;
    }
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

/**
 * Reads the head back: what the file holds is what we meant to write, byte for byte (the
 * head was checked as it was encoded; equal bytes decode to the same fields).
 */
async function checkWrittenHead(reservation: Reservation, head: Buffer): Promise<void> {
  const stored = await reservation.segment.readShared(reservation.offset, head.length);
  if (!stored.equals(head)) {
    throw new MinikvError(
      ErrorCode.DATA_CORRUPT,
      `prepared record did not read back intact (segment ${reservation.segment.number})`,
    );
  }
}
