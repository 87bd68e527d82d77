import type { EventEmitter } from "node:events";

/**
 * Resolves once a writable stream that returned `false` from write() may take more: on
 * 'drain', or when the stream can never drain ('close', 'error', gRPC's 'cancelled'), so a
 * writer waiting here never hangs on a peer that went away. The caller checks whether the
 * stream is still usable afterwards.
 */
export function waitForDrain(stream: EventEmitter): Promise<void> {
  const events = ["drain", "close", "error", "cancelled", "finish"] as const;
  return new Promise((resolve) => {
    const done = (): void => {
      for (const event of events) stream.off(event, done);
      resolve();
    };
    for (const event of events) stream.on(event, done);
  });
}
