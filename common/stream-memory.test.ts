import { PerformanceObserver, constants } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { STREAM_SCAVENGE_BYTES, noteStreamedBytes } from "./stream-memory.js";

describe("noteStreamedBytes", () => {
  it("asks V8 for a scavenge once STREAM_SCAVENGE_BYTES have streamed", async () => {
    const scavenged = new Promise<void>((resolve) => {
      const observer = new PerformanceObserver((list) => {
        const minor = list
          .getEntries()
          .some(
            (entry) =>
              (entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR,
          );
        if (minor) {
          observer.disconnect();
          resolve();
        }
      });
      observer.observe({ entryTypes: ["gc"] });
    });
    // In pieces, as a stream passes them; the last one crosses the threshold.
    for (let i = 0; i < 32; i++) noteStreamedBytes(STREAM_SCAVENGE_BYTES / 32);
    const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 2_000).unref());
    expect(await Promise.race([scavenged.then(() => "scavenged"), timeout])).toBe("scavenged");
  });
});
