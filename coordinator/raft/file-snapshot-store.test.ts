import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileSnapshotStore } from "./file-snapshot-store.js";
import { describeSnapshotStore, readAll, snapshotMeta } from "./snapshot-store.conformance.js";

describeSnapshotStore("FileSnapshotStore", async () => {
  const dir = await mkdtemp(join(tmpdir(), "minikv-snap-"));
  return {
    open: () => FileSnapshotStore.open(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("FileSnapshotStore on disk (§7, crash safety)", () => {
  async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), "minikv-snap-"));
    try {
      await run(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("never serves a snapshot whose bytes were damaged: DATA_CORRUPT on open", async () => {
    await withDir(async (dir) => {
      const store = await FileSnapshotStore.open(dir);
      const sink = await store.create(snapshotMeta(3), {});
      await sink.write(Buffer.alloc(1000, 7));
      await sink.commit();
      const [name] = (await readdir(dir)).filter((n) => n.endsWith(".snap"));
      const path = join(dir, name ?? "");
      const bytes = await readFile(path);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 100) ^ 1, bytes.length - 100);
      await writeFile(path, bytes);
      await expect(store.open(3)).rejects.toThrowError(
        expect.objectContaining({ code: "DATA_CORRUPT" }) as Error,
      );
      const reopened = await FileSnapshotStore.open(dir);
      expect(await reopened.latest()).toBeNull();
    });
  });

  it("forgets an unfinished write after a crash and removes its temporary file", async () => {
    await withDir(async (dir) => {
      const store = await FileSnapshotStore.open(dir);
      const done = await store.create(snapshotMeta(2), {});
      await done.write(Buffer.from("old"));
      await done.commit();
      const sink = await store.create(snapshotMeta(9), {});
      await sink.write(Buffer.alloc(5000, 1));
      // No commit: the process "dies" here.
      const reopened = await FileSnapshotStore.open(dir);
      expect((await reopened.list()).map((s) => s.meta.index)).toEqual([2]);
      expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
      expect((await readAll(await reopened.open(2))).toString()).toBe("old");
      await sink.abort();
    });
  });
});
