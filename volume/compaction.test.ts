import { readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import { waitFor } from "../test/support/wait.js";
import {
  canMountSmallDisks,
  fillDisk,
  mountSmallDiskIn,
  unmountSmallDisks,
} from "../test/support/small-disk.js";
import type { CompactionStep } from "./compaction.js";
import type { DiskStore, DiskStoreOptions } from "./disk-store.js";
import { diskSpaceOf } from "./durable-fs.js";
import type { DiskSpace } from "./durable-fs.js";
import { engineLimits } from "./engine-limits.js";
import { removeSnapshot } from "./index-snapshot.js";
import { RESTART_RESERVE_FILE } from "./restart-reserve.js";
import { segmentFileName } from "./segment-file.js";
import {
  chunksOf,
  fakeDiskSpace,
  headerFor,
  putValue,
  readAll,
  seededBytes,
  seededRandom,
  tempVolume,
} from "./store-test-support.js";
import type { TempVolume } from "./store-test-support.js";

// Issue 2 §2 "Compaction" and §3 "Compaction under concurrent writes and deletes loses
// nothing; a crash during compaction recovers".

type Model = Map<string, { bytes: Buffer; version: number }>;

let volume: TempVolume | undefined;
const open: DiskStore[] = [];
const SMALL_SEGMENTS: Partial<DiskStoreOptions> = { segmentBytesMax: 64 * 1024 };

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  await unmountSmallDisks();
  await volume?.remove();
  volume = undefined;
});

async function start(v: TempVolume, options: Partial<DiskStoreOptions> = {}): Promise<DiskStore> {
  const store = await v.open({ ...SMALL_SEGMENTS, ...options });
  open.push(store);
  return store;
}

function forget(store: DiskStore): void {
  open.splice(open.indexOf(store), 1);
}

class Writer {
  version = 1;
  readonly model: Model = new Map();
  constructor(private readonly store: DiskStore) {}

  async put(key: string, bytes: Buffer): Promise<void> {
    const version = this.version++;
    await putValue(this.store, key, bytes, version, `tx-${key}-${version}`);
    this.model.set(key, { bytes, version });
  }

  async delete(key: string): Promise<void> {
    await this.store.delete(key, this.version++);
    this.model.delete(key);
  }
}

/** Fills several segments, then overwrites and deletes enough to leave garbage everywhere. */
async function fillWithGarbage(writer: Writer, seed: number): Promise<void> {
  const random = seededRandom(seed);
  for (let i = 0; i < 40; i++) await writer.put(`key-${i}`, seededBytes(seed + i, 2000 + random(3000)));
  for (let i = 0; i < 40; i += 2)
    await writer.put(`key-${i}`, seededBytes(seed + 100 + i, 1000 + random(3000)));
  for (let i = 1; i < 40; i += 5) await writer.delete(`key-${i}`);
}

async function expectServes(store: DiskStore, model: Model): Promise<void> {
  expect(store.listKeys(undefined, false).map((e) => e.key)).toEqual([...model.keys()].sort());
  for (const [key, { bytes, version }] of model) {
    expect(store.stat(key)?.version, key).toBe(version);
    expect((await readAll(store.read(key))).equals(bytes), key).toBe(true);
  }
}

/** Reopens from the snapshot, then from a full rebuild: both must serve `model` with one index. */
async function expectBothRecoveries(v: TempVolume, model: Model): Promise<void> {
  const viaSnapshot = await start(v);
  await expectServes(viaSnapshot, model);
  const index = viaSnapshot.describeIndex();
  forget(viaSnapshot);
  await viaSnapshot.simulateCrash();
  await removeSnapshot(v.dataDir);
  const rebuilt = await start(v);
  expect(rebuilt.recovery?.mode).toBe("full-rebuild");
  expect(rebuilt.describeIndex()).toEqual(index);
  await expectServes(rebuilt, model);
}

describe("compaction", () => {
  it("reclaims the space of overwritten and deleted values and keeps every live one", async () => {
    volume = await tempVolume();
    const store = await start(volume);
    const writer = new Writer(store);
    await fillWithGarbage(writer, 1);
    const before = store.stats();
    const result = await store.compact();
    const after = store.stats();
    expect(result.segmentsCompacted).toBeGreaterThan(1);
    expect(result.bytesFreed).toBeGreaterThan(0);
    expect(after.usedBytes).toBeLessThan(before.usedBytes);
    expect(after.liveBytes).toBe(before.liveBytes);
    await expectServes(store, writer.model);
    expect(await store.compact()).toEqual({ segmentsCompacted: 0, bytesFreed: 0 });
    await store.close();
    forget(store);
    await expectBothRecoveries(volume, writer.model);
  });

  it("loses no write made while it runs (overwrites, deletes, new keys between copy and switch)", async () => {
    volume = await tempVolume();
    const hook: { during?: () => Promise<void> } = {};
    const store = await start(volume, {
      onCompactionStep: async (step) => {
        if (step === "output-written" && hook.during !== undefined) await hook.during();
      },
    });
    const writer = new Writer(store);
    await fillWithGarbage(writer, 2);
    const big = seededBytes(3, 600_000);
    await writer.put("big", big);
    // A read that started before the compaction finishes after its segment is deleted.
    const reading = store.read("big")[Symbol.asyncIterator]();
    const first = await reading.next();
    hook.during = async () => {
      for (let i = 0; i < 40; i += 3) await writer.put(`key-${i}`, seededBytes(200 + i, 1500));
      for (let i = 2; i < 40; i += 7) await writer.delete(`key-${i}`);
      await writer.put("new-during", Buffer.from("fresh"));
    };
    const concurrent = (async () => {
      for (let i = 0; i < 20; i++) await writer.put(`side-${i % 5}`, seededBytes(300 + i, 700));
    })();
    const [result] = await Promise.all([store.compact(), concurrent]);
    expect(result.segmentsCompacted).toBeGreaterThan(0);
    const rest: Buffer[] = [first.value as Buffer];
    for (let next = await reading.next(); next.done !== true; next = await reading.next())
      rest.push(next.value);
    expect(Buffer.concat(rest).equals(big)).toBe(true);
    await expectServes(store, writer.model);
    await store.close();
    forget(store);
    await expectBothRecoveries(volume, writer.model);
  });

  const steps: CompactionStep[] = [
    "output-written",
    "output-synced",
    "marker-written",
    "output-renamed",
    "index-switched",
    "snapshot-written",
    "sources-deleted",
    "marker-removed",
  ];

  it.each(steps)("recovers from a crash at step %s", async (crashAt) => {
    volume = await tempVolume();
    let reached: () => void = () => undefined;
    const atStep = new Promise<void>((resolve) => (reached = resolve));
    const store = await start(volume, {
      onCompactionStep: (step) => {
        if (step !== crashAt) return;
        reached();
        return new Promise<void>(() => undefined); // frozen here until the "crash"
      },
    });
    const writer = new Writer(store);
    await fillWithGarbage(writer, 4);
    const pending = Buffer.from("pending");
    await store.prepare(headerFor("pending-tx", "pending-key", pending), chunksOf(pending));
    void store.compact().catch(() => undefined);
    await atStep;
    forget(store);
    await store.simulateCrash();

    const after = await start(volume);
    await expectServes(after, writer.model);
    const files = await readdir(volume.dataDir);
    expect(files.filter((f) => f.endsWith(".compacting") || f === "compaction.marker")).toEqual([]);
    await after.commit("pending-tx", writer.version++);
    writer.model.set("pending-key", { bytes: pending, version: writer.version - 1 });
    const again = await after.compact();
    expect(again.segmentsCompacted).toBeGreaterThanOrEqual(0);
    await expectServes(after, writer.model);
    await after.close();
    forget(after);
    await expectBothRecoveries(volume, writer.model);
  });

  it("refuses to start without room for a copy of the largest segment (DISK_FULL) and changes nothing", async () => {
    volume = await tempVolume();
    const space = fakeDiskSpace(10 * 1024 ** 3, 20 * 1024 ** 3);
    const store = await start(volume, { diskSpace: space.read });
    const writer = new Writer(store);
    await fillWithGarbage(writer, 5);
    const segments = store.segmentNumbers();
    space.freeBytes = 1000;
    await expect(store.compact()).rejects.toMatchObject({ code: ErrorCode.DISK_FULL });
    expect(store.segmentNumbers()).toEqual(segments);
    await expectServes(store, writer.model);
  });

  it("compacts with less room than a segment when what the segments still hold fits (mostly garbage)", async () => {
    volume = await tempVolume();
    const space = fakeDiskSpace(10 * 1024 ** 3, 20 * 1024 ** 3);
    const store = await start(volume, { segmentBytesMax: 1024 * 1024, diskSpace: space.read });
    const writer = new Writer(store);
    // One key overwritten: every sealed segment is garbage but for the last value.
    for (let i = 0; i < 80; i++) await writer.put("hot", seededBytes(i, 64 * 1024));
    expect(store.segmentNumbers().length).toBeGreaterThan(3);
    // Less than one segment free, more than the live value plus the margin.
    space.freeBytes = 64 * 1024 + engineLimits.compactionRoomMarginBytes + 64 * 1024;
    const result = await store.compact();
    expect(result.segmentsCompacted).toBeGreaterThan(2);
    expect(result.bytesFreed).toBeGreaterThan(3 * 1024 * 1024);
    await expectServes(store, writer.model);
    // Less than the live values plus the margin: refused, nothing changes.
    await writer.put("second", seededBytes(1000, 600 * 1024));
    for (let i = 0; i < 20; i++) await writer.put("hot", seededBytes(100 + i, 64 * 1024));
    const segments = store.segmentNumbers();
    space.freeBytes = 64 * 1024;
    await expect(store.compact()).rejects.toMatchObject({ code: ErrorCode.DISK_FULL });
    expect(store.segmentNumbers()).toEqual(segments);
    await expectServes(store, writer.model);
  });

  // Findings 17 of docs/RELIABILITY.md: a disk full to the last byte could not compact, so
  // it could not delete either; the restart reserve is given up to start from.
  it("gives up the restart reserve to compact a disk with no room left, and makes it again later", async () => {
    volume = await tempVolume();
    const reserve = join(volume.dataDir, RESTART_RESERVE_FILE);
    const hasReserve = (): Promise<boolean> =>
      stat(reserve).then(
        () => true,
        () => false,
      );
    // Full: no byte free while the reserve is there, and its room once it is gone.
    let full = false;
    let freedByRelease = false;
    const diskSpace = async (): Promise<DiskSpace> => {
      const reserved = await hasReserve();
      if (full && !reserved) freedByRelease = true;
      return { freeBytes: full && reserved ? 0 : 10 * 1024 ** 3, totalBytes: 20 * 1024 ** 3 };
    };
    const store = await start(volume, { segmentBytesMax: 1024 * 1024, diskSpace, diskSpaceRefreshMs: 20 });
    await waitFor("the restart reserve", async () => ((await hasReserve()) ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    const writer = new Writer(store);
    for (let i = 0; i < 80; i++) await writer.put("hot", seededBytes(i, 64 * 1024));
    full = true;
    const result = await store.compact();
    expect(result.segmentsCompacted).toBeGreaterThan(2);
    expect(freedByRelease).toBe(true);
    await expectServes(store, writer.model);
    // Room again: the periodic disk-space check makes the reserve again.
    await waitFor("the reserve made again", async () => ((await hasReserve()) ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
  });

  // Findings 12 of docs/RELIABILITY.md: a volume whose small disk filled with garbage could
  // not compact (it wanted room for a whole segment), so it never got room back.
  it.runIf(canMountSmallDisks)(
    "gets room back on a real full disk, and an output that runs out of room is removed and changes nothing",
    async () => {
      volume = await tempVolume();
      const disk = await mountSmallDiskIn(volume.root, "disk", 16 * 1024 * 1024);
      const dataDir = join(disk, "data");
      // The store reads the real free space, except while `claimRoom` makes it believe in more.
      let claimRoom = false;
      const diskSpace = (dir: string): Promise<DiskSpace> =>
        claimRoom
          ? Promise.resolve({ freeBytes: 8 * 1024 * 1024, totalBytes: 16 * 1024 * 1024 })
          : diskSpaceOf(dir);
      const options = { dataDir, walDir: join(disk, "wal"), segmentBytesMax: 1024 * 1024, diskSpace };
      const store = await start(volume, options);
      const writer = new Writer(store);
      for (let i = 0; i < 80; i++) await writer.put("hot", seededBytes(i, 64 * 1024));
      await writer.put("cold", seededBytes(500, 400 * 1024));
      for (let i = 0; i < 10; i++) await writer.put("hot", seededBytes(600 + i, 64 * 1024));
      // Without a restart reserve to give up (the test above gives one up), the full disk
      // has no room to start from.
      await rm(join(dataDir, RESTART_RESERVE_FILE), { force: true });
      await fillDisk(disk, "filler");
      const segments = store.segmentNumbers();
      await expect(store.compact()).rejects.toMatchObject({ code: ErrorCode.DISK_FULL });

      // An output bigger than the room left: told there is room, the compaction fails with
      // DISK_FULL, whether no output can be made (no byte free) or the copy runs out of room
      // (100 KiB free); the output is removed and every segment is still there.
      const filler = join(disk, "filler");
      for (const freed of [0, 100 * 1024]) {
        await truncate(filler, (await stat(filler)).size - freed);
        claimRoom = true;
        await expect(store.compact()).rejects.toMatchObject({ code: ErrorCode.DISK_FULL });
        claimRoom = false;
        expect(store.segmentNumbers()).toEqual(segments);
        expect((await readdir(dataDir)).filter((name) => name.endsWith(".compacting"))).toEqual([]);
        await expectServes(store, writer.model);
      }

      // Room for the live values and the margin, less than a segment: the compaction runs.
      await truncate(filler, (await stat(filler)).size - 900 * 1024);
      const result = await store.compact();
      expect(result.bytesFreed).toBeGreaterThan(4 * 1024 * 1024);
      await expectServes(store, writer.model);
    },
  );

  it("drops a tombstone once no other segment may hold its key, and the key stays deleted", async () => {
    volume = await tempVolume();
    const store = await start(volume);
    const writer = new Writer(store);
    await writer.put("doomed", seededBytes(6, 3000));
    for (let i = 0; i < 30; i++) await writer.put(`filler-${i}`, seededBytes(7 + i, 3000));
    await writer.delete("doomed");
    for (let i = 0; i < 30; i++) await writer.put(`filler-${i}`, seededBytes(70 + i, 3000));
    expect(store.describeIndex().tombstones).toEqual([expect.stringMatching(/^doomed /)]);
    // The last put sealed a segment; its filter (the one it had while active) counts at
    // once, so a compaction right away decides against filters that all lack the key.
    await store.compact();
    // The tombstone is gone only if every segment outside its compaction (those written
    // after the delete, and the active one) has a filter that lacks the key.
    expect(store.describeIndex().tombstones).toEqual([]);
    await store.close();
    forget(store);
    await expectBothRecoveries(volume, writer.model);
  });

  it("runs automatically when a segment's garbage ratio passes the threshold", async () => {
    volume = await tempVolume();
    const store = await start(volume, { compactionGarbageRatio: 0.5, compactionCheckIntervalMs: 50 });
    const writer = new Writer(store);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20; i++) await writer.put(`key-${i}`, seededBytes(round * 100 + i, 4000));
    }
    const deadline = Date.now() + 10_000;
    while (store.stats().usedBytes > 2.2 * store.stats().liveBytes && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(store.stats().usedBytes).toBeLessThanOrEqual(2.2 * store.stats().liveBytes);
    await expectServes(store, writer.model);
  });

  it("never copies a corrupt record: the compaction of its segment fails with DATA_CORRUPT", async () => {
    volume = await tempVolume();
    const store = await start(volume);
    const writer = new Writer(store);
    await fillWithGarbage(writer, 8);
    const victim = store.listKeys(undefined, false)[0];
    if (victim === undefined) throw new Error("no keys");
    await store.close();
    forget(store);
    const index = await start(volume);
    const where = /@(\d+):(\d+)$/.exec(
      index.describeIndex().values.find((v) => v.startsWith(`${victim.key} `)) ?? "",
    );
    forget(index);
    await index.close();
    const path = join(volume.dataDir, segmentFileName(Number(where?.[1])));
    const bytes = await readFile(path);
    const at = Number(where?.[2]) + 200;
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    const reopened = await start(volume);
    await expect(reopened.compact()).rejects.toMatchObject({ code: ErrorCode.DATA_CORRUPT });
    expect(reopened.segmentNumbers()).toContain(Number(where?.[1]));
    await expect(readAll(reopened.read(victim.key))).rejects.toMatchObject({ code: ErrorCode.DATA_CORRUPT });
    writer.model.delete(victim.key);
    for (const [key, { bytes }] of writer.model)
      expect((await readAll(reopened.read(key))).equals(bytes)).toBe(true);
  });
});

describe("compaction, randomized (seeded; HEAVY=1 runs more seeds)", () => {
  const HEAVY = process.env["HEAVY"] === "1";
  const seeds = Array.from({ length: HEAVY ? 40 : 2 }, (_, i) => 500 + i);
  const steps: CompactionStep[] = ["output-written", "marker-written", "index-switched", "sources-deleted"];

  it.each(seeds)(
    "concurrent writers, deletes, aborts, compactions and crashes lose nothing (seed=%i)",
    async (seed) => {
      volume = await tempVolume();
      const random = seededRandom(seed);
      const model: Model = new Map();
      let version = 1;
      for (let round = 0; round < (HEAVY ? 6 : 3); round++) {
        const freezeAt = random(3) === 0 ? steps[random(steps.length)] : undefined;
        let frozen = false;
        let markFrozen = (): void => undefined;
        const frozenNow = new Promise<void>((resolve) => (markFrozen = resolve));
        const store = await start(volume, {
          onCompactionStep: (step) => {
            if (step !== freezeAt) return;
            frozen = true;
            markFrozen();
            return new Promise<void>(() => undefined);
          },
        });
        await expectServes(store, model);
        const worker = async (w: number): Promise<void> => {
          for (let i = 0; i < 25; i++) {
            const key = `w${w}-${random(6)}`;
            const op = random(10);
            const v = version++;
            if (op < 6) {
              const bytes = seededBytes(seed * 100_000 + v, 1 + random(6000));
              await putValue(store, key, bytes, v, `tx-${seed}-${v}`);
              model.set(key, { bytes, version: v });
            } else if (op < 8) {
              await store.delete(key, v);
              model.delete(key);
            } else {
              const bytes = Buffer.from("aborted");
              await store.prepare(headerFor(`ab-${seed}-${v}`, key, bytes), chunksOf(bytes));
              await store.abort(`ab-${seed}-${v}`);
            }
          }
        };
        const started: Promise<unknown>[] = [];
        const compactions = (async () => {
          for (let c = 0; c < 3 && !frozen; c++) {
            await new Promise((resolve) => setTimeout(resolve, random(30)));
            started.push(store.compact().catch(() => undefined));
          }
        })();
        await Promise.all([worker(0), worker(1), worker(2), compactions]);
        // A compaction still running may yet reach the step that freezes it, and a clean
        // close waits for the compaction in progress: wait until each one ended or froze.
        await Promise.race([Promise.all(started), frozenNow]);
        forget(store);
        if (frozen || random(2) === 0) await store.simulateCrash();
        else await store.close();
      }
      const last = await start(volume);
      await expectServes(last, model);
      forget(last);
      await last.close();
      await expectBothRecoveries(volume, model);
    },
  );
});
