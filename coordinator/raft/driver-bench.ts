/**
 * In-process benchmark of the Raft driver: three drivers over real gRPC on loopback with
 * LevelDB and fsync, all in ONE process (so one event loop does the work of three nodes;
 * `npm run bench:raft` measures separate processes). Prints committed proposals/s, latency
 * percentiles and entries per fsync for 256-byte entries at several concurrencies.
 *
 *   npm run build && node dist/coordinator/raft/driver-bench.js [durationMs]
 */
import { TestCluster, putCommand } from "./driver-test-cluster.js";

const ENTRY_BYTES = 256;
const CONCURRENCIES = [1, 16, 64, 256];

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

async function runLoad(cluster: TestCluster, leader: string, concurrency: number, durationMs: number) {
  const driver = cluster.driver(leader);
  const before = driver.counters();
  const latenciesMs: number[] = [];
  const value = "x".repeat(ENTRY_BYTES - 16);
  const end = Date.now() + durationMs;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const started = performance.now();
      await driver.propose(putCommand(`k${next++ % 10_000}`.padEnd(16, "-"), value));
      latenciesMs.push(performance.now() - started);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedS = (Date.now() - started) / 1000;
  const after = driver.counters();
  latenciesMs.sort((a, b) => a - b);
  const batches = after.fsyncBatches - before.fsyncBatches;
  return {
    concurrency,
    proposalsPerS: Math.round(latenciesMs.length / elapsedS),
    p50Ms: percentile(latenciesMs, 0.5).toFixed(2),
    p99Ms: percentile(latenciesMs, 0.99).toFixed(2),
    entriesPerFsync: batches === 0 ? "-" : ((after.fsyncEntries - before.fsyncEntries) / batches).toFixed(1),
  };
}

async function main(): Promise<void> {
  const durationMs = Number(process.argv[2] ?? 3000);
  const cluster = await TestCluster.start("grpc", ["b1", "b2", "b3"], {
    tickMs: 10,
    electionTicks: 15,
    heartbeatTicks: 3,
    snapshotThresholdEntries: 50_000,
  });
  try {
    const leader = await cluster.leader();
    const rows = [];
    for (const concurrency of CONCURRENCIES)
      rows.push(await runLoad(cluster, leader, concurrency, durationMs));
    console.table(rows);
  } finally {
    await cluster.close();
  }
}

await main();
