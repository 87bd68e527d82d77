/** Failures a later attempt may not meet: a peer busy, restarting or between leaders. */
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, isMinikvError } from "../../common/errors.js";

const TRANSIENT: ReadonlySet<string> = new Set([
  ErrorCode.UNAVAILABLE,
  ErrorCode.TIMEOUT,
  ErrorCode.NO_QUORUM,
  ErrorCode.NOT_LEADER,
  ErrorCode.OVERLOADED,
]);

export function isTransient(err: unknown): boolean {
  return isMinikvError(err) && TRANSIENT.has(err.code);
}

/** Metadata reads of a job: attempts, and the pause after the first failed one (doubling). */
export const READ_ATTEMPTS = 4;
export const READ_RETRY_DELAY_MS = 250;

/**
 * Runs an idempotent `read` again after a transient failure, up to READ_ATTEMPTS times with
 * doubling pauses (about 1.75 s in all); any other failure, or the last one, is thrown.
 */
export async function retryTransientRead<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= READ_ATTEMPTS || !isTransient(err)) throw err;
      await sleep(READ_RETRY_DELAY_MS * 2 ** (attempt - 1));
    }
  }
}
