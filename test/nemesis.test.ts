import { describe, expect, it } from "vitest";
import type { ToleratedAnswer } from "./support/nemesis/checks.js";
import { seedFromEnv } from "./support/nemesis/rng.js";
import { nemesisDefaults, runNemesisOnce, type NemesisReport } from "./support/nemesis/run.js";

const HEAVY = process.env["HEAVY"] === "1";
/** HEAVY=1: ten minutes of runs, one seed after another. */
const HEAVY_TOTAL_MS = 10 * 60_000;
const HEAVY_FAULT_PHASE_MS = 90_000;
/** Cluster start, healing, final reads and admin jobs around the fault phase. */
const RUN_OVERHEAD_MS = 150_000;

/**
 * Answers reported but not failed. Empty: the two defects the test found (499 after a sibling
 * volume's failure, 507 from a full volume) are fixed; see docs/RELIABILITY.md "Findings".
 */
const tolerated: readonly ToleratedAnswer[] = [];

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The failed checks, short enough to survive a log that keeps only its tail. */
function failedChecks(report: NemesisReport): string {
  return report.checks
    .filter((c) => !c.ok)
    .map((c) => `[${c.name}] ${c.detail.slice(0, 600)}`)
    .join(" | ");
}

/**
 * Issue 6: a real cluster (3 coordinators, 4 volumes, N=3, fault proxies on every internal
 * link) under concurrent PUT/GET/DELETE/LIST clients and a seeded nemesis (kill -9 and
 * restart of coordinators incl. the leader and of volumes; SIGSTOP/SIGCONT longer than the
 * election timeout; coordinator↔coordinator and coordinator↔volume partitions; slow,
 * delayed and resetting links; a full disk), then, healed: acknowledged writes read back
 * byte-exact, per-key linearizability, only 503 among 5xx, writable within 5 s, verify
 * --deep/repair clean, memory and descriptors bounded. A failure prints the seed and the
 * schedule; NEMESIS_SEED=<seed> replays it.
 */
/** NEMESIS_FAULT_PHASE_MS: a replay of a HEAVY seed needs HEAVY's fault phase (its schedule). */
const faultPhaseMs = Number(process.env["NEMESIS_FAULT_PHASE_MS"] ?? nemesisDefaults.faultPhaseMs);
if (!Number.isSafeInteger(faultPhaseMs) || faultPhaseMs < 1_000 || faultPhaseMs > 3_600_000) {
  throw new Error(`NEMESIS_FAULT_PHASE_MS must be 1000–3600000, got ${String(faultPhaseMs)}`);
}

describe("nemesis", () => {
  it(
    "keeps every guarantee of DESIGN.md §2 under a seeded fault schedule",
    async () => {
      const seed = seedFromEnv();
      const report = await runNemesisOnce({ ...nemesisDefaults, seed, faultPhaseMs, tolerated }, print);
      expect(report.ok, `nemesis seed ${seed} failed: ${failedChecks(report)}`).toBe(true);
    },
    faultPhaseMs + RUN_OVERHEAD_MS,
  );

  it.runIf(HEAVY)(
    "keeps them across many seeds for ten minutes (HEAVY=1)",
    async () => {
      const endMs = performance.now() + HEAVY_TOTAL_MS;
      const reports: NemesisReport[] = [];
      for (let run = 0; run < 100 && performance.now() + HEAVY_FAULT_PHASE_MS < endMs; run++) {
        const seed = seedFromEnv() + run;
        reports.push(
          await runNemesisOnce(
            { ...nemesisDefaults, seed, tolerated, faultPhaseMs: HEAVY_FAULT_PHASE_MS },
            print,
          ),
        );
      }
      const failed = reports.filter((r) => !r.ok).map((r) => r.seed);
      print(`HEAVY: ${reports.length} seeds, failed: ${failed.join(", ") || "none"}`);
      expect(failed).toEqual([]);
    },
    HEAVY_TOTAL_MS + 2 * RUN_OVERHEAD_MS + HEAVY_FAULT_PHASE_MS,
  );
});
