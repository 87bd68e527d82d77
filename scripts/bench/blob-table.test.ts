import { describe, expect, it } from "vitest";
import {
  goalTable,
  goals,
  measurementTable,
  median,
  opsPerSecond,
  parseResults,
  swiftTable,
} from "./blob-table.js";
import type { WrkResult } from "./blob-table.js";

/** The benchmark's table and the goals of issue 4 §7 (c64 ratios against etcd, nginx and the disk). */

function run(label: string, ops: number, size: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ label, ops_per_s: ops, p50_ms: 1, p99_ms: 2, p999_ms: 3, size, err: 0, ...extra });
}

const lines = [
  run("minikv put 4KiB c64", 2000, 4096),
  run("minikv put 4KiB c64", 3000, 4096),
  run("minikv put 4KiB c64", 2500, 4096, { foreign_cpu_pct: 12 }),
  run("minikv get 4KiB c64", 9000, 4096),
  run("minikv put 64MiB c4", 1, 64 * 1024 * 1024),
  run("etcd put 256B c64", 2000, 256),
  run("nginx put 4KiB c64", 9000, 4096),
  run("nginx get 4KiB c64", 30000, 4096),
  "not json",
  JSON.stringify({ label: "seq write 1GiB dd zeros conv=fdatasync", value: 300, unit: "MB/s" }),
  JSON.stringify({ label: "seq write 1GiB dd random conv=fdatasync", value: 500, unit: "MB/s" }),
].join("\n");

describe("blob-table (issue 4 §7 goals)", () => {
  it("takes medians over runs and marks runs that shared the CPU", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const table = measurementTable(parseResults([lines]));
    expect(table).toContain(
      "| minikv put 4KiB c64 | 3 | 2500 (2000–3000) | 1.00 (1.00–1.00) | 2.0 (2.0–2.0) | 3.0 (3.0–3.0) | 10.2 (8.2–12.3) | other load up to 12% CPU |",
    );
  });

  it("takes a run's rate from its answered requests and seconds when the line has them", () => {
    const base: WrkResult = { label: "x", ops_per_s: 1, p50_ms: 1, p99_ms: 2, p999_ms: 3, size: 1, err: 0 };
    // 16 answers in 15 s print as ops_per_s 1.1 (one decimal): 16/15 is what the run did.
    expect(opsPerSecond({ ...base, ops_per_s: 1.1, ok: 16, secs: 15 })).toBeCloseTo(16 / 15, 10);
    expect(opsPerSecond({ ...base, ops_per_s: 1.1 })).toBe(1.1);
    expect(opsPerSecond({ ...base, ops_per_s: 1.1, ok: 16, secs: 0 })).toBe(1.1);
    const large = run("minikv put 64MiB c4", 1.1, 64 * 1024 * 1024, { ok: 16, secs: 15 });
    const table = measurementTable(parseResults([large]));
    expect(table).toContain("| minikv put 64MiB c4 | 1 | 1.07 | 1.00 | 2.0 | 3.0 | 71.6 |  |");
  });

  it("computes each goal as a fraction of its reference", () => {
    const list = goals(parseResults([lines]), { replicas: 3, largeLabel: "minikv put 64MiB c4" });
    const targets = list.map((g) =>
      g.referenceValue === undefined ? undefined : g.referenceValue * g.fraction,
    );
    expect(list.map((g) => g.measured)).toEqual([2500, 2500, 9000, 67.108864]);
    // etcd 2000; 25% of 9000; 33% of 30000; 50% of max(300, 500) MB/s over N = 3.
    expect(targets.map((t) => Number(t?.toFixed(3)))).toEqual([2000, 2250, 9900, 83.333]);
    const rows = goalTable(list);
    expect(rows[2]).toMatch(/\| 1\.25 \| yes \|$/);
    expect(rows[4]).toMatch(/\| 0\.91 \| no \|$/);
  });

  it("says what was not measured instead of inventing a ratio", () => {
    const rows = goalTable(
      goals(parseResults([run("minikv put 4KiB c64", 100, 4096)]), { replicas: 3, largeLabel: "x" }),
    );
    expect(rows[2]).toBe(
      "| 4 KiB PUT c64 ≥ etcd 256 B put c64 | 100.0 ops/s | etcd put 256B c64: not measured | – | – | – |",
    );
    expect(rows[5]).toMatch(/^\| 64 MiB PUT .* \| not measured \|/);
  });

  it("sets minikv's 4 KiB rates beside Swift's for the cases both ran, and prints nothing without Swift", () => {
    const withSwift = [
      lines,
      run("swift put 4KiB c64", 60, 4096),
      run("swift put 4KiB c64", 80, 4096),
      run("swift get 4KiB c64", 300, 4096),
      run("swift put 4KiB c16", 65, 4096),
    ].join("\n");
    expect(swiftTable(parseResults([withSwift]))).toEqual([
      "| against Swift (3 replicas) | minikv | Swift | minikv / Swift |",
      "|---|---|---|---|",
      "| put 4KiB c64 | 2500 ops/s | 70 ops/s | 35.7× |",
      "| get 4KiB c64 | 9000 ops/s | 300 ops/s | 30.0× |",
    ]);
    expect(swiftTable(parseResults([lines]))).toEqual([]);
  });
});
