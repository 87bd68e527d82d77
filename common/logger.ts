import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * The process logger: JSON lines on stderr (stdout stays free for command output).
 * Level from MINIKV_LOG_LEVEL (default "info"; "silent" in tests unless set).
 *
 * Each line is written before the call returns, as Node writes its own stderr on Linux. With
 * sonic-boom's asynchronous writes, lines still queued when the process exits are flushed at
 * exit, and its flush retries a write that fails with EPIPE forever: a server whose stderr's
 * reader had gone (a supervisor stopped first) and that logged two lines on its way out never
 * exited. A synchronous write fails at once instead, and pino then drops the destination.
 */
export function createLogger(name: string, bindings: Record<string, string> = {}): Logger {
  const level = process.env["MINIKV_LOG_LEVEL"] ?? (process.env["VITEST"] === undefined ? "info" : "silent");
  return pino(
    { name, level, base: { pid: process.pid, ...bindings } },
    pino.destination({ dest: 2, sync: true }),
  );
}
