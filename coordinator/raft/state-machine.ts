/**
 * The state machine seam (cf. hashicorp/raft `FSM`). The driver hands it committed entries
 * in log order; the state machine decodes its own commands, so new kinds of state machine
 * (the metadata store, a plain key-value store) plug in without touching the driver.
 */
import type { MinikvError } from "../../common/errors.js";
import type { Entry } from "./core/types.js";

/** What applying one entry produced (see StateMachine.apply). */
export type ApplyResult<Result> = Result | MinikvError | undefined;

/** A consistent view of the state at one applied index, being read out. */
export interface StateMachineSnapshot {
  /** The applied index the view reflects. */
  readonly index: number;
  /** The serialized state, in order. Single use. Chunks are owned by the reader. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Releases the view (e.g. a LevelDB snapshot); safe to call twice. */
  close(): Promise<void>;
}

/**
 * A replicated state machine. Calls are never concurrent with each other, except that a
 * snapshot view may still be read while later apply() calls run: the view must not change.
 */
export interface StateMachine<Result = unknown> {
  /**
   * The highest index applied. It never goes backwards: a state machine that loses writes in
   * a crash must also report the lower index it really holds, and the driver re-applies.
   */
  appliedIndex(): number;
  /**
   * Applies committed entries, contiguous and starting at appliedIndex() + 1, atomically
   * together with the new applied index (the last entry's): after a crash either all of them
   * are applied or none. Entries of type "confChange" and normal entries with empty data
   * (a new leader's no-op, §8) carry no command: they only advance the applied index.
   * Returns one result per entry: undefined for entries without a command, a MinikvError
   * for a command refused (undecodable, failed precondition), which then changes nothing —
   * refusing must not throw, since every replica would throw alike and stop. Rejects only
   * on I/O failure, which leaves the applied index where it was.
   */
  apply(entries: readonly Entry[]): Promise<readonly ApplyResult<Result>[]>;
  /** Opens a consistent view of the state at appliedIndex(). */
  snapshot(): Promise<StateMachineSnapshot>;
  /**
   * Replaces the whole state with a snapshot's bytes, after which appliedIndex() = index.
   * Crash-safe: a crash midway leaves appliedIndex() below `index` so the driver restores
   * again on start-up. Rejects with DATA_CORRUPT on bytes it cannot decode.
   */
  restore(index: number, chunks: AsyncIterable<Uint8Array>): Promise<void>;
  close(): Promise<void>;
}
