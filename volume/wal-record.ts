import { assert } from "../common/errors.js";
import { crc32c } from "../common/hashing.js";
import { ByteReader, FormatError } from "./byte-buffer.js";
import { writeU64 } from "./record-codec.js";

/**
 * WAL records (docs/volume-format.md, "WAL"): a 16-byte frame header — magic "MKVW",
 * format version, type, two zero bytes, payload length, CRC32C over the first 12 header
 * bytes and the payload — then the payload.
 */

export const WAL_RECORD_MAGIC = 0x57564b4d; // "MKVW" read as a little-endian u32
export const WAL_FORMAT_VERSION = 1;
export const WAL_FRAME_BYTES = 16;
/** No WAL payload is larger (keys, txids and content types are bounded). */
export const WAL_PAYLOAD_BYTES_MAX = 4096;

export const WalRecordType = { PREPARE: 1, COMMIT: 2, ABORT: 3, DELETE: 4 } as const;

/** A prepared value: its bytes are fsynced in `segment` at `offset` before this is logged. */
export interface WalPrepare {
  readonly type: "prepare";
  readonly txid: string;
  readonly key: string;
  readonly contentType: string;
  readonly segment: number;
  readonly offset: number;
  readonly valueBytes: number;
  readonly valueCrc32c: number;
  readonly createdAtMs: number;
}

export interface WalCommit {
  readonly type: "commit";
  readonly txid: string;
  readonly version: number;
  readonly atMs: number;
}

export interface WalAbort {
  readonly type: "abort";
  readonly txid: string;
  readonly atMs: number;
}

export interface WalDelete {
  readonly type: "delete";
  readonly key: string;
  readonly version: number;
  readonly atMs: number;
}

export type WalEntry = WalPrepare | WalCommit | WalAbort | WalDelete;

const TYPE_OF = {
  prepare: WalRecordType.PREPARE,
  commit: WalRecordType.COMMIT,
  abort: WalRecordType.ABORT,
  delete: WalRecordType.DELETE,
} as const;

function str16Bytes(value: string): number {
  return 2 + Buffer.byteLength(value, "utf8");
}

function payloadBytesOf(entry: WalEntry): number {
  switch (entry.type) {
    case "prepare":
      return 32 + str16Bytes(entry.txid) + str16Bytes(entry.key) + str16Bytes(entry.contentType);
    case "commit":
      return 16 + str16Bytes(entry.txid);
    case "abort":
      return 8 + str16Bytes(entry.txid);
    case "delete":
      return 16 + str16Bytes(entry.key);
  }
}

/** Writes the payload from `at`; returns where it ends. */
function encodePayload(entry: WalEntry, buf: Buffer, at: number): number {
  switch (entry.type) {
    case "prepare":
      at = buf.writeUInt32LE(entry.segment >>> 0, at);
      at = putU64(buf, at, entry.offset);
      at = putU64(buf, at, entry.valueBytes);
      at = buf.writeUInt32LE(entry.valueCrc32c >>> 0, at);
      at = putU64(buf, at, entry.createdAtMs);
      at = putStr16(buf, at, entry.txid);
      at = putStr16(buf, at, entry.key);
      return putStr16(buf, at, entry.contentType);
    case "commit":
      at = putU64(buf, at, entry.version);
      at = putU64(buf, at, entry.atMs);
      return putStr16(buf, at, entry.txid);
    case "abort":
      at = putU64(buf, at, entry.atMs);
      return putStr16(buf, at, entry.txid);
    case "delete":
      at = putU64(buf, at, entry.version);
      at = putU64(buf, at, entry.atMs);
      return putStr16(buf, at, entry.key);
  }
}

function putU64(buf: Buffer, at: number, value: number): number {
  writeU64(buf, at, value);
  return at + 8;
}

/** A UTF-8 string with a u16 byte length (the record is sized for it: see payloadBytesOf). */
function putStr16(buf: Buffer, at: number, value: string): number {
  const bytes = value.length === 0 ? 0 : buf.write(value, at + 2, "utf8");
  buf.writeUInt16LE(bytes, at);
  return at + 2 + bytes;
}

/** Encodes one framed WAL record (sized up front: one buffer, written in place). */
export function encodeWalRecord(entry: WalEntry): Buffer {
  const payloadBytes = payloadBytesOf(entry);
  const record = Buffer.allocUnsafe(WAL_FRAME_BYTES + payloadBytes);
  record.writeUInt32LE(WAL_RECORD_MAGIC, 0);
  record.writeUInt8(WAL_FORMAT_VERSION, 4);
  record.writeUInt8(TYPE_OF[entry.type], 5);
  record.writeUInt16LE(0, 6);
  record.writeUInt32LE(payloadBytes, 8);
  const end = encodePayload(entry, record, WAL_FRAME_BYTES);
  assert(end === record.length, "WAL record length matches its fields");
  record.writeUInt32LE(frameCrc(record, payloadBytes), 12);
  return record;
}

function frameCrc(record: Buffer, payloadBytes: number): number {
  const payload = record.subarray(WAL_FRAME_BYTES, WAL_FRAME_BYTES + payloadBytes);
  return crc32c(payload, crc32c(record.subarray(0, 12)));
}

function decodePayload(type: number, r: ByteReader): WalEntry {
  switch (type) {
    case WalRecordType.PREPARE: {
      const segment = r.u32();
      const offset = r.u64();
      const valueBytes = r.u64();
      const valueCrc32c = r.u32();
      const createdAtMs = r.u64();
      const txid = r.str16();
      const key = r.str16();
      const contentType = r.str16();
      return {
        type: "prepare",
        txid,
        key,
        contentType,
        segment,
        offset,
        valueBytes,
        valueCrc32c,
        createdAtMs,
      };
    }
    case WalRecordType.COMMIT: {
      const version = r.u64();
      const atMs = r.u64();
      return { type: "commit", version, atMs, txid: r.str16() };
    }
    case WalRecordType.ABORT: {
      const atMs = r.u64();
      return { type: "abort", atMs, txid: r.str16() };
    }
    case WalRecordType.DELETE: {
      const version = r.u64();
      const atMs = r.u64();
      return { type: "delete", version, atMs, key: r.str16() };
    }
    default:
      throw new FormatError(`unknown WAL record type ${type}`);
  }
}

export type WalDecodeResult =
  { readonly entry: WalEntry; readonly recordBytes: number } | { readonly problem: string };

/** Decodes the record at `at` in `buf`, checking frame, CRC and that the payload is consumed. */
export function decodeWalRecord(buf: Buffer, at: number): WalDecodeResult {
  if (buf.length - at < WAL_FRAME_BYTES) return { problem: "truncated frame" };
  if (buf.readUInt32LE(at) !== WAL_RECORD_MAGIC) return { problem: "bad magic" };
  if (buf.readUInt8(at + 4) !== WAL_FORMAT_VERSION) return { problem: "unknown format version" };
  const payloadBytes = buf.readUInt32LE(at + 8);
  if (payloadBytes > WAL_PAYLOAD_BYTES_MAX) return { problem: "payload too long" };
  if (buf.length - at < WAL_FRAME_BYTES + payloadBytes) return { problem: "truncated payload" };
  const record = buf.subarray(at, at + WAL_FRAME_BYTES + payloadBytes);
  if (record.readUInt16LE(6) !== 0) return { problem: "reserved bytes set" };
  if (frameCrc(record, payloadBytes) !== record.readUInt32LE(12)) return { problem: "CRC mismatch" };
  const reader = new ByteReader(record, WAL_FRAME_BYTES);
  try {
    const entry = decodePayload(record.readUInt8(4 + 1), reader);
    if (reader.remaining !== 0) return { problem: "payload longer than its fields" };
    return { entry, recordBytes: record.length };
  } catch (err) {
    if (err instanceof FormatError) return { problem: err.message };
    throw err;
  }
}
