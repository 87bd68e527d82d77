/** The apply loop shared by the key-value-backed state machines. */
import { assert, isMinikvError } from "../../common/errors.js";
import type { CommandHandler, StagedWrites } from "./command-handler.js";
import type { Entry } from "./core/types.js";
import type { ApplyResult } from "./state-machine.js";

/**
 * Runs each entry's command through the handler, staging writes. Entries without a command
 * (no-ops, conf changes) yield undefined; a refused command yields its MinikvError.
 */
export async function applyEntries<Result>(
  applied: number,
  entries: readonly Entry[],
  handler: CommandHandler<Result>,
  staged: StagedWrites,
): Promise<ApplyResult<Result>[]> {
  const results: ApplyResult<Result>[] = new Array<ApplyResult<Result>>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Entry;
    // The message is built only on failure: this runs for every entry on every replica.
    if (entry.index !== applied + 1 + i)
      assert(false, `apply expected index ${applied + 1 + i}, got ${entry.index}`);
    if (entry.type !== "normal" || entry.data.byteLength === 0) {
      results[i] = undefined;
      continue;
    }
    try {
      results[i] = await handler.apply(entry.data, staged, entry.index);
      staged.commitCommand();
    } catch (err) {
      if (!isMinikvError(err)) throw err;
      staged.discardCommand();
      results[i] = err;
    }
  }
  return results;
}
