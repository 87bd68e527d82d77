import { describe, expect, it } from "vitest";
import { createRawNode } from "../core/raft-node.js";
import { mutateFactory, type Mutation } from "./mutations.js";
import { defaultRunOptions, runSeed, SimulationFailure } from "./random-run.js";

// The checkers must fail on broken Raft, or their silence on the real core means nothing.
// Each case runs seeds with a deliberately broken core until one fails, within a bound.

const heavy = process.env.HEAVY === "1";
const timeoutMs = heavy ? 1_800_000 : 180_000;

async function firstFailure(mutation: Mutation, seedsMax: number): Promise<SimulationFailure | null> {
  const options = { ...defaultRunOptions(mutateFactory(createRawNode, mutation)), traceTailLines: 5 };
  for (let seed = 1; seed <= seedsMax; seed++) {
    // Yield now and then: the runs are synchronous and the test worker must stay responsive.
    if (seed % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    try {
      runSeed(seed, options);
    } catch (error) {
      if (error instanceof SimulationFailure) return error;
      throw error;
    }
  }
  return null;
}

describe("the simulator catches deliberately broken Raft", () => {
  it(
    "reads answered without ReadIndex confirmation (§6.4) fail the linearizability check",
    async () => {
      const failure = await firstFailure("localReads", 30);
      expect(failure?.message).toMatch(/^seed=\d+ [\s\S]*linearizability: not linearizable/);
    },
    timeoutMs,
  );

  it(
    "a vote that is not persisted (Figure 2) breaks election safety",
    async () => {
      const failure = await firstFailure("forgetVote", heavy ? 2000 : 120);
      expect(failure?.message).toMatch(/election safety|log matching|state machine safety|linearizability/);
    },
    timeoutMs,
  );

  it(
    "a disk that loses fsynced entries is caught",
    async () => {
      const failure = await firstFailure("lyingDisk", heavy ? 2000 : 60);
      expect(failure?.message).toMatch(/^seed=\d+ /);
    },
    timeoutMs,
  );
});
