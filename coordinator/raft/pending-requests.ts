/**
 * Bookkeeping of the driver's waiting callers: proposals waiting to be applied, and reads
 * waiting for a confirmed read index and then for the state machine to reach it. Every
 * waiter has a deadline; the tables are bounded (a full table answers OVERLOADED).
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";

/** What a proposal resolves with once applied. */
export interface Applied<Result> {
  /** The entry's log index (the version of what it wrote). */
  readonly index: number;
  /** What the state machine returned for it (undefined for conf changes). */
  readonly result: Result | undefined;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: MinikvError): void;
  readonly deadlineMs: number;
  /** What the caller asked for, for the timeout's message. */
  readonly what: string;
}

/**
 * Callers waiting for an entry, keyed by proposal sequence number. Every waiter gets the
 * same timeout, so the table (a Map, in insertion order) is also in deadline order and
 * sweep() looks only at the expired head: no timer per proposal, which under load cost more
 * than the rest of the bookkeeping (a timer list insert and delete per proposal).
 */
export class ProposalTable<Result> {
  private readonly waiters = new Map<number, Waiter<Applied<Result>>>();
  /** Waiters rejected so far (counted here rather than by a handler on every promise). */
  rejected = 0;

  constructor(
    private readonly sizeMax: number,
    private readonly timeoutMs: number,
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  hasRoom(): boolean {
    return this.waiters.size < this.sizeMax;
  }

  /**
   * Waits for `seq` (`nowMs` on a monotonic clock, as sweep() gets it). Once the timeout has
   * passed, the next sweep() rejects it.
   */
  wait(seq: number, what: string, nowMs: number): Promise<Applied<Result>> {
    return new Promise((resolve, reject) => {
      this.waiters.set(seq, { resolve, reject, deadlineMs: nowMs + this.timeoutMs, what });
    });
  }

  /** Rejects every waiter past its deadline with what `onTimeout` says for it now. */
  sweep(nowMs: number, onTimeout: (what: string) => MinikvError): void {
    for (const [seq, waiter] of this.waiters) {
      if (waiter.deadlineMs > nowMs) return;
      this.waiters.delete(seq);
      this.rejected += 1;
      waiter.reject(onTimeout(waiter.what));
    }
  }

  resolve(seq: number, applied: Applied<Result>): void {
    const waiter = this.take(seq);
    waiter?.resolve(applied);
  }

  reject(seq: number, err: MinikvError): void {
    const waiter = this.take(seq);
    if (waiter === undefined) return;
    this.rejected += 1;
    waiter.reject(err);
  }

  rejectAll(err: MinikvError): void {
    for (const seq of [...this.waiters.keys()]) this.reject(seq, err);
  }

  private take(seq: number): Waiter<Applied<Result>> | undefined {
    const waiter = this.waiters.get(seq);
    if (waiter === undefined) return undefined;
    this.waiters.delete(seq);
    return waiter;
  }
}

interface ReadWaiter {
  readonly deadlineMs: number;
  resolve(index: number): void;
  reject(err: MinikvError): void;
}

/**
 * Reads: callers queue until the driver issues one read-index request for all of them (one
 * context per batch, §6.4), then wait for the answer and for the applied index to reach it.
 * Unanswered batches are re-queued (a leader change loses them) until their deadline.
 */
export class ReadTable {
  private queued: ReadWaiter[] = [];
  private readonly inFlight = new Map<string, { waiters: ReadWaiter[]; issuedAtMs: number }>();
  private readonly confirmed: { index: number; waiters: ReadWaiter[] }[] = [];
  private count = 0;

  constructor(private readonly sizeMax: number) {}

  hasRoom(): boolean {
    return this.count < this.sizeMax;
  }

  hasQueued(): boolean {
    return this.queued.length > 0;
  }

  add(deadlineMs: number): Promise<number> {
    this.count += 1;
    return new Promise((resolve, reject) => {
      this.queued.push({ deadlineMs, resolve, reject });
    });
  }

  /** Moves every queued reader into a batch under `context`; false if none was queued. */
  issue(context: string, nowMs: number): boolean {
    if (this.queued.length === 0) return false;
    this.inFlight.set(context, { waiters: this.queued, issuedAtMs: nowMs });
    this.queued = [];
    return true;
  }

  /** The core confirmed `index` for `context`. */
  confirm(context: string, index: number): void {
    const batch = this.inFlight.get(context);
    if (batch === undefined) return;
    this.inFlight.delete(context);
    this.confirmed.push({ index, waiters: batch.waiters });
  }

  /** Resolves readers whose index the state machine has reached. */
  applied(appliedIndex: number): void {
    for (let i = this.confirmed.length - 1; i >= 0; i--) {
      const entry = this.confirmed[i];
      if (entry === undefined || entry.index > appliedIndex) continue;
      this.confirmed.splice(i, 1);
      for (const waiter of entry.waiters) this.settle(waiter, () => waiter.resolve(entry.index));
    }
  }

  /** Fails readers past their deadline; re-queues batches unanswered for `retryMs`. */
  sweep(nowMs: number, retryMs: number, err: () => MinikvError): void {
    const expired = (w: ReadWaiter): boolean => {
      if (w.deadlineMs > nowMs) return false;
      this.settle(w, () => w.reject(err()));
      return true;
    };
    this.queued = this.queued.filter((w) => !expired(w));
    for (const [context, batch] of this.inFlight) {
      const alive = batch.waiters.filter((w) => !expired(w));
      if (alive.length === 0 || nowMs - batch.issuedAtMs >= retryMs) {
        this.inFlight.delete(context);
        this.queued.push(...alive);
      } else {
        batch.waiters = alive;
      }
    }
    for (const entry of this.confirmed) entry.waiters = entry.waiters.filter((w) => !expired(w));
  }

  rejectAll(err: MinikvError): void {
    const all = [...this.queued, ...[...this.inFlight.values()].flatMap((b) => b.waiters)];
    for (const entry of this.confirmed) all.push(...entry.waiters);
    this.queued = [];
    this.inFlight.clear();
    this.confirmed.length = 0;
    for (const waiter of all) this.settle(waiter, () => waiter.reject(err));
  }

  private settle(_waiter: ReadWaiter, run: () => void): void {
    this.count -= 1;
    run();
  }
}

export function timeoutError(what: string, leader: string | null): MinikvError {
  return leader === null
    ? new MinikvError(ErrorCode.NO_QUORUM, `${what}: no leader is known`)
    : new MinikvError(ErrorCode.TIMEOUT, `${what}: not done in time (leader ${leader})`);
}
