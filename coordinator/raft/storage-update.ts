/**
 * Validation shared by every RaftStorage: an update is checked whole before anything is
 * written, so an invalid one changes nothing.
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";
import type { Entry, HardState } from "./core/types.js";
import type { StorageUpdate } from "./storage.js";

/** The bounds of a log: entries [first, last]; empty when first = last + 1. */
export interface LogBounds {
  readonly first: number;
  readonly last: number;
}

function invalid(message: string): MinikvError {
  return new MinikvError(ErrorCode.INVALID_ARGUMENT, message);
}

function isIndex(n: unknown): boolean {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function checkEntries(bounds: LogBounds, entries: readonly Entry[]): LogBounds {
  const head = entries[0];
  if (head === undefined) return bounds;
  if (!isIndex(head.index) || head.index < bounds.first || head.index > bounds.last + 1) {
    throw invalid(`entries start at ${head.index}; the log holds [${bounds.first}, ${bounds.last}]`);
  }
  entries.forEach((entry, i) => {
    if (entry.index !== head.index + i) throw invalid(`entries are not contiguous at ${entry.index}`);
    if (!isIndex(entry.term)) throw invalid(`entry ${entry.index} has an invalid term`);
    if (entry.type !== "normal" && entry.type !== "confChange") {
      throw invalid(`entry ${entry.index} has an invalid type`);
    }
    if (!(entry.data instanceof Uint8Array)) throw invalid(`entry ${entry.index} has no data bytes`);
  });
  return { first: bounds.first, last: head.index + entries.length - 1 };
}

function checkHardState(previous: HardState, next: HardState): void {
  if (!isIndex(next.term) || !isIndex(next.commit)) throw invalid("hard state has an invalid term or commit");
  if (next.vote !== null && typeof next.vote !== "string") throw invalid("hard state has an invalid vote");
  // Pair assertion around the disk: term and commit only grow (Figure 2; commit must never
  // go backwards across restarts).
  if (next.term < previous.term) throw invalid(`term would go back from ${previous.term} to ${next.term}`);
  if (next.commit < previous.commit) {
    throw invalid(`commit would go back from ${previous.commit} to ${next.commit}`);
  }
}

/**
 * Checks an update against the current bounds and hard state and returns the bounds after
 * it. Throws INVALID_ARGUMENT (changing nothing) when the update is not valid.
 */
export function planUpdate(bounds: LogBounds, hardState: HardState, update: StorageUpdate): LogBounds {
  let next = bounds;
  if (update.resetTo !== undefined && update.resetTo !== null) {
    if (!isIndex(update.resetTo)) throw invalid(`invalid reset index ${update.resetTo}`);
    next = { first: update.resetTo + 1, last: update.resetTo };
  }
  next = checkEntries(next, update.entries ?? []);
  if (update.compactTo !== undefined && update.compactTo !== null) {
    if (!isIndex(update.compactTo)) throw invalid(`invalid compaction index ${update.compactTo}`);
    if (update.compactTo >= next.first) {
      next = { first: update.compactTo + 1, last: Math.max(next.last, update.compactTo) };
    }
  }
  if (update.hardState !== undefined && update.hardState !== null)
    checkHardState(hardState, update.hardState);
  for (const [id, address] of Object.entries(update.peerAddresses ?? {})) {
    if (id.length === 0 || typeof address !== "string") throw invalid(`invalid address for peer "${id}"`);
  }
  return next;
}

/** Checks an entries(lo, hi) read against the bounds. */
export function checkRange(bounds: LogBounds, lo: number, hi: number): void {
  if (!isIndex(lo) || !isIndex(hi) || lo < bounds.first || hi < lo || hi > bounds.last + 1) {
    throw invalid(`range [${lo}, ${hi}) is outside the log [${bounds.first}, ${bounds.last}]`);
  }
}
