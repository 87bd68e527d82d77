#!/usr/bin/env node
import { isIP } from "node:net";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError, type Option } from "commander";
import {
  envOption,
  parseBytes,
  parseDurationMs,
  parseHostPort,
  parseUrlList,
  type HostPort,
} from "../common/config.js";
import { isMinikvError, toMinikvError } from "../common/errors.js";
import { createLogger, type Logger } from "../common/logger.js";
import { startVolumeServer, type VolumeServerHandle } from "./volume-server.js";

/** Exit codes (DESIGN.md §3): 0 success, 1 failure, 2 usage error. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/** How long the process may linger after a clean close before it exits regardless. */
const EXIT_LINGER_MS = 1_000;

interface ServeFlags {
  readonly id: string;
  readonly bind: HostPort;
  readonly grpc: HostPort;
  readonly data: string;
  readonly wal: string | undefined;
  readonly coordinators: string[];
  readonly advertise: string | undefined;
  readonly segmentSize: number;
  readonly snapshotInterval: number;
  readonly compactionThreshold: number;
  readonly preparedTimeout: number;
  readonly resolveInterval: number;
  readonly shutdownGrace: number;
}

/** Wraps a common/config parser so commander reports its message as a usage error. */
function arg<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError(toMinikvError(err).message);
    }
  };
}

function parseVolumeId(value: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) {
    throw new InvalidArgumentError("expected 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  return value;
}

function parseRatio(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !(n > 0 && n <= 1))
    throw new InvalidArgumentError("expected a number in (0, 1]");
  return n;
}

function parseHost(value: string): string {
  const host = value.trim().replace(/^\[(.*)\]$/, "$1");
  const valid = host.includes(":") ? isIP(host) === 6 : /^[A-Za-z0-9.-]{1,253}$/.test(host);
  if (!valid) throw new InvalidArgumentError("expected a host name or IP address, without a port");
  return host;
}

/** An env-aware option whose default is already parsed (commander never parses defaults). */
function flag<T>(flags: string, description: string, parse: (value: string) => T, fallback?: string): Option {
  const option = envOption(flags, description).argParser(parse);
  return fallback === undefined ? option : option.default(parse(fallback), fallback);
}

function serveCommand(): Command {
  return new Command("serve")
    .description("run a volume server: gRPC Volume service, HTTP reads, registration with the coordinators")
    .addOption(flag("--id <id>", "volume id, unique in the cluster", parseVolumeId).makeOptionMandatory())
    .addOption(
      flag(
        "--bind <host:port>",
        "HTTP read endpoint (port 0: any free port)",
        arg(parseHostPort),
        "0.0.0.0:6000",
      ),
    )
    .addOption(
      flag(
        "--grpc <host:port>",
        "gRPC Volume service (port 0: any free port)",
        arg(parseHostPort),
        "0.0.0.0:6001",
      ),
    )
    .addOption(
      flag(
        "--data <dir>",
        "directory of the segment files and index snapshots",
        String,
      ).makeOptionMandatory(),
    )
    .addOption(flag("--wal <dir>", "directory of the write-ahead log (default: <data>/wal)", String))
    .addOption(
      flag(
        "--coordinators <urls>",
        "coordinator HTTP URLs, comma-separated",
        arg(parseUrlList),
        "http://127.0.0.1:5000",
      ),
    )
    .addOption(
      flag("--advertise <host>", "host others use to reach this volume (default: the bind host)", parseHost),
    )
    .addOption(flag("--segment-size <bytes>", "segment roll size, e.g. 256MiB", arg(parseBytes), "256MiB"))
    .addOption(
      flag(
        "--snapshot-interval <duration>",
        "index snapshot interval, e.g. 60s",
        arg(parseDurationMs),
        "60s",
      ),
    )
    .addOption(
      flag(
        "--compaction-threshold <ratio>",
        "garbage ratio of a segment that triggers compaction",
        parseRatio,
        "0.5",
      ),
    )
    .addOption(
      flag(
        "--prepared-timeout <duration>",
        "age after which a prepared write's fate is asked for",
        arg(parseDurationMs),
        "30s",
      ),
    )
    .addOption(
      flag(
        "--resolve-interval <duration>",
        "pause between passes over old prepared writes",
        arg(parseDurationMs),
        "5s",
      ),
    )
    .addOption(
      flag(
        "--shutdown-grace <duration>",
        "time requests in flight get on SIGTERM",
        arg(parseDurationMs),
        "10s",
      ),
    )
    .exitOverride()
    .showSuggestionAfterError(false)
    .action(async (flags: ServeFlags) => serve(flags));
}

async function serve(flags: ServeFlags): Promise<void> {
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

function program(): Command {
  const root = new Command("minikv-volume")
    .description("minikv volume server: stores blob bytes in CRC-checked append-only segments")
    .exitOverride()
    // Usage errors stay one line: no "(Did you mean …?)" under them.
    .showSuggestionAfterError(false)
    .addCommand(serveCommand());
  return root;
}

try {
  await program().parseAsync(process.argv);
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
