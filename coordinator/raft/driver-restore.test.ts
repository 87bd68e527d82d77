import { describe, expect, it } from "vitest";
import { decodeConfChange } from "./core/conf-change.js";
import { bootstrapEntries, loadStartupState } from "./driver-restore.js";
import { kvCommandHandler } from "./kv-commands.js";
import { entryRange } from "./log-store.conformance.js";
import { MemoryRaftStore } from "./memory-raft-store.js";
import { MemorySnapshotStore } from "./memory-snapshot-store.js";
import { MemoryStateMachine } from "./memory-state-machine.js";
import { putEntry } from "./state-machine.conformance.js";

async function snapshotAt(store: MemorySnapshotStore, index: number, term: number): Promise<void> {
  const source = new MemoryStateMachine(kvCommandHandler);
  await source.apply(Array.from({ length: index }, (_, i) => putEntry(i + 1, `k${i + 1}`, "v")));
  const view = await source.snapshot();
  const sink = await store.create(
    { index, term, confState: { voters: ["a"], learners: [] } },
    { b: "10.0.0.2:1" },
  );
  for await (const chunk of view.chunks()) await sink.write(chunk);
  await sink.commit();
}

describe("driver start-up (§7, Figure 2)", () => {
  it("bootstraps a new cluster with identical membership entries, committed", async () => {
    const storage = new MemoryRaftStore();
    const sm = new MemoryStateMachine(kvCommandHandler);
    const state = await loadStartupState(storage, new MemorySnapshotStore(), sm, ["c", "a", "b"]);
    expect(state.restored.entries).toEqual(bootstrapEntries(["a", "b", "c"]));
    expect(state.restored.entries.map((e) => decodeConfChange(e.data).nodeId)).toEqual([
      "a",
      "a",
      "b",
      "b",
      "c",
      "c",
    ]);
    expect(state.restored.hardState).toEqual({ term: 1, vote: null, commit: 6 });
    expect(state.restored.initialConfState).toEqual({ voters: ["a", "b", "c"], learners: [] });
    const again = await loadStartupState(storage, new MemorySnapshotStore(), sm, ["a", "b", "c"]);
    expect(again.restored.entries).toHaveLength(6);
  });

  it("a joining node starts empty, with no configuration of its own", async () => {
    const state = await loadStartupState(
      new MemoryRaftStore(),
      new MemorySnapshotStore(),
      new MemoryStateMachine(kvCommandHandler),
      [],
    );
    expect(state.restored.entries).toEqual([]);
    expect(state.restored.initialConfState).toEqual({ voters: [], learners: [] });
  });

  it("restores a state machine that is behind the latest snapshot and keeps the log that follows it", async () => {
    const storage = new MemoryRaftStore();
    await storage.save({ entries: entryRange(1, 16, 1), hardState: { term: 1, vote: "a", commit: 12 } });
    const snapshots = new MemorySnapshotStore();
    await snapshotAt(snapshots, 10, 1);
    const sm = new MemoryStateMachine(kvCommandHandler);
    const state = await loadStartupState(storage, snapshots, sm, ["a"]);
    expect(sm.appliedIndex()).toBe(10);
    expect(await sm.get(Buffer.from("k10"))).toBeDefined();
    expect(state.restored.snapshot?.index).toBe(10);
    expect(state.restored.entries.map((e) => e.index)).toEqual([11, 12, 13, 14, 15]);
    expect(state.restored.applied).toBe(10);
    expect(state.appliedTerm).toBe(1);
    expect(state.peerAddresses).toEqual({ b: "10.0.0.2:1" });
  });

  it("drops, durably, a log that does not follow the latest snapshot (§5.3 log matching)", async () => {
    const storage = new MemoryRaftStore();
    await storage.save({ entries: entryRange(1, 16, 1), hardState: { term: 2, vote: "a", commit: 5 } });
    const snapshots = new MemorySnapshotStore();
    await snapshotAt(snapshots, 10, 2);
    const sm = new MemoryStateMachine(kvCommandHandler);
    const state = await loadStartupState(storage, snapshots, sm, ["a"]);
    expect(state.restored.entries).toEqual([]);
    expect(state.restored.hardState.commit).toBe(10);
    expect(storage.firstIndex()).toBe(11);
    expect(storage.lastIndex()).toBe(10);
  });

  it("refuses a log with a hole before it (DATA_CORRUPT)", async () => {
    const storage = new MemoryRaftStore();
    await storage.save({ resetTo: 20, entries: entryRange(21, 25, 3) });
    await expect(
      loadStartupState(storage, new MemorySnapshotStore(), new MemoryStateMachine(kvCommandHandler), ["a"]),
    ).rejects.toThrowError(expect.objectContaining({ code: "DATA_CORRUPT" }) as Error);
  });
});
