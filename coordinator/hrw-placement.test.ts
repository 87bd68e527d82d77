import { describe, expect, it } from "vitest";
import { SHARD_COUNT } from "../common/hashing.js";
import { eligibleVolumeIds, placeAllShards, placeKey, placeShard } from "./hrw-placement.js";

const volumes = (n: number): string[] => Array.from({ length: n }, (_, i) => `vol-${i + 1}`);

function replicasPerVolume(placement: string[][]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const ids of placement) for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

describe("HRW placement (issue: coordinator §2)", () => {
  it.each([
    [3, 3],
    [4, 3],
    [5, 3],
    [6, 3],
    [8, 3],
    [10, 2],
    [7, 2],
    [12, 3],
    [16, 3],
    [24, 2],
    [32, 3],
  ])("with %i volumes and N=%i each holds 256·N/V shard-replicas within ±15%%", (v, n) => {
    const counts = replicasPerVolume(placeAllShards(volumes(v), n));
    const expected = (SHARD_COUNT * n) / v;
    expect(counts.size).toBe(v);
    for (const [id, count] of counts) {
      expect(Math.abs(count - expected) / expected, `${id}: ${count} vs ${expected}`).toBeLessThanOrEqual(
        0.15,
      );
    }
  });

  it("adding a sixth volume to five moves at most ~1/6 of shard-replicas (+ margin)", () => {
    const before = placeAllShards(volumes(5), 3);
    const after = placeAllShards(volumes(6), 3);
    let moved = 0;
    for (let shard = 0; shard < SHARD_COUNT; shard++) {
      const kept = new Set(before[shard]);
      moved += (after[shard] ?? []).filter((id) => !kept.has(id)).length;
    }
    const total = SHARD_COUNT * 3;
    // Ideal is exactly the new volume's fair share, 1/6 of all shard-replicas.
    expect(moved / total).toBeLessThanOrEqual(1 / 6 + 0.03);
  });

  it("removing one of six volumes moves little more than the replicas it held", () => {
    const all = volumes(6);
    const before = placeAllShards(all, 3);
    const after = placeAllShards(
      all.filter((id) => id !== "vol-4"),
      3,
    );
    let moved = 0;
    for (let shard = 0; shard < SHARD_COUNT; shard++) {
      const kept = new Set(before[shard]);
      moved += (after[shard] ?? []).filter((id) => !kept.has(id)).length;
    }
    // vol-4 held 1/6 of all shard-replicas; those must move, and little else may.
    expect(moved / (SHARD_COUNT * 3)).toBeLessThanOrEqual(1 / 6 + 0.03);
  });

  it("is a pure function of (key, live volume set), independent of input order", () => {
    const ids = volumes(7);
    const shuffled = [...ids].reverse();
    for (const key of ["a", "photos/2024/cat.jpg", "é/ü", "x".repeat(1024)]) {
      expect(placeKey(key, ids, 3)).toEqual(placeKey(key, shuffled, 3));
      expect(placeKey(key, ids, 3)).toEqual(placeKey(key, [...ids], 3));
      expect(new Set(placeKey(key, ids, 3)).size).toBe(3);
      expect(placeAllShards(ids, 3)).toEqual(placeAllShards(shuffled, 3));
    }
    expect(placeShard(7, ids.slice(0, 2), 3)).toHaveLength(2);
  });

  it("skips volumes that are down, draining or full", () => {
    const eligible = eligibleVolumeIds([
      { id: "vol-3", state: "alive", full: false },
      { id: "vol-1", state: "alive", full: false },
      { id: "vol-2", state: "down", full: false },
      { id: "vol-4", state: "draining", full: false },
      { id: "vol-5", state: "alive", full: true },
    ]);
    expect(eligible).toEqual(["vol-1", "vol-3"]);
  });
});
