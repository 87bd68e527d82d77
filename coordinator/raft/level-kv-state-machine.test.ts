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
