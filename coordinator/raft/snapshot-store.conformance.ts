/** The conformance suite every SnapshotStore passes (§7 snapshots), memory and file alike. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SnapshotMeta } from "./core/types.js";
import type { SnapshotSource, SnapshotStore } from "./storage.js";

/** Opens stores over one persistent location; open() again after close() is a restart. */
export interface SnapshotStoreHarness {
  open(): Promise<SnapshotStore>;
  cleanup(): Promise<void>;
}

export function snapshotMeta(index: number, term = 1): SnapshotMeta {
  return { index, term, confState: { voters: ["a", "b", "c"], learners: ["d"] } };
}

/** Reads a whole snapshot into one buffer and closes it. */
export async function readAll(source: SnapshotSource): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  try {
    for await (const chunk of source.chunks()) parts.push(chunk);
  } finally {
    await source.close();
  }
  return Buffer.concat(parts);
}

function pattern(sizeBytes: number, seed: number): Buffer {
  const bytes = Buffer.alloc(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

async function writeSnapshot(store: SnapshotStore, index: number, body: Buffer, term = 1): Promise<void> {
  const sink = await store.create(snapshotMeta(index, term), { a: "127.0.0.1:1" });
  const chunkBytes = 100_000;
  for (let at = 0; at < body.length; at += chunkBytes) await sink.write(body.subarray(at, at + chunkBytes));
  await sink.commit();
}

export function describeSnapshotStore(name: string, factory: () => Promise<SnapshotStoreHarness>): void {
  describe(`SnapshotStore conformance: ${name}`, () => {
    let harness: SnapshotStoreHarness;
    let store: SnapshotStore;

    beforeEach(async () => {
      harness = await factory();
      store = await harness.open();
    });

    afterEach(async () => {
      await store.close();
      await harness.cleanup();
    });

    async function restart(): Promise<SnapshotStore> {
      await store.close();
      store = await harness.open();
      return store;
    }

    it("starts empty", async () => {
      expect(await store.list()).toEqual([]);
      expect(await store.latest()).toBeNull();
      await expect(store.open(1)).rejects.toThrowError(
        expect.objectContaining({ code: "NOT_FOUND" }) as Error,
      );
    });

    it("streams bytes out exactly as written, with meta and addresses", async () => {
      const body = pattern(1_234_567, 7);
      await writeSnapshot(store, 10, body, 3);
      const latest = await store.latest();
      expect(latest).toEqual({
        meta: snapshotMeta(10, 3),
        peerAddresses: { a: "127.0.0.1:1" },
        sizeBytes: body.length,
      });
      const source = await store.open(10);
      expect(source.info).toEqual(latest);
      expect((await readAll(source)).equals(body)).toBe(true);
    });

    it("stores an empty snapshot", async () => {
      await writeSnapshot(store, 1, Buffer.alloc(0));
      expect((await readAll(await store.open(1))).length).toBe(0);
    });

    it("shows nothing of an unfinished or aborted snapshot", async () => {
      const sink = await store.create(snapshotMeta(5), {});
      await sink.write(pattern(1000, 1));
      expect(await store.latest()).toBeNull();
      await sink.abort();
      await sink.abort();
      expect(await (await restart()).list()).toEqual([]);
    });

    it("lists newest first, survives a restart, and prunes old ones", async () => {
      await writeSnapshot(store, 5, pattern(10, 5));
      await writeSnapshot(store, 20, pattern(20, 20));
      await writeSnapshot(store, 12, pattern(12, 12));
      expect((await store.list()).map((s) => s.meta.index)).toEqual([20, 12, 5]);
      const restarted = await restart();
      expect((await restarted.latest())?.meta.index).toBe(20);
      await restarted.prune(2);
      expect((await restarted.list()).map((s) => s.meta.index)).toEqual([20, 12]);
      await restarted.prune(0);
      expect((await restarted.list()).map((s) => s.meta.index)).toEqual([20]);
      expect((await readAll(await restarted.open(20))).equals(pattern(20, 20))).toBe(true);
    });

    it("replaces a snapshot at the same index on commit", async () => {
      await writeSnapshot(store, 8, pattern(100, 1));
      await writeSnapshot(store, 8, pattern(50, 2), 2);
      const list = await store.list();
      expect(list).toHaveLength(1);
      expect(list[0]?.meta.term).toBe(2);
      expect((await readAll(await store.open(8))).equals(pattern(50, 2))).toBe(true);
    });

    it("refuses an invalid index", async () => {
      await expect(store.create(snapshotMeta(0), {})).rejects.toThrowError(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }) as Error,
      );
    });
  });
}
