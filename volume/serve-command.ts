import { isIP } from "node:net";
import { Command, InvalidArgumentError, type Option } from "commander";
import {
  envOption,
  parseBytes,
  parseDurationMs,
  parseHostPort,
  parseUrlList,
  type HostPort,
} from "../common/config.js";
import { toMinikvError } from "../common/errors.js";

/** The flags of `minikv-volume serve` (DESIGN.md §3), parsed and validated; each also reads MINIKV_*. */
export interface VolumeServeFlags {
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

function serveCommand(serve: (flags: VolumeServeFlags) => Promise<void>): Command {
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
    .action(async (flags: VolumeServeFlags) => serve(flags));
}

/**
 * The `minikv-volume` program. Building it starts nothing: `serve` runs only when `serve`
 * is parsed, so tests can check flags and environment without spawning a process. Commander
 * errors are thrown to the caller (exitOverride).
 */
export function createVolumeProgram(serve: (flags: VolumeServeFlags) => Promise<void>): Command {
  const root = new Command("minikv-volume")
    .description("minikv volume server: stores blob bytes in CRC-checked append-only segments")
    .exitOverride()
    // Usage errors stay one line: no "(Did you mean …?)" under them.
    .showSuggestionAfterError(false)
    .addCommand(serveCommand(serve));
  return root;
}
