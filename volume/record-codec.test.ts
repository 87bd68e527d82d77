import { describe, expect, it } from "vitest";
import { crc32c } from "../common/hashing.js";
import {
  RecordEncoder,
  RecordType,
  decodeRecord,
  encodeRecord,
  encodeRecordHead,
  layoutOf,
} from "./record-codec.js";
import type { RecordFields } from "./record-codec.js";
import { seededBytes } from "./store-test-support.js";
import { decodeWalRecord, encodeWalRecord } from "./wal-record.js";
import type { WalEntry } from "./wal-record.js";

// Issue 2 §3: "Record codec round trip; flipping any single byte of a stored record is detected."

const SALT = 0x5eed_1234;

function fields(type: RecordType, value: Uint8Array, over: Partial<RecordFields> = {}): RecordFields {
  return {
    type,
    key: "photos/2024/ü.jpg",
    txid: "tx-0001",
    contentType: "image/jpeg",
    valueBytes: value.length,
    version:
      type === RecordType.VALUE || type === RecordType.COMMIT || type === RecordType.TOMBSTONE ? 42 : 0,
    createdAtMs: 1_700_000_000_123,
    prepareSegment: type === RecordType.COMMIT || type === RecordType.ABORT ? 7 : 0,
    valueCrc32c: crc32c(value),
    ...over,
  };
}

describe("segment record codec", () => {
  const cases: [string, RecordType, Uint8Array][] = [
    ["prepare, small value", RecordType.PREPARE, seededBytes(1, 100)],
    ["value, two blocks and a bit", RecordType.VALUE, seededBytes(2, 2 * 65_536 + 17)],
    ["prepare, empty value", RecordType.PREPARE, Buffer.alloc(0)],
    ["commit", RecordType.COMMIT, Buffer.alloc(0)],
    ["abort", RecordType.ABORT, Buffer.alloc(0)],
    ["tombstone", RecordType.TOMBSTONE, Buffer.alloc(0)],
  ];

  it.each(cases)("round-trips a %s record", (_name, type, value) => {
    const f = fields(type, value);
    const record = encodeRecord(f, value, SALT);
    expect(record.length).toBe(layoutOf(f).recordBytes);
    expect(record.length % 8).toBe(0);
    const decoded = decodeRecord(record, SALT);
    if (typeof decoded === "string") throw new Error(decoded);
    expect({
      ...decoded,
      value: undefined,
      layout: undefined,
      raw: undefined,
      headCrc32c: undefined,
    }).toEqual({
      ...f,
      value: undefined,
      layout: undefined,
      raw: undefined,
      headCrc32c: undefined,
    });
    expect(decoded.value.equals(value)).toBe(true);
  });

  it.each(cases.filter(([, , value]) => value.length === 0))(
    "encodes a %s record without a value byte for byte as the streaming encoder does",
    (_name, type, value) => {
      const f = fields(type, value);
      const head = encodeRecordHead(f, SALT);
      const streamed = new RecordEncoder(head, layoutOf(f), 0);
      expect(encodeRecord(f, value, SALT)).toEqual(Buffer.concat([head, streamed.trailer()]));
    },
  );

  it("detects every single-byte flip of a stored record (each byte, several flip patterns)", () => {
    const value = seededBytes(3, 300);
    const record = encodeRecord(fields(RecordType.PREPARE, value), value, SALT);
    for (let i = 0; i < record.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const damaged = Buffer.from(record);
        damaged[i] = (damaged[i] ?? 0) ^ mask;
        expect(typeof decodeRecord(damaged, SALT), `byte ${i} ^ ${mask}`).toBe("string");
      }
    }
  });

  it("detects single-byte flips in a multi-block value (head, block edges, table, CRC, sampled value)", () => {
    const value = seededBytes(4, 3 * 65_536 + 5);
    const record = encodeRecord(fields(RecordType.VALUE, value), value, SALT);
    const { valueOffset, tableOffset } = layoutOf(fields(RecordType.VALUE, value));
    const positions = new Set<number>();
    for (let i = 0; i < valueOffset + 8; i++) positions.add(i);
    for (let i = valueOffset; i < tableOffset; i += 4099) positions.add(i);
    for (const edge of [65_535, 65_536, 131_071, 131_072, 196_608, 196_612])
      positions.add(valueOffset + edge);
    for (let i = tableOffset; i < record.length; i++) positions.add(i);
    for (const i of positions) {
      const damaged = Buffer.from(record);
      damaged[i] = (damaged[i] ?? 0) ^ 0x10;
      expect(typeof decodeRecord(damaged, SALT), `byte ${i}`).toBe("string");
    }
  });

  it("rejects a record of another segment (salt) and a truncated record", () => {
    const value = seededBytes(5, 50);
    const record = encodeRecord(fields(RecordType.PREPARE, value), value, SALT);
    expect(decodeRecord(record, SALT + 1)).toBe("salt of another segment");
    expect(typeof decodeRecord(record.subarray(0, record.length - 8), SALT)).toBe("string");
  });
});

describe("WAL record codec", () => {
  const entries: WalEntry[] = [
    {
      type: "prepare",
      txid: "t1",
      key: "a/b",
      contentType: "text/plain",
      segment: 3,
      offset: 2 ** 40 + 8,
      valueBytes: 5 * 2 ** 30,
      valueCrc32c: 0xdeadbeef,
      createdAtMs: 1_700_000_000_000,
    },
    { type: "commit", txid: "t1", version: 2 ** 50, atMs: 5 },
    { type: "abort", txid: "t2", atMs: 6 },
    { type: "delete", key: "k", version: 9, atMs: 7 },
  ];

  it.each(entries.map((e) => [e.type, e] as const))("round-trips %s", (_type, entry) => {
    const bytes = encodeWalRecord(entry);
    expect(decodeWalRecord(bytes, 0)).toEqual({ entry, recordBytes: bytes.length });
  });

  it("detects every single-byte flip of a WAL record", () => {
    for (const entry of entries) {
      const bytes = encodeWalRecord(entry);
      for (let i = 0; i < bytes.length; i++) {
        const damaged = Buffer.from(bytes);
        damaged[i] = (damaged[i] ?? 0) ^ 0x04;
        expect("problem" in decodeWalRecord(damaged, 0), `${entry.type} byte ${i}`).toBe(true);
      }
    }
  });
});
