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

describe("LevelKvStateMachine.watch", () => {
  it("tells a first byte's watcher of each batch's writes and deletes of keys beginning with it, and of a restore", async () => {
    const dir = await mkdtemp(join(tmpdir(), "minikv-sm-"));
    const sm = await openLevelKvStateMachine(join(dir, "main"));
    const other = await openLevelKvStateMachine(join(dir, "other"));
    try {
      const told = { a: [] as string[], b: [] as string[] };
      const watcher = (into: string[]) => ({
        written: (key: Uint8Array, value: Uint8Array | undefined) =>
          into.push(
            `${Buffer.from(key).toString()}=${value === undefined ? "-" : Buffer.from(value).toString()}`,
          ),
        reset: () => into.push("reset"),
      });
      sm.watch("a".charCodeAt(0), watcher(told.a));
      sm.watch("b".charCodeAt(0), watcher(told.b));
      // A batch of writes under "a" is told to the watcher of "a", each key once with its last value.
      await sm.apply([putEntry(1, "a1", "x"), putEntry(2, "a2", "y"), putEntry(3, "a1", "z")]);
      expect(told.a.sort()).toEqual(["a1=z", "a2=y"]);
      expect(told.b).toEqual([]);
      await sm.apply([putEntry(4, "b1", "x")]);
      expect(told.a).toHaveLength(2);
      expect(told.b).toEqual(["b1=x"]);
      const del = encodeKvCommand({ type: "delete", key: Buffer.from("a2") });
      await sm.apply([{ index: 5, term: 1, type: "normal", data: del }]);
      expect(told.a.at(-1)).toBe("a2=-");
      expect(told.b).toHaveLength(1);
      // A restore may change any key.
      await other.apply([putEntry(1, "c1", "x")]);
      const snapshot = await other.snapshot();
      try {
        await sm.restore(snapshot.index, snapshot.chunks());
      } finally {
        await snapshot.close();
      }
      // As it begins and as it ends.
      expect(told.a.slice(-2)).toEqual(["reset", "reset"]);
      expect(told.b.slice(-2)).toEqual(["reset", "reset"]);
      expect((await sm.range({})).map(([k]) => Buffer.from(k).toString())).toEqual(["c1"]);
    } finally {
      await sm.close();
      await other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
