import { describe, expect, it } from "vitest";
import { createRawNode } from "../core/raft-node.js";
import {
  defaultRunOptions,
  runSeed,
  seedsFromEnvironment,
  SimulationFailure,
  type RunReport,
} from "./random-run.js";

/** Seeds per default run, over both halves of the suite (HEAVY=1: 20,000). */
const defaultSeedCount = 500;
const failuresShownMax = 3;
const yieldEverySeeds = 20;

interface Totals {
  seeds: number;
  okOps: number;
  unknownOps: number;
  committed: number;
  crashes: number;
  snapshots: number;
  confChanges: number;
  transfers: number;
  checkUnknown: number;
  slowDisks: number;
  earlyMessages: number;
}

function addReport(totals: Totals, report: RunReport): void {
  totals.seeds++;
  totals.okOps += report.operations.ok;
  totals.unknownOps += report.operations.unknown;
  totals.committed += report.committedEntries;
  totals.crashes += report.sim.crashes;
  totals.snapshots += report.sim.snapshotsSent;
  totals.confChanges += report.faults.confChanges;
  totals.transfers += report.faults.transfers;
  totals.slowDisks += report.faults.slowDisks;
  totals.earlyMessages += report.sim.earlyMessages;
  if (report.linearizability === "unknown") totals.checkUnknown++;
}

/**
 * Seeded random runs (TigerBeetle VOPR, FoundationDB simulation): 3- and 5-node clusters
 * under crashes, power loss, partitions, loss, duplication, reordering, paused processes,
 * transfers and membership changes, with every Raft safety property (Figure 3) checked at
 * every step and the client history checked for linearizability at the end. The seeds are
 * split by parity over two test files so that two workers share them.
 *
 *   SEED=<n> npx vitest run coordinator/raft/sim              replays one seed exactly
 *   SEED=<n> TRACE=1 npx vitest run coordinator/raft/sim      also prints its whole trace
 *   HEAVY=1 npx vitest run coordinator/raft/sim               runs 20,000 seeds
 */
export function describeSeededRuns(parity: 0 | 1): void {
  const all = seedsFromEnvironment(process.env, defaultSeedCount);
  // A replayed seed runs in the file of its parity only.
  const seeds = all.filter((seed) => seed % 2 === parity);
  const echo = process.env.TRACE === "1" ? (line: string): void => console.log(line) : null;
  const title =
    seeds.length === 1 ? `seed ${seeds[0]}` : `${seeds.length} ${parity === 0 ? "even" : "odd"} seeds`;

  describe("seeded simulation: Raft safety and linearizability under faults", () => {
    it.skipIf(seeds.length === 0)(
      `holds for ${title}`,
      async () => {
        const options = defaultRunOptions(createRawNode, echo);
        const totals: Totals = {
          seeds: 0,
          okOps: 0,
          unknownOps: 0,
          committed: 0,
          crashes: 0,
          snapshots: 0,
          confChanges: 0,
          transfers: 0,
          checkUnknown: 0,
          slowDisks: 0,
          earlyMessages: 0,
        };
        const failures: SimulationFailure[] = [];
        const started = performance.now();
        for (const [i, seed] of seeds.entries()) {
          // Runs are synchronous: yield now and then so the test runner's worker stays responsive.
          if (i % yieldEverySeeds === 0) await new Promise((resolve) => setImmediate(resolve));
          try {
            addReport(totals, runSeed(seed, options));
          } catch (error) {
            if (!(error instanceof SimulationFailure)) throw error;
            failures.push(error);
            if (failures.length >= failuresShownMax) break;
          }
        }
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        console.log(
          `simulation: ${totals.seeds} seeds passed in ${seconds}s; ${totals.okOps} ops ok, ${totals.unknownOps} unknown; ` +
            `${totals.committed} entries committed; ${totals.crashes} crashes, ${totals.snapshots} snapshots sent, ` +
            `${totals.confChanges} conf changes, ${totals.transfers} transfers, ${totals.slowDisks} slow disks ` +
            `(${totals.earlyMessages} messages sent during their fsyncs); linearizability undecided (budget): ${totals.checkUnknown}`,
        );
        expect(failures.map((failure) => failure.message).join("\n\n========\n\n")).toBe("");
        // The runs must exercise what they claim to: a simulation that never crashes proves little.
        if (seeds.length >= 100) {
          expect(totals.crashes).toBeGreaterThan(seeds.length);
          expect(totals.snapshots).toBeGreaterThan(seeds.length / 2);
          expect(totals.confChanges).toBeGreaterThan(seeds.length / 2);
          expect(totals.slowDisks).toBeGreaterThan(seeds.length / 4);
          expect(totals.earlyMessages).toBeGreaterThan(seeds.length);
          expect(totals.okOps).toBeGreaterThan(seeds.length * 20);
          expect(totals.checkUnknown).toBeLessThan(seeds.length / 100 + 1);
        }
      },
      timeoutMs(seeds.length),
    );
  });
}

/** Generous: a seed takes about 50 ms of CPU, but the machine may be shared. */
function timeoutMs(seedCount: number): number {
  return Math.max(180_000, seedCount * 400);
}
