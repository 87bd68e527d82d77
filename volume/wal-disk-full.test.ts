import type { FileHandle } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import type { DiskStore } from "./disk-store.js";
import { putValue, readAll, seededBytes, tempVolume, type TempVolume } from "./store-test-support.js";

let volume: TempVolume | undefined;
const open: DiskStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  await volume?.remove();
  volume = undefined;
});

/** The WAL's open file (white-box: the only way to make its next write fail with ENOSPC). */
function walHandle(store: DiskStore): FileHandle {
  const wal = (store as unknown as { wal: { handle: FileHandle } }).wal;
  return wal.handle;
}

/** Makes the next `count` writes to `handle` write half their bytes, then fail with ENOSPC. */
function failWritesWithEnospc(handle: FileHandle, count: number): void {
  const real = handle.write.bind(handle) as (...args: unknown[]) => Promise<unknown>;
  let left = count;
  (handle as unknown as { write: (...args: unknown[]) => Promise<unknown> }).write = async (...args) => {
    if (left <= 0) return real(...args);
    left -= 1;
    const [data, offset, length, position] = args as [Uint8Array, number, number, number];
    await real(data, offset, Math.floor(length / 2), position);
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  };
}

describe("a full disk under the WAL (issue 2: bad input changes nothing)", () => {
  it("refuses the write with DISK_FULL, keeps every earlier record, and takes writes again once there is room", async () => {
    volume = await tempVolume();
    const store = await volume.open();
    open.push(store);
    const before = seededBytes(1, 4096);
    await putValue(store, "before", before, 1);
    failWritesWithEnospc(walHandle(store), 1);
    await expect(putValue(store, "refused", seededBytes(2, 4096), 2)).rejects.toMatchObject({
      code: ErrorCode.DISK_FULL,
    });
    // Room again: the same volume takes the next write without a restart.
    const after = seededBytes(3, 4096);
    await putValue(store, "after", after, 3);
    await store.close();
    open.splice(0);

    const reopened = await volume.open();
    open.push(reopened);
    expect(await readAll(reopened.read("before"))).toEqual(before);
    expect(await readAll(reopened.read("after"))).toEqual(after);
    await expect(readAll(reopened.read("refused"))).rejects.toMatchObject({ code: ErrorCode.KEY_NOT_FOUND });
  });
});
