import { mkdtemp, open as openFile, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../common/logger.js";
import type { DiskStore } from "./disk-store.js";
import { SNAPSHOT_FILE } from "./index-snapshot.js";
import { SEGMENT_FILE_HEADER_BYTES } from "./segment-file.js";
import { putValue, readAll, seededBytes, tempVolume } from "./store-test-support.js";
import type { TempVolume } from "./store-test-support.js";
import { WriteAheadLog, walFileName } from "./wal.js";
import type { WalEntry } from "./wal-record.js";
import { ZeroFill, endBeforeZeroTail, writeFirstZeros } from "./zero-fill.js";

// The WAL and the active segment keep zeros ahead of their end (volume/zero-fill.ts): the
// zeros are never records, a clean close leaves none in a segment, and after a crash they
// are neither served, counted as torn bytes, nor kept.

let volume: TempVolume | undefined;
const open: DiskStore[] = [];
let scratch: string | undefined;

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  await volume?.remove();
  volume = undefined;
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

async function start(v: TempVolume): Promise<DiskStore> {
  const store = await v.open({ segmentBytesMax: 256 * 1024 });
  open.push(store);
  return store;
}

async function crash(store: DiskStore): Promise<void> {
  open.splice(open.indexOf(store), 1);
  await store.simulateCrash();
}

async function segmentFiles(v: TempVolume): Promise<string[]> {
  return (await readdir(v.dataDir))
    .filter((name) => name.endsWith(".dat"))
    .sort()
    .map((name) => join(v.dataDir, name));
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Values spread over several segments of 256 KiB (rolls seal and trim segments). */
async function writeSome(store: DiskStore, count: number): Promise<Map<string, Buffer>> {
  const written = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const value = seededBytes(i + 1, 3000 + (i % 7) * 1000);
    await putValue(store, `key-${i}`, value, i + 1);
    written.set(`key-${i}`, value);
  }
  return written;
}

async function expectServes(store: DiskStore, written: Map<string, Buffer>): Promise<void> {
  for (const [key, value] of written) expect((await readAll(store.read(key))).equals(value), key).toBe(true);
}

describe("zeros kept ahead of the WAL and the active segment", () => {
  it("are there while the volume runs, and a clean close leaves every segment at its records' end", async () => {
    volume = await tempVolume();
    const store = await start(volume);
    const written = await writeSome(store, 120);
    const files = await segmentFiles(volume);
    expect(files.length).toBeGreaterThan(2);
    const active = files.at(-1) ?? "";
    const activeBytes = await readFile(active);
    // The active segment's file runs on past its last record with zeros (more than a
    // record's padding).
    expect(activeBytes.length - endBeforeZeroTail(activeBytes, 0)).toBeGreaterThan(4096);
    await store.close();
    open.splice(open.indexOf(store), 1);

    const reopened = await start(volume);
    expect(reopened.recovery).toMatchObject({ mode: "snapshot", segmentBytesTruncated: 0, walTornBytes: 0 });
    // Every segment of the first run now ends where its records end: the new run's active
    // segment holds no record yet (its logical size is the file header).
    expect(await sizesOf(files)).toBe(reopened.stats().usedBytes - SEGMENT_FILE_HEADER_BYTES);
    await expectServes(reopened, written);
  });

  it("after a crash are cut, not counted as torn bytes, and no acknowledged write is lost", async () => {
    volume = await tempVolume();
    const store = await start(volume);
    const written = await writeSome(store, 60);
    const active = (await segmentFiles(volume)).at(-1) ?? "";
    await crash(store);
    const before = await sizeOf(active);

    const reopened = await start(volume);
    expect(reopened.recovery).toMatchObject({ segmentBytesTruncated: 0, walTornBytes: 0 });
    expect(await sizeOf(active)).toBeLessThan(before);
    const bytes = await readFile(active);
    // What zeros remain are a record's own (its padding, a CRC's zero bytes).
    expect(bytes.length - endBeforeZeroTail(bytes, 0)).toBeLessThan(16);
    await expectServes(reopened, written);
  });

  it("after a crash without an index snapshot, the full rebuild ends each segment's records at its zeros", async () => {
    volume = await tempVolume();
    const store = await start(volume);
    const written = await writeSome(store, 60);
    await crash(store);
    await unlink(join(volume.dataDir, SNAPSHOT_FILE)).catch(() => undefined);

    const reopened = await start(volume);
    expect(reopened.recovery).toMatchObject({
      mode: "full-rebuild",
      segmentBytesTruncated: 0,
      walTornBytes: 0,
    });
    await expectServes(reopened, written);
    // The rebuilt index is the one a snapshot restart gives.
    const rebuilt = reopened.describeIndex();
    await reopened.close();
    open.splice(open.indexOf(reopened), 1);
    const again = await start(volume);
    expect(again.recovery?.mode).toBe("snapshot");
    expect(again.describeIndex()).toEqual(rebuilt);
  });

  it("a WAL file is cut at its last record before the next starts: zeros at the end of an older one are lost blocks", async () => {
    scratch = await mkdtemp(join(tmpdir(), "minikv-zero-fill-"));
    const logger = createLogger("test");
    const commit = (txid: string): WalEntry => ({ type: "commit", txid, version: 1, atMs: 1 });
    const wal = await WriteAheadLog.open({ dir: scratch, logger });
    await wal.replay(undefined, () => undefined);
    await wal.append(commit("a"), () => undefined);
    const afterA = wal.position;
    await wal.append(commit("b"), () => undefined);
    const end = wal.position.offset;
    await wal.rollAt(() => undefined);
    await wal.append(commit("c"), () => undefined);
    await wal.close();
    const older = join(scratch, walFileName(afterA.file));
    expect(await sizeOf(older)).toBe(end);

    // Record "b" lost to zeros: not the zeroed tail of the newest file, but corruption.
    const handle = await openFile(older, "r+");
    await handle.write(Buffer.alloc(end - afterA.offset), 0, end - afterA.offset, afterA.offset);
    await handle.close();
    const reopened = await WriteAheadLog.open({ dir: scratch, logger });
    const seen: string[] = [];
    const stats = await reopened.replay(undefined, (entry) =>
      seen.push(entry.type === "commit" ? entry.txid : "?"),
    );
    await reopened.close();
    expect(seen).toEqual(["a", "c"]);
    expect(stats.corruptFiles).toEqual([afterA.file]);
    expect(stats.tornBytes).toBe(0);
  });

  it("a write into the region a fill is zeroing waits for the fill, so the fill never overwrites it", async () => {
    scratch = await mkdtemp(join(tmpdir(), "minikv-zero-fill-"));
    const path = join(scratch, "file");
    await writeFile(path, Buffer.alloc(0));
    const errors: unknown[] = [];
    const chunk = 8 * 1024 * 1024;
    const fill = await ZeroFill.open(
      path,
      0,
      chunk,
      (err) => errors.push(err),
      () => Promise.resolve(true),
    );
    fill.advance(0); // fills [0, 8 MiB)
    expect(fill.before(chunk, chunk + 10)).toBeUndefined();
    const wait = fill.before(4096, 8192);
    expect(wait).toBeDefined();
    await wait;
    const data = seededBytes(9, 4096);
    const handle = await openFile(path, "r+");
    await handle.write(data, 0, data.length, 4096);
    await handle.close();
    fill.advance(8192); // less than a chunk ahead: the next fill starts where the last ended
    await fill.before(chunk, chunk + 1);
    await fill.close();
    const bytes = await readFile(path);
    expect(bytes.length).toBe(2 * chunk);
    expect(bytes.subarray(4096, 8192).equals(data)).toBe(true);
    expect(endBeforeZeroTail(bytes, 8192)).toBe(8192);
    expect(errors).toEqual([]);
  });

  it("writes no zeros the room check refuses, and then stops filling that file", async () => {
    scratch = await mkdtemp(join(tmpdir(), "minikv-zero-fill-"));
    const path = join(scratch, "file");
    await writeFile(path, Buffer.alloc(0));
    const asked: number[] = [];
    let allow = false;
    const room = (bytes: number): Promise<boolean> => {
      asked.push(bytes);
      return Promise.resolve(allow);
    };
    const handle = await openFile(path, "r+");
    expect(await writeFirstZeros(handle, 0, 4096, room)).toBe(false);
    await handle.close();
    expect((await stat(path)).size).toBe(0);

    const errors: unknown[] = [];
    const fill = await ZeroFill.open(path, 0, 64 * 1024, (err) => errors.push(err), room);
    fill.advance(0);
    await fill.before(0, 1);
    allow = true;
    fill.advance(10); // stopped: the room is not asked again
    expect(fill.before(0, 1)).toBeUndefined();
    await fill.close();
    expect(asked).toEqual([4096, 64 * 1024]);
    expect((await stat(path)).size).toBe(0);
    expect(errors).toEqual([]);
  });
});

async function sizesOf(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const file of files) total += await sizeOf(file);
  return total;
}
