import { ErrorCode, isMinikvError, toMinikvError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { TransactionOutcome } from "./coordinator-link.js";
import type { VolumeServerMetrics } from "./server-metrics.js";
import type { VolumeStore } from "./store-api.js";

export interface TxResolverConfig {
  /** A prepared record older than this is presumed orphaned and its fate is asked for. */
  readonly preparedTimeoutMs: number;
  /** Pause between two passes. */
  readonly intervalMs: number;
  /** Records asked about per pass, oldest first; the rest wait for the next pass. */
  readonly batchMax: number;
}

export const txResolverDefaults: TxResolverConfig = {
  preparedTimeoutMs: 30_000,
  intervalMs: 5_000,
  batchMax: 256,
};

export interface TxResolverOptions {
  readonly store: VolumeStore;
  /** Asks the coordinators; rejects when none answers. */
  readonly resolve: (txid: string, key: string) => Promise<TransactionOutcome>;
  readonly logger: Logger;
  readonly metrics: VolumeServerMetrics;
  readonly config?: Partial<TxResolverConfig>;
}

/** What one pass did, for logs and tests. */
export interface ResolvePassResult {
  readonly committed: number;
  readonly aborted: number;
  /** Asked, but the coordinators could not decide yet (UNKNOWN). */
  readonly undecided: number;
  /** Not asked or not answered: no coordinator reachable, or the store refused. */
  readonly unresolved: number;
}

/**
 * The volume side of presumed abort (DESIGN.md §5): a prepared record held longer than
 * `preparedTimeoutMs` means its coordinator may have died between the votes and phase two.
 * The resolver asks the coordinators how the transaction ended and applies the answer:
 * COMMITTED → commit at the given version, ABORTED → abort. With no answer (UNKNOWN, or no
 * coordinator reachable) it decides nothing and asks again next pass: aborting on its own
 * could drop a write the cluster already acknowledged.
 */
export class TxResolver {
  private readonly config: TxResolverConfig;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ResolvePassResult> | undefined;
  private stopped = false;

  constructor(private readonly options: TxResolverOptions) {
    this.config = { ...txResolverDefaults, ...options.config };
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Stops scheduling and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs one pass now (or joins the one running). */
  runOnce(): Promise<ResolvePassResult> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce()
        .catch((err: unknown) => this.options.logger.error({ err }, "presumed-abort pass failed"))
        .finally(() => this.schedule());
    }, this.config.intervalMs);
  }

  private async pass(): Promise<ResolvePassResult> {
    const stale = this.options.store.preparedOlderThan(this.config.preparedTimeoutMs);
    const batch = stale.slice(0, this.config.batchMax);
    const counts = { committed: 0, aborted: 0, undecided: 0, unresolved: stale.length - batch.length };
    for (const [index, record] of batch.entries()) {
      if (this.stopped) {
        counts.unresolved += batch.length - index;
        break;
      }
      let outcome: TransactionOutcome;
      try {
        outcome = await this.options.resolve(record.txid, record.key);
      } catch (err) {
        // No coordinator reachable: asking about the rest now would fail the same way.
        this.options.metrics.resolved.inc({ outcome: "unreachable" });
        this.options.logger.warn({ err, txid: record.txid }, "cannot resolve prepared record; will retry");
        counts.unresolved += batch.length - index;
        break;
      }
      counts[await this.apply(record.txid, outcome)] += 1;
    }
    return counts;
  }

  private async apply(
    txid: string,
    outcome: TransactionOutcome,
  ): Promise<"committed" | "aborted" | "undecided" | "unresolved"> {
    this.options.metrics.resolved.inc({ outcome: outcome.outcome.toLowerCase() });
    try {
      switch (outcome.outcome) {
        case "COMMITTED":
          await this.options.store.commit(txid, outcome.version);
          this.options.logger.info({ txid, version: outcome.version }, "resolved prepared record: committed");
          return "committed";
        case "ABORTED":
          await this.options.store.abort(txid);
          this.options.logger.info({ txid }, "resolved prepared record: aborted");
          return "aborted";
        case "UNKNOWN":
          return "undecided";
      }
    } catch (err) {
      // Phase two may have arrived meanwhile (an abort makes a later commit TX_NOT_FOUND).
      const level = isMinikvError(err, ErrorCode.TX_NOT_FOUND) ? "info" : "error";
      this.options.logger[level]({ err: toMinikvError(err), txid }, "could not apply a resolved outcome");
      return "unresolved";
    }
  }
}
