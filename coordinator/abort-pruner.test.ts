import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../common/logger.js";
import { AbortPruner } from "./abort-pruner.js";
import { coordCommandHandler, type CoordResult } from "./coord-commands.js";
import {
  PRUNE_TXIDS_MAX,
  abortedTxKey,
  encodeMetadataCommand,
  type MetadataCommand,
} from "./metadata-commands.js";
import type { MetadataStore } from "./metadata-store.js";
import { LevelStateMachine } from "./raft/level-state-machine.js";

const HOUR_MS = 60 * 60_000;

/** A real LevelDB state machine, with commits applied to it in order as Raft would. */
async function fixture(dir: string) {
  const state = await LevelStateMachine.open<CoordResult>(join(dir, "state"), coordCommandHandler, {
    syncApply: false,
  });
  let index = 0;
  const commits: MetadataCommand[] = [];
  const apply = async (command: MetadataCommand): Promise<{ index: number; result: CoordResult }> => {
    commits.push(command);
    index += 1;
    const [result] = await state.apply([
      { term: 1, index, type: "normal", data: encodeMetadataCommand(command) },
    ]);
    if (result instanceof Error) throw result;
    return { index, result: result as CoordResult };
  };
  const store = { commit: apply } as unknown as MetadataStore;
  return { state, store, apply, commits };
}

describe("AbortPruner", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("deletes, on the leader only, the abort records older than the retention, in bounded commands", async () => {
    const dir = await mkdtemp(join(tmpdir(), "minikv-abort-pruner-"));
    dirs.push(dir);
    const f = await fixture(dir);
    try {
      const nowMs = 10 * HOUR_MS;
      const oldCount = PRUNE_TXIDS_MAX + 5;
      for (let i = 0; i < oldCount; i++)
        await f.apply({ op: "abortTx", txid: `old-${i}`, key: "k", atMs: nowMs - 2 * HOUR_MS });
      await f.apply({ op: "abortTx", txid: "young", key: "k", atMs: nowMs - 60_000 });
      let leader = false;
      const pruner = new AbortPruner({
        isLeader: () => leader,
        state: f.state,
        store: f.store,
        now: () => nowMs,
        logger: createLogger("test"),
      });
      const before = f.commits.length;
      expect(await pruner.runOnce()).toBe(0);
      expect(f.commits.length).toBe(before);
      leader = true;
      expect(await pruner.runOnce()).toBe(oldCount);
      const prunes = f.commits.slice(before);
      expect(prunes.map((c) => (c.op === "pruneAborted" ? c.txids.length : -1))).toEqual([
        PRUNE_TXIDS_MAX,
        5,
      ]);
      expect(await f.state.get(abortedTxKey("old-0"))).toBeUndefined();
      expect(await f.state.get(abortedTxKey(`old-${oldCount - 1}`))).toBeUndefined();
      expect(await f.state.get(abortedTxKey("young"))).toBeDefined();
      expect(await pruner.runOnce()).toBe(0);
      await pruner.stop();
    } finally {
      await f.state.close();
    }
  });
});
