/** The conformance suite every RaftStorage passes (stable part: hard state and addresses). */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RaftStorage } from "./storage.js";
import { EMPTY_HARD_STATE } from "./storage.js";
import type { StorageHarness, StorageHarnessFactory } from "./log-store.conformance.js";

const invalidArgument = expect.objectContaining({ code: "INVALID_ARGUMENT" }) as Error;

export function describeStableStore(name: string, factory: StorageHarnessFactory): void {
  describe(`StableStore conformance: ${name}`, () => {
    let harness: StorageHarness;
    let store: RaftStorage;

    beforeEach(async () => {
      harness = await factory();
      store = await harness.open();
    });

    afterEach(async () => {
      await store.close();
      await harness.cleanup();
    });

    async function restart(): Promise<RaftStorage> {
      await store.close();
      store = await harness.open();
      return store;
    }

    it("starts with the empty hard state and no addresses", () => {
      expect(store.hardState()).toEqual(EMPTY_HARD_STATE);
      expect(store.peerAddresses()).toEqual({});
    });

    it("keeps term, vote and commit across a restart (Figure 2, persistent state)", async () => {
      await store.setHardState({ term: 5, vote: "coord-2", commit: 17 });
      await store.setHardState({ term: 6, vote: null, commit: 17 });
      expect((await restart()).hardState()).toEqual({ term: 6, vote: null, commit: 17 });
    });

    it("never lets term or commit go backwards", async () => {
      await store.setHardState({ term: 5, vote: "a", commit: 10 });
      await expect(store.setHardState({ term: 4, vote: "a", commit: 10 })).rejects.toThrowError(
        invalidArgument,
      );
      await expect(store.setHardState({ term: 5, vote: "a", commit: 9 })).rejects.toThrowError(
        invalidArgument,
      );
      await expect(store.setHardState({ term: 5.5, vote: "a", commit: 10 })).rejects.toThrowError(
        invalidArgument,
      );
      expect((await restart()).hardState()).toEqual({ term: 5, vote: "a", commit: 10 });
    });

    it("keeps peer addresses across a restart, replacing the whole map", async () => {
      await store.setPeerAddresses({ a: "127.0.0.1:5001", b: "127.0.0.1:5003" });
      await store.setPeerAddresses({ a: "127.0.0.1:5001", c: "[::1]:5005" });
      expect((await restart()).peerAddresses()).toEqual({ a: "127.0.0.1:5001", c: "[::1]:5005" });
    });
  });
}
