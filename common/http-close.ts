import type { Server } from "node:http";

/** How often, while closing, connections that went idle since the last look are closed. */
const IDLE_SWEEP_MS = 100;

/**
 * Stops accepting, lets requests in flight finish for `graceMs`, then drops what is left.
 *
 * A keep-alive connection is closed as soon as it is idle, not only if it is idle when the
 * close begins: a client that keeps asking on one connection (a health probe every 200 ms)
 * would otherwise hold the server open for the whole grace period.
 */
export async function closeHttpServer(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
}
