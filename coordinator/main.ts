#!/usr/bin/env node
/**
 * `minikv-coord`: a coordinator process. `serve` starts Raft, gRPC and HTTP, prints one JSON
 * line `{"event":"listening",...}` on stdout once every port is bound (the ports chosen
 * for port 0 included), and stops gracefully on SIGTERM or SIGINT (exit status 0).
 * Usage errors print one line and exit 2; failures to start print one line and exit 1.
 */
import { toMinikvError } from "../common/errors.js";
import { createLogger } from "../common/logger.js";
import { createCoordProgram, usageExitCode, type ServeOptions } from "./serve-command.js";

/** A stop that takes longer than this (a wedged disk or peer) ends with exit status 1. */
const STOP_TIMEOUT_MS = 15_000;

async function serve(options: ServeOptions): Promise<void> {
  const logger = createLogger("minikv-coord", { id: options.id });
  // Loaded only to serve: a usage error answers without loading gRPC, LevelDB and express.
  const { startCoordinator } = await import("./coord-server.js");
  const coordinator = await startCoordinator(options, logger, {
    // Raft could not persist: the node must not go on as if it had (TIGER_STYLE: crash).
    onFatal: () => process.exit(1),
  });
  process.stdout.write(
    `${JSON.stringify({ event: "listening", id: options.id, http: coordinator.httpAddress, grpc: coordinator.grpcAddress })}\n`,
  );
  logger.info({ http: coordinator.httpAddress, grpc: coordinator.grpcAddress }, "listening");
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info({ signal }, "stopping");
  const timer = setTimeout(() => {
    logger.error({ timeoutMs: STOP_TIMEOUT_MS }, "graceful stop timed out");
    process.exit(1);
  }, STOP_TIMEOUT_MS);
  timer.unref();
  await coordinator.close();
  clearTimeout(timer);
  logger.info("stopped");
}

const program = createCoordProgram(serve);
program.parseAsync(process.argv).then(
  () => process.exit(0),
  (err: unknown) => {
    const usage = usageExitCode(err);
    if (usage !== undefined) process.exit(usage);
    const e = toMinikvError(err);
    process.stderr.write(`minikv-coord: ${e.code}: ${e.message}\n`);
    process.exit(1);
  },
);
