import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DiskStore } from "./disk-store.js";
import { removeSnapshot, SNAPSHOT_FILE } from "./index-snapshot.js";
import {
  chunksOf,
  headerFor,
  putValue,
  readAll,
  seededBytes,
  seededRandom,
  tempVolume,
} from "./store-test-support.js";
import type { TempVolume } from "./store-test-support.js";

// Issue 2 §2 "Index snapshots" and §3 "Snapshot restart and full-rebuild restart produce the
// same index".

let volume: TempVolume | undefined;
const open: DiskStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  await volume?.remove();
  volume = undefined;
});

async function start(v: TempVolume, options: Parameters<TempVolume["open"]>[0] = {}): Promise<DiskStore> {
  const store = await v.open({ segmentBytesMax: 64 * 1024, ...options });
  open.push(store);
  return store;
}

async function stop(store: DiskStore): Promise<void> {
  open.splice(open.indexOf(store), 1);
  await store.close();
}

async function crash(store: DiskStore): Promise<void> {
  open.splice(open.indexOf(store), 1);
  await store.simulateCrash();
}

/** A seeded mixed workload; returns the model of what must be served (key → bytes, version). */
async function workload(
  store: DiskStore,
  seed: number,
  ops: number,
): Promise<Map<string, { bytes: Buffer; version: number }>> {
  const random = seededRandom(seed);
  const model = new Map<string, { bytes: Buffer; version: number }>();
  let version = 1;
  for (let i = 0; i < ops; i++) {
    const key = `key-${random(40)}`;
    const choice = random(10);
    if (choice < 6) {
      const bytes = seededBytes(seed * 1000 + i, 1 + random(9000));
      await putValue(store, key, bytes, version, `tx-${seed}-${i}`);
      model.set(key, { bytes, version });
    } else if (choice < 8) {
      await store.delete(key, version);
      model.delete(key);
    } else {
      const bytes = seededBytes(i, 100);
      await store.prepare(headerFor(`ab-${seed}-${i}`, key, bytes), chunksOf(bytes));
      await store.abort(`ab-${seed}-${i}`);
    }
    version += 1;
  }
  return model;
}

async function expectServes(
  store: DiskStore,
  model: Map<string, { bytes: Buffer; version: number }>,
): Promise<void> {
  expect(store.listKeys(undefined, false).map((e) => e.key)).toEqual([...model.keys()].sort());
  for (const [key, { bytes, version }] of model) {
    expect(store.stat(key)?.version, key).toBe(version);
    expect((await readAll(store.read(key))).equals(bytes), key).toBe(true);
  }
}

describe("recovery", () => {
  it("snapshot restart and full-rebuild restart produce the same index", async () => {
    volume = await tempVolume();
    const first = await start(volume);
    const model = await workload(first, 7, 300);
    const pending = seededBytes(99, 5000);
    await first.prepare(headerFor("pending-1", "key-pending", pending), chunksOf(pending));
    await first.compact();
    await workload(first, 8, 0);
    await stop(first);

    const fromSnapshot = await start(volume);
    expect(fromSnapshot.recovery?.mode).toBe("snapshot");
    const viaSnapshot = fromSnapshot.describeIndex();
    await expectServes(fromSnapshot, model);
    await crash(fromSnapshot);

    await removeSnapshot(volume.dataDir);
    const rebuilt = await start(volume);
    expect(rebuilt.recovery?.mode).toBe("full-rebuild");
    expect(rebuilt.describeIndex()).toEqual(viaSnapshot);
    expect(viaSnapshot.prepared).toHaveLength(1);
    await expectServes(rebuilt, model);
    await rebuilt.commit("pending-1", 10_000);
    expect((await readAll(rebuilt.read("key-pending"))).equals(pending)).toBe(true);
  });

  it("restart after a crash loads the snapshot and replays only the WAL tail", async () => {
    volume = await tempVolume();
    const first = await start(volume, { snapshotEveryWalRecords: 50 });
    const model = await workload(first, 11, 120);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await putValue(first, "after-snapshot", Buffer.from("tail"), 5000);
    model.set("after-snapshot", { bytes: Buffer.from("tail"), version: 5000 });
    await crash(first);
    const second = await start(volume);
    expect(second.recovery?.mode).toBe("snapshot");
    expect(second.recovery?.walRecordsReplayed).toBeGreaterThan(0);
    expect(second.recovery?.walRecordsReplayed).toBeLessThan(120);
    await expectServes(second, model);
  });

  it("a corrupt snapshot falls back to a full rebuild with the same result", async () => {
    volume = await tempVolume();
    const first = await start(volume);
    const model = await workload(first, 13, 150);
    await stop(first);
    const path = join(volume.dataDir, SNAPSHOT_FILE);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] ?? 0) ^ 0x20;
    await writeFile(path, bytes);
    const second = await start(volume);
    expect(second.recovery?.mode).toBe("full-rebuild");
    expect(second.recovery?.snapshotProblem).toMatch(/CRC/);
    await expectServes(second, model);
  });

  it("WAL files covered by a snapshot are deleted; the volume keeps working across many restarts", async () => {
    volume = await tempVolume();
    let store = await start(volume);
    const model = new Map<string, { bytes: Buffer; version: number }>();
    for (let round = 0; round < 6; round++) {
      const bytes = seededBytes(round, 3000);
      await putValue(store, `round-${round}`, bytes, round + 1);
      model.set(`round-${round}`, { bytes, version: round + 1 });
      if (round % 2 === 0) await stop(store);
      else await crash(store);
      store = await start(volume);
    }
    await expectServes(store, model);
    await stop(store);
    // The snapshot at close covers every record: only the (empty) file started at it remains.
    const walFiles = (await readdir(volume.walDir)).filter((name) => name.endsWith(".log"));
    expect(walFiles).toHaveLength(1);
  });
});
