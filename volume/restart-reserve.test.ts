import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import {
  canMountSmallDisks,
  fillDisk,
  mountSmallDiskIn,
  unmountSmallDisks,
} from "../test/support/small-disk.js";
import { waitFor } from "../test/support/wait.js";
import type { DiskStore } from "./disk-store.js";
import { engineLimits } from "./engine-limits.js";
import { RESTART_RESERVE_FILE } from "./restart-reserve.js";
import {
  chunksOf,
  fakeDiskSpace,
  headerFor,
  putValue,
  readAll,
  seededBytes,
  tempVolume,
} from "./store-test-support.js";
import type { TempVolume } from "./store-test-support.js";

let volume: TempVolume | undefined;
const open: DiskStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  await unmountSmallDisks();
  await volume?.remove();
  volume = undefined;
});

async function start(v: TempVolume, options: Parameters<TempVolume["open"]>[0] = {}): Promise<DiskStore> {
  const store = await v.open({ segmentBytesMax: 256 * 1024, diskSpaceRefreshMs: 20, ...options });
  open.push(store);
  return store;
}

async function crash(store: DiskStore): Promise<void> {
  open.splice(open.indexOf(store), 1);
  await store.simulateCrash();
}

async function reserveSize(dir: string): Promise<number | undefined> {
  try {
    return (await stat(join(dir, RESTART_RESERVE_FILE))).size;
  } catch {
    return undefined;
  }
}

/** True once the volume reports room for `bytes` more (undefined until then, for waitFor). */
function writable(store: DiskStore, bytes = 1): true | undefined {
  const { capacityBytes, usedBytes } = store.stats();
  return capacityBytes - usedBytes >= bytes ? true : undefined;
}

async function expectRefused(store: DiskStore, key: string): Promise<void> {
  const value = seededBytes(99, 1000);
  await expect(store.prepare(headerFor(`tx-${key}`, key, value), chunksOf(value))).rejects.toMatchObject({
    code: ErrorCode.DISK_FULL,
  });
}

describe("the restart reserve", () => {
  it("is made at open, released by an open that finds less room than it, and made again once there is room", async () => {
    volume = await tempVolume();
    const space = fakeDiskSpace(10 * 1024 ** 3, 64 * 1024 ** 3);
    const diskSpace = space.read;
    const first = await start(volume, { diskSpace });
    expect(await reserveSize(volume.dataDir)).toBe(engineLimits.restartReserveBytes);
    // The WAL directory is on the same file system: one reserve.
    expect(await reserveSize(volume.walDir)).toBeUndefined();
    await putValue(first, "kept", seededBytes(1, 5000), 1);
    await crash(first);

    space.freeBytes = engineLimits.restartReserveBytes - 1;
    const second = await start(volume, { diskSpace });
    expect(await reserveSize(volume.dataDir)).toBeUndefined();
    // Reads go on; writes are refused and the volume reports itself full.
    expect((await readAll(second.read("kept"))).equals(seededBytes(1, 5000))).toBe(true);
    await expectRefused(second, "refused");
    expect(second.stats().capacityBytes).toBe(second.stats().usedBytes);
    expect(second.describeIndex().prepared).toEqual([]);

    // Room for the reserve once is not enough to make it again, and writes get only what
    // is beyond it (500 bytes here).
    space.freeBytes = engineLimits.restartReserveBytes + 500;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await reserveSize(volume.dataDir)).toBeUndefined();
    await expectRefused(second, "refused-again");

    space.freeBytes = 10 * 1024 ** 3;
    const made = await waitFor("the reserve made again", () => reserveSize(volume!.dataDir), {
      timeoutMs: 5_000,
    });
    expect(made.value).toBe(engineLimits.restartReserveBytes);
    await waitFor("room to write", () => writable(second), { timeoutMs: 5_000 });
    await putValue(second, "written", seededBytes(2, 5000), 2);
    expect((await readAll(second.read("written"))).equals(seededBytes(2, 5000))).toBe(true);
  });

  it.runIf(canMountSmallDisks)(
    "is at most 1/16 of the file system, and one per file system (the WAL on another gets its own)",
    async () => {
      volume = await tempVolume();
      const walDisk = await mountSmallDiskIn(volume.root, "wal-disk", 8 * 1024 * 1024);
      const store = await start(volume, {
        walDir: join(walDisk, "wal"),
        diskSpace: (dir) =>
          Promise.resolve(
            dir.startsWith(walDisk)
              ? { freeBytes: 4 * 1024 * 1024, totalBytes: 8 * 1024 * 1024 }
              : { freeBytes: 512 * 1024 ** 2, totalBytes: 1024 ** 3 },
          ),
      });
      expect(await reserveSize(volume.dataDir)).toBe(
        Math.min(engineLimits.restartReserveBytes, 1024 ** 3 / 16),
      );
      expect(await reserveSize(join(walDisk, "wal"))).toBe(512 * 1024);
      await putValue(store, "a", seededBytes(3, 100), 1);
      open.splice(0);
      await store.close();
    },
  );

  // Findings 11 of docs/RELIABILITY.md: a volume killed on a full disk could not open again.
  it.runIf(canMountSmallDisks)(
    "lets a volume killed on a full disk open again; it takes writes again once space is freed",
    async () => {
      volume = await tempVolume();
      const disk = await mountSmallDiskIn(volume.root, "disk", 16 * 1024 * 1024);
      const dataDir = join(disk, "data");
      const options = { dataDir, walDir: join(disk, "wal"), snapshotIntervalMs: 0 };
      const first = await start(volume, options);
      expect(await reserveSize(dataDir)).toBe(1024 * 1024);
      const values = new Map<string, Buffer>();
      for (let i = 0; i < 50; i++) {
        const value = seededBytes(10 + i, 64 * 1024);
        await putValue(first, `key-${i}`, value, i + 1);
        values.set(`key-${i}`, value);
      }
      await fillDisk(disk, "filler");
      await crash(first);

      // Without the reserve this open failed with DISK_FULL: recovery starts a new active
      // segment and a new WAL file, and copies the WAL's decisions. (Recovery also cuts the
      // zeros kept ahead of the old active segment and WAL file, so the reserve may be made
      // again at once.)
      const second = await start(volume, options);
      for (const [key, value] of values)
        expect((await readAll(second.read(key))).equals(value), key).toBe(true);
      await fillDisk(disk, "filler");
      await waitFor("the disk seen full", () => (writable(second) === undefined ? true : undefined), {
        timeoutMs: 5_000,
      });
      await expectRefused(second, "while-full");
      expect(second.describeIndex().prepared).toEqual([]);

      await rm(join(disk, "filler"));
      await waitFor("the reserve made again", () => reserveSize(dataDir), { timeoutMs: 5_000 });
      await waitFor("room to write", () => writable(second, 64 * 1024), { timeoutMs: 5_000 });
      await putValue(second, "after", seededBytes(7, 64 * 1024), 100);
      expect((await readAll(second.read("after"))).equals(seededBytes(7, 64 * 1024))).toBe(true);
    },
  );
});
