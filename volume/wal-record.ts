import { crc32c } from "../common/hashing.js";
import { ByteReader, ByteWriter, FormatError } from "./byte-buffer.js";

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

function encodePayload(entry: WalEntry, w: ByteWriter): number {
  switch (entry.type) {
    case "prepare":
      w.u32(entry.segment).u64(entry.offset).u64(entry.valueBytes).u32(entry.valueCrc32c);
      w.u64(entry.createdAtMs).str16(entry.txid).str16(entry.key).str16(entry.contentType);
      return WalRecordType.PREPARE;
    case "commit":
      w.u64(entry.version).u64(entry.atMs).str16(entry.txid);
      return WalRecordType.COMMIT;
    case "abort":
      w.u64(entry.atMs).str16(entry.txid);
      return WalRecordType.ABORT;
    case "delete":
      w.u64(entry.version).u64(entry.atMs).str16(entry.key);
      return WalRecordType.DELETE;
  }
}

/** Encodes one framed WAL record. */
export function encodeWalRecord(entry: WalEntry): Buffer {
  const w = new ByteWriter(128);
  w.bytes(Buffer.alloc(WAL_FRAME_BYTES));
  const type = encodePayload(entry, w);
  const record = w.finish();
  const payloadBytes = record.length - WAL_FRAME_BYTES;
  record.writeUInt32LE(WAL_RECORD_MAGIC, 0);
  record.writeUInt8(WAL_FORMAT_VERSION, 4);
  record.writeUInt8(type, 5);
  record.writeUInt32LE(payloadBytes, 8);
  record.writeUInt32LE(frameCrc(record, payloadBytes), 12);
  return Buffer.from(record);
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
