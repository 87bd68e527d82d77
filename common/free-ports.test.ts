import { describe, expect, it } from "vitest";
import { freePorts, portRange } from "./free-ports.js";

describe("freePorts", () => {
  it("gives each test worker a slice of the range of its own", () => {
    expect(portRange({})).toEqual([20_000, 32_000]);
    expect(portRange({ VITEST_POOL_ID: "x" })).toEqual([20_000, 32_000]);
    const slices = [1, 2, 3, 4, 5, 6, 7, 8].map((id) => portRange({ VITEST_POOL_ID: String(id) }));
    for (const [i, [min, max]] of slices.entries()) {
      expect(min).toBeGreaterThanOrEqual(20_000);
      expect(max).toBeLessThanOrEqual(32_000);
      expect(max - min).toBe(1_500);
      for (const [other] of slices.slice(i + 1)) expect(other).toBeGreaterThanOrEqual(max);
    }
    expect(portRange({ VITEST_POOL_ID: "9" })).toEqual(slices[0]);
  });

  it("hands out distinct ports of this worker's slice, never one it handed out lately", async () => {
    const [min, max] = portRange();
    const seen = new Set<number>();
    for (let round = 0; round < 20; round++) {
      for (const port of await freePorts(10)) {
        expect(port).toBeGreaterThanOrEqual(min);
        expect(port).toBeLessThan(max);
        expect(seen.has(port)).toBe(false);
        seen.add(port);
      }
    }
    expect(seen.size).toBe(200);
  });
});
