import { describe, expect, it } from "vitest";
import { ErrorCode } from "../common/errors.js";
import { GroupCommitQueue } from "./group-commit.js";
import { SyncCoalescer } from "./sync-coalescer.js";

// Issue 2 §2 "WAL ... Concurrent writers share fsyncs (group commit)"; STYLE.md "a full
// queue answers with an error code instead of growing".

describe("GroupCommitQueue", () => {
  it("flushes concurrent items in bounded batches, in arrival order, one flush at a time", async () => {
    const batches: number[][] = [];
    let running = 0;
    const queue = new GroupCommitQueue<number>(
      async (batch) => {
        running += 1;
        expect(running).toBe(1);
        batches.push([...batch]);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
      },
      100,
      4,
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => queue.enqueue(i)));
    expect(batches.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(batches[0]).toEqual([0]);
    expect(Math.max(...batches.map((b) => b.length))).toBe(4);
    expect(batches.length).toBeLessThan(10);
  });

  it("takes the older half of the waiting items when more than halveAbove wait", async () => {
    const batches: number[][] = [];
    let release: (() => void) | undefined;
    const queue = new GroupCommitQueue<number>(
      async (batch) => {
        batches.push([...batch]);
        if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      100,
      50,
      { halveAbove: 8 },
    );
    const all = [queue.enqueue(0)];
    // 20 items queue behind the first batch, which is still on the disk.
    for (let i = 1; i <= 20; i++) all.push(queue.enqueue(i));
    release?.();
    await Promise.all(all);
    // 20 wait (more than 8): the older 10 go first. 10 are left, still more than 8: 5 go,
    // then the last 5 together.
    expect(batches).toEqual([
      [0],
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [11, 12, 13, 14, 15],
      [16, 17, 18, 19, 20],
    ]);
  });

  it("with startAtTurnEnd, puts every item of one turn in the first batch, across awaits", async () => {
    const batches: number[][] = [];
    const queue = new GroupCommitQueue<number>(
      async (batch) => {
        batches.push([...batch]);
        await new Promise((resolve) => setTimeout(resolve, 1));
      },
      100,
      50,
      { startAtTurnEnd: true },
    );
    // Ten writers of one turn, each reaching the queue after a different number of awaits
    // (as the requests of one Pipe message reach the WAL).
    const writer = async (i: number): Promise<void> => {
      for (let hop = 0; hop < i; hop++) await Promise.resolve();
      await queue.enqueue(i);
      await queue.enqueue(100 + i);
    };
    await Promise.all(Array.from({ length: 10 }, (_, i) => writer(i)));
    expect(batches[0]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Each writer's second item was made after its first was durable: the next batch.
    expect(batches[1]).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    expect(batches).toHaveLength(2);
  });

  it("answers OVERLOADED when the queue is full, and rejects a failed batch's items", async () => {
    let fail = false;
    const queue = new GroupCommitQueue<number>(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (fail) throw new Error("disk gone");
      },
      3,
      10,
    );
    const first = queue.enqueue(0);
    const waiting = [queue.enqueue(1), queue.enqueue(2), queue.enqueue(3)];
    await expect(queue.enqueue(4)).rejects.toMatchObject({ code: ErrorCode.OVERLOADED });
    await Promise.all([first, ...waiting]);
    fail = true;
    await expect(queue.enqueue(5)).rejects.toThrow("disk gone");
  });
});

describe("SyncCoalescer", () => {
  it("serves every caller with an fsync that started after its call, sharing them", async () => {
    let syncs = 0;
    let started = 0;
    const coalescer = new SyncCoalescer(async () => {
      started += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      syncs += 1;
    });
    const first = coalescer.sync();
    const startedBefore = started;
    const later = Array.from({ length: 20 }, () => coalescer.sync());
    await Promise.all([first, ...later]);
    expect(startedBefore).toBe(1);
    // One fsync in flight when the 20 arrived: they share exactly one more.
    expect(syncs).toBe(2);
  });
});
