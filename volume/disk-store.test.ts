import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import { segmentFileName } from "./segment-file.js";
import type { DiskStore } from "./disk-store.js";
import { chunksOf, headerFor, putValue, readAll, seededBytes, tempVolume } from "./store-test-support.js";
import type { TempVolume } from "./store-test-support.js";

// Issue 2 §2 "2PC, volume side" and "Reads"; VolumeStore contract (volume/store-api.ts).

let volume: TempVolume;
let store: DiskStore | undefined;

async function open(): Promise<DiskStore> {
  store = await volume.open();
  return store;
}

async function reopen(): Promise<DiskStore> {
  await store?.close();
  return open();
}

afterEach(async () => {
  await store?.close();
  store = undefined;
  await volume?.remove();
});

describe("DiskStore 2PC semantics", () => {
  it("prepare is invisible until commit, then reads back byte-exact and survives a restart", async () => {
    volume = await tempVolume();
    const s = await open();
    const value = seededBytes(1, 300_000);
    await s.prepare(headerFor("t1", "a/b.bin", value), chunksOf(value, 7_777));
    expect(s.stat("a/b.bin")).toBeUndefined();
    expect(s.listKeys(undefined, true).map((e) => [e.key, e.prepared])).toEqual([["a/b.bin", true]]);
    await s.commit("t1", 5);
    expect(s.stat("a/b.bin")).toMatchObject({ size: value.length, version: 5, txid: "t1", prepared: false });
    expect((await readAll(s.read("a/b.bin"))).equals(value)).toBe(true);
    const again = await reopen();
    expect(again.stat("a/b.bin")).toMatchObject({ size: value.length, version: 5 });
    expect((await readAll(again.read("a/b.bin"))).equals(value)).toBe(true);
  });

  it("restart preserves prepared records, which can then be committed or aborted", async () => {
    volume = await tempVolume();
    const s = await open();
    const a = seededBytes(2, 1000);
    await s.prepare(headerFor("ta", "k-a", a), chunksOf(a));
    await s.prepare(headerFor("tb", "k-b", a), chunksOf(a));
    const r = await reopen();
    expect(r.listKeys(undefined, true).map((e) => e.txid)).toEqual(["ta", "tb"]);
    expect(
      r
        .preparedOlderThan(0)
        .map((e) => e.txid)
        .sort(),
    ).toEqual(["ta", "tb"]);
    await r.commit("ta", 1);
    await r.abort("tb");
    const r2 = await reopen();
    expect(r2.stat("k-a")?.version).toBe(1);
    expect(r2.stat("k-b")).toBeUndefined();
    expect(r2.listKeys(undefined, true).map((e) => e.key)).toEqual(["k-a"]);
  });

  it("commit is idempotent, unknown txids are TX_NOT_FOUND, abort of unknown resolves", async () => {
    volume = await tempVolume();
    const s = await open();
    await putValue(s, "k", Buffer.from("v"), 3, "t");
    await s.commit("t", 3);
    await expect(s.commit("nope", 1)).rejects.toMatchObject({ code: ErrorCode.TX_NOT_FOUND });
    await s.abort("nope");
    await s.prepare(headerFor("t2", "k", Buffer.from("w")), chunksOf(Buffer.from("w")));
    await s.abort("t2");
    await expect(s.commit("t2", 9)).rejects.toMatchObject({ code: ErrorCode.TX_NOT_FOUND });
    expect(s.stat("k")?.version).toBe(3);
  });

  it("a reused txid is CONFLICT", async () => {
    volume = await tempVolume();
    const s = await open();
    await putValue(s, "k", Buffer.from("v"), 3, "t");
    await expect(
      s.prepare(headerFor("t", "k2", Buffer.from("x")), chunksOf(Buffer.from("x"))),
    ).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
    });
  });

  it("size and checksum mismatches and failing bodies leave nothing visible", async () => {
    volume = await tempVolume();
    const s = await open();
    const value = seededBytes(3, 5000);
    const short = { ...headerFor("t1", "k", value), size: 6000 };
    await expect(s.prepare(short, chunksOf(value))).rejects.toMatchObject({ code: ErrorCode.SIZE_MISMATCH });
    const long = { ...headerFor("t2", "k", value), size: 4000 };
    await expect(s.prepare(long, chunksOf(value, 1000))).rejects.toMatchObject({
      code: ErrorCode.SIZE_MISMATCH,
    });
    const badCrc = { ...headerFor("t3", "k", value), crc32c: 12345 };
    await expect(s.prepare(badCrc, chunksOf(value))).rejects.toMatchObject({
      code: ErrorCode.CHECKSUM_MISMATCH,
    });
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(value.subarray(0, 100));
      throw new Error("client went away");
    }
    await expect(s.prepare(headerFor("t4", "k", value), failing())).rejects.toMatchObject({
      code: ErrorCode.CLIENT_ABORTED,
    });
    await expect(s.prepare(headerFor("t5", "", value), chunksOf(value))).rejects.toMatchObject({
      code: ErrorCode.INVALID_KEY,
    });
    expect(s.listKeys(undefined, true)).toEqual([]);
    expect(s.stats().preparedCount).toBe(0);
    const r = await reopen();
    expect(r.listKeys(undefined, true)).toEqual([]);
  });

  it("the highest committed version wins, even when an older one commits later", async () => {
    volume = await tempVolume();
    const s = await open();
    const v1 = Buffer.from("one");
    const v2 = Buffer.from("two");
    await s.prepare(headerFor("t1", "k", v1), chunksOf(v1));
    await s.prepare(headerFor("t2", "k", v2), chunksOf(v2));
    await s.commit("t2", 20);
    await s.commit("t1", 10);
    expect((await readAll(s.read("k"))).toString()).toBe("two");
    await expect(readAll(s.read("k", { version: 10 }))).rejects.toMatchObject({
      code: ErrorCode.KEY_NOT_FOUND,
    });
    const r = await reopen();
    expect((await readAll(r.read("k"))).toString()).toBe("two");
    expect(r.stat("k")?.version).toBe(20);
  });

  it("delete tombstones versions up to its own, and hides an older version committed after it", async () => {
    volume = await tempVolume();
    const s = await open();
    await putValue(s, "k", Buffer.from("v5"), 5);
    const late = Buffer.from("late");
    await s.prepare(headerFor("late", "k", late), chunksOf(late));
    expect(await s.delete("k", 3)).toBe(false);
    expect(s.stat("k")?.version).toBe(5);
    expect(await s.delete("k", 7)).toBe(true);
    expect(s.stat("k")).toBeUndefined();
    await s.commit("late", 6);
    expect(s.stat("k")).toBeUndefined();
    expect(await s.delete("k", 7)).toBe(false);
    await expect(readAll(s.read("k"))).rejects.toMatchObject({ code: ErrorCode.KEY_NOT_FOUND });
    const r = await reopen();
    expect(r.stat("k")).toBeUndefined();
    await putValue(r, "k", Buffer.from("v8"), 8);
    expect((await readAll(r.read("k"))).toString()).toBe("v8");
  });

  it("range reads return exactly the requested bytes; bad ranges are RANGE_NOT_SATISFIABLE", async () => {
    volume = await tempVolume();
    const s = await open();
    const value = seededBytes(4, 200_000);
    await putValue(s, "big", value, 1);
    for (const [offset, length] of [
      [0, 1],
      [65_535, 2],
      [65_536, 65_536],
      [100_000, 100_000],
      [199_999, 1],
      [200_000, 0],
      [0, 200_000],
    ] as const) {
      const got = await readAll(s.read("big", { offset, length }));
      expect(got.equals(value.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true);
    }
    expect((await readAll(s.read("big", { offset: 150_000 }))).equals(value.subarray(150_000))).toBe(true);
    await expect(readAll(s.read("big", { offset: 200_001 }))).rejects.toMatchObject({
      code: ErrorCode.RANGE_NOT_SATISFIABLE,
    });
    await expect(readAll(s.read("big", { offset: 10, length: 199_999 }))).rejects.toMatchObject({
      code: ErrorCode.RANGE_NOT_SATISFIABLE,
    });
  });

  it("stores empty values", async () => {
    volume = await tempVolume();
    const s = await open();
    await putValue(s, "empty", Buffer.alloc(0), 1);
    expect((await readAll(s.read("empty"))).length).toBe(0);
    expect((await s.checksum("empty")).crc32c).toBe(0);
  });

  it("checksum recomputes the CRC32C over the stored bytes", async () => {
    volume = await tempVolume();
    const s = await open();
    const value = seededBytes(5, 70_000);
    await putValue(s, "k", value, 2);
    const result = await s.checksum("k");
    expect(result).toMatchObject({ key: "k", size: 70_000, version: 2 });
    expect(result.crc32c).toBe(result.recordedCrc32c);
    expect(result.crc32c).toBe(headerFor("x", "k", value).crc32c);
  });

  it("listKeys filters by shard and sorts in UTF-8 byte order", async () => {
    volume = await tempVolume();
    const s = await open();
    const keys = ["b", "a", "\u{1F600}", "\uFF21", "a/b"];
    for (const [i, key] of keys.entries()) await putValue(s, key, Buffer.from(key), i + 1);
    expect(s.listKeys(undefined, false).map((e) => e.key)).toEqual(["a", "a/b", "b", "\uFF21", "\u{1F600}"]);
    const { shardOf } = await import("../common/hashing.js");
    const shard = shardOf("b");
    expect(s.listKeys(shard, false).every((e) => shardOf(e.key) === shard)).toBe(true);
    expect(s.listKeys(shard, false).map((e) => e.key)).toContain("b");
  });

  it("concurrent prepares share fsyncs and all land", async () => {
    volume = await tempVolume();
    const s = await open();
    await Promise.all(
      Array.from({ length: 64 }, (_, i) => putValue(s, `key-${i}`, seededBytes(i + 10, 4096), i + 1)),
    );
    for (let i = 0; i < 64; i++) {
      expect((await readAll(s.read(`key-${i}`))).equals(seededBytes(i + 10, 4096))).toBe(true);
    }
    expect(s.stats().keys).toBe(64);
  });

  it("an abort during a streaming prepare stops it; the txid is then unknown", async () => {
    volume = await tempVolume();
    const s = await open();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(Buffer.alloc(10));
      await gate;
      yield Buffer.alloc(10);
    }
    const value = Buffer.alloc(20);
    const preparing = s.prepare(headerFor("slow", "k", value), slow());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const aborting = s.abort("slow");
    release();
    await expect(preparing).rejects.toMatchObject({ code: ErrorCode.CLIENT_ABORTED });
    await aborting;
    await expect(s.commit("slow", 1)).rejects.toMatchObject({ code: ErrorCode.TX_NOT_FOUND });
    expect(s.listKeys(undefined, true)).toEqual([]);
  });
});

describe("DiskStore corruption (issue 2 §2 Reads: a corrupt record is never served)", () => {
  async function corruptedVolume(
    at: (recordOffset: number) => number,
  ): Promise<{ s: DiskStore; value: Buffer; registry: Registry }> {
    volume = await tempVolume();
    let s = await open();
    const value = seededBytes(9, 200_000);
    await putValue(s, "victim", value, 1);
    await putValue(s, "bystander", Buffer.from("fine"), 2);
    const where = /@(\d+):(\d+)$/.exec(s.describeIndex().values.find((v) => v.startsWith("victim ")) ?? "");
    await s.close();
    store = undefined;
    const path = join(volume.dataDir, segmentFileName(Number(where?.[1])));
    const bytes = await readFile(path);
    const position = at(Number(where?.[2]));
    bytes[position] = (bytes[position] ?? 0) ^ 0x01;
    await writeFile(path, bytes);
    const registry = new Registry();
    s = await volume.open({ registry });
    store = s;
    return { s, value, registry };
  }

  async function corruptReads(registry: Registry): Promise<number> {
    const metric = await registry.getSingleMetric("minikv_volume_corrupt_reads_total")?.get();
    return metric?.values[0]?.value ?? 0;
  }

  it("a flipped value byte fails exactly the reads that cover its block; yielded bytes are all correct", async () => {
    // The value starts after the 64-byte head, key "victim" and txid "tx-victim-1".
    const headBytes = 64 + "victim".length + "tx-victim-1".length + "application/octet-stream".length;
    const { s, value, registry } = await corruptedVolume((record) => record + headBytes + 140_000);
    const yielded: Buffer[] = [];
    await expect(
      (async () => {
        for await (const chunk of s.read("victim")) yielded.push(chunk);
      })(),
    ).rejects.toMatchObject({ code: ErrorCode.DATA_CORRUPT });
    const served = Buffer.concat(yielded);
    expect(served.length).toBeLessThan(140_000);
    expect(served.equals(value.subarray(0, served.length))).toBe(true);
    const firstBlocks = await readAll(s.read("victim", { offset: 0, length: 131_072 }));
    expect(firstBlocks.equals(value.subarray(0, 131_072))).toBe(true);
    await expect(readAll(s.read("victim", { offset: 139_000, length: 2_000 }))).rejects.toMatchObject({
      code: ErrorCode.DATA_CORRUPT,
    });
    expect(await corruptReads(registry)).toBe(2);
    const sum = await s.checksum("victim");
    expect(sum.crc32c).not.toBe(sum.recordedCrc32c);
    expect((await readAll(s.read("bystander"))).toString()).toBe("fine");
  });

  it("a flipped head byte fails every read of the record", async () => {
    const { s } = await corruptedVolume((record) => record + 30);
    await expect(readAll(s.read("victim", { offset: 0, length: 1 }))).rejects.toMatchObject({
      code: ErrorCode.DATA_CORRUPT,
    });
    await expect(s.checksum("victim")).rejects.toMatchObject({ code: ErrorCode.DATA_CORRUPT });
  });

  it("a flipped block-table byte fails a full read before its last chunk", async () => {
    const headBytes = 64 + "victim".length + "tx-victim-1".length + "application/octet-stream".length;
    const { s, value } = await corruptedVolume((record) => record + headBytes + 200_000 + 4 * 3 + 1);
    const yielded: Buffer[] = [];
    await expect(
      (async () => {
        for await (const chunk of s.read("victim")) yielded.push(chunk);
      })(),
    ).rejects.toMatchObject({ code: ErrorCode.DATA_CORRUPT });
    const served = Buffer.concat(yielded);
    expect(served.length).toBeLessThan(value.length);
    expect(served.equals(value.subarray(0, served.length))).toBe(true);
  });
});

describe("DiskStore bounds (STYLE.md: every queue has a named bound)", () => {
  it("answers OVERLOADED past preparedTxMax undecided prepares, and accepts again after decisions", async () => {
    volume = await tempVolume();
    const s = await volume.open({ preparedTxMax: 3 });
    store = s;
    const v = Buffer.from("v");
    for (let i = 0; i < 3; i++) await s.prepare(headerFor(`p${i}`, `k${i}`, v), chunksOf(v));
    await expect(s.prepare(headerFor("p3", "k3", v), chunksOf(v))).rejects.toMatchObject({
      code: ErrorCode.OVERLOADED,
    });
    await s.commit("p0", 1);
    await s.prepare(headerFor("p3", "k3", v), chunksOf(v));
  });

  it("rejects work after close with SHUTTING_DOWN and stops a streaming prepare", async () => {
    volume = await tempVolume();
    const s = await volume.open();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* stalled(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(Buffer.alloc(1));
      await gate;
      yield Buffer.alloc(1);
    }
    const preparing = s.prepare(headerFor("stalled", "k", Buffer.alloc(2)), stalled());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closing = s.close();
    release();
    await expect(preparing).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    await closing;
    await expect(s.commit("stalled", 1)).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
  });
});
