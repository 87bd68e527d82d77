#!/usr/bin/env node
import { resolve } from "node:path";
import { CommanderError } from "commander";
import { isMinikvError, toMinikvError } from "../common/errors.js";
import { createLogger, type Logger } from "../common/logger.js";
import { VOLUME_STREAM_COLLECTIONS, useStreamCollections } from "../common/stream-memory.js";
import { createVolumeProgram, type VolumeServeFlags } from "./serve-command.js";
import { startVolumeServer, type VolumeServerHandle } from "./volume-server.js";

/** Exit codes (DESIGN.md §3): 0 success, 1 failure, 2 usage error. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/** How long the process may linger after a clean close before it exits regardless. */
const EXIT_LINGER_MS = 1_000;

async function serve(flags: VolumeServeFlags): Promise<void> {
  useStreamCollections(VOLUME_STREAM_COLLECTIONS);
  const logger = createLogger("minikv-volume", { volume: flags.id });
  const dataDir = resolve(flags.data);
  const server = await startVolumeServer({
    id: flags.id,
    http: flags.bind,
    grpc: flags.grpc,
    ...(flags.advertise === undefined ? {} : { advertiseHost: flags.advertise }),
    coordinatorUrls: flags.coordinators,
    storage: {
      dataDir,
      walDir: resolve(flags.wal ?? resolve(dataDir, "wal")),
      segmentBytesMax: flags.segmentSize,
      snapshotIntervalMs: flags.snapshotInterval,
      compactionGarbageRatio: flags.compactionThreshold,
    },
    resolver: { preparedTimeoutMs: flags.preparedTimeout, intervalMs: flags.resolveInterval },
    shutdownGraceMs: flags.shutdownGrace,
    logger,
  });
  announce(server, logger);
  await closeOnSignal(server, logger);
  // Everything is closed; should a stray handle (an idle keep-alive socket) linger, leave anyway.
  setTimeout(() => process.exit(), EXIT_LINGER_MS).unref();
}

/** One JSON line on stdout so a parent process learns the ports (port 0). */
function announce(server: VolumeServerHandle, logger: Logger): void {
  const event = {
    event: "listening",
    id: server.id,
    http: server.httpAddress,
    grpc: server.grpcAddress,
    httpUrl: server.advertisedHttpUrl,
    grpcAdvertised: server.advertisedGrpcAddress,
  };
  process.stdout.write(`${JSON.stringify(event)}\n`);
  logger.info(event, "volume server listening");
}

/** SIGTERM/SIGINT: graceful close, exit 0. A second signal exits at once. */
function closeOnSignal(server: VolumeServerHandle, logger: Logger): Promise<void> {
  return new Promise((done) => {
    let received = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      received += 1;
      if (received > 1) {
        logger.warn({ signal }, "second signal: exiting without a clean close");
        process.exit(EXIT_FAILED);
      }
      logger.info({ signal }, "closing on signal");
      server.close().then(done, (err: unknown) => {
        logger.error({ err }, "close failed");
        process.exitCode = EXIT_FAILED;
        done();
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

try {
  await createVolumeProgram(serve).parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has printed its one-line message (or the help).
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    const e = toMinikvError(err);
    process.stderr.write(`minikv-volume: ${e.code}: ${e.message}\n`);
    process.exitCode = isMinikvError(err) && err.code === "INVALID_ARGUMENT" ? EXIT_USAGE : EXIT_FAILED;
  }
}
