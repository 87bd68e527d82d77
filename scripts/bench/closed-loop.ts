/**
 * A closed-loop load generator: `concurrency` workers, each with one request in flight,
 * until exactly `count` requests have been sent or the time bound passes. Throughput is
 * successful requests / (last completion − first send), as the peers' wrk scripts count it.
 */

/** One run's figures. Latencies are per request, from send to complete answer. */
export interface LoadResult {
  readonly concurrency: number;
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The first error seen, for the report. */
  readonly firstError: string | undefined;
}

export interface LoadSpec {
  readonly count: number;
  readonly concurrency: number;
  /** Hard bound on the run; workers stop sending once it passes. */
  readonly timeBoundMs: number;
  /** Sends request number `i` (0 ≤ i < count); rejects on failure. */
  readonly send: (i: number) => Promise<void>;
  /** Stop early after this many errors (a broken target should not spin for minutes). */
  readonly errorsMax?: number;
}

export async function closedLoop(spec: LoadSpec): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  let lastDoneMs = 0;
  const errorsMax = spec.errorsMax ?? Math.max(10, spec.count / 100);
  const startMs = performance.now();
  const deadlineMs = startMs + spec.timeBoundMs;
  const worker = async (): Promise<void> => {
    while (next < spec.count && errors < errorsMax && performance.now() < deadlineMs) {
      const i = next++;
      const sentMs = performance.now();
      try {
        await spec.send(i);
        lastDoneMs = performance.now();
        latenciesMs.push(lastDoneMs - sentMs);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  const seconds = Math.max(1e-9, (lastDoneMs - startMs) / 1000);
  latenciesMs.sort((a, b) => a - b);
  return {
    concurrency: spec.concurrency,
    ok: latenciesMs.length,
    errors,
    seconds,
    opsPerSec: latenciesMs.length / seconds,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    firstError,
  };
}

/** Nearest-rank percentile of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** "median (min–max)" with `digits` decimals, or "–" when there is nothing. */
export function spread(values: readonly number[], digits = 0): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return "–";
  const fmt = (v: number): string =>
    v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return finite.length === 1 ? fmt(finite[0] ?? 0) : `${fmt(median(finite))} (${fmt(lo)}–${fmt(hi)})`;
}
