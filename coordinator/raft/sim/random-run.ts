import type { Config, NodeId } from "../core/types.js";
import { kvModel } from "./kv-model.js";
import { checkOperations, type CheckVerdict } from "./linearizability.js";
import { Nemesis, randomNemesisProfile, randomNetworkFaults } from "./nemesis.js";
import { createRng, type Rng } from "./rng.js";
import type { RawNodeFactory } from "./sim-node.js";
import { simCoreConfig, Simulator } from "./simulator.js";
import { Workload } from "./workload.js";

/** How long a seeded run lasts and what it prints; everything else is drawn from the seed. */
export interface RunOptions {
  /** Ticks of load under faults. */
  readonly faultTicks: number;
  /** After the faults stop: ticks allowed for the cluster to elect, converge and commit a probe. */
  readonly settleTicksMax: number;
  /** Search steps per key for the linearizability checker. */
  readonly checkStepsMax: number;
  readonly traceTailLines: number;
  readonly echo: ((line: string) => void) | null;
  readonly createRawNode: RawNodeFactory;
}

/** What a passing run did, for the suite summary (and to check that runs exercise faults). */
export interface RunReport {
  readonly seed: number;
  readonly voters: number;
  readonly ticks: number;
  readonly operations: { ok: number; fail: number; unknown: number; pending: number };
  readonly committedEntries: number;
  readonly linearizability: CheckVerdict;
  readonly checkSteps: number;
  readonly faults: Nemesis["counts"];
  readonly sim: Simulator["stats"];
  readonly checks: {
    leaderChecks: number;
    appendChecks: number;
    applyChecks: number;
    completenessChecks: number;
  };
}

/** A failed run: the message starts with `seed=…` and ends with the trace tail. */
export class SimulationFailure extends Error {
  constructor(
    readonly seed: number,
    message: string,
  ) {
    super(message);
    this.name = "SimulationFailure";
  }
}

function randomCoreConfig(rng: Rng): Omit<Config, "id" | "seed"> {
  const checkQuorum = rng.chance(0.8);
  return {
    ...simCoreConfig,
    electionTicks: rng.int(8, 15),
    heartbeatTicks: rng.int(1, 3),
    preVote: rng.chance(0.8),
    checkQuorum,
    maxMsgBytes: rng.pick([16, 128, 1024]),
    maxInflightMsgs: rng.pick([1, 2, 8]),
    // Small budgets make the leader refuse proposals (flow control) now and then.
    maxUncommittedBytes: rng.pick([200, 2000, 64 * 1024]),
    // Leases assume bounded clock drift; the simulated clocks never drift, and a paused
    // node catches up on its ticks, as the core requires (dissertation §6.4.1).
    leaseRead: checkQuorum && rng.chance(0.3),
  };
}

/** Converged: a leader, every member applied its commit index, and the probe write succeeded. */
function settle(sim: Simulator, workload: Workload, options: RunOptions): void {
  const probeClient = 1_000_000;
  let probeSeq = 0;
  let probeOk = false;
  let probing = false;
  sim.onFinish((op, outcome) => {
    if (op.clientId !== probeClient) return;
    probing = false;
    probeOk ||= outcome.kind === "ok";
  });
  for (let t = 0; t < options.settleTicksMax; t++) {
    const leader = sim.leader();
    if (leader !== null && !probeOk && !probing) {
      probing = true;
      sim.invoke(
        probeClient,
        ++probeSeq,
        { kind: "put", key: "probe", value: String(probeSeq) },
        leader.id,
        false,
      );
    }
    if (t === Math.floor(options.settleTicksMax / 4)) workload.stop();
    sim.tick();
    if (probeOk && workload.idle && converged(sim)) return;
  }
  const states = sim
    .nodes()
    .map(
      (node) =>
        `${node.id}:${node.alive ? `${node.raw?.status().role} t${node.raw?.status().term} applied=${node.applied}` : node.retired ? "retired" : "down"}`,
    )
    .join(" ");
  throw new Error(
    `liveness: no convergence ${options.settleTicksMax} ticks after the faults stopped (probe ${probeOk ? "ok" : "not committed"}, clients ${workload.idle ? "idle" : "busy"}): ${states}`,
  );
}

function converged(sim: Simulator): boolean {
  const leader = sim.leader();
  const status = leader?.raw?.status();
  if (status === undefined) return false;
  const members = new Set<NodeId>([...status.confState.voters, ...status.confState.learners]);
  return [...members].every((id) => {
    const node = sim.node(id);
    return node.alive && node.applied === status.commit;
  });
}

/** Runs one seed: random cluster, faults and load, then liveness, then linearizability. */
export function runSeed(seed: number, options: RunOptions): RunReport {
  const rng = createRng(seed);
  const setup = rng.fork("setup");
  let sim: Simulator;
  try {
    sim = createSimulator(seed, setup, options);
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new SimulationFailure(seed, `seed=${seed} tick=0\n${reason}`);
  }
  const voters = sim.options.nodeIds.length;
  const nemesis = new Nemesis(
    sim,
    rng.fork("nemesis"),
    randomNemesisProfile(setup, voters, sim.options.core.leaseRead),
  );
  const workload = new Workload(sim, rng.fork("workload"), {
    clients: setup.int(2, 6),
    keys: ["a", "b", "c"].slice(0, setup.int(1, 3)),
    thinkTicksMax: setup.int(1, 8),
    readIndexShare: setup.float(),
    leaderAffinity: setup.float(),
    attemptsMax: setup.int(1, 5),
    retryBackoffTicksMax: setup.int(1, 20),
  });
  try {
    for (let t = 0; t < options.faultTicks; t++) {
      nemesis.step();
      workload.step();
      sim.tick();
      nemesis.noticeCrashes();
    }
    nemesis.calm();
    settle(sim, workload, options);
    const result = checkOperations(kvModel, sim.history.operations(sim.appliedCommands), {
      maxStepsPerPartition: options.checkStepsMax,
    });
    if (result.verdict === "illegal") throw new Error(`linearizability: ${result.explanation}`);
    return {
      seed,
      voters,
      ticks: sim.now,
      operations: sim.history.counts(),
      committedEntries: sim.checkers.committedCount(),
      linearizability: result.verdict,
      checkSteps: result.partitions.reduce((sum, part) => sum + part.searchSteps, 0),
      faults: nemesis.counts,
      sim: sim.stats,
      checks: sim.checkers.counts,
    };
  } catch (error) {
    throw new SimulationFailure(seed, sim.describeFailure(error, options.traceTailLines));
  }
}

function createSimulator(seed: number, setup: Rng, options: RunOptions): Simulator {
  const voters = setup.chance(0.5) ? 3 : 5;
  const nodeIds = Array.from({ length: voters }, (_, i) => `n${i + 1}`);
  return new Simulator({
    seed,
    nodeIds,
    core: randomCoreConfig(setup),
    snapshotEveryEntries: setup.int(8, 60),
    network: randomNetworkFaults(setup),
    manualNetwork: false,
    bootstrap: true,
    requestTimeoutTicks: setup.int(30, 120),
    traceCapacity: Math.max(options.traceTailLines, 1),
    echo: options.echo,
    createRawNode: options.createRawNode,
  });
}

/** Settings of the seeded runs in the test suite (HEAVY=1 runs more seeds, not longer ones). */
export function defaultRunOptions(
  createRawNode: RawNodeFactory,
  echo: ((line: string) => void) | null = null,
): RunOptions {
  return {
    faultTicks: 400,
    settleTicksMax: 800,
    checkStepsMax: 500_000,
    traceTailLines: 80,
    echo,
    createRawNode,
  };
}

/** The seeds a suite runs: SEED=<n> replays one, HEAVY=1 runs 20,000, else `defaultCount`. */
export function seedsFromEnvironment(env: NodeJS.ProcessEnv, defaultCount: number): number[] {
  const seed = env.SEED;
  if (seed !== undefined && seed !== "") {
    const n = Number(seed);
    if (!Number.isInteger(n) || n < 0) throw new Error(`SEED must be a non-negative integer, got "${seed}"`);
    return [n];
  }
  const count = env.HEAVY === "1" ? 20_000 : defaultCount;
  return Array.from({ length: count }, (_, i) => i + 1);
}
