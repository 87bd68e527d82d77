import { assert } from "../common/errors.js";
import { crc32c } from "../common/hashing.js";
import { limits } from "../common/limits.js";
import { crc32cCombine } from "./crc32c-combine.js";
import { engineLimits } from "./engine-limits.js";

/**
 * The segment record format (docs/volume-format.md, "Segment records"). All integers are
 * little-endian. A record is: a 64-byte fixed header, key, txid and content type, the value,
 * a table of per-block CRC32Cs of the value, and a CRC32C over everything before it, then
 * zero padding to a multiple of 8 bytes.
 */

export const RECORD_MAGIC = 0x52564b4d; // "MKVR" read as a little-endian u32
export const RECORD_FORMAT_VERSION = 1;
export const RECORD_FIXED_HEADER_BYTES = 64;
export const RECORD_ALIGN_BYTES = 8;

export const RecordType = {
  /** A value written by phase one of a write; its fate is decided by a COMMIT or ABORT record. */
  PREPARE: 1,
  /** A committed value carrying its version (what compaction copies live values as). */
  VALUE: 2,
  /** Decision: txid committed at version. Names the segment holding the PREPARE. */
  COMMIT: 3,
  /** Decision: txid aborted. Names the segment holding the PREPARE. */
  ABORT: 4,
  /** Every version of key not newer than version is deleted. */
  TOMBSTONE: 5,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export function isRecordType(value: number): value is RecordType {
  return value >= RecordType.PREPARE && value <= RecordType.TOMBSTONE;
}

/** The fields of a record; strings are stored as UTF-8. */
export interface RecordFields {
  readonly type: RecordType;
  readonly key: string;
  readonly txid: string;
  readonly contentType: string;
  readonly valueBytes: number;
  /** 0 for PREPARE and ABORT. */
  readonly version: number;
  readonly createdAtMs: number;
  /** COMMIT and ABORT: the segment holding the PREPARE record; 0 otherwise. */
  readonly prepareSegment: number;
  /** CRC32C of the value alone (what clients send and checksum() reports). */
  readonly valueCrc32c: number;
}

/** Where each part of a record lies, relative to the record's first byte. */
export interface RecordLayout {
  readonly headBytes: number;
  readonly valueOffset: number;
  readonly blockCount: number;
  readonly tableOffset: number;
  readonly crcOffset: number;
  /** Including padding: the distance to the next record. */
  readonly recordBytes: number;
}

export function blockCountOf(valueBytes: number): number {
  return Math.ceil(valueBytes / engineLimits.valueBlockBytes);
}

export function recordLayout(
  keyBytes: number,
  txidBytes: number,
  contentTypeBytes: number,
  valueBytes: number,
): RecordLayout {
  const headBytes = RECORD_FIXED_HEADER_BYTES + keyBytes + txidBytes + contentTypeBytes;
  const blockCount = blockCountOf(valueBytes);
  const tableOffset = headBytes + valueBytes;
  const crcOffset = tableOffset + 4 * blockCount;
  const recordBytes = alignUp(crcOffset + 4);
  return { headBytes, valueOffset: headBytes, blockCount, tableOffset, crcOffset, recordBytes };
}

export function alignUp(n: number): number {
  return Math.ceil(n / RECORD_ALIGN_BYTES) * RECORD_ALIGN_BYTES;
}

export function layoutOf(fields: RecordFields): RecordLayout {
  return recordLayout(
    Buffer.byteLength(fields.key, "utf8"),
    Buffer.byteLength(fields.txid, "utf8"),
    Buffer.byteLength(fields.contentType, "utf8"),
    fields.valueBytes,
  );
}

/**
 * Encodes the head of a record (fixed header, key, txid, content type) with its header
 * CRC. `salt` is the segment's random salt: a record copied into another segment (or
 * embedded in a stored value) does not parse as a record of this one.
 */
export function encodeRecordHead(fields: RecordFields, salt: number): Buffer {
  const lengths = stringLengthsOf(fields);
  const head = Buffer.allocUnsafe(
    RECORD_FIXED_HEADER_BYTES + lengths.key + lengths.txid + lengths.contentType,
  );
  writeRecordHead(fields, lengths, salt, head);
  return head;
}

interface StringLengths {
  readonly key: number;
  readonly txid: number;
  readonly contentType: number;
}

function stringLengthsOf(fields: RecordFields): StringLengths {
  return {
    key: Buffer.byteLength(fields.key, "utf8"),
    txid: Buffer.byteLength(fields.txid, "utf8"),
    contentType: Buffer.byteLength(fields.contentType, "utf8"),
  };
}

/** Writes the head into `target` from byte 0 (every byte of it: `target` may be uninitialised). */
function writeRecordHead(fields: RecordFields, lengths: StringLengths, salt: number, target: Buffer): void {
  assertFieldsValid(fields, lengths);
  target.writeUInt32LE(RECORD_MAGIC, 0);
  target.writeUInt8(RECORD_FORMAT_VERSION, 4);
  target.writeUInt8(fields.type, 5);
  target.writeUInt16LE(lengths.key, 6);
  target.writeUInt32LE(salt >>> 0, 8);
  target.writeUInt16LE(lengths.txid, 12);
  target.writeUInt16LE(lengths.contentType, 14);
  writeU64(target, 16, fields.valueBytes);
  writeU64(target, 24, fields.version);
  writeU64(target, 32, fields.createdAtMs);
  target.writeUInt32LE(fields.prepareSegment >>> 0, 40);
  target.writeUInt32LE(fields.valueBytes === 0 ? 0 : engineLimits.valueBlockBytes, 44);
  target.writeUInt32LE(fields.valueCrc32c >>> 0, 48);
  // bytes 52..60 are reserved and zero
  target.fill(0, 52, 60);
  let at = RECORD_FIXED_HEADER_BYTES;
  at += target.write(fields.key, at, lengths.key, "utf8");
  at += target.write(fields.txid, at, lengths.txid, "utf8");
  if (lengths.contentType > 0) at += target.write(fields.contentType, at, lengths.contentType, "utf8");
  assert(at === RECORD_FIXED_HEADER_BYTES + lengths.key + lengths.txid + lengths.contentType, "head strings");
  const head = target.subarray(0, at);
  target.writeUInt32LE(headCrcOf(head), 60);
}

function headCrcOf(head: Buffer): number {
  return crc32c(head.subarray(RECORD_FIXED_HEADER_BYTES), crc32c(head.subarray(0, 60)));
}

function assertFieldsValid(fields: RecordFields, lengths: StringLengths): void {
  if (!isRecordType(fields.type)) assert(false, `record type ${Number(fields.type)}`);
  assert(Number.isSafeInteger(fields.valueBytes) && fields.valueBytes >= 0, "valueBytes");
  assert(Number.isSafeInteger(fields.version) && fields.version >= 0, "version");
  assert(Number.isSafeInteger(fields.createdAtMs) && fields.createdAtMs >= 0, "createdAtMs");
  assert(lengths.key <= limits.keyBytesMax, "key length");
  assert(lengths.txid <= engineLimits.txidBytesMax, "txid length");
  assert(lengths.contentType <= limits.contentTypeBytesMax, "content type length");
  const hasValue = fields.type === RecordType.PREPARE || fields.type === RecordType.VALUE;
  assert(hasValue || fields.valueBytes === 0, "decision records carry no value");
}

/** The fixed header's variable lengths, known after the first 64 bytes. */
export interface FixedHeader {
  readonly type: RecordType;
  readonly keyBytes: number;
  readonly txidBytes: number;
  readonly contentTypeBytes: number;
  readonly valueBytes: number;
  readonly headBytes: number;
}

/**
 * Parses the fixed 64 bytes. Returns a reason string when they cannot be the start of a
 * record of this segment (the header CRC is checked by decodeRecordHead, over the whole head).
 */
export function parseFixedHeader(buf: Uint8Array, salt: number): FixedHeader | string {
  if (buf.length < RECORD_FIXED_HEADER_BYTES) return "short header";
  const view = Buffer.from(buf.buffer, buf.byteOffset, RECORD_FIXED_HEADER_BYTES);
  if (view.readUInt32LE(0) !== RECORD_MAGIC) return "bad magic";
  if (view.readUInt8(4) !== RECORD_FORMAT_VERSION) return "unknown format version";
  const type = view.readUInt8(5);
  if (!isRecordType(type)) return "unknown record type";
  if (view.readUInt32LE(8) !== salt >>> 0) return "salt of another segment";
  const keyBytes = view.readUInt16LE(6);
  const txidBytes = view.readUInt16LE(12);
  const contentTypeBytes = view.readUInt16LE(14);
  const valueBytes = readU64(view, 16);
  if (keyBytes > limits.keyBytesMax || txidBytes > engineLimits.txidBytesMax) return "bad lengths";
  if (contentTypeBytes > limits.contentTypeBytesMax) return "bad lengths";
  if (valueBytes === undefined || valueBytes > limits.blobBytesMax) return "bad value length";
  const headBytes = RECORD_FIXED_HEADER_BYTES + keyBytes + txidBytes + contentTypeBytes;
  return { type, keyBytes, txidBytes, contentTypeBytes, valueBytes, headBytes };
}

/** A record head read back from disk and verified against its header CRC. */
export interface DecodedHead extends RecordFields {
  readonly layout: RecordLayout;
  readonly headCrc32c: number;
  /** The head's bytes as stored (a copy; the record CRC starts over them). */
  readonly raw: Buffer;
}

/** Decodes and verifies a record head (`buf` holds at least the head). Reason string if invalid. */
export function decodeRecordHead(buf: Uint8Array, salt: number): DecodedHead | string {
  const fixed = parseFixedHeader(buf, salt);
  if (typeof fixed === "string") return fixed;
  if (buf.length < fixed.headBytes) return "short head";
  const head = Buffer.from(buf.buffer, buf.byteOffset, fixed.headBytes);
  const headCrc32c = head.readUInt32LE(60);
  if (headCrcOf(head) !== headCrc32c) return "header CRC mismatch";
  const version = readU64(head, 24);
  const createdAtMs = readU64(head, 32);
  if (version === undefined || createdAtMs === undefined) return "bad header field";
  const blockBytes = head.readUInt32LE(44);
  if (blockBytes !== (fixed.valueBytes === 0 ? 0 : engineLimits.valueBlockBytes)) return "bad block size";
  if (head.readUInt32LE(52) !== 0 || head.readUInt32LE(56) !== 0) return "reserved bytes set";
  const hasValue = fixed.type === RecordType.PREPARE || fixed.type === RecordType.VALUE;
  if (!hasValue && fixed.valueBytes !== 0) return "decision record with a value";
  let at = RECORD_FIXED_HEADER_BYTES;
  const key = head.toString("utf8", at, (at += fixed.keyBytes));
  const txid = head.toString("utf8", at, (at += fixed.txidBytes));
  const contentType = head.toString("utf8", at, (at += fixed.contentTypeBytes));
  return {
    type: fixed.type,
    key,
    txid,
    contentType,
    valueBytes: fixed.valueBytes,
    version,
    createdAtMs,
    prepareSegment: head.readUInt32LE(40),
    valueCrc32c: head.readUInt32LE(48),
    layout: recordLayout(fixed.keyBytes, fixed.txidBytes, fixed.contentTypeBytes, fixed.valueBytes),
    headCrc32c,
    raw: Buffer.from(head),
  };
}

/**
 * The CRCs of a value streamed in chunks, in one pass over its bytes: the CRC32C of each
 * 64 KiB block (the record's block table) and, combined from those, the CRC32C of the whole
 * value and of value ‖ block table (the part of the record CRC after the head). Holds one
 * u32 per block, never the value, so the value's length need not be known in advance.
 */
export class ValueDigest {
  private valueCrc = 0;
  private blockCrc = 0;
  private blockFill = 0;
  private valueSeen = 0;
  private readonly blockCrcs: number[] = [];
  private closed = false;

  get valueBytesSeen(): number {
    return this.valueSeen;
  }

  /** CRC32C of the value bytes seen so far. */
  get valueCrc32c(): number {
    return this.blockFill === 0 ? this.valueCrc : crc32cCombine(this.valueCrc, this.blockCrc, this.blockFill);
  }

  update(chunk: Uint8Array): void {
    assert(!this.closed, "value digest updated after its table was taken");
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(chunk.length - at, engineLimits.valueBlockBytes - this.blockFill);
      this.blockCrc = crc32c(chunk.subarray(at, at + take), this.blockCrc);
      this.blockFill += take;
      at += take;
      if (this.blockFill === engineLimits.valueBlockBytes) this.closeBlock();
    }
    this.valueSeen += chunk.length;
  }

  private closeBlock(): void {
    this.valueCrc = crc32cCombine(this.valueCrc, this.blockCrc, this.blockFill);
    this.blockCrcs.push(this.blockCrc);
    this.blockCrc = 0;
    this.blockFill = 0;
  }

  /**
   * Ends the value: the bytes after it (block CRC table, record CRC, zero padding) for a
   * record with `head`, whose CRC is combined with the value's — so the head may be
   * encoded only now, after the value has streamed (its value CRC and length known).
   */
  trailer(head: Uint8Array, layout: RecordLayout): Buffer {
    if (this.blockFill > 0) this.closeBlock();
    this.closed = true;
    assert(layout.headBytes === head.length, "head length matches the layout");
    assert(layout.tableOffset - layout.valueOffset === this.valueSeen, "value length matches the layout");
    assert(this.blockCrcs.length === layout.blockCount, "block count");
    // allocUnsafe: small sizes come from Node's shared pool (Buffer.alloc makes an
    // ArrayBuffer each time); the zero fill keeps the padding zero.
    const trailer = Buffer.allocUnsafe(layout.recordBytes - layout.tableOffset).fill(0);
    this.blockCrcs.forEach((crc, i) => trailer.writeUInt32LE(crc, 4 * i));
    const tableBytes = 4 * this.blockCrcs.length;
    const afterHeadCrc = crc32c(trailer.subarray(0, tableBytes), this.valueCrc);
    const recordCrc = crc32cCombine(crc32c(head), afterHeadCrc, this.valueSeen + tableBytes);
    trailer.writeUInt32LE(recordCrc, tableBytes);
    return trailer;
  }
}

/**
 * Incrementally builds a record whose head is known before its value (compaction copies,
 * in-memory records): feed the value bytes in order, then take the trailer.
 */
export class RecordEncoder {
  private readonly digest = new ValueDigest();

  constructor(
    readonly head: Buffer,
    readonly layout: RecordLayout,
    private readonly valueBytesExpected: number,
  ) {}

  get valueBytesSeen(): number {
    return this.digest.valueBytesSeen;
  }

  get valueCrc32c(): number {
    return this.digest.valueCrc32c;
  }

  /** Adds value bytes; the caller checks the total against the expected size first. */
  update(chunk: Uint8Array): void {
    assert(
      this.digest.valueBytesSeen + chunk.length <= this.valueBytesExpected,
      "value longer than declared",
    );
    this.digest.update(chunk);
  }

  /** The bytes after the value: block CRC table, record CRC, zero padding. */
  trailer(): Buffer {
    assert(this.digest.valueBytesSeen === this.valueBytesExpected, "value shorter than declared");
    return this.digest.trailer(this.head, this.layout);
  }
}

/** Encodes a whole record in memory (decision records, small values, tests). */
export function encodeRecord(fields: RecordFields, value: Uint8Array, salt: number): Buffer {
  assert(value.length === fields.valueBytes, "value length matches the header");
  if (value.length === 0) return encodeValuelessRecord(fields, salt);
  const head = encodeRecordHead(fields, salt);
  const layout = layoutOf(fields);
  const encoder = new RecordEncoder(head, layout, fields.valueBytes);
  encoder.update(value);
  return Buffer.concat([head, value, encoder.trailer()]);
}

/**
 * A record without a value (decisions, empty values) in one buffer: no block table, so the
 * record CRC covers the head alone.
 */
function encodeValuelessRecord(fields: RecordFields, salt: number): Buffer {
  const lengths = stringLengthsOf(fields);
  const layout = recordLayout(lengths.key, lengths.txid, lengths.contentType, 0);
  assert(layout.crcOffset === layout.headBytes, "a valueless record has no block table");
  // allocUnsafe: from Node's shared pool; the head covers its bytes, the rest is zeroed.
  const record = Buffer.allocUnsafe(layout.recordBytes);
  writeRecordHead(fields, lengths, salt, record);
  record.fill(0, layout.headBytes);
  record.writeUInt32LE(crc32c(record.subarray(0, layout.crcOffset)), layout.crcOffset);
  return record;
}

/** A whole record decoded and verified: every CRC and the padding checked. */
export interface DecodedRecord extends DecodedHead {
  readonly value: Buffer;
}

/** Decodes a whole record held in memory; a reason string when any check fails. */
export function decodeRecord(buf: Uint8Array, salt: number): DecodedRecord | string {
  const head = decodeRecordHead(buf, salt);
  if (typeof head === "string") return head;
  const { layout } = head;
  if (buf.length < layout.recordBytes) return "short record";
  const record = Buffer.from(buf.buffer, buf.byteOffset, layout.recordBytes);
  const problem = verifyRecordBody(record, head);
  if (problem !== undefined) return problem;
  return { ...head, value: record.subarray(layout.valueOffset, layout.tableOffset) };
}

/** Checks value CRC, block table, record CRC and padding of a record held in memory. */
export function verifyRecordBody(record: Buffer, head: DecodedHead): string | undefined {
  const { layout } = head;
  const value = record.subarray(layout.valueOffset, layout.tableOffset);
  if (crc32c(value) !== head.valueCrc32c) return "value CRC mismatch";
  for (let i = 0; i < layout.blockCount; i++) {
    const start = i * engineLimits.valueBlockBytes;
    const block = value.subarray(start, start + engineLimits.valueBlockBytes);
    if (crc32c(block) !== record.readUInt32LE(layout.tableOffset + 4 * i)) return "block CRC mismatch";
  }
  if (crc32c(record.subarray(0, layout.crcOffset)) !== record.readUInt32LE(layout.crcOffset)) {
    return "record CRC mismatch";
  }
  for (let i = layout.crcOffset + 4; i < layout.recordBytes; i++) {
    if (record[i] !== 0) return "padding not zero";
  }
  return undefined;
}

/** Writes a non-negative safe integer as a u64. */
export function writeU64(buf: Buffer, offset: number, value: number): void {
  // The message is built only on failure: this runs several times per write.
  if (!Number.isSafeInteger(value) || value < 0) assert(false, `u64 field ${value}`);
  buf.writeUInt32LE(value % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

/** Reads a u64; undefined when it does not fit a safe integer (never written by us). */
export function readU64(buf: Buffer, offset: number): number | undefined {
  const high = buf.readUInt32LE(offset + 4);
  if (high > 0x1f_ffff) return undefined;
  return high * 0x1_0000_0000 + buf.readUInt32LE(offset);
}
