import { SHARD_COUNT, hrwScore, shardOf } from "../common/hashing.js";

/** What placement needs to know of a volume. */
export interface PlacementVolume {
  readonly id: string;
  /** Only `alive` volumes receive new replicas; `down`, `draining` and full ones are skipped. */
  readonly state: "alive" | "down" | "draining";
  readonly full: boolean;
}

/** The volumes that may receive new replicas, sorted by id so results never depend on input order. */
export function eligibleVolumeIds(volumes: readonly PlacementVolume[]): string[] {
  return volumes
    .filter((v) => v.state === "alive" && !v.full)
    .map((v) => v.id)
    .sort();
}

/** Rounds of weight fitting; each moves every volume's weight toward its fair share. */
const WEIGHT_FIT_ROUNDS = 60;
/** Exponent of each correction step: small enough to converge without oscillating. */
const WEIGHT_FIT_STEP = 0.3;

/** -ln(u) for u = hash(shard, volume) mapped into (0, 1): an Exp(1) variate per pair. */
function exponentialScore(shard: number, volumeId: string): number {
  const u = (Number(hrwScore(shard, volumeId) >> 11n) + 0.5) / 2 ** 53;
  return -Math.log(u);
}

/** Top `replicas` volume indexes of one shard under weighted HRW (lowest -ln(u)/w wins). */
function topByWeight(scores: readonly number[], weights: readonly number[], replicas: number): number[] {
  return scores
    .map((score, i) => ({ i, key: score / (weights[i] ?? 1) }))
    .sort((a, b) => a.key - b.key || a.i - b.i)
    .slice(0, replicas)
    .map((ranked) => ranked.i);
}

/**
 * Weighted rendezvous (HRW) placement of every shard: shard s goes to the `replicas` volumes
 * with the highest w_v / -ln(hash(s, v) / 2^64) (the standard weighted-HRW score; with equal
 * weights it ranks exactly like plain HRW on hash(s, v)). Plain HRW over only 256 shards
 * leaves some volumes 20–25% off their fair share (binomial spread), so the weights are fitted
 * to the volume set: a fixed number of rounds, each scaling every weight by
 * (fair share / load)^0.3, keeping the most balanced table seen. The result is a pure function
 * of the volume set (sorted first, so input order never matters); a joining or leaving volume
 * moves its own share plus a few percent. Index = shard number.
 */
export function placeAllShards(volumeIds: readonly string[], replicas: number): string[][] {
  const ids = [...new Set(volumeIds)].sort();
  const want = Math.min(replicas, ids.length);
  const scores = Array.from({ length: SHARD_COUNT }, (_, shard) =>
    ids.map((id) => exponentialScore(shard, id)),
  );
  const fairShare = (SHARD_COUNT * want) / Math.max(ids.length, 1);
  const weights = ids.map(() => 1);
  let best: number[][] = [];
  let bestDeviation = Infinity;
  for (let round = 0; round < WEIGHT_FIT_ROUNDS && bestDeviation > 0; round++) {
    const table = scores.map((row) => topByWeight(row, weights, want));
    const load = ids.map(() => 0);
    for (const row of table) for (const i of row) load[i] = (load[i] ?? 0) + 1;
    const deviation = Math.max(0, ...load.map((l) => Math.abs(l - fairShare) / fairShare));
    if (deviation < bestDeviation) [best, bestDeviation] = [table, deviation];
    for (let i = 0; i < ids.length; i++) {
      weights[i] = (weights[i] ?? 1) * Math.pow(fairShare / Math.max(load[i] ?? 0, 0.5), WEIGHT_FIT_STEP);
    }
  }
  return best.map((row) => row.map((i) => ids[i] ?? ""));
}

const tableCache = new Map<string, string[][]>();
const TABLE_CACHE_ENTRIES_MAX = 64;

/** The placement of one shard (cached per volume set and replica count). */
export function placeShard(shard: number, volumeIds: readonly string[], replicas: number): string[] {
  const cacheKey = `${replicas}|${[...volumeIds].sort().join(",")}`;
  let table = tableCache.get(cacheKey);
  if (table === undefined) {
    table = placeAllShards(volumeIds, replicas);
    if (tableCache.size >= TABLE_CACHE_ENTRIES_MAX) tableCache.clear();
    tableCache.set(cacheKey, table);
  }
  return [...(table[shard] ?? [])];
}

/** The HRW targets of a key: its shard's placement. */
export function placeKey(key: string, volumeIds: readonly string[], replicas: number): string[] {
  return placeShard(shardOf(key), volumeIds, replicas);
}
