import { describe, expect, it } from "vitest";
import { createServer } from "node:net";
import { freePortRun, freePorts, portRange } from "./free-ports.js";

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

  it("finds runs of consecutive free ports in the slice, none handed out before", async () => {
    const [min, max] = portRange();
    const taken = new Set(await freePorts(10));
    for (let round = 0; round < 5; round++) {
      const base = await freePortRun(4);
      expect(base).toBeGreaterThanOrEqual(min);
      expect(base + 3).toBeLessThan(max);
      const run = [base, base + 1, base + 2, base + 3];
      expect(run.filter((port) => taken.has(port))).toEqual([]);
      for (const port of run) taken.add(port);
      // Each port of the run can be bound.
      const servers = run.map(() => createServer());
      await Promise.all(
        servers.map(
          (server, i) => new Promise<void>((resolve) => server.listen(run[i], "127.0.0.1", resolve)),
        ),
      );
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });
});
