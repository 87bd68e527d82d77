import { setTimeout as sleep } from "node:timers/promises";

/**
 * A byte-rate budget shared by concurrent copies (a token bucket that may go into debt):
 * take(n) returns at once while the bucket holds tokens, otherwise after the time the budget
 * needs to pay the debt back. Over any long interval the bytes taken stay within
 * `bytesPerSecond` × seconds + `burstBytes`.
 */
export class ByteThrottle {
  private tokens: number;
  private lastRefillMs: number;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly burstBytes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burstBytes;
    this.lastRefillMs = now();
  }

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    this.refill();
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    const waitMs = Math.ceil((-this.tokens / this.bytesPerSecond) * 1000);
    await sleep(waitMs, undefined, signal === undefined ? {} : { signal });
  }

  private refill(): void {
    const nowMs = this.now();
    const earned = ((nowMs - this.lastRefillMs) / 1000) * this.bytesPerSecond;
    this.tokens = Math.min(this.burstBytes, this.tokens + earned);
    this.lastRefillMs = nowMs;
  }
}

/** `chunks` paced by `throttle` (each chunk waits for its bytes); unthrottled when undefined. */
export async function* throttled(
  chunks: AsyncIterable<Uint8Array>,
  throttle: ByteThrottle | undefined,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    if (throttle !== undefined) await throttle.take(chunk.length, signal);
    yield chunk;
  }
}
