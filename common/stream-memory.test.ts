import { PerformanceObserver, constants } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { STREAM_GC_BYTES, noteStreamedBytes } from "./stream-memory.js";

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
});
