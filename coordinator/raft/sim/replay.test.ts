import { describe, expect, it } from "vitest";
import { createRawNode } from "../core/raft-node.js";
import { hashBytes } from "./checkers.js";
import { defaultRunOptions, runSeed } from "./random-run.js";

function fullTrace(seed: number): { lines: number; digest: string; report: string } {
  const lines: string[] = [];
  const report = runSeed(
    seed,
    defaultRunOptions(createRawNode, (line) => lines.push(line)),
  );
  const digest = hashBytes(new TextEncoder().encode(lines.join("\n")));
  return { lines: lines.length, digest, report: JSON.stringify(report) };
}

describe("a seed replays the same trace (deterministic simulation)", () => {
  it("two runs of one seed produce identical traces and reports", () => {
    for (const seed of [3]) {
      const first = fullTrace(seed);
      const second = fullTrace(seed);
      expect(first.lines).toBeGreaterThan(1000);
      expect(second).toEqual(first);
    }
  });

  it("different seeds produce different traces", () => {
    expect(fullTrace(5).digest).not.toBe(fullTrace(6).digest);
  });
});
