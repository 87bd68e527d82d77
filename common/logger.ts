import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * The process logger: JSON lines on stderr (stdout stays free for command output).
 * Level from MINIKV_LOG_LEVEL (default "info"; "silent" in tests unless set).
 */
export function createLogger(name: string, bindings: Record<string, string> = {}): Logger {
  const level = process.env["MINIKV_LOG_LEVEL"] ?? (process.env["VITEST"] === undefined ? "info" : "silent");
  return pino({ name, level, base: { pid: process.pid, ...bindings } }, pino.destination(2));
}
