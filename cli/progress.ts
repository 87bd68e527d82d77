import { Transform, type TransformCallback } from "node:stream";
import cliProgress from "cli-progress";
import { formatBytes } from "./output.js";

/** Transfers smaller than this finish before a bar would help. */
const PROGRESS_BYTES_MIN = 4 * 1024 * 1024;

/**
 * A byte counter to pipe a transfer through. It draws a bar with bytes, rate and ETA on
 * stderr only when stderr is a terminal and the transfer is big enough (or of unknown
 * size); piped or redirected output gets nothing of it.
 */
export function transferProgress(totalBytes: number | undefined, label: string): Transform {
  const show = process.stderr.isTTY && (totalBytes === undefined || totalBytes >= PROGRESS_BYTES_MIN);
  const bar = show
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${label} [{bar}] {percentage}% | {done} of {all} | {rate}/s | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const startedMs = Date.now();
  let done = 0;
  const all = totalBytes === undefined ? "?" : formatBytes(totalBytes);
  bar?.start(totalBytes ?? 0, 0, { done: formatBytes(0), all, rate: formatBytes(0) });
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      done += chunk.length;
      const rate = done / Math.max((Date.now() - startedMs) / 1000, 0.001);
      bar?.update(totalBytes === undefined ? 0 : done, {
        done: formatBytes(done),
        all,
        rate: formatBytes(rate),
      });
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      bar?.stop();
      callback();
    },
  });
}

/** A bar for a server-side job reporting `done` of `total` items; a no-op when not on a TTY. */
export function jobProgress(label: string): { update(done: number, total: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted}`,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(0, 0);
  return {
    update(done, total) {
      bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      bar.stop();
    },
  };
}
