import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Level } from "level";
import { describe, expect, it } from "vitest";
import { LevelRaftStore, decodeEntryValue, encodeEntryValue } from "./level-raft-store.js";
import { describeLogStore, entryRange } from "./log-store.conformance.js";
import { describeStableStore } from "./stable-store.conformance.js";

async function harness() {
  const dir = await mkdtemp(join(tmpdir(), "minikv-raft-log-"));
  return {
    open: () => LevelRaftStore.open(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

describeLogStore("LevelRaftStore", harness);
describeStableStore("LevelRaftStore", harness);

describe("LevelRaftStore on disk", () => {
  it("detects a corrupted entry by its CRC (DATA_CORRUPT), never returning bad bytes", async () => {
    const { open, cleanup } = await harness();
    try {
      const store = await open();
      await store.append(entryRange(1, 4, 1));
      await store.close();
      const dir = (store as unknown as { db: { location: string } }).db.location;
      const raw = new Level<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
      const key = Buffer.from([0x65, 0, 0, 0, 0, 0, 0, 0, 2]);
      const value = (await raw.get(key)) ?? Buffer.alloc(0);
      value.writeUInt8(value.readUInt8(value.length - 1) ^ 0xff, value.length - 1);
      await raw.put(key, value);
      await raw.close();
      const reopened = await open();
      await expect(reopened.entries(1, 4)).rejects.toThrowError(
        expect.objectContaining({ code: "DATA_CORRUPT" }) as Error,
      );
      expect((await reopened.entries(3, 4))[0]?.index).toBe(3);
      await reopened.close();
    } finally {
      await cleanup();
    }
  });

  it("encodes an entry as crc32c, version, type, u64 term, data (the on-disk format), terms past 2^32 included", () => {
    const entry = { index: 7, term: 2 ** 40 + 5, type: "confChange" as const, data: Uint8Array.from([9, 8]) };
    const value = encodeEntryValue(entry);
    expect([...value.subarray(4)]).toEqual([1, 1, 0, 0, 1, 0, 0, 0, 0, 5, 9, 8]);
    expect(decodeEntryValue(7, value)).toEqual(entry);
  });
});
