import { Cluster } from "../cluster.js";
import {
  acknowledgedWritesSurvive,
  byteExactReads,
  linearizable,
  resourceBounds,
  unexpectedAnswers,
  verifyRepairClean,
  writableAfterHeal,
  type CheckBounds,
  type CheckOutcome,
  type ToleratedAnswer,
} from "./checks.js";
import { History, type BlobRecord } from "./history.js";
import { healAll, runNemesis, type ExecutedFault } from "./nemesis.js";
import { Rng } from "./rng.js";
import { describeFault, generateSchedule, type ScheduledFault } from "./schedule.js";
import { finalReads, probeWrite, runClients, type WorkloadConfig } from "./workload.js";

/** One nemesis run: the cluster, the load, the faults, the checks. */
export interface NemesisConfig {
  readonly seed: number;
  /** How long clients and the nemesis run before healing. */
  readonly faultPhaseMs: number;
  readonly clients: number;
  readonly keyCount: number;
  readonly requestTimeoutMs: number;
  /** Size of the small disk of the fourth volume (disk-full fault); 0 for none. */
  readonly smallDiskBytes: number;
  /** The coordinators' Raft election timeout. */
  readonly electionTimeoutMs: number;
  readonly bounds: CheckBounds;
  /** Answer classes reported but not failed (known defects; empty with NEMESIS_STRICT=1). */
  readonly tolerated: readonly ToleratedAnswer[];
}

export const nemesisDefaults: Omit<NemesisConfig, "seed"> = {
  faultPhaseMs: 60_000,
  clients: 4,
  keyCount: 5,
  requestTimeoutMs: 3_000,
  smallDiskBytes: 48 * 1024 * 1024,
  electionTimeoutMs: 150,
  bounds: {
    writableAfterHealMs: 5_000,
    rssBytesMax: 300 * 1024 * 1024,
    fdsMax: 1_024,
    checkerStepsPerKey: 5_000_000,
    adminJobMs: 60_000,
    orphanGraceMs: 2_000,
  },
  tolerated: [],
};

/** Everything a run found, printable on failure. */
export interface NemesisReport {
  readonly seed: number;
  readonly ok: boolean;
  readonly schedule: readonly ScheduledFault[];
  readonly executed: readonly ExecutedFault[];
  readonly checks: readonly CheckOutcome[];
  readonly summary: Record<string, number>;
  readonly notes: readonly string[];
  readonly records: number;
  readonly elapsedMs: number;
  /** performance.now() when clients and nemesis started; report times are relative to it. */
  readonly faultPhaseStartMs: number;
  /** The fault phase's length: the schedule depends on it as on the seed. */
  readonly faultPhaseMs: number;
}

/** The report as text: seed and replay command first, then schedule, outcomes and checks. */
export function formatReport(report: NemesisReport, logTails?: string): string {
  const t0 = report.faultPhaseStartMs;
  const lines = [
    `nemesis seed ${report.seed}: ${report.ok ? "PASSED" : "FAILED"} (${report.records} requests, ${(report.elapsedMs / 1000).toFixed(1)} s)`,
    `replay: NEMESIS_SEED=${report.seed}${report.faultPhaseMs === nemesisDefaults.faultPhaseMs ? "" : ` NEMESIS_FAULT_PHASE_MS=${report.faultPhaseMs}`} npx vitest run test/nemesis.test.ts`,
    ...report.notes.map((n) => `note: ${n}`),
    "schedule as executed:",
    ...report.executed.map(
      (e) =>
        `  at ${(e.startMs - t0).toFixed(0)}ms ${describeFault(e.fault)} → ${e.target}${e.healedMs === undefined ? "" : `, healed after ${(e.healedMs - e.startMs).toFixed(0)}ms`}${e.restartMs === undefined ? "" : ` (restart took ${e.restartMs.toFixed(0)}ms)`}${e.error === undefined ? "" : ` ERROR ${e.error}`}`,
    ),
    "outcomes:",
    ...Object.entries(report.summary).map(([k, n]) => `  ${k}: ${n}`),
    "checks:",
    ...report.checks.map((c) => `  [${c.ok ? "ok" : "FAIL"}] ${c.name}: ${c.detail}`),
  ];
  if (logTails !== undefined && !report.ok) lines.push("process logs (tails):", logTails);
  return lines.join("\n");
}

async function startCluster(
  config: NemesisConfig,
  notes: string[],
): Promise<{ cluster: Cluster; diskVolume: string | undefined }> {
  const cluster = await Cluster.start({
    coordinators: 3,
    volumes: 3,
    replicas: 3,
    faultProxies: true,
    tempPrefix: "minikv-nemesis-",
    coordinatorArgs: [
      "--election-timeout",
      `${config.electionTimeoutMs}ms`,
      "--orphan-grace",
      `${config.bounds.orphanGraceMs}ms`,
    ],
    // Prepared records whose coordinator died are resolved within seconds, not the default
    // 30 s, so the cluster is settled when verify and repair run after healing.
    volumeArgs: ["--segment-size", "8MiB", "--prepared-timeout", "2s", "--resolve-interval", "500ms"],
  });
  let diskVolume: string | undefined;
  try {
    if (config.smallDiskBytes > 0) {
      diskVolume = (await cluster.addVolume({ diskBytes: config.smallDiskBytes })).name;
    }
  } catch (err) {
    notes.push(`disk-full fault not injected: ${(err as Error).message}`);
  }
  if (diskVolume === undefined) await cluster.addVolume();
  return { cluster, diskVolume };
}

/** Runs one seed from cluster start to checks; always closes the cluster. */
export async function runNemesisOnce(
  config: NemesisConfig,
  log: (line: string) => void = () => undefined,
): Promise<NemesisReport> {
  const startMs = performance.now();
  const notes: string[] = [];
  const { cluster, diskVolume } = await startCluster(config, notes);
  const executed: ExecutedFault[] = [];
  const history = new History();
  const checks: CheckOutcome[] = [];
  let schedule: ScheduledFault[] = [];
  let faultPhaseStartMs = 0;
  try {
    await cluster.waitHealthy(30_000);
    const prefix = `nemesis-${config.seed}/`;
    const workload: WorkloadConfig = {
      clients: config.clients,
      keys: Array.from({ length: config.keyCount }, (_, i) => `${prefix}k${i}`),
      listPrefix: prefix,
      requestTimeoutMs: config.requestTimeoutMs,
      requestsPerClientMax: 100_000,
      thinkMs: 5,
    };
    schedule = generateSchedule(config.seed, {
      coordinators: cluster.coordinators.map((c) => c.name),
      volumes: cluster.volumes.map((v) => v.name),
      links: cluster.network?.names() ?? [],
      diskFullVolume: diskVolume,
      electionTimeoutMs: config.electionTimeoutMs,
      totalMs: config.faultPhaseMs,
    });
    faultPhaseStartMs = performance.now();
    const endMs = faultPhaseStartMs + config.faultPhaseMs;
    await Promise.all([
      runClients(new Rng(config.seed), cluster, workload, history, endMs),
      runNemesis(cluster, schedule, endMs, executed, log),
    ]);
    await healAll(cluster);
    checks.push(
      await writableAfterHeal(
        cluster,
        (url, n) => probeWrite(url, `${prefix}probe`, `probe-${n}`, 2_000),
        config.bounds,
      ),
    );
    const finals: BlobRecord[] = [];
    const retries = { count: 0 };
    for (const [i, coordinator] of cluster.coordinators.entries()) {
      finals.push(...(await finalReads(coordinator, workload, history, 1_000 + i, retries)));
    }
    if (retries.count > 0) notes.push(`final reads needed ${retries.count} retries after failed attempts`);
    checks.push(unexpectedAnswers(history.records, config.tolerated, faultPhaseStartMs));
    checks.push(byteExactReads(history.records));
    checks.push(acknowledgedWritesSurvive(history.records, finals));
    checks.push(linearizable(history.records, workload.keys, config.bounds.checkerStepsPerKey));
    checks.push(await resourceBounds(cluster, config.bounds));
    checks.push(
      await verifyRepairClean(cluster, config.bounds).catch((err: Error) => ({
        name: "verify --deep, repair, verify --deep clean",
        ok: false,
        detail: err.message,
      })),
    );
    for (const e of executed)
      if (e.error !== undefined)
        checks.push({ name: `fault ${e.fault.kind} on ${e.target}`, ok: false, detail: e.error });
  } catch (err) {
    checks.push({ name: "run completed", ok: false, detail: (err as Error).stack ?? String(err) });
  }
  const report: NemesisReport = {
    seed: config.seed,
    ok: checks.every((c) => c.ok),
    schedule,
    executed,
    checks,
    summary: history.summary(),
    notes,
    records: history.records.length,
    elapsedMs: performance.now() - startMs,
    faultPhaseStartMs,
    faultPhaseMs: config.faultPhaseMs,
  };
  const text = formatReport(report, report.ok ? undefined : cluster.logTails(15));
  log(text);
  await cluster.close();
  return report;
}
