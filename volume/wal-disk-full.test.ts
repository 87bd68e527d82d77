import { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import { createLogger } from "../common/logger.js";
import type { DiskStore } from "./disk-store.js";
import {
  chunksOf,
  headerFor,
  putValue,
  readAll,
  seededBytes,
  tempVolume,
  type TempVolume,
} from "./store-test-support.js";
import { WriteAheadLog } from "./wal.js";
import type { WalEntry } from "./wal-record.js";

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

/** The active segment's O_DSYNC handle, which a round's prepared records are written through (white-box). */
function activeSegmentDurableHandle(store: DiskStore): FileHandle {
  const segments = (store as unknown as { segments: { active: { durableHandle: FileHandle } } }).segments;
  return segments.active.durableHandle;
}

/** Makes the next `count` writes to `handle` write a part of their bytes (half), then fail with ENOSPC. */
function failWritesWithEnospc(handle: FileHandle, count: number, writtenFraction = 0.5): void {
  const real = handle.write.bind(handle) as (...args: unknown[]) => Promise<unknown>;
  let left = count;
  (handle as unknown as { write: (...args: unknown[]) => Promise<unknown> }).write = async (...args) => {
    if (left <= 0) return real(...args);
    left -= 1;
    const [data, offset, length, position] = args as [Uint8Array, number, number, number];
    await real(data, offset, Math.floor(length * writtenFraction), position);
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  };
}

/** Makes the next write to `handle` start `delayMs` late (a slow WAL beside a fast refusal). */
function delayNextWrite(handle: FileHandle, delayMs: number): void {
  const real = handle.write.bind(handle) as (...args: unknown[]) => Promise<unknown>;
  let delayed = false;
  (handle as unknown as { write: (...args: unknown[]) => Promise<unknown> }).write = async (...args) => {
    if (!delayed) {
      delayed = true;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    return real(...args);
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

  it("a prepared record refused by the data disk fails its round with DISK_FULL; its WAL records are cut back", async () => {
    volume = await tempVolume();
    const first = await volume.open();
    const before = seededBytes(4, 4096);
    await putValue(first, "before", before, 1);
    // A clean close leaves an index snapshot: the restart below replays the WAL after it
    // (a full rebuild would find the refused record itself, as any unacknowledged prepare).
    await first.close();
    const store = await volume.open();
    open.push(store);
    // The whole record reaches the file before the refusal: only cutting the WAL back keeps
    // replay from finding a PREPARE that names an intact record.
    failWritesWithEnospc(activeSegmentDurableHandle(store), 1, 1);
    // The refusal arrives while the round's WAL write still runs (it must not escape as an
    // unhandled rejection, which would end a volume process).
    delayNextWrite(walHandle(store), 50);
    await expect(
      store.prepare(headerFor("refused-tx", "refused", seededBytes(5, 4096)), chunksOf(seededBytes(5, 4096))),
    ).rejects.toMatchObject({ code: ErrorCode.DISK_FULL });
    // A crash right after: the refused prepare's WAL record is not replayed.
    await store.simulateCrash();
    open.splice(0);

    const reopened = await volume.open();
    open.push(reopened);
    expect(reopened.recovery?.mode).toBe("snapshot");
    expect(reopened.describeIndex().prepared).toEqual([]);
    await expect(reopened.commit("refused-tx", 2)).rejects.toMatchObject({ code: ErrorCode.TX_NOT_FOUND });
    expect(await readAll(reopened.read("before"))).toEqual(before);
    const after = seededBytes(6, 4096);
    await putValue(reopened, "after", after, 3);
    expect(await readAll(reopened.read("after"))).toEqual(after);
  });

  it("a WAL roll with no room for the new file fails alone; the WAL goes on in its current file", async () => {
    volume = await tempVolume();
    const logger = createLogger("test");
    const wal = await WriteAheadLog.open({ dir: volume.walDir, logger });
    await wal.replay(undefined, () => undefined);
    const commit = (txid: string): WalEntry => ({ type: "commit", txid, version: 1, atMs: 1 });
    await wal.append(commit("first"), () => undefined);
    const realOpen = fsp.open;
    let refusals = 0;
    fsp.open = async (...args: Parameters<typeof fsp.open>) => {
      const handle = await realOpen(...args);
      if (refusals === 0 && /wal-\d{16}\.log$/.test(String(args[0]))) {
        // The new file is created; its header does not fit.
        refusals += 1;
        failWritesWithEnospc(handle, 1);
      }
      return handle;
    };
    try {
      await expect(wal.rollAt(() => "captured")).rejects.toMatchObject({ code: ErrorCode.DISK_FULL });
    } finally {
      fsp.open = realOpen;
    }
    expect(refusals).toBe(1);
    await wal.append(commit("second"), () => undefined);
    expect(await wal.rollAt(() => "captured")).toBe("captured");
    await wal.append(commit("third"), () => undefined);
    await wal.close();

    const reopened = await WriteAheadLog.open({ dir: volume.walDir, logger });
    const seen: string[] = [];
    const stats = await reopened.replay(undefined, (entry) =>
      seen.push(entry.type === "commit" ? entry.txid : "?"),
    );
    await reopened.close();
    expect(seen).toEqual(["first", "second", "third"]);
    expect(stats.corruptFiles).toEqual([]);
    expect((await fsp.readdir(volume.walDir)).length).toBeLessThanOrEqual(3);
  });
});
