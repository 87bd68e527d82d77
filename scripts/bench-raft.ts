/**
 * `npm run bench:raft` (issue 3 §5): three real coordinator processes on 127.0.0.1 with
 * fsync on; committed proposals/s and p50/p99 latency for 256-byte entries at concurrency
 * 1, 64 and 256 (a closed loop in this process over keep-alive node:http to the leader's
 * `POST /v1/internal/raft/propose`, which answers once the entry is committed and applied;
 * clients follow a leader change and retry, as real ones would),
 * leader failover time (kill -9 the leader, time until a new leader commits a proposal),
 * and, where the shared peers harness can start etcd, a 3-member etcd cluster under the
 * same load (`POST /v3/kv/put` on its leader's HTTP/JSON gateway). Prints one table; logs,
 * per minikv run, the leader's entries per log fsync and the coordinators' CPU time per
 * committed proposal (leader, and followers together; from /proc on Linux).
 *
 * Every server and this load generator run at nice BENCH_NICE (default -10, as the peers
 * harness runs etcd, nginx and wrk), each server in a session of its own with the same
 * autogroup nice, so other jobs on a shared machine disturb the figures less.
 *
 * Knobs (environment): BENCH_RUNS (3), BENCH_FAILOVER_ROUNDS (10), BENCH_COUNT_SCALE (1:
 * multiplies request counts), BENCH_CONCURRENCIES (1,64,256), BENCH_NICE (-10),
 * BENCH_SYNC_APPLY (on: the coordinators' --sync-apply), BENCH_COORD_ARGS (more
 * `minikv-coord serve` options, space-separated), BENCH_NODE_ARGS (options for the
 * coordinators' node, space-separated), BENCH_ETCD=0 to skip etcd, BENCH_MINIKV=0 to measure
 * etcd only, MINIKV_KEEP_TEST_DIRS=1 to keep the coordinators' logs.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { cpus, loadavg, setPriority, totalmem } from "node:os";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { CoordCluster } from "../test/support/coord-cluster.js";
import { httpRequest } from "../test/support/http-client.js";
import type { ManagedProcess } from "../test/support/process-harness.js";
import { ProcessHarness } from "../test/support/process-harness.js";
import { waitFor } from "../test/support/wait.js";
import { closedLoop, median, spread, type LoadResult } from "./bench/closed-loop.js";
import { EtcdPeer, etcdUnavailableReason } from "./bench/etcd-peer.js";
import { LeaderTracker } from "./bench/leader-tracker.js";
import { cpuSecondsOf } from "./bench/proc-cpu.js";

const env = process.env;
const config = {
  valueBytes: 256,
  /** BENCH_CONCURRENCIES (comma-separated) measures fewer, e.g. "256" for A/B rounds. */
  concurrencies: (env["BENCH_CONCURRENCIES"] ?? "1,64,256").split(",").map(Number),
  /** Requests per run at each concurrency: enough for ~5–15 s of steady state here. */
  countPerRun: { 1: 1_000, 64: 10_000, 256: 20_000 } as Readonly<Record<number, number>>,
  countScale: Number(env["BENCH_COUNT_SCALE"] ?? 1),
  runs: Number(env["BENCH_RUNS"] ?? 3),
  failoverRounds: Number(env["BENCH_FAILOVER_ROUNDS"] ?? 10),
  runTimeBoundMs: 180_000,
  /** A failover round that takes longer than this is reported as failed. */
  failoverBoundMs: 10_000,
  failoverProbeIntervalMs: 5,
  /**
   * A probe a survivor forwarded to the dead leader is lost with it: it is abandoned after
   * this, and enough probes may be in flight that lost ones never hold up new ones.
   */
  failoverProbeTimeoutMs: 500,
  failoverProbesInFlightMax: 128,
  etcd: env["BENCH_ETCD"] !== "0",
  minikv: env["BENCH_MINIKV"] !== "0",
  nice: Number(env["BENCH_NICE"] ?? -10),
  syncApply: env["BENCH_SYNC_APPLY"] ?? "on",
  /** Extra `minikv-coord serve` options, e.g. "--snapshot-threshold 100000". */
  coordArgs: (env["BENCH_COORD_ARGS"] ?? "").split(" ").filter((arg) => arg.length > 0),
  /** Extra options for the coordinators' node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
  nodeArgs: (env["BENCH_NODE_ARGS"] ?? "").split(" ").filter((arg) => arg.length > 0),
  /** Untimed requests at c=64 before the first measured run of each system (JIT, caches, connections). */
  warmupCount: 2_000,
} as const;

type Loads = Map<number, LoadResult[]>;

interface SystemResult {
  readonly loads: Loads;
  readonly failoverMs: readonly number[];
  readonly notes: readonly string[];
}

const value = randomBytes(config.valueBytes);

async function main(): Promise<void> {
  const startedAt = new Date();
  log(
    `bench:raft on ${cpus().length}× ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  log(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const restorePriority = raiseOwnPriority(config.nice);
  try {
    const minikv = config.minikv ? await benchMinikv() : { loads: new Map(), failoverMs: [], notes: [] };
    const etcd = await benchEtcd();
    printTable(startedAt, minikv, etcd);
  } finally {
    restorePriority();
  }
}

/**
 * Runs this process (the load generator) at `nice`, its session's autogroup too, as the
 * peers harness runs wrk; returns what puts the autogroup back (the session outlives us).
 */
function raiseOwnPriority(nice: number): () => void {
  const autogroup = "/proc/self/autogroup";
  let before: string | undefined;
  try {
    setPriority(nice);
    before = /nice (-?\d+)/.exec(readFileSync(autogroup, "utf8"))?.[1];
    writeFileSync(autogroup, String(nice));
  } catch (err) {
    log(`could not raise priority to nice ${nice}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return () => {
    if (before === undefined) return;
    try {
      writeFileSync(autogroup, before);
    } catch {
      // The session's autogroup nice stays raised; nothing else depends on it.
    }
  };
}

async function benchMinikv(): Promise<SystemResult> {
  const harness = await ProcessHarness.create("minikv-bench-raft-");
  const stopOnSignal = onSignalCleanup(() => harness.cleanup());
  try {
    const cluster = await CoordCluster.start(harness, {
      size: 3,
      env: { MINIKV_LOG_LEVEL: "warn" },
      args: ["--sync-apply", config.syncApply, ...config.coordArgs],
      nice: config.nice,
      ...(config.nodeArgs.length === 0 ? {} : { nodeArgs: config.nodeArgs }),
    });
    await cluster.waitForLeader(10_000);
    const notes: string[] = [];
    const loads = await runLoads("minikv", async (c, prefix) => {
      const leader = (await cluster.waitForLeader(10_000)).value;
      const tracker = new LeaderTracker(cluster, leader);
      const agent = new Agent({ keepAlive: true, maxSockets: c });
      const fsyncsBefore = await fsyncCounters(leader);
      const cpuBefore = cpuMs(cluster.running);
      return {
        send: (i: number) => tracker.propose(`${prefix}${i}`, value, agent),
        done: async (result: LoadResult) => {
          agent.destroy();
          logCpuPerProposal(prefix, leader, cpuBefore, cpuMs(cluster.running), result.ok);
          const after = await fsyncCounters(leader);
          const batches = after.batches - fsyncsBefore.batches;
          if (batches > 0) {
            const perFsync = (after.entries - fsyncsBefore.entries) / batches;
            log(`${prefix}: ${leader.name} wrote ${perFsync.toFixed(1)} entries per log fsync`);
          }
          if (tracker.leaderChanges > 0) {
            notes.push(
              `${prefix}: the leader changed ${tracker.leaderChanges}× during the run (clients followed it)`,
            );
          }
        },
      };
    });
    const failoverMs = await measureFailovers(cluster);
    return { loads, failoverMs, notes };
  } catch (err) {
    process.stderr.write(`${harness.logTails(20)}\n`);
    throw err;
  } finally {
    stopOnSignal();
    await harness.cleanup();
  }
}

async function benchEtcd(): Promise<SystemResult | string> {
  if (!config.etcd) return "skipped (BENCH_ETCD=0)";
  const reason = etcdUnavailableReason();
  if (reason !== undefined) return reason;
  log("starting etcd through ../shared/peers/etcd/start.sh");
  const etcd = await EtcdPeer.start(config.nice);
  const stopOnSignal = onSignalCleanup(() => etcd.stop());
  try {
    const loads = await runLoads("etcd", (c, prefix) => {
      const agent = new Agent({ keepAlive: true, maxSockets: c });
      return Promise.resolve({
        send: (i: number) => etcd.put(`${prefix}${i}`, value, agent),
        done: () => {
          agent.destroy();
          return Promise.resolve();
        },
      });
    });
    return { loads, failoverMs: [], notes: [] };
  } finally {
    stopOnSignal();
    await etcd.stop();
  }
}

/** The leader's fsynced log batches and the entries they held, from its /metrics. */
async function fsyncCounters(node: ManagedProcess): Promise<{ batches: number; entries: number }> {
  const text = (await httpRequest(`${node.httpUrl}/metrics`)).body.toString();
  const read = (name: string): number =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return {
    batches: read("minikv_raft_fsync_batches_total"),
    entries: read("minikv_raft_fsync_entries_total"),
  };
}

interface Target {
  send(i: number): Promise<void>;
  /** The run is over (`result` is what it measured). */
  done(result: LoadResult): Promise<void>;
}

/** CPU time (user + system) each running process has used so far, in ms; empty off Linux. */
function cpuMs(nodes: readonly ManagedProcess[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const node of nodes) {
    if (node.pid === undefined) continue;
    try {
      out.set(node.name, cpuSecondsOf(node.pid) * 1000);
    } catch {
      // Not Linux, or the process is gone: no figure for it.
    }
  }
  return out;
}

/**
 * The coordinators' CPU per committed proposal over a run, leader and followers apart:
 * on a machine the servers and the load share, this is what bounds throughput, and it
 * moves less with other load than proposals/s does.
 */
function logCpuPerProposal(
  prefix: string,
  leader: ManagedProcess,
  before: Map<string, number>,
  after: Map<string, number>,
  proposals: number,
): void {
  if (proposals === 0 || after.size === 0) return;
  let followersMs = 0;
  let leaderMs = 0;
  for (const [name, ms] of after) {
    const used = ms - (before.get(name) ?? ms);
    if (name === leader.name) leaderMs += used;
    else followersMs += used;
  }
  const perProposal = (ms: number): string => ((1000 * ms) / proposals).toFixed(0);
  log(
    `${prefix}: coordinator CPU per proposal: leader ${perProposal(leaderMs)} µs, followers ${perProposal(followersMs)} µs together`,
  );
}

/** Every concurrency, `runs` times, interleaved (c1, c64, c256, c1, …) so drift hits all alike. */
async function runLoads(
  system: string,
  target: (c: number, prefix: string) => Promise<Target>,
): Promise<Loads> {
  const loads: Loads = new Map();
  const warmup = await target(64, `bench-${system}-warmup-`);
  const warmed = await closedLoop({
    count: config.warmupCount,
    concurrency: 64,
    timeBoundMs: config.runTimeBoundMs,
    send: (i) => warmup.send(i),
  });
  await warmup.done(warmed);
  for (let run = 1; run <= config.runs; run++) {
    for (const c of config.concurrencies) {
      const count = Math.max(c, Math.round((config.countPerRun[c] ?? 1_000) * config.countScale));
      const t = await target(c, `bench-${system}-r${run}-c${c}-`);
      const result = await closedLoop({
        count,
        concurrency: c,
        timeBoundMs: config.runTimeBoundMs,
        send: (i) => t.send(i),
      });
      await t.done(result);
      const line = `${system} run ${run}/${config.runs} c=${c}: ${result.opsPerSec.toFixed(0)} ops/s p50 ${result.p50Ms.toFixed(2)} ms p99 ${result.p99Ms.toFixed(2)} ms ok ${result.ok} err ${result.errors}`;
      log(result.firstError === undefined ? line : `${line} (first error: ${result.firstError})`);
      loads.set(c, [...(loads.get(c) ?? []), result]);
    }
  }
  return loads;
}

/**
 * Failover time: kill -9 the leader, then propose through every survivor every few ms until
 * one proposal commits; the time from the kill to that answer is one sample. The killed node
 * restarts and catches up before the next round.
 */
async function measureFailovers(cluster: CoordCluster): Promise<number[]> {
  const samples: number[] = [];
  for (let round = 1; round <= config.failoverRounds; round++) {
    const leader = (await cluster.waitForLeader(10_000)).value;
    await sleep(300); // let heartbeats settle so every round starts from a steady leader
    const killedAtMs = performance.now();
    const killed = leader.kill("SIGKILL");
    const committedAtMs = await firstCommit(cluster, `failover-${round}-`);
    await killed;
    const ms = committedAtMs - killedAtMs;
    samples.push(ms);
    log(`failover ${round}/${config.failoverRounds}: ${ms.toFixed(0)} ms (killed ${leader.name})`);
    await leader.restart();
    await waitForCatchUp(cluster, leader);
  }
  return samples;
}

async function firstCommit(cluster: CoordCluster, prefix: string): Promise<number> {
  const survivors = cluster.running;
  const deadlineMs = performance.now() + config.failoverBoundMs;
  let committedAtMs: number | undefined;
  let sent = 0;
  const inFlight = new Map<ManagedProcess, number>();
  const pending: Promise<void>[] = [];
  while (committedAtMs === undefined && performance.now() < deadlineMs) {
    for (const node of survivors) {
      if ((inFlight.get(node) ?? 0) >= config.failoverProbesInFlightMax) continue;
      inFlight.set(node, (inFlight.get(node) ?? 0) + 1);
      const probe = cluster
        .propose(node, `${prefix}${sent++}`, value, { timeoutMs: config.failoverProbeTimeoutMs })
        .then(
          () => void (committedAtMs ??= performance.now()),
          () => undefined,
        )
        .finally(() => inFlight.set(node, (inFlight.get(node) ?? 1) - 1));
      pending.push(probe);
    }
    await sleep(config.failoverProbeIntervalMs);
  }
  await Promise.all(pending);
  if (committedAtMs === undefined)
    throw new Error(`no proposal committed within ${config.failoverBoundMs} ms of the kill`);
  return committedAtMs;
}

async function waitForCatchUp(cluster: CoordCluster, node: ManagedProcess): Promise<void> {
  await waitFor(
    `${node.name} to catch up`,
    async () => {
      const leader = await cluster.leader();
      if (leader === undefined) return undefined;
      const [mine, theirs] = await Promise.all([cluster.clusterOf(node), cluster.clusterOf(leader)]);
      return mine.self.appliedIndex >= theirs.self.commitIndex ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

function printTable(startedAt: Date, minikv: SystemResult, etcd: SystemResult | string): void {
  const etcdLoads = typeof etcd === "string" ? undefined : etcd.loads;
  const rows = [
    "| case | minikv proposals/s | minikv p50 ms | minikv p99 ms | etcd puts/s | etcd p50 ms | etcd p99 ms | minikv / etcd |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const c of config.concurrencies) {
    const ours = minikv.loads.get(c) ?? [];
    const theirs = etcdLoads?.get(c) ?? [];
    const ratio =
      theirs.length === 0 || ours.length === 0
        ? "–"
        : `${(median(ours.map((r) => r.opsPerSec)) / median(theirs.map((r) => r.opsPerSec))).toFixed(2)}×`;
    rows.push(`| 256 B, c=${c} | ${cells(ours)} | ${cells(theirs)} | ${ratio} |`);
  }
  rows.push(
    `| leader failover (kill -9 → next commit), ${minikv.failoverMs.length} rounds | ${spread(minikv.failoverMs)} ms | | | | | | |`,
  );
  const errors = [...minikv.loads.values(), ...(etcdLoads?.values() ?? [])]
    .flat()
    .reduce((n, r) => n + r.errors, 0);
  process.stdout.write(
    [
      "",
      `bench:raft — ${startedAt.toISOString()} — ${cpus().length}× ${cpus()[0]?.model ?? "?"}, node ${process.version}`,
      `median (min–max) of ${config.runs} runs; closed loop, keep-alive node:http; 256-byte values; fsync on (--sync-apply ${config.syncApply}); servers and load at nice ${config.nice}`,
      "",
      ...rows,
      "",
      `etcd: ${typeof etcd === "string" ? etcd : "3 members via ../shared/peers/etcd (3.4, defaults), leader's /v3/kv/put"}`,
      ...minikv.notes.map((note) => `note: ${note}`),
      `errors: ${errors}; load average after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
      `goals: c=256 proposals/s ≥ etcd's: ${goalThroughput(minikv, etcdLoads)}; failover median < 500 ms: ${minikv.failoverMs.length === 0 ? "not measured" : median(minikv.failoverMs) < 500 ? "met" : "NOT met"}`,
      "",
    ].join("\n"),
  );
}

function cells(results: readonly LoadResult[]): string {
  if (results.length === 0) return "– | – | –";
  return [
    spread(results.map((r) => r.opsPerSec)),
    spread(
      results.map((r) => r.p50Ms),
      1,
    ),
    spread(
      results.map((r) => r.p99Ms),
      1,
    ),
  ].join(" | ");
}

function goalThroughput(minikv: SystemResult, etcd: Loads | undefined): string {
  const theirs = etcd?.get(256);
  if (theirs === undefined) return "not compared (no etcd run)";
  const ours = median((minikv.loads.get(256) ?? []).map((r) => r.opsPerSec));
  return ours >= median(theirs.map((r) => r.opsPerSec)) ? "met" : "NOT met";
}

/** Runs `cleanup` and exits 130 on SIGINT/SIGTERM; returns the function that unregisters it. */
function onSignalCleanup(cleanup: () => Promise<void>): () => void {
  const handler = (): void => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

function log(line: string): void {
  process.stderr.write(`[bench:raft ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench:raft failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
