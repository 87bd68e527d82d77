import { it } from "vitest";
import { createRawNode } from "../core/raft-node.js";
import { runSeed } from "./random-run.js";
import { mutateFactory, type Mutation } from "./mutations.js";

it("dev-mut", () => {
  for (const m of ["forgetVote", "localReads", "lyingDisk"] as Mutation[]) {
    let found = 0;
    let firstSeed = 0;
    const props: string[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      try {
        runSeed(seed, {
          faultTicks: 400,
          settleTicksMax: 600,
          checkStepsMax: 200000,
          traceTailLines: 5,
          echo: null,
          createRawNode: mutateFactory(createRawNode, m),
        });
      } catch (e) {
        found++;
        if (!firstSeed) firstSeed = seed;
        props.push(
          String((e as Error).message)
            .split("\n")[1]!
            .slice(0, 60),
        );
      }
    }
    console.log(m, "found", found, "first", firstSeed, props.slice(0, 8));
  }
}, 600000);
