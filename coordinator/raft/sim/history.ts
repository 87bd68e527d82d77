import type { KvInput, KvOperation, KvOutput } from "./kv-model.js";

/** How a client operation ended. */
export type Outcome =
  | { readonly kind: "ok"; readonly output: KvOutput }
  /** Definitely did not take effect (e.g. rejected before it was proposed). */
  | { readonly kind: "fail"; readonly reason: string }
  /** Timed out or its server crashed: it may or may not have taken effect. */
  | { readonly kind: "unknown"; readonly reason: string };

/** One client operation in the history; `outcome` and the return fields fill in when it ends. */
export interface HistoryEntry {
  readonly id: number;
  readonly clientId: number;
  /** The client's sequence number for the operation (its retries reuse it). */
  readonly seq: number;
  readonly input: KvInput;
  /** Strictly increasing event numbers (call < return), so no two events tie. */
  readonly call: number;
  readonly callTick: number;
  returnEvent: number | null;
  returnTick: number | null;
  outcome: Outcome | null;
}

/**
 * The clients' view of the run: each operation's invocation and completion on the virtual
 * clock. Event numbers come from one counter, so the real-time order the checker relies on
 * is exactly the order in which the simulator produced the events.
 */
export class History {
  private readonly entries: HistoryEntry[] = [];
  private nextEvent = 0;

  invoke(clientId: number, seq: number, input: KvInput, tick: number): HistoryEntry {
    const entry: HistoryEntry = {
      id: this.entries.length,
      clientId,
      seq,
      input,
      call: this.nextEvent++,
      callTick: tick,
      returnEvent: null,
      returnTick: null,
      outcome: null,
    };
    this.entries.push(entry);
    return entry;
  }

  complete(entry: HistoryEntry, outcome: Outcome, tick: number): void {
    if (entry.outcome !== null) throw new Error(`operation ${entry.id} completed twice`);
    entry.outcome = outcome;
    entry.returnEvent = this.nextEvent++;
    entry.returnTick = tick;
  }

  all(): readonly HistoryEntry[] {
    return this.entries;
  }

  counts(): { ok: number; fail: number; unknown: number; pending: number } {
    const counts = { ok: 0, fail: 0, unknown: 0, pending: 0 };
    for (const entry of this.entries) counts[entry.outcome?.kind ?? "pending"]++;
    return counts;
  }

  /**
   * The operations for the linearizability checker. Failed ones are dropped. One whose
   * outcome the client does not know keeps an open end; with `applied` (what state machines
   * applied, by `clientId:seq`, with the result they computed) it is kept only if some state
   * machine applied it, with that result — sound because clients observe the store only
   * through state machines — else, like an unknown read, it is dropped.
   */
  operations(applied?: ReadonlyMap<string, KvOutput>): KvOperation[] {
    const out: KvOperation[] = [];
    for (const entry of this.entries) {
      const outcome = entry.outcome;
      const base = { clientId: entry.clientId, input: entry.input, call: entry.call };
      if (outcome?.kind === "fail") continue;
      if (outcome?.kind === "ok") {
        out.push({ ...base, output: outcome.output, return: entry.returnEvent });
      } else if (applied !== undefined) {
        const output = applied.get(`${entry.clientId}:${entry.seq}`);
        if (output !== undefined) out.push({ ...base, output, return: null });
      } else if (entry.input.kind !== "get") {
        out.push({ ...base, output: null, return: null });
      }
    }
    return out;
  }
}
