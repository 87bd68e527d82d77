import { describe, expect, it } from "vitest";
import { ByteThrottle, throttled } from "./byte-throttle.js";

/** The rebalance budget (issue 5 §2: "throttled by a byte-rate budget"). */
describe("ByteThrottle", () => {
  it("lets a burst through at once, then makes each take wait for the bytes it owes", async () => {
    let nowMs = 0;
    const throttle = new ByteThrottle(10_000, 1_000, () => nowMs);
    const started = performance.now();
    await throttle.take(1_000);
    expect(performance.now() - started).toBeLessThan(20);
    // The clock stands still: 500 bytes more are owed at 10,000 B/s, 50 ms.
    const before = performance.now();
    await throttle.take(500);
    expect(performance.now() - before).toBeGreaterThanOrEqual(45);
    // Time paid the debt back and refilled the bucket up to the burst, never beyond it.
    nowMs += 10_000;
    const after = performance.now();
    await throttle.take(1_000);
    expect(performance.now() - after).toBeLessThan(20);
  });

  it("paces a stream chunk by chunk and stops when its signal aborts", async () => {
    const throttle = new ByteThrottle(1_000, 0, () => 0);
    const controller = new AbortController();
    const chunks = (async function* () {
      yield Buffer.alloc(10);
      await Promise.resolve();
      yield Buffer.alloc(10_000);
    })();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const chunk of throttled(chunks, throttle, controller.signal)) seen.push(chunk.length);
    })();
    setTimeout(() => controller.abort(), 100);
    await expect(reading).rejects.toMatchObject({ name: "AbortError" });
    expect(seen).toEqual([10]);
  });
});
