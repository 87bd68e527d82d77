import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeKvCommand } from "./kv-commands.js";
import { openLevelKvStateMachine } from "./level-kv-state-machine.js";
import { describeStateMachine, putEntry } from "./state-machine.conformance.js";

describeStateMachine("LevelKvStateMachine", async () => {
  const dir = await mkdtemp(join(tmpdir(), "minikv-sm-"));
  return {
    open: () => openLevelKvStateMachine(join(dir, "main")),
    openOther: () => openLevelKvStateMachine(join(dir, "other")),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("LevelKvStateMachine ranges", () => {
  it("lists keys in byte order within bounds", async () => {
    const dir = await mkdtemp(join(tmpdir(), "minikv-sm-"));
    const sm = await openLevelKvStateMachine(dir);
    try {
      const keys = ["b", "a", "c/1", "c/2", "d"];
      await sm.apply(keys.map((k, i) => putEntry(i + 1, k, k.toUpperCase())));
      const text = (b: Uint8Array): string => Buffer.from(b).toString();
      const all = await sm.range({});
      expect(all.map(([k]) => text(k))).toEqual(["a", "b", "c/1", "c/2", "d"]);
      const page = await sm.range({ gt: Buffer.from("b"), lt: Buffer.from("d"), limit: 1 });
      expect(page.map(([k, v]) => [text(k), text(v)])).toEqual([["c/1", "C/1"]]);
      const del = encodeKvCommand({ type: "delete", key: Buffer.from("a") });
      await sm.apply([{ index: 6, term: 1, type: "normal", data: del }]);
      expect((await sm.range({ gte: Buffer.from("a"), limit: 1 })).map(([k]) => text(k))).toEqual(["b"]);
    } finally {
      await sm.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("LevelKvStateMachine.changesOf", () => {
  it("moves for a first byte only after a batch writes or deletes a key beginning with it, and with a restore", async () => {
    const dir = await mkdtemp(join(tmpdir(), "minikv-sm-"));
    const sm = await openLevelKvStateMachine(join(dir, "main"));
    const other = await openLevelKvStateMachine(join(dir, "other"));
    try {
      const a = "a".charCodeAt(0);
      const b = "b".charCodeAt(0);
      const seen = (): number[] => [sm.changesOf(a), sm.changesOf(b)];
      const start = seen();
      // A batch of writes under "a" moves the count of "a"; that of "b" does not move.
      await sm.apply([putEntry(1, "a1", "x"), putEntry(2, "a2", "y"), putEntry(3, "a1", "z")]);
      const afterA = seen();
      expect(afterA[0]).toBeGreaterThan(start[0] ?? 0);
      expect(afterA[1]).toBe(start[1]);
      await sm.apply([putEntry(4, "b1", "x")]);
      const afterB = seen();
      expect(afterB[0]).toBe(afterA[0]);
      expect(afterB[1]).toBeGreaterThan(afterA[1] ?? 0);
      const del = encodeKvCommand({ type: "delete", key: Buffer.from("a2") });
      await sm.apply([{ index: 5, term: 1, type: "normal", data: del }]);
      const afterDelete = seen();
      expect(afterDelete[0]).toBeGreaterThan(afterB[0] ?? 0);
      expect(afterDelete[1]).toBe(afterB[1]);
      // A restore may change any key.
      await other.apply([putEntry(1, "c1", "x")]);
      const snapshot = await other.snapshot();
      try {
        await sm.restore(snapshot.index, snapshot.chunks());
      } finally {
        await snapshot.close();
      }
      const afterRestore = seen();
      expect(afterRestore[0]).toBeGreaterThan(afterDelete[0] ?? 0);
      expect(afterRestore[1]).toBeGreaterThan(afterDelete[1] ?? 0);
      expect((await sm.range({})).map(([k]) => Buffer.from(k).toString())).toEqual(["c1"]);
    } finally {
      await sm.close();
      await other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
