import { PerformanceObserver, constants } from "node:perf_hooks";
import { describe, expect, it, vi } from "vitest";
import {
  COORDINATOR_STREAM_COLLECTIONS,
  MAJOR_NOTICE_MS,
  STREAM_GC_BYTES,
  VOLUME_STREAM_COLLECTIONS,
  beforeMajorCollections,
  noteStreamedBytes,
  useStreamCollections,
} from "./stream-memory.js";

/** Resolves "collected" once V8 reports a collection of `kind`, or "timeout" after 2 s. */
function collectionOf(kind: number): Promise<"collected" | "timeout"> {
  const collected = new Promise<"collected">((resolve) => {
    const observer = new PerformanceObserver((list) => {
      const match = list
        .getEntries()
        .some((entry) => (entry as { detail?: { kind?: number } }).detail?.kind === kind);
      if (match) {
        observer.disconnect();
        resolve("collected");
      }
    });
    observer.observe({ entryTypes: ["gc"] });
  });
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 2_000).unref());
  return Promise.race([collected, timeout]);
}

describe("noteStreamedBytes", () => {
  it("asks V8 for a major collection once STREAM_GC_BYTES have streamed", async () => {
    const major = collectionOf(constants.NODE_PERFORMANCE_GC_MAJOR);
    // In pieces, as a stream passes them; the last one crosses the threshold.
    for (let i = 0; i < 32; i++) noteStreamedBytes(STREAM_GC_BYTES / 32);
    expect(await major).toBe("collected");
  });

  it("with a volume's policy asks for a scavenge every 4 MiB and a major collection every 256 MiB", async () => {
    const MiB = 1024 * 1024;
    expect(VOLUME_STREAM_COLLECTIONS).toEqual({ minorEveryBytes: 4 * MiB, majorEveryBytes: 256 * MiB });
    useStreamCollections(VOLUME_STREAM_COLLECTIONS);
    try {
      const minor = collectionOf(constants.NODE_PERFORMANCE_GC_MINOR);
      const asked: ReturnType<typeof noteStreamedBytes>[] = [];
      // 256 MiB in 1 MiB pieces: a scavenge after every fourth, the major one at the end.
      for (let i = 0; i < 256; i++) asked.push(noteStreamedBytes(MiB));
      expect(await minor).toBe("collected");
      const expected = asked.map((_, i) => (i === 255 ? "major" : (i + 1) % 4 === 0 ? "minor" : null));
      expect(asked).toEqual(expected);
    } finally {
      useStreamCollections(COORDINATOR_STREAM_COLLECTIONS);
    }
  });

  it("with a coordinator's policy asks for nothing but a major collection every 32 MiB", () => {
    useStreamCollections(COORDINATOR_STREAM_COLLECTIONS);
    const asked = Array.from({ length: 64 }, () => noteStreamedBytes(1024 * 1024));
    expect(asked.filter((a) => a !== null)).toEqual(["major", "major"]);
    expect(asked[31]).toBe("major");
    expect(asked[63]).toBe("major");
  });

  it("tells its listeners before each major collection it asks for, which follows them", async () => {
    useStreamCollections(COORDINATOR_STREAM_COLLECTIONS);
    const told: number[] = [];
    const remove = beforeMajorCollections(() => told.push(performance.now()) > 0);
    try {
      const major = collectionOf(constants.NODE_PERFORMANCE_GC_MAJOR);
      for (let i = 0; i < 31; i++) noteStreamedBytes(STREAM_GC_BYTES / 32);
      expect(told).toEqual([]);
      expect(noteStreamedBytes(STREAM_GC_BYTES / 32)).toBe("major");
      expect(told).toHaveLength(1);
      expect(await major).toBe("collected");
    } finally {
      remove();
    }
    noteStreamedBytes(STREAM_GC_BYTES);
    expect(told).toHaveLength(1); // removed: not told again
  });

  it("makes the collection wait only when a listener sent something", () => {
    useStreamCollections(COORDINATOR_STREAM_COLLECTIONS);
    let sends = false;
    const remove = beforeMajorCollections(() => sends);
    const timers = vi.spyOn(globalThis, "setTimeout");
    try {
      expect(noteStreamedBytes(STREAM_GC_BYTES)).toBe("major");
      expect(timers).not.toHaveBeenCalled(); // a follower: asked for at once
      sends = true;
      expect(noteStreamedBytes(STREAM_GC_BYTES)).toBe("major");
      expect(timers).toHaveBeenCalledTimes(1);
      expect(timers.mock.calls[0]?.[1]).toBe(MAJOR_NOTICE_MS);
    } finally {
      timers.mockRestore();
      remove();
    }
  });
});
