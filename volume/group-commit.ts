import { ErrorCode, MinikvError } from "../common/errors.js";

interface Waiter<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * A bounded queue whose items are flushed in batches by one flusher at a time: concurrent
 * writers share one write + fsync (group commit). While a flush runs, new items queue and
 * form the next batch. A full queue answers OVERLOADED instead of growing.
 *
 * `flush` receives items in arrival order and resolves once they are durable; an item's
 * promise resolves after that, so anything `flush` does per item happens before its waiter
 * sees the result.
 *
 * `halveAbove`: when more items than this wait, a batch takes the older half of them. The
 * writers of one batch then run (their next records are built) while the other half's batch
 * is on the disk, instead of every writer waiting for one batch and the disk then waiting
 * for every writer: concurrent writers settle into two groups that take turns on the disk.
 *
 * `startAtTurnEnd`: an idle queue starts its flush when the current turn of the event loop
 * ends (setImmediate) rather than at the first item, so that every item the turn's work
 * produces goes in one batch. One message of many requests (a volume's Pipe) otherwise
 * became a batch of its first record alone and then one of the rest. Measured on the WAL
 * (docs/BENCHMARKS.md, "WAL rounds"): a third as many rounds, and less CPU per write.
 */
export class GroupCommitQueue<T> {
  private readonly waiting: Waiter<T>[] = [];
  private flushing = false;
  private startScheduled = false;
  private readonly halveAbove: number;
  private readonly startAtTurnEnd: boolean;

  constructor(
    private readonly flush: (batch: readonly T[]) => Promise<void>,
    private readonly depthMax: number,
    private readonly batchMax: number,
    options: { readonly halveAbove?: number; readonly startAtTurnEnd?: boolean } = {},
  ) {
    this.halveAbove = options.halveAbove ?? Number.POSITIVE_INFINITY;
    this.startAtTurnEnd = options.startAtTurnEnd ?? false;
  }

  get depth(): number {
    return this.waiting.length;
  }

  enqueue(item: T): Promise<void> {
    if (this.waiting.length >= this.depthMax) {
      return Promise.reject(
        new MinikvError(ErrorCode.OVERLOADED, `write queue is full (${this.depthMax} waiting)`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.flushing || this.startScheduled) return;
      if (!this.startAtTurnEnd) {
        void this.run();
        return;
      }
      this.startScheduled = true;
      setImmediate(() => {
        this.startScheduled = false;
        if (!this.flushing) void this.run();
      });
    });
  }

  private async run(): Promise<void> {
    this.flushing = true;
    try {
      while (this.waiting.length > 0) {
        const waiting = this.waiting.length;
        const take = waiting > this.halveAbove ? Math.ceil(waiting / 2) : waiting;
        const batch = this.waiting.splice(0, Math.min(take, this.batchMax));
        try {
          await this.flush(batch.map((waiter) => waiter.item));
          for (const waiter of batch) waiter.resolve();
        } catch (err) {
          for (const waiter of batch) waiter.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
