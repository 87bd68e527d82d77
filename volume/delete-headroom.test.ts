import { stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, isMinikvError } from "../common/errors.js";
import { canMountSmallDisks, mountSmallDiskIn, unmountSmallDisks } from "../test/support/small-disk.js";
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
import { waitFor } from "../test/support/wait.js";

let volume: TempVolume | undefined;
let store: DiskStore | undefined;

afterEach(async () => {
  await store?.close();
  store = undefined;
  await unmountSmallDisks();
  await volume?.remove();
  volume = undefined;
});

describe("the delete headroom", () => {
  it("keeps new values out of the last free bytes, which deletes may still use", async () => {
    volume = await tempVolume();
    const space = fakeDiskSpace(10 * 1024 ** 3, 64 * 1024 ** 3);
    store = await volume.open({ diskSpace: space.read, diskSpaceRefreshMs: 20 });
    const s = store;
    await putValue(s, "kept", seededBytes(1, 5000), 1);
    await putValue(s, "doomed", seededBytes(2, 5000), 2);

    // 10,000 bytes beyond the headroom (the reserve is made, nothing is owed).
    space.freeBytes = engineLimits.deleteHeadroomBytes + 10_000;
    await waitFor(
      "the new free space seen",
      () => (s.stats().capacityBytes - s.stats().usedBytes < 20_000 ? true : undefined),
      {
        timeoutMs: 5_000,
      },
    );
    const big = seededBytes(3, 20_000);
    const refused = await s
      .prepare(headerFor("tx-big", "big", big), chunksOf(big))
      .catch((err: unknown) => err);
    expect(refused).toMatchObject({
      code: ErrorCode.DISK_FULL,
      detail: { deleteHeadroomBytes: String(engineLimits.deleteHeadroomBytes) },
    });
    expect(s.describeIndex().prepared).toEqual([]);
    await putValue(s, "small", seededBytes(4, 5000), 3);

    // Inside the headroom: no value fits, deletes go on.
    space.freeBytes = engineLimits.deleteHeadroomBytes - 1;
    await waitFor(
      "the disk seen full",
      () => (s.stats().capacityBytes === s.stats().usedBytes ? true : undefined),
      {
        timeoutMs: 5_000,
      },
    );
    const tiny = seededBytes(5, 10);
    await expect(s.prepare(headerFor("tx-tiny", "tiny", tiny), chunksOf(tiny))).rejects.toMatchObject({
      code: ErrorCode.DISK_FULL,
    });
    await s.delete("doomed", 4);
    expect(s.stat("doomed")).toBeUndefined();
    expect((await readAll(s.read("kept"))).equals(seededBytes(1, 5000))).toBe(true);
  });

  it("is at most 1/32 of a small disk", async () => {
    volume = await tempVolume();
    store = await volume.open({ diskSpace: fakeDiskSpace(4 * 1024 * 1024, 32 * 1024 * 1024).read });
    // 4 MiB free, a 1 MiB headroom (1/32 of 32 MiB): 3 MiB for values.
    const over = seededBytes(7, 3 * 1024 * 1024 + 1);
    await expect(store.prepare(headerFor("tx-over", "over", over), chunksOf(over))).rejects.toMatchObject({
      code: ErrorCode.DISK_FULL,
      detail: { deleteHeadroomBytes: String(1024 * 1024) },
    });
    await putValue(store, "fits", seededBytes(6, 3 * 1024 * 1024 - 4096), 1);
  });

  it("counts the values admitted since the free space was last read", async () => {
    volume = await tempVolume();
    // A 64 MiB disk: a 4 MiB restart reserve (made: 10 MiB is room for it twice over) and a
    // 2 MiB headroom, so 8 MiB for values. The free space is read at open and then not again.
    const mib = 1024 * 1024;
    store = await volume.open({
      diskSpace: fakeDiskSpace(10 * mib, 64 * mib).read,
      diskSpaceRefreshMs: 600_000,
    });
    await putValue(store, "first", seededBytes(1, 5 * mib), 1);
    // The reading still says 8 MiB; 5 of them are taken.
    const second = seededBytes(2, 5 * mib);
    await expect(
      store.prepare(headerFor("tx-second", "second", second), chunksOf(second)),
    ).rejects.toMatchObject({ code: ErrorCode.DISK_FULL, detail: { freeBytes: String(3 * mib) } });
    expect(store.describeIndex().prepared).toEqual([]);
    await putValue(store, "third", seededBytes(3, 3 * mib), 2);
    expect(store.stats().capacityBytes).toBe(store.stats().usedBytes);
  });

  it("counts a value still being written when the free space is read", async () => {
    volume = await tempVolume();
    const mib = 1024 * 1024;
    // As above, 8 MiB for values; the fake file system never shows them, and is read every 20 ms.
    store = await volume.open({ diskSpace: fakeDiskSpace(10 * mib, 64 * mib).read, diskSpaceRefreshMs: 20 });
    const s = store;
    const big = seededBytes(1, 6 * mib);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    async function* slowBody(): AsyncGenerator<Uint8Array> {
      yield big.subarray(0, mib);
      await held;
      yield big.subarray(mib);
    }
    const first = s.prepare(headerFor("tx-big", "big", big), slowBody());
    // Readings taken while it is being written: its 6 MiB still count.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = seededBytes(2, 3 * mib);
    await expect(s.prepare(headerFor("tx-second", "second", second), chunksOf(second))).rejects.toMatchObject(
      { code: ErrorCode.DISK_FULL, detail: { freeBytes: String(2 * mib) } },
    );
    release();
    await first;
    await s.commit("tx-big", 1);
    expect((await readAll(s.read("big"))).equals(big)).toBe(true);
  });

  // Findings 17 of docs/RELIABILITY.md: on a small disk the zeros kept ahead of the WAL and
  // the active segment, and the values written between two readings of the free space,
  // took the headroom, and a volume full of values could then compact only by giving up
  // its restart reserve.
  it.runIf(canMountSmallDisks)(
    "stays free on a real disk filled with values, and compaction needs nothing beyond it",
    async () => {
      volume = await tempVolume();
      const disk = await mountSmallDiskIn(volume.root, "disk", 48 * 1024 * 1024);
      const dataDir = join(disk, "data");
      store = await volume.open({
        dataDir,
        walDir: join(disk, "wal"),
        segmentBytesMax: 8 * 1024 * 1024,
        diskSpaceRefreshMs: 1_000,
        compactionCheckIntervalMs: 600_000,
      });
      const s = store;
      const headroom = (48 * 1024 * 1024) / 32;
      const freeBytes = async (): Promise<number> => {
        const fs = await statfs(disk);
        return fs.bavail * fs.bsize;
      };
      const keys: string[] = [];
      // Bounded: 48 MiB holds fewer than 768 values of 64 KiB.
      for (let i = 0; i < 1_000; i++) {
        const value = seededBytes(100 + i, 64 * 1024);
        const refused = await putValue(s, `key-${i}`, value, i + 1).then(
          () => false,
          (err: unknown) => isMinikvError(err) && err.code === ErrorCode.DISK_FULL,
        );
        if (refused) break;
        keys.push(`key-${i}`);
      }
      expect(keys.length).toBeGreaterThan(500);
      // What may take some of the headroom: each write's WAL records and record head
      // (about 200 bytes), which the admission of its value does not count.
      expect(await freeBytes()).toBeGreaterThanOrEqual(headroom - keys.length * 256);

      let version = 10_000;
      for (const key of keys) expect(await s.delete(key, ++version)).toBe(true);
      // ...and each delete's tombstone and WAL record.
      const beforeCompaction = await freeBytes();
      expect(beforeCompaction).toBeGreaterThanOrEqual(headroom - keys.length * 512);
      const result = await s.compact();
      expect(result.segmentsCompacted).toBeGreaterThan(0);
      // The sealed segments went (at least three of 8 MiB; the active one stays).
      expect((await freeBytes()) - beforeCompaction).toBeGreaterThan(24 * 1024 * 1024);
      // The restart reserve was never given up.
      expect((await stat(join(dataDir, RESTART_RESERVE_FILE))).size).toBe(3 * 1024 * 1024);
    },
    60_000,
  );
});
