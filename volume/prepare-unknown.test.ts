import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import { crc32c } from "../common/hashing.js";
import type { DiskStore } from "./disk-store.js";
import { engineLimits } from "./engine-limits.js";
import type { PrepareHeader } from "./store-api.js";
import { chunksOf, headerFor, putValue, readAll, seededBytes, tempVolume } from "./store-test-support.js";
import type { TempVolume } from "./store-test-support.js";

// proto/volume.proto PrepareHeader `crc32c_unknown` / `size_unknown` (the coordinator
// streams an HTTP body whose CRC32C, and for chunked bodies whose length, it learns only
// at the end): the volume computes both, returns them in the vote, and the record it
// writes is as valid — and as recoverable — as one whose header gave them
// (docs/volume-format.md, "Writing a prepare").

let volume: TempVolume | undefined;
const opened: DiskStore[] = [];

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await volume?.remove();
  volume = undefined;
});

async function open(v: TempVolume, options: Parameters<TempVolume["open"]>[0] = {}): Promise<DiskStore> {
  const store = await v.open({ segmentBytesMax: 4 * 1024 * 1024, ...options });
  opened.push(store);
  return store;
}

async function stop(store: DiskStore, how: "close" | "crash"): Promise<void> {
  opened.splice(opened.indexOf(store), 1);
  if (how === "close") await store.close();
  else await store.simulateCrash();
}

function crcUnknown(txid: string, key: string, size: number): PrepareHeader {
  return { txid, key, size, crc32c: 0, contentType: "text/plain", crc32cUnknown: true };
}

function sizeUnknown(txid: string, key: string): PrepareHeader {
  return { txid, key, size: 0, crc32c: 0, contentType: "", sizeUnknown: true };
}

/** Irregular chunk sizes, so block and buffer boundaries fall inside chunks. */
async function* irregularChunks(value: Uint8Array): AsyncGenerator<Uint8Array> {
  const sizes = [1, 7_777, 65_536, 100_003, 3];
  for (let at = 0, i = 0; at < value.length; i++) {
    const take = sizes[i % sizes.length] ?? 1;
    await Promise.resolve();
    yield value.subarray(at, at + take);
    at += take;
  }
}

/** Opens a volume that already has an index snapshot, so a crash restarts from it plus the WAL tail. */
async function openWithSnapshot(v: TempVolume): Promise<DiskStore> {
  await stop(await open(v), "close");
  return open(v);
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => /^seg-\d{12}\.dat/.test(name)).sort();
}

/** A body that yields `first` and then waits for `release` before failing or ending. */
function stalledBody(first: Uint8Array): { body: AsyncIterable<Uint8Array>; release: () => void } {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  async function* body(): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < first.length; at += 64 * 1024) {
      await Promise.resolve();
      yield first.subarray(at, at + 64 * 1024);
    }
    await gate;
    yield Buffer.alloc(1);
  }
  return { body: body(), release };
}

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("prepare with crc32c_unknown (known size)", () => {
  it("computes the CRC32C, returns size and CRC, and the value reads back (small, multi-block, empty)", async () => {
    volume = await tempVolume();
    const store = await open(volume);
    const cases = [seededBytes(1, 100), seededBytes(2, 5 * 65_536 + 123), Buffer.alloc(0)];
    for (const [i, value] of cases.entries()) {
      const vote = await store.prepare(crcUnknown(`t${i}`, `k${i}`, value.length), irregularChunks(value));
      expect(vote).toEqual({ size: value.length, crc32c: crc32c(value) });
      await store.commit(`t${i}`, i + 1);
      expect((await readAll(store.read(`k${i}`))).equals(value)).toBe(true);
      expect(store.stat(`k${i}`)?.crc32c).toBe(crc32c(value));
      expect((await store.checksum(`k${i}`)).crc32c).toBe(crc32c(value));
    }
  });

  it("still refuses a body of another length (SIZE_MISMATCH); nothing is kept", async () => {
    volume = await tempVolume();
    const store = await open(volume);
    const value = seededBytes(3, 300_000);
    await expect(store.prepare(crcUnknown("long", "k", 1000), chunksOf(value))).rejects.toMatchObject({
      code: ErrorCode.SIZE_MISMATCH,
    });
    await expect(
      store.prepare(crcUnknown("short", "k", value.length + 1), chunksOf(value)),
    ).rejects.toMatchObject({ code: ErrorCode.SIZE_MISMATCH });
    expect(store.listKeys(undefined, true)).toEqual([]);
  });

  it("a prepare with a known CRC32C also returns size and CRC; a wrong one is CHECKSUM_MISMATCH", async () => {
    volume = await tempVolume();
    const store = await open(volume);
    const value = seededBytes(4, 70_000);
    expect(await store.prepare(headerFor("ok", "k", value), chunksOf(value))).toEqual({
      size: value.length,
      crc32c: crc32c(value),
    });
    const wrong = { ...headerFor("bad", "k2", value), crc32c: (crc32c(value) + 1) >>> 0 };
    await expect(store.prepare(wrong, chunksOf(value))).rejects.toMatchObject({
      code: ErrorCode.CHECKSUM_MISMATCH,
    });
  });
});

describe("prepare with size_unknown", () => {
  it("a small body goes into the active segment; a large one gets a segment of its own", async () => {
    volume = await tempVolume();
    const store = await open(volume);
    const before = await segmentFiles(volume.dataDir);
    const small = seededBytes(5, 10_000);
    expect(await store.prepare(sizeUnknown("small", "s"), irregularChunks(small))).toEqual({
      size: small.length,
      crc32c: crc32c(small),
    });
    expect(await segmentFiles(volume.dataDir)).toEqual(before);
    const large = seededBytes(6, engineLimits.unsizedInlineBytesMax + 2 * 65_536 + 5);
    expect(await store.prepare(sizeUnknown("large", "l"), irregularChunks(large))).toEqual({
      size: large.length,
      crc32c: crc32c(large),
    });
    const after = await segmentFiles(volume.dataDir);
    expect(after).toHaveLength(before.length + 1);
    expect(after.some((name) => name.endsWith(".streaming"))).toBe(false);
    await store.commit("small", 1);
    await store.commit("large", 2);
    expect((await readAll(store.read("s"))).equals(small)).toBe(true);
    expect((await readAll(store.read("l"))).equals(large)).toBe(true);
    expect(
      (await readAll(store.read("l", { offset: 1_000_000, length: 70_000 }))).equals(
        large.subarray(1_000_000, 1_070_000),
      ),
    ).toBe(true);
  });

  it("past the engine's maximum value size: TOO_LARGE, no file left, nothing visible", async () => {
    volume = await tempVolume();
    const store = await open(volume, { valueBytesMax: 3 * 1024 * 1024 });
    const before = await segmentFiles(volume.dataDir);
    const value = seededBytes(7, 3 * 1024 * 1024 + 1);
    await expect(store.prepare(sizeUnknown("big", "k"), chunksOf(value))).rejects.toMatchObject({
      code: ErrorCode.TOO_LARGE,
    });
    expect(await segmentFiles(volume.dataDir)).toEqual(before);
    expect(store.listKeys(undefined, true)).toEqual([]);
    // The limit applies to declared sizes too.
    await expect(store.prepare(crcUnknown("big2", "k", value.length), chunksOf(value))).rejects.toMatchObject(
      {
        code: ErrorCode.TOO_LARGE,
      },
    );
  });

  it("a body that fails mid-stream is CLIENT_ABORTED and its segment file is deleted", async () => {
    volume = await tempVolume();
    const store = await open(volume);
    const before = await segmentFiles(volume.dataDir);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(seededBytes(8, 2 * 1024 * 1024));
      throw new Error("connection reset");
    }
    await expect(store.prepare(sizeUnknown("f", "k"), failing())).rejects.toMatchObject({
      code: ErrorCode.CLIENT_ABORTED,
    });
    expect(await segmentFiles(volume.dataDir)).toEqual(before);
  });

  it("values of unknown size survive a clean restart, a crash, and a full rebuild", async () => {
    volume = await tempVolume();
    let store = await openWithSnapshot(volume);
    const large = seededBytes(9, engineLimits.unsizedInlineBytesMax * 2 + 11);
    const small = seededBytes(10, 999);
    await store.prepare(sizeUnknown("large", "l"), irregularChunks(large));
    await store.prepare(sizeUnknown("small", "s"), irregularChunks(small));
    await store.commit("large", 1);
    await stop(store, "crash");
    store = await open(volume);
    expect(store.recovery?.mode).toBe("snapshot");
    expect(store.listKeys(undefined, true).map((e) => [e.key, e.prepared])).toEqual([
      ["l", false],
      ["s", true],
    ]);
    await stop(store, "close");
    await rm(join(volume.dataDir, "index.snapshot"));
    store = await open(volume);
    expect(store.recovery?.mode).toBe("full-rebuild");
    await store.commit("small", 2);
    expect((await readAll(store.read("l"))).equals(large)).toBe(true);
    expect((await readAll(store.read("s"))).equals(small)).toBe(true);
  });
});

describe("crash recovery of values whose CRC32C the sender did not know", () => {
  it("committed → readable; head never written → gone; later records intact (snapshot and full rebuild)", async () => {
    volume = await tempVolume();
    let store = await openWithSnapshot(volume);
    // Acknowledged and committed before the crash.
    const committed = seededBytes(11, 400_000);
    await store.prepare(crcUnknown("c", "committed", committed.length), irregularChunks(committed));
    await store.commit("c", 1);
    // Torn: more than a write buffer of its value reaches the file, its head never does.
    const torn = seededBytes(12, engineLimits.prepareStreamBufferBytes + 600_000);
    const stalled = stalledBody(torn.subarray(0, engineLimits.prepareStreamBufferBytes + 400_000));
    const usedBefore = store.stats().usedBytes;
    const tearing = store.prepare(crcUnknown("torn", "torn", torn.length), stalled.body);
    const tornOutcome = tearing.then(
      () => "resolved",
      (err: { code?: string }) => err.code,
    );
    // eslint-disable-next-line @typescript-eslint/require-await -- the condition is synchronous
    await waitUntil(async () => store.stats().usedBytes > usedBefore, "the torn record's reservation");
    await new Promise((resolve) => setTimeout(resolve, 50)); // its first buffers reach the file
    // Reserved after the torn one, so they lie behind it in the same segment.
    const later = [seededBytes(13, 5000), seededBytes(14, 200_000)];
    for (const [i, value] of later.entries()) {
      await store.prepare(crcUnknown(`later${i}`, `later${i}`, value.length), chunksOf(value));
      await store.commit(`later${i}`, 10 + i);
    }
    await stop(store, "crash");
    stalled.release();
    expect(await tornOutcome).toBe(ErrorCode.SHUTTING_DOWN);

    // Last, from the segments alone (no snapshot, no WAL): the scan must step over the
    // torn region, whose head was never written, to find the records behind it.
    for (const mode of ["snapshot", "full-rebuild", "segments-only"] as const) {
      if (mode !== "snapshot") await rm(join(volume.dataDir, "index.snapshot"), { force: true });
      if (mode === "segments-only") {
        for (const name of await readdir(volume.walDir)) await rm(join(volume.walDir, name));
      }
      store = await open(volume);
      expect(store.recovery?.mode).toBe(mode === "snapshot" ? "snapshot" : "full-rebuild");
      expect((await readAll(store.read("committed"))).equals(committed)).toBe(true);
      for (const [i, value] of later.entries()) {
        expect((await readAll(store.read(`later${i}`))).equals(value), `${mode}: later${i}`).toBe(true);
      }
      expect(store.listKeys(undefined, true).map((e) => e.key)).toEqual(["committed", "later0", "later1"]);
      await stop(store, "crash");
    }
  });

  it("a value of unknown size cut off by a crash leaves no file behind and no record", async () => {
    volume = await tempVolume();
    let store = await open(volume);
    await putValue(store, "before", Buffer.from("kept"), 1);
    const stalled = stalledBody(seededBytes(15, engineLimits.unsizedInlineBytesMax + 300_000));
    const outcome = store.prepare(sizeUnknown("cut", "cut"), stalled.body).then(
      () => "resolved",
      (err: { code?: string }) => err.code,
    );
    await waitUntil(
      async () => (await segmentFiles(volume!.dataDir)).some((name) => name.endsWith(".streaming")),
      "the streaming segment",
    );
    await stop(store, "crash");
    // The boot after the crash finds the unfinished file and deletes it.
    store = await open(volume);
    expect((await segmentFiles(volume.dataDir)).some((name) => name.endsWith(".streaming"))).toBe(false);
    expect(store.listKeys(undefined, true).map((e) => e.key)).toEqual(["before"]);
    stalled.release();
    expect(await outcome).toBe(ErrorCode.SHUTTING_DOWN);
    // Numbers are not reused: the next value of unknown size gets a fresh segment.
    const large = seededBytes(16, engineLimits.unsizedInlineBytesMax + 1);
    await store.prepare(sizeUnknown("next", "next"), chunksOf(large));
    await store.commit("next", 2);
    expect((await readAll(store.read("next"))).equals(large)).toBe(true);
  });
});
