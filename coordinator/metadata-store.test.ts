import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { ErrorCode, MinikvError } from "../common/errors.js";
import { coordCommandHandler, type CoordResult } from "./coord-commands.js";
import { encodeMetadataCommand, type MetadataCommand } from "./metadata-commands.js";
import { BLOB_MEMO_BYTES, MetadataStore } from "./metadata-store.js";
import { LevelStateMachine } from "./raft/level-state-machine.js";
import type { RaftDriver } from "./raft/raft-driver.js";

// Read barriers share ReadIndex rounds (Raft §6.4), and must stay linearizable while doing so:
// a barrier may only be satisfied by a round issued after the barrier was asked for.

interface Round {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

function fakeDriver(readsAreLocal = false): { driver: RaftDriver<CoordResult>; rounds: Round[] } {
  const rounds: Round[] = [];
  const driver = {
    readIndex: () =>
      new Promise<number>((resolve, reject) => {
        rounds.push({ resolve: () => resolve(rounds.length), reject });
      }),
    readsAreLocal: () => readsAreLocal,
  } as unknown as RaftDriver<CoordResult>;
  return { driver, rounds };
}

const noState = { watch: () => () => undefined } as unknown as LevelStateMachine<CoordResult>;

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe("MetadataStore.barrier", () => {
  it("runs at most one round at a time; everyone who arrived during it shares the next", async () => {
    const { driver, rounds } = fakeDriver();
    const store = new MetadataStore(driver, noState, 0);
    const done: number[] = [];
    const first = store.barrier().then(() => done.push(0));
    const later = Array.from({ length: 9 }, (_, i) => store.barrier().then(() => done.push(i + 1)));
    await settle();
    expect(rounds).toHaveLength(1);
    rounds[0]?.resolve();
    await first;
    await settle();
    // The nine arrived while round 1 ran: round 1 does not answer them, round 2 does.
    expect(done).toEqual([0]);
    expect(rounds).toHaveLength(2);
    rounds[1]?.resolve();
    await Promise.all(later);
    expect(done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rounds).toHaveLength(2);
  });

  it("a failed round fails only its own callers (as NO_QUORUM); the next round still runs", async () => {
    const { driver, rounds } = fakeDriver();
    const store = new MetadataStore(driver, noState, 0);
    const first = store.barrier();
    const second = store.barrier();
    await settle();
    rounds[0]?.reject(new MinikvError(ErrorCode.TIMEOUT, "read index not confirmed"));
    await expect(first).rejects.toMatchObject({ code: ErrorCode.NO_QUORUM });
    await settle();
    expect(rounds).toHaveLength(2);
    rounds[1]?.resolve();
    await expect(second).resolves.toBeUndefined();
  });

  it("a stale read takes no round; a barrier after an idle spell starts one at once", async () => {
    const { driver, rounds } = fakeDriver();
    const store = new MetadataStore(driver, noState, 0);
    await store.barrier("stale");
    expect(rounds).toHaveLength(0);
    const one = store.barrier();
    await settle();
    rounds[0]?.resolve();
    await one;
    await settle();
    const two = store.barrier();
    await settle();
    expect(rounds).toHaveLength(2);
    rounds[1]?.resolve();
    await expect(two).resolves.toBeUndefined();
  });

  it("starts rounds at least the spacing apart; a read after a quiet spell starts one at once", async () => {
    const { driver, rounds } = fakeDriver();
    const spacingMs = 40;
    const store = new MetadataStore(driver, noState, spacingMs);
    const first = store.barrier();
    await settle();
    expect(rounds).toHaveLength(1);
    const startedAt = performance.now();
    rounds[0]?.resolve();
    await first;
    // Arrives right after round 1 ended: it waits for the spacing, then has a round of its own.
    const second = store.barrier();
    const third = store.barrier();
    await settle();
    expect(rounds).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, spacingMs + 10));
    expect(rounds).toHaveLength(2);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(spacingMs);
    rounds[1]?.resolve();
    await Promise.all([second, third]);
    expect(rounds).toHaveLength(2);
    // After a quiet spell longer than the spacing, a read's round starts at once.
    await new Promise((resolve) => setTimeout(resolve, spacingMs + 10));
    const fourth = store.barrier();
    await settle();
    expect(rounds).toHaveLength(3);
    rounds[2]?.resolve();
    await expect(fourth).resolves.toBeUndefined();
  });

  it("a leader answering from its lease starts the next round as soon as one ends; still one at a time", async () => {
    const { driver, rounds } = fakeDriver(true);
    const store = new MetadataStore(driver, noState, 60_000);
    const first = store.barrier();
    // Arrives during round 1, which may have been confirmed before it: it needs the next one.
    const second = store.barrier();
    await settle();
    expect(rounds).toHaveLength(1);
    rounds[0]?.resolve();
    await first;
    await settle();
    // With a 60 s spacing this would wait; a lease needs none.
    expect(rounds).toHaveLength(2);
    rounds[1]?.resolve();
    await expect(second).resolves.toBeUndefined();
    const third = store.barrier();
    await settle();
    expect(rounds).toHaveLength(3);
    rounds[2]?.resolve();
    await expect(third).resolves.toBeUndefined();
  });
});

/** A fresh LevelDB state machine for `body`, with `apply` committing one command at the next index. */
async function withState(
  body: (
    state: LevelStateMachine<CoordResult>,
    apply: (command: MetadataCommand) => Promise<unknown>,
  ) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "minikv-metadata-store-"));
  const state = await LevelStateMachine.open<CoordResult>(join(dir, "state"), coordCommandHandler, {
    syncApply: false,
  });
  try {
    let index = 0;
    await body(state, (command) =>
      state.apply([{ term: 1, index: ++index, type: "normal", data: encodeMetadataCommand(command) }]),
    );
  } finally {
    await state.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe("MetadataStore.volumes", () => {
  it("reads the registry from LevelDB again only after a volume command, not after blob writes", async () => {
    await withState(async (state, apply) => {
      const register = (id: string) =>
        apply({
          op: "registerVolume",
          id,
          grpcAddress: `${id}:1`,
          httpUrl: `http://${id}`,
          capacityBytes: 1,
          atMs: 1,
        });
      const store = new MetadataStore(fakeDriver().driver, state);
      const reads = vi.spyOn(state, "range");
      const ids = async (): Promise<string[]> => (await store.volumes()).map((v) => v.id);

      await register("vol-1");
      expect(await ids()).toEqual(["vol-1"]);
      expect(reads).toHaveBeenCalledTimes(1);
      for (let i = 0; i < 5; i++) {
        const put = { op: "putBlob", key: `k${i}`, size: 1, crc32c: 0, contentType: "", replicas: ["vol-1"] };
        await apply({ ...put, txid: `t${i}`, atMs: 1 } as MetadataCommand);
        expect(await ids()).toEqual(["vol-1"]);
      }
      expect(reads).toHaveBeenCalledTimes(1);

      await register("vol-2");
      expect(await ids()).toEqual(["vol-1", "vol-2"]);
      await apply({ op: "setVolumeState", id: "vol-1", state: "draining" });
      expect((await store.volumes()).map((v) => v.state)).toEqual(["draining", "active"]);
      expect(reads).toHaveBeenCalledTimes(3);
    });
  });
});

describe("MetadataStore.localBlob", () => {
  it("keeps every applied change of a blob in memory, and looks up in LevelDB only what it has not seen", async () => {
    await withState(async (state, apply) => {
      let writes = 0;
      const put = (key: string, size: number) =>
        apply({
          op: "putBlob",
          key,
          size,
          crc32c: 0,
          contentType: "",
          replicas: ["vol-1"],
          txid: `t${++writes}`,
          atMs: 1,
        });
      await put("old", 7);
      const store = new MetadataStore(fakeDriver().driver, state);
      const lookups = vi.spyOn(state, "getNow");

      // Written before this store existed: looked up once, then remembered.
      expect((await store.localBlob("old"))?.size).toBe(7);
      expect((await store.localBlob("old"))?.size).toBe(7);
      expect(await store.localBlob("a")).toBeNull();
      expect(await store.localBlob("a")).toBeNull();
      expect(lookups).toHaveBeenCalledTimes(2);

      // A write, an overwrite, a delete, a write of another key: each seen at once, without a lookup.
      await put("a", 1);
      expect((await store.localBlob("a"))?.size).toBe(1);
      await put("b", 2);
      expect((await store.localBlob("b"))?.size).toBe(2);
      expect((await store.localBlob("a"))?.size).toBe(1);
      await put("a", 3);
      expect((await store.localBlob("a"))?.size).toBe(3);
      await apply({ op: "deleteBlob", key: "a", atMs: 2 });
      expect(await store.localBlob("a")).toBeNull();
      await apply({ op: "setReplicas", key: "b", version: 3, replicas: ["vol-2"] });
      expect((await store.localBlob("b"))?.replicas).toEqual(["vol-2"]);
      expect((await store.localBlob("old"))?.size).toBe(7);
      expect(lookups).toHaveBeenCalledTimes(2);
      // What the memo answers is what LevelDB holds.
      for (const key of ["old", "a", "b"]) {
        expect(await store.localBlob(key)).toEqual(
          await new MetadataStore(fakeDriver().driver, state).localBlob(key),
        );
      }
      lookups.mockClear();

      // A refused command changes nothing, in LevelDB or in memory.
      await apply({ op: "setReplicas", key: "b", version: 1, replicas: ["vol-3"] });
      expect((await store.localBlob("b"))?.replicas).toEqual(["vol-2"]);
      expect(lookups).not.toHaveBeenCalled();

      // A restore may change every key: everything is looked up again.
      const snapshot = await state.snapshot();
      const chunks: Uint8Array[] = [];
      for await (const chunk of snapshot.chunks()) chunks.push(chunk);
      await snapshot.close();
      await put("b", 4);
      expect((await store.localBlob("b"))?.size).toBe(4);
      await state.restore(snapshot.index, Readable.from(chunks));
      expect((await store.localBlob("b"))?.size).toBe(2);
      expect((await store.localBlob("old"))?.size).toBe(7);
      expect(lookups).toHaveBeenCalledTimes(2);
    });
  });

  it("answers reads during an apply with the version before it, and with the apply's once it resolves", async () => {
    await withState(async (state, apply) => {
      const store = new MetadataStore(fakeDriver().driver, state);
      const write = (size: number, txid: string) =>
        apply({
          op: "putBlob",
          key: "k",
          size,
          crc32c: 0,
          contentType: "",
          replicas: ["vol-1"],
          txid,
          atMs: 1,
        });
      await write(1, "t1");
      // Reads while the next batch is being written see the old version or the new one,
      // never an older one once the new one was seen; after the apply resolves, the new one.
      const pending = write(2, "t2");
      const seen: number[] = [];
      for (let i = 0; i < 50; i++) {
        seen.push((await store.localBlob("k"))?.size ?? 0);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await pending;
      expect((await store.localBlob("k"))?.size).toBe(2);
      expect(seen.every((size) => size === 1 || size === 2)).toBe(true);
      const firstNew = seen.indexOf(2);
      if (firstNew !== -1) expect(seen.slice(firstNew).every((size) => size === 2)).toBe(true);
    });
  });

  it("stops being told of writes when its watch is removed", async () => {
    await withState(async (state, apply) => {
      const written: string[] = [];
      const stop = state.watch(0x01, {
        written: (key) => written.push(Buffer.from(key).toString("latin1")),
        reset: () => undefined,
      });
      await apply({ op: "deleteBlob", key: "x", atMs: 1 });
      await apply({
        op: "putBlob",
        key: "x",
        size: 1,
        crc32c: 0,
        contentType: "",
        replicas: ["v"],
        txid: "t",
        atMs: 1,
      });
      stop();
      await apply({
        op: "putBlob",
        key: "y",
        size: 1,
        crc32c: 0,
        contentType: "",
        replicas: ["v"],
        txid: "u",
        atMs: 1,
      });
      // A delete of a key that had no blob writes nothing.
      expect(written).toEqual(["\u0001x"]);
    });
  });

  it("keeps the decoded metadata within its memory bound, whatever the keys' length", async () => {
    await withState(async (state) => {
      const store = new MetadataStore(fakeDriver().driver, state);
      const lookups = vi.spyOn(state, "getNow");
      // Misses of 1,000-character keys: about 2.5 KiB each against the bound.
      const key = (i: number): string => `${i}/`.padEnd(1000, "k");
      const count = Math.ceil(BLOB_MEMO_BYTES / 2000);
      for (let i = 0; i < count; i++) expect(await store.localBlob(key(i))).toBeNull();
      expect(lookups).toHaveBeenCalledTimes(count);
      expect(await store.localBlob(key(count - 1))).toBeNull();
      expect(lookups).toHaveBeenCalledTimes(count);
      // The oldest were let go to stay within the bound.
      expect(await store.localBlob(key(0))).toBeNull();
      expect(lookups).toHaveBeenCalledTimes(count + 1);
    });
  });
});
