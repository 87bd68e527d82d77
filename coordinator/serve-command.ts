import { Command, CommanderError, type OutputConfiguration } from "commander";
import { ErrorCode, MinikvError } from "../common/errors.js";
import {
  envOption,
  parseBytes,
  parseDurationMs,
  parseHostPort,
  parseIntInRange,
  parsePeers,
  type HostPort,
  type PeerSpec,
} from "../common/config.js";

/** Raft timing and compaction knobs of one coordinator. */
export interface RaftTuning {
  /** One core tick (all Raft time is counted in ticks). */
  readonly tickIntervalMs: number;
  /** Followers wait a random time in [T, 2T) before campaigning (§5.2, §9.3). */
  readonly electionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Applied entries past the last snapshot that trigger a new snapshot and log compaction (§7). */
  readonly snapshotThresholdEntries: number;
  /**
   * fsync the state machine after each applied batch. Off, a machine crash (not a process
   * crash) may lose the last applied batches; they are applied again from the fsynced log.
   */
  readonly syncApply: boolean;
  /**
   * The leader answers linearizable reads from its check-quorum lease while it holds one
   * (DESIGN.md §2 allows ReadIndex or a leader lease); off, every read takes a ReadIndex
   * heartbeat round. The lease assumes the members' clocks run at about the same rate.
   */
  readonly leaseReads: boolean;
}

/** A validated `minikv-coord serve` configuration (DESIGN.md §3). */
export interface ServeOptions {
  readonly id: string;
  /** HTTP listener; port 0 picks a free port (reported on stdout). */
  readonly bind: HostPort;
  /** gRPC listener for Raft and volumes; port 0 picks a free port. */
  readonly grpc: HostPort;
  /** Host others use to reach this node, when it differs from the bind address. */
  readonly advertiseHost: string | undefined;
  readonly dbDir: string;
  /** The other members; entries naming this node are dropped (one list may serve every node). */
  readonly peers: readonly PeerSpec[];
  readonly replicas: number;
  readonly raft: RaftTuning;
  /** Operator jobs: records on volumes that no metadata names are reclaimed once this old. */
  readonly orphanGraceMs: number;
  /** Operator jobs: byte-rate budget of rebalance copies. */
  readonly rebalanceBytesPerSecond: number;
  /** Memory for small committed values already read (coordinator/read-cache.ts); 0: none. */
  readonly readCacheBytes: number;
}

const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const READ_CACHE_BYTES_MAX = 64 * 1024 ** 3;

/** Bounds of the operator knobs, so a typo cannot stall or flood the group. */
const TUNING_BOUNDS = {
  tickIntervalMs: { min: 1, max: 1_000 },
  electionTicks: { min: 3, max: 10_000 },
  snapshotThresholdEntries: { min: 2, max: 100_000_000 },
  replicas: { min: 1, max: 16 },
} as const;

/** Raw flag values as commander hands them over (all strings: they may come from env). */
type RawServeFlags = Readonly<Record<string, string | undefined>>;

/** Turns raw flags into ServeOptions; throws INVALID_ARGUMENT naming the flag at fault. */
export function toServeOptions(raw: RawServeFlags): ServeOptions {
  const id = required(raw, "id");
  if (!NODE_ID.test(id)) throw invalid(`--id must match ${NODE_ID.source}, got "${id}"`);
  const peers = flag("peers", () => parsePeers(raw["peers"] ?? "")).filter((peer) => peer.id !== id);
  const seen = new Set<string>();
  for (const peer of peers) {
    const name = peer.id ?? peer.address;
    if (seen.has(name)) throw invalid(`--peers lists ${name} twice`);
    seen.add(name);
  }
  return {
    id,
    bind: flag("bind", () => parseHostPort(required(raw, "bind"))),
    grpc: flag("grpc", () => parseHostPort(required(raw, "grpc"))),
    advertiseHost: advertiseHost(raw["advertise"]),
    dbDir: required(raw, "db"),
    peers,
    replicas: flag("replicas", () => {
      const { min, max } = TUNING_BOUNDS.replicas;
      return parseIntInRange(required(raw, "replicas"), min, max, "--replicas");
    }),
    raft: toRaftTuning(raw),
    orphanGraceMs: flag("orphan-grace", () => parseDurationMs(required(raw, "orphan-grace"))),
    rebalanceBytesPerSecond: flag("rebalance-rate", () => {
      const rate = parseBytes(required(raw, "rebalance-rate"));
      if (rate < 1) throw invalid("--rebalance-rate must be at least 1 byte per second");
      return rate;
    }),
    readCacheBytes: flag("read-cache", () => {
      const bytes = parseBytes(required(raw, "read-cache"));
      if (bytes > READ_CACHE_BYTES_MAX) throw invalid("--read-cache must be at most 64GiB");
      return bytes;
    }),
  };
}

function toRaftTuning(raw: RawServeFlags): RaftTuning {
  const tickIntervalMs = flag("tick-interval", () => parseDurationMs(required(raw, "tick-interval")));
  const electionTimeoutMs = flag("election-timeout", () =>
    parseDurationMs(required(raw, "election-timeout")),
  );
  const heartbeatIntervalMs = flag("heartbeat-interval", () =>
    parseDurationMs(required(raw, "heartbeat-interval")),
  );
  const { min: tickMin, max: tickMax } = TUNING_BOUNDS.tickIntervalMs;
  if (tickIntervalMs < tickMin || tickIntervalMs > tickMax) {
    throw invalid(`--tick-interval must be in [${tickMin}ms, ${tickMax}ms], got ${tickIntervalMs}ms`);
  }
  const electionTicks = Math.round(electionTimeoutMs / tickIntervalMs);
  const { min: ticksMin, max: ticksMax } = TUNING_BOUNDS.electionTicks;
  if (electionTicks < ticksMin || electionTicks > ticksMax) {
    throw invalid(
      `--election-timeout must be ${ticksMin}–${ticksMax} ticks of --tick-interval, got ${electionTicks}`,
    );
  }
  if (heartbeatIntervalMs < tickIntervalMs || heartbeatIntervalMs * 2 > electionTimeoutMs) {
    throw invalid("--heartbeat-interval must be at least one tick and at most half of --election-timeout");
  }
  const snapshotThresholdEntries = flag("snapshot-threshold", () => {
    const { min, max } = TUNING_BOUNDS.snapshotThresholdEntries;
    return parseIntInRange(required(raw, "snapshot-threshold"), min, max, "--snapshot-threshold");
  });
  const syncApply = flag("sync-apply", () => parseOnOff(required(raw, "sync-apply")));
  const leaseReads = flag("lease-reads", () => parseOnOff(required(raw, "lease-reads")));
  return {
    tickIntervalMs,
    electionTimeoutMs,
    heartbeatIntervalMs,
    snapshotThresholdEntries,
    syncApply,
    leaseReads,
  };
}

function parseOnOff(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (["on", "true", "1", "yes"].includes(v)) return true;
  if (["off", "false", "0", "no"].includes(v)) return false;
  throw invalid(`expected on or off, got "${value}"`);
}

function advertiseHost(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const host = value.trim();
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+)$/.test(host) || host.length > 253) {
    throw invalid(`--advertise must be a host name or IP address, got "${value}"`);
  }
  return host.replace(/^\[|\]$/g, "");
}

function required(raw: RawServeFlags, name: string): string {
  const value = raw[camel(name)];
  if (value === undefined || value.trim() === "") throw invalid(`--${name} is required`);
  return value;
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Runs a parser and prefixes its error with the flag's name. */
function flag<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof MinikvError && !err.message.startsWith("--"))
      throw invalid(`--${name}: ${err.message}`);
    throw err;
  }
}

function invalid(message: string): MinikvError {
  return new MinikvError(ErrorCode.INVALID_ARGUMENT, message);
}

/**
 * The `minikv-coord` program. `serve` validates its flags (each also read from MINIKV_*)
 * and hands them to `serve`; commander errors are left to the caller (exitOverride).
 */
export function createCoordProgram(
  serve: (options: ServeOptions) => Promise<void>,
  output: OutputConfiguration = {},
): Command {
  const program = new Command("minikv-coord")
    .description("minikv coordinator: Raft-replicated metadata and the HTTP API")
    .configureOutput(output)
    .exitOverride()
    .showSuggestionAfterError(false);
  const command = program
    .command("serve")
    .description("run one coordinator")
    .exitOverride()
    .addOption(envOption("--id <id>", "this coordinator's id, unique in the group (e.g. coord-1)"))
    .addOption(envOption("--bind <host:port>", "HTTP listen address (port 0: any free port)", "0.0.0.0:5000"))
    .addOption(envOption("--grpc <host:port>", "gRPC listen address for Raft and volumes", "0.0.0.0:5001"))
    .addOption(envOption("--db <dir>", "data directory (Raft log, snapshots, metadata)"))
    .addOption(
      envOption(
        "--peers <list>",
        "other coordinators: ID=HOST:PORT or HOST:PORT (gRPC), comma-separated",
        "",
      ),
    )
    .addOption(envOption("--replicas <n>", "copies of each blob", "3"))
    .addOption(envOption("--advertise <host>", "host others use to reach this node (default: the bind host)"))
    .addOption(envOption("--tick-interval <duration>", "Raft tick", "10ms"))
    .addOption(
      envOption(
        "--election-timeout <duration>",
        "election timeout T; each wait is random in [T, 2T)",
        "150ms",
      ),
    )
    .addOption(envOption("--heartbeat-interval <duration>", "leader heartbeat interval", "50ms"))
    .addOption(
      envOption(
        "--snapshot-threshold <entries>",
        "applied entries between snapshots (log compaction)",
        "50000",
      ),
    )
    .addOption(
      envOption(
        "--sync-apply <on|off>",
        "fsync the state machine after each applied batch (off: the fsynced Raft log alone makes commits durable)",
        "on",
      ),
    )
    .addOption(
      envOption(
        "--lease-reads <on|off>",
        "the leader answers linearizable reads from its lease, without a heartbeat round (off: ReadIndex for every read)",
        "on",
      ),
    )
    .addOption(
      envOption(
        "--orphan-grace <duration>",
        "repair reclaims records no metadata names once they are this old",
        "10m",
      ),
    )
    .addOption(
      envOption("--rebalance-rate <bytes>", "byte-rate budget of rebalance copies, per second", "64MiB"),
    )
    .addOption(
      envOption(
        "--read-cache <bytes>",
        "memory for small values already read, served without a volume (0: off)",
        "128MiB",
      ),
    )
    .action(async (flags: RawServeFlags) => serve(parseOrUsageError(command, flags)));
  command.addHelpText(
    "after",
    "\nExample:\n  minikv-coord serve --id coord-1 --bind 0.0.0.0:5000 --grpc 0.0.0.0:5001 --db ./coord1-data \\\n" +
      "    --peers coord-2=127.0.0.1:5003,coord-3=127.0.0.1:5005\n",
  );
  return program;
}

/** Bad flag values are usage errors: one line on stderr, exit status 2. */
function parseOrUsageError(command: Command, flags: RawServeFlags): ServeOptions {
  try {
    return toServeOptions(flags);
  } catch (err) {
    if (!(err instanceof MinikvError)) throw err;
    return command.error(`error: ${err.message}`, { exitCode: 2, code: "minikv.usage" });
  }
}

/** Exit status for an error raised while parsing: 0 for --help/--version, 2 for usage errors. */
export function usageExitCode(err: unknown): number | undefined {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  return undefined;
}
