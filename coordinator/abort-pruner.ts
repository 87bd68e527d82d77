/**
 * Forgets abort records once they can no longer matter. An abort record (metadata-commands.ts,
 * 0x03 + txid) makes a putBlob of the same txid that is applied after the abort a refusal.
 * Such a putBlob was proposed before the abort was decided, by a coordinator that then
 * waits at most Raft's proposal timeout (5 s) for it; an entry that reached a majority is
 * committed by the next leader within an election or two, one that did not is overwritten.
 * Records older than `retentionMs` (one hour, hundreds of times those bounds) are deleted
 * by the leader through Raft (`pruneAborted`, applied by every coordinator alike); the apply
 * checks each record's age again, so only old records go whatever was listed.
 */
import type { Logger } from "../common/logger.js";
import type { CoordResult } from "./coord-commands.js";
import { PREFIX, PRUNE_TXIDS_MAX, decodeJson, type AbortedTx } from "./metadata-commands.js";
import type { MetadataStore } from "./metadata-store.js";
import type { LevelStateMachine } from "./raft/level-state-machine.js";

export interface AbortPrunerConfig {
  /** Abort records younger than this are kept. */
  readonly retentionMs: number;
  /** How often the leader looks for old records. */
  readonly intervalMs: number;
  /** Records scanned per run at most (bounds one run's work). */
  readonly scanMax: number;
}

export const abortPrunerDefaults: AbortPrunerConfig = {
  retentionMs: 60 * 60_000,
  intervalMs: 10 * 60_000,
  scanMax: 100_000,
};

export interface AbortPrunerDeps {
  readonly isLeader: () => boolean;
  readonly state: LevelStateMachine<CoordResult>;
  readonly store: MetadataStore;
  readonly now: () => number;
  readonly logger: Logger;
  readonly config?: AbortPrunerConfig;
}

export class AbortPruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private readonly config: AbortPrunerConfig;

  constructor(private readonly deps: AbortPrunerDeps) {
    this.config = deps.config ?? abortPrunerDefaults;
  }

  start(): void {
    this.timer = setInterval(() => void this.runOnce().catch(() => undefined), this.config.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One pass (leader only): deletes the records older than the retention; returns how many. */
  runOnce(): Promise<number> {
    this.running ??= this.prune().finally(() => (this.running = null));
    return this.running;
  }

  private async prune(): Promise<number> {
    if (!this.deps.isLeader()) return 0;
    const beforeMs = this.deps.now() - this.config.retentionMs;
    let pruned = 0;
    let scanned = 0;
    let after: Uint8Array | undefined;
    while (scanned < this.config.scanMax) {
      const rows = await this.deps.state.range({
        ...(after === undefined ? { gte: Uint8Array.of(PREFIX.abortedTx) } : { gt: after }),
        lt: Uint8Array.of(PREFIX.abortedTx + 1),
        limit: PRUNE_TXIDS_MAX,
      });
      scanned += rows.length;
      const old = rows.flatMap(([, value]) => {
        const record = decodeJson<AbortedTx>(value);
        return record !== null && record.atMs < beforeMs ? [record.txid] : [];
      });
      if (old.length > 0) {
        const { result } = await this.deps.store.commit({ op: "pruneAborted", txids: old, beforeMs });
        pruned += result.pruned;
      }
      const last = rows.at(-1);
      if (last === undefined || rows.length < PRUNE_TXIDS_MAX) break;
      after = last[0];
    }
    if (pruned > 0) this.deps.logger.info({ pruned, beforeMs }, "pruned old abort records");
    return pruned;
  }
}
