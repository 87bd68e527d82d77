import { randomBytes } from "node:crypto";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { crc32c } from "../common/hashing.js";
import type { BlobMeta } from "./metadata-commands.js";
import { READ_CACHE_ENTRY_OVERHEAD_BYTES, ReadCache } from "./read-cache.js";

function blobOf(key: string, bytes: Buffer, version = 7): BlobMeta {
  return {
    key,
    size: bytes.length,
    crc32c: crc32c(bytes),
    etag: `"${version}"`,
    contentType: "application/octet-stream",
    replicas: ["vol-1", "vol-2", "vol-3"],
    version,
    txid: `tx-${version}`,
    createdAtMs: 0,
  };
}

async function lookups(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric("minikv_read_cache_lookups_total")?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels["result"]), v.value]));
}

describe("ReadCache", () => {
  it("serves exactly the version it was offered, from its own copy of the chunks", async () => {
    const registry = new Registry();
    const cache = new ReadCache(1024 * 1024, 64 * 1024, registry);
    const bytes = randomBytes(5000);
    const blob = blobOf("k", bytes);
    expect(cache.get(blob)).toBeUndefined();
    const chunks = [Buffer.from(bytes.subarray(0, 1000)), Buffer.from(bytes.subarray(1000))];
    cache.offer(blob, chunks);
    chunks[0]?.fill(0); // the caller's buffers may be reused: the cache kept a copy
    expect(cache.get(blob)?.equals(bytes)).toBe(true);
    expect(cache.get({ ...blob, version: 8 })).toBeUndefined();
    expect(cache.size).toEqual({ entries: 1, bytes: 5000 + 2 + READ_CACHE_ENTRY_OVERHEAD_BYTES });
    expect(await lookups(registry)).toEqual({ miss: 2, hit: 1 });
  });

  it("keeps nothing whose length or CRC32C differs from the metadata's, nor values over its bound", () => {
    const cache = new ReadCache(1024 * 1024, 4096);
    const bytes = randomBytes(3000);
    const blob = blobOf("k", bytes);
    cache.offer(blob, [bytes.subarray(0, 2999)]);
    cache.offer({ ...blob, crc32c: (blob.crc32c + 1) >>> 0 }, [bytes]);
    const big = randomBytes(5000);
    cache.offer(blobOf("big", big), [big]);
    expect(cache.size.entries).toBe(0);
    expect(cache.wants(blobOf("empty", Buffer.alloc(0)))).toBe(false);
  });

  it("keeps the body of a version written here, and forgets the key when the body is not at hand", () => {
    const cache = new ReadCache(1024 * 1024, 8192);
    const first = randomBytes(2000);
    cache.written(blobOf("k", first, 1), [first]);
    expect(cache.get(blobOf("k", first, 1))?.equals(first)).toBe(true);
    const streamed = randomBytes(3000);
    cache.written(blobOf("k", streamed, 2), null);
    expect(cache.size.entries).toBe(0);
    cache.written(blobOf("k", first, 3), [first]);
    const big = randomBytes(9000);
    cache.written(blobOf("k", big, 4), [big]);
    expect(cache.size.entries).toBe(0);
  });

  it("admits a read on the key's second miss, or at once when an older version is cached", () => {
    const cache = new ReadCache(1024 * 1024, 8192);
    const bytes = randomBytes(1000);
    expect(cache.admitsRead(blobOf("once", bytes))).toBe(false);
    expect(cache.admitsRead(blobOf("once", bytes))).toBe(true);
    expect(cache.admitsRead(blobOf("once", bytes))).toBe(false); // remembered again from scratch
    cache.written(blobOf("hot", bytes, 1), [bytes]);
    expect(cache.admitsRead(blobOf("hot", bytes, 2))).toBe(true);
    expect(cache.admitsRead(blobOf("big", randomBytes(9000)))).toBe(false);
    expect(new ReadCache(0, 8192).admitsRead(blobOf("off", bytes))).toBe(false);
  });

  it("drops an entry whose bytes changed in memory instead of serving it", async () => {
    const registry = new Registry();
    const cache = new ReadCache(1024 * 1024, 64 * 1024, registry);
    const bytes = randomBytes(4096);
    const blob = blobOf("k", bytes);
    cache.offer(blob, [bytes]);
    const held = cache.get(blob);
    expect(held).toBeDefined();
    if (held !== undefined) held[10] = (held[10] ?? 0) ^ 0xff;
    expect(cache.get(blob)).toBeUndefined();
    expect(cache.size.entries).toBe(0);
    expect(await lookups(registry)).toMatchObject({ hit: 1, corrupt: 1 });
  });

  it("stays within its bytes, evicting the least recently read; forget and 0 bytes (off) work", () => {
    const entryBytes = 1000 + 2 * 2 + READ_CACHE_ENTRY_OVERHEAD_BYTES;
    const cache = new ReadCache(3 * entryBytes, 64 * 1024);
    const values = ["k0", "k1", "k2", "k3"].map((key) => {
      const bytes = randomBytes(1000);
      return { blob: blobOf(key, bytes), bytes };
    });
    for (const { blob, bytes } of values.slice(0, 3)) cache.offer(blob, [bytes]);
    expect(cache.get(values[0]?.blob as BlobMeta)).toBeDefined(); // k0 is now the most recent
    const last = values[3] as { blob: BlobMeta; bytes: Buffer };
    cache.offer(last.blob, [last.bytes]);
    expect(cache.size).toEqual({ entries: 3, bytes: 3 * entryBytes });
    expect(cache.get(values[1]?.blob as BlobMeta)).toBeUndefined();
    expect(cache.get(values[0]?.blob as BlobMeta)).toBeDefined();
    cache.forget("k0");
    expect(cache.get(values[0]?.blob as BlobMeta)).toBeUndefined();

    const off = new ReadCache(0, 64 * 1024);
    off.offer(last.blob, [last.bytes]);
    expect(off.wants(last.blob)).toBe(false);
    expect(off.get(last.blob)).toBeUndefined();
  });
});
