import { setTimeout as sleep } from "node:timers/promises";

/** Bounds of one wait loop: every loop in a test is bounded in time and in count. */
export interface WaitOptions {
  readonly timeoutMs: number;
  /** Pause between probes. */
  readonly intervalMs?: number;
}

/** What a successful wait found and how long it took from the call. */
export interface WaitResult<T> {
  readonly value: T;
  readonly elapsedMs: number;
}

/**
 * Polls `probe` until it returns something other than undefined, or throws after
 * `timeoutMs` with `what` and the last probe error in the message. A probe that throws
 * counts as "not yet" (a server that is still starting refuses connections).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions,
): Promise<WaitResult<T>> {
  const intervalMs = options.intervalMs ?? 20;
  const startMs = performance.now();
  const probesMax = Math.ceil(options.timeoutMs / Math.max(1, intervalMs)) + 1;
  let lastError: unknown;
  for (let probe_ = 0; probe_ < probesMax; probe_++) {
    try {
      const value = await probe();
      if (value !== undefined) return { value, elapsedMs: performance.now() - startMs };
    } catch (err) {
      lastError = err;
    }
    if (performance.now() - startMs >= options.timeoutMs) break;
    await sleep(intervalMs);
  }
  const reason = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${reason}`);
}
