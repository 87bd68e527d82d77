import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, type MinikvError } from "../common/errors.js";
import { fromGrpcError, grpcChannelOptions, loadProto } from "../common/grpc.js";
import { shardOf } from "../common/hashing.js";
import { limits } from "../common/limits.js";
import type { ProtoGrpcType } from "../proto/generated/volume.js";
import type { PrepareRequest } from "../proto/generated/minikv/volume/v1/PrepareRequest.js";
import type { VolumeClient as RawVolumeClient } from "../proto/generated/minikv/volume/v1/Volume.js";
import {
  chunksOf,
  putValue,
  readAll,
  sha256Of,
  startTestVolume,
  testValue,
  type TestVolume,
} from "./volume-fixture.js";

// Issue 2 §2 "Servers" and "2PC, volume side": the gRPC Volume service in front of the real
// engine, driven through common/volume-client.ts and, for malformed streams, a raw client.

let volume: TestVolume;
let raw: RawVolumeClient;
let nextVersion = 1;

beforeAll(async () => {
  volume = await startTestVolume();
  const { Volume } = loadProto<ProtoGrpcType>("volume.proto").minikv.volume.v1;
  raw = new Volume(volume.server.grpcAddress, grpc.credentials.createInsecure(), grpcChannelOptions);
});

afterAll(async () => {
  raw.close();
  await volume.cleanup();
});

async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    return (err as MinikvError).code;
  }
  return "OK";
}

/** Sends raw Prepare messages as given and returns the resulting code (OK on a yes vote). */
function rawPrepare(messages: PrepareRequest[]): Promise<string> {
  return new Promise((resolve) => {
    const call = raw.Prepare((err) => resolve(err === null ? "OK" : fromGrpcError(err).code));
    for (const message of messages) call.write(message);
    call.end();
  });
}

function header(txid: string, key: string, size: number | string, crc = 0): PrepareRequest {
  return { header: { txid, key, size, crc32c: crc, content_type: "" } };
}

describe("gRPC Volume service: round trips (issue 2 §2 Servers)", () => {
  it.each([0, 1, 1000, 300 * 1024, 3 * 1024 * 1024 + 17])(
    "prepare+commit+read %i bytes byte-exact",
    async (size) => {
      const key = `round/${size}`;
      const value = testValue(size);
      const version = nextVersion++;
      await volume.client.prepare(
        { txid: `rt-${size}`, key, size, crc32c: value.crc32c, contentType: "application/x-test" },
        chunksOf(value.bytes, 100_000),
      );
      await expect(volume.client.stat(key)).rejects.toMatchObject({ code: "KEY_NOT_FOUND" });
      await volume.client.commit(`rt-${size}`, version);
      const stat = await volume.client.stat(key);
      expect(stat).toMatchObject({
        key,
        size,
        crc32c: value.crc32c,
        version,
        contentType: "application/x-test",
      });
      expect(sha256Of(await readAll(volume.client.read(key)))).toBe(value.sha256);
      const checksum = await volume.client.checksum(key);
      expect(checksum).toMatchObject({
        key,
        size,
        crc32c: value.crc32c,
        recordedCrc32c: value.crc32c,
        version,
      });
    },
  );

  it.each([
    ["crc32c_unknown", 0],
    ["crc32c_unknown", 700_001],
    ["size_unknown", 5_000],
    ["size_unknown", 3 * 1024 * 1024 + 17],
  ] as const)(
    "prepare with %s (%i bytes): the vote carries the size and CRC32C the volume computed",
    async (mode, size) => {
      const key = `unknown/${mode}/${size}`;
      const txid = `unk-${mode}-${size}`;
      const value = testValue(size);
      const vote = await volume.client.prepare(
        mode === "size_unknown"
          ? { txid, key, size: 0, crc32c: 0, sizeUnknown: true }
          : { txid, key, size, crc32c: 0, crc32cUnknown: true },
        chunksOf(value.bytes, 90_001),
      );
      expect(vote).toEqual({ txid, volumeId: "vol-test", size, crc32c: value.crc32c });
      await volume.client.commit(txid, nextVersion++);
      expect(sha256Of(await readAll(volume.client.read(key)))).toBe(value.sha256);
      expect(await volume.client.checksum(key)).toMatchObject({ size, crc32c: value.crc32c });
    },
  );

  it("a vote for a prepare whose header gave size and CRC32C echoes both; crc32c_unknown still checks the size", async () => {
    const value = testValue(12_345);
    const vote = await volume.client.prepare(
      { txid: "known-vote", key: "unknown/known", size: 12_345, crc32c: value.crc32c },
      chunksOf(value.bytes, 4096),
    );
    expect(vote).toMatchObject({ size: 12_345, crc32c: value.crc32c });
    const short = volume.client.prepare(
      { txid: "unk-short", key: "unknown/short", size: 20_000, crc32c: 0, crc32cUnknown: true },
      chunksOf(value.bytes, 4096),
    );
    expect(await codeOf(short)).toBe(ErrorCode.SIZE_MISMATCH);
  });

  it("reads byte ranges and refuses ranges past the end", async () => {
    const value = testValue(200_000);
    await putValue(volume.client, "range/key", value, nextVersion++);
    const slice = await readAll(volume.client.read("range/key", { offset: 70_000, length: 65_536 }));
    expect(slice.equals(value.bytes.subarray(70_000, 135_536))).toBe(true);
    const tail = await readAll(volume.client.read("range/key", { offset: 199_990 }));
    expect(tail.equals(value.bytes.subarray(199_990))).toBe(true);
    await expect(readAll(volume.client.read("range/key", { offset: 200_001 }))).rejects.toMatchObject({
      code: "RANGE_NOT_SATISFIABLE",
    });
  });

  it("serves the highest committed version; a version-pinned read of an older one is KEY_NOT_FOUND", async () => {
    const older = testValue(5000);
    const newer = testValue(7000);
    const v1 = nextVersion++;
    const v2 = nextVersion++;
    await putValue(volume.client, "over/write", newer, v2, "ow-new");
    await putValue(volume.client, "over/write", older, v1, "ow-old");
    expect((await volume.client.stat("over/write")).version).toBe(v2);
    expect(sha256Of(await readAll(volume.client.read("over/write")))).toBe(newer.sha256);
    await expect(readAll(volume.client.read("over/write", { version: v1 }))).rejects.toMatchObject({
      code: "KEY_NOT_FOUND",
    });
  });

  it("commit is idempotent, abort of an unknown txid succeeds, commit after abort is TX_NOT_FOUND", async () => {
    const value = testValue(100);
    await putValue(volume.client, "idem", value, nextVersion, "idem-tx");
    await volume.client.commit("idem-tx", nextVersion++);
    await volume.client.abort("never-heard-of-it");
    await volume.client.prepare({ txid: "ab-tx", key: "aborted", size: 100, crc32c: value.crc32c }, [
      value.bytes,
    ]);
    await volume.client.abort("ab-tx");
    await volume.client.abort("ab-tx");
    expect(await codeOf(volume.client.commit("ab-tx", nextVersion++))).toBe("TX_NOT_FOUND");
    expect(await codeOf(volume.client.commit("unknown-tx", nextVersion++))).toBe("TX_NOT_FOUND");
    expect(await codeOf(volume.client.stat("aborted"))).toBe("KEY_NOT_FOUND");
  });

  it("deletes with a tombstone version", async () => {
    await putValue(volume.client, "del/me", testValue(10), nextVersion++);
    expect(await volume.client.delete("del/me", nextVersion++)).toBe(true);
    expect(await codeOf(volume.client.stat("del/me"))).toBe("KEY_NOT_FOUND");
    expect(await codeOf(readAll(volume.client.read("del/me")))).toBe("KEY_NOT_FOUND");
    expect(await volume.client.delete("del/me", nextVersion++)).toBe(false);
  });

  it("lists keys in batches of at most listKeysBatchMax, by shard and with prepared records", async () => {
    const count = limits.listKeysBatchMax * 2 + 100;
    const value = testValue(8);
    const keys = Array.from({ length: count }, (_, i) => `list/${String(i).padStart(5, "0")}`);
    // Many writers at once: the engine's group commit shares their fsyncs.
    let next = 0;
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        for (let i = next++; i < keys.length; i = next++) {
          await putValue(volume.client, keys[i] ?? "", value, nextVersion++);
        }
      }),
    );
    await volume.client.prepare({ txid: "list-prep", key: "list/prepared", size: 8, crc32c: value.crc32c }, [
      value.bytes,
    ]);
    const batches: number[] = [];
    const listed: string[] = [];
    for await (const batch of volume.client.listKeys()) {
      batches.push(batch.length);
      listed.push(...batch.map((e) => e.key));
    }
    expect(Math.max(...batches)).toBeLessThanOrEqual(limits.listKeysBatchMax);
    expect(listed.filter((k) => k.startsWith("list/"))).toEqual(keys);
    const shard = shardOf(keys[0] ?? "");
    const inShard: string[] = [];
    for await (const batch of volume.client.listKeys({ shard })) inShard.push(...batch.map((e) => e.key));
    expect(inShard.length).toBeGreaterThan(0);
    expect(inShard.every((k) => shardOf(k) === shard)).toBe(true);
    const withPrepared: { key: string; prepared: boolean; txid: string }[] = [];
    for await (const batch of volume.client.listKeys({
      shard: shardOf("list/prepared"),
      includePrepared: true,
    })) {
      withPrepared.push(...batch);
    }
    expect(withPrepared).toContainEqual(
      expect.objectContaining({ key: "list/prepared", prepared: true, txid: "list-prep" }),
    );
    await volume.client.abort("list-prep");
  });

  it("reports health and compacts on request", async () => {
    const health = await volume.client.health();
    expect(health).toMatchObject({ volumeId: "vol-test", state: "serving" });
    expect(health.keys).toBeGreaterThan(0);
    expect(health.capacityBytes).toBeGreaterThan(0);
    const compacted = await volume.client.compact();
    expect(compacted.segmentsCompacted).toBeGreaterThanOrEqual(0);
    const byShard = await volume.client.compact({ shard: 7 });
    expect(byShard.bytesFreed).toBeGreaterThanOrEqual(0);
  });
});

describe("gRPC Volume service: broken and hostile prepares (issue 2 §2, DESIGN.md §2 no input crashes)", () => {
  it("a body that fails mid-stream aborts the prepare: CLIENT_ABORTED, nothing visible", async () => {
    const value = testValue(512 * 1024);
    async function* failing(): AsyncGenerator<Buffer> {
      yield value.bytes.subarray(0, 128 * 1024);
      await sleep(20);
      throw new Error("upstream client went away");
    }
    const code = await codeOf(
      volume.client.prepare(
        { txid: "broken-1", key: "broken/1", size: value.bytes.length, crc32c: value.crc32c },
        failing(),
      ),
    );
    expect(code).toBe("CLIENT_ABORTED");
    await expectInvisible("broken/1", "broken-1");
  });

  it("a cancelled call (signal) mid-stream leaves nothing visible", async () => {
    const value = testValue(1024 * 1024);
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<Buffer> {
      for (const chunk of chunksOf(value.bytes, 64 * 1024)) {
        yield chunk;
        await sleep(5);
      }
    }
    setTimeout(() => controller.abort(), 40);
    const code = await codeOf(
      volume.client.prepare(
        { txid: "cancel-1", key: "cancel/1", size: value.bytes.length, crc32c: value.crc32c },
        slow(),
        { signal: controller.signal },
      ),
    );
    expect(["CLIENT_ABORTED"]).toContain(code);
    await expectInvisible("cancel/1", "cancel-1");
    // The txid was never voted yes; the volume may now take a write under a fresh one.
    await putValue(volume.client, "cancel/1", value, nextVersion++, "cancel-2");
    expect(sha256Of(await readAll(volume.client.read("cancel/1")))).toBe(value.sha256);
  });

  it.each<[string, () => PrepareRequest[], string]>([
    ["an empty stream", () => [], "INVALID_ARGUMENT"],
    [
      "a chunk before the header",
      () => [{ chunk: Buffer.from("x") }, header("h1", "k", 1)],
      "INVALID_ARGUMENT",
    ],
    ["two headers", () => [header("h2", "k2", 1), header("h2", "k2", 1)], "INVALID_ARGUMENT"],
    [
      "fewer bytes than announced",
      () => [header("h3", "k3", 10), { chunk: Buffer.alloc(5) }],
      "SIZE_MISMATCH",
    ],
    ["more bytes than announced", () => [header("h4", "k4", 3), { chunk: Buffer.alloc(5) }], "SIZE_MISMATCH"],
    [
      "a wrong CRC32C",
      () => [header("h5", "k5", 4, 12345), { chunk: Buffer.from("abcd") }],
      "CHECKSUM_MISMATCH",
    ],
    ["an empty key", () => [header("h6", "", 1), { chunk: Buffer.from("a") }], "INVALID_KEY"],
    [
      "a key with a control character",
      () => [header("h7", "a\nb", 1), { chunk: Buffer.from("a") }],
      "INVALID_KEY",
    ],
    ["an empty txid", () => [header("", "k8", 1), { chunk: Buffer.from("a") }], "INVALID_ARGUMENT"],
    ["a txid of 10 KiB", () => [header("t".repeat(10_240), "k9", 1)], "INVALID_ARGUMENT"],
    [
      "a size beyond the blob limit",
      () => [header("h10", "k10", String(limits.blobBytesMax + 1))],
      "TOO_LARGE",
    ],
    ["a size beyond 2^53", () => [header("h11", "k11", "18446744073709551615")], "INVALID_ARGUMENT"],
  ])("refuses %s", async (_name, messages, expected) => {
    expect(await rawPrepare(messages())).toBe(expected);
  });

  it("refuses a chunk larger than the gRPC message limit", async () => {
    const big = Buffer.alloc(limits.grpcMessageBytesMax + 1024);
    const code = await rawPrepare([header("huge-chunk", "huge/chunk", big.length), { chunk: big }]);
    expect(["OVERLOADED", "TOO_LARGE"]).toContain(code);
    await expectInvisible("huge/chunk", "huge-chunk");
  });

  it("refuses reuse of a txid (CONFLICT) and bad numbers on the unary calls", async () => {
    const value = testValue(16);
    await putValue(volume.client, "reuse/a", value, nextVersion++, "reuse-tx");
    const again = volume.client.prepare(
      { txid: "reuse-tx", key: "reuse/b", size: 16, crc32c: value.crc32c },
      [value.bytes],
    );
    expect(await codeOf(again)).toBe("CONFLICT");
    expect(await codeOf(volume.client.commit("reuse-tx", 0))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(volume.client.delete("", 5))).toBe("INVALID_KEY");
    expect(await codeOf(volume.client.compact({ shard: 999 }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(readAll(volume.client.read("x", { offset: 2 ** 60 })))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(volume.client.stat("missing/key"))).toBe("KEY_NOT_FOUND");
    expect(await codeOf(volume.client.checksum("missing/key"))).toBe("KEY_NOT_FOUND");
    expect((await volume.client.health()).state).toBe("serving");
  });

  it("stays up through a burst of garbage calls", async () => {
    const burst = Array.from({ length: 50 }, (_, i) =>
      rawPrepare(i % 2 === 0 ? [{ chunk: Buffer.alloc(i) }] : [header(`g${i}`, `g/${i}`, i + 1)]),
    );
    const codes = await Promise.all(burst);
    expect(codes.every((c) => c !== "OK" && c !== "INTERNAL")).toBe(true);
    expect((await volume.client.health()).state).toBe("serving");
  });
});

/** After a failed prepare: the key is not readable and no prepared record of the txid remains. */
async function expectInvisible(key: string, txid: string): Promise<void> {
  expect(await codeOf(volume.client.stat(key))).toBe(ErrorCode.KEY_NOT_FOUND);
  // The engine drops a failed prepare when the handler unwinds; give it a moment.
  for (let attempt = 0; attempt < 50; attempt++) {
    const prepared: string[] = [];
    for await (const batch of volume.client.listKeys({ shard: shardOf(key), includePrepared: true })) {
      prepared.push(...batch.filter((e) => e.prepared).map((e) => e.txid));
    }
    if (!prepared.includes(txid)) return;
    await sleep(20);
  }
  throw new Error(`prepared record ${txid} is still listed`);
}
