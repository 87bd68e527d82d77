import { describe, expect, it } from "vitest";
import { limits } from "../../common/limits.js";
import type { KvRecord } from "./kv-snapshot-format.js";
import { decodeKvRecords, encodeKvRecordBatches, encodeKvRecords } from "./kv-snapshot-format.js";

async function* from<T>(items: readonly T[]): AsyncIterable<T> {
  for (const item of items) yield await Promise.resolve(item);
}

async function bytesOf(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Enough records (≈ 3 stream chunks) that chunking is exercised. */
function records(): KvRecord[] {
  const count = Math.ceil((3 * limits.streamChunkBytes) / 300);
  return Array.from({ length: count }, (_, i) => [
    Buffer.from(`key-${i}`),
    Buffer.alloc(i % 7 === 0 ? 0 : 280, i % 251),
  ]);
}

describe("key-value snapshot format (§7 snapshots of the state machine)", () => {
  it("batched encoding writes the same stream as record-by-record encoding, and it decodes back", async () => {
    const all = records();
    const batches = [all.slice(0, 1), [], all.slice(1, 1000), all.slice(1000)];
    const one = await bytesOf(encodeKvRecords(from(all)));
    const batched = await bytesOf(encodeKvRecordBatches(from(batches)));
    expect(batched.equals(one)).toBe(true);
    const decoded: KvRecord[] = [];
    for await (const record of decodeKvRecords(from([batched]))) decoded.push(record);
    expect(decoded.map(([k, v]) => [Buffer.from(k).toString(), v.byteLength])).toEqual(
      all.map(([k, v]) => [Buffer.from(k).toString(), v.byteLength]),
    );
  });

  it("an empty state machine encodes to the magic and an end record of 0", async () => {
    const bytes = await bytesOf(encodeKvRecordBatches(from<readonly KvRecord[]>([])));
    expect(bytes.toString("latin1", 0, 8)).toBe("MKVSM001");
    expect([...bytes.subarray(8)]).toEqual([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  });
});
