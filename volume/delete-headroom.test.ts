import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import type { DiskStore } from "./disk-store.js";
import { engineLimits } from "./engine-limits.js";
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
});
