import { crc32c as nativeCrc32c } from "@node-rs/crc32";
import { xxh64 } from "@node-rs/xxhash";

/** Number of virtual shards keys hash into. Fixed for the life of a cluster. */
export const SHARD_COUNT = 256;

/** CRC32C (Castagnoli). Pass the previous result as `seed` to continue over more bytes. */
export function crc32c(data: Uint8Array, seed = 0): number {
  return nativeCrc32c(data, seed) >>> 0;
}

/** shard = xxh64(utf8(key), seed 0) mod 256. */
export function shardOf(key: string): number {
  return Number(xxh64(Buffer.from(key, "utf8")) % BigInt(SHARD_COUNT));
}

/**
 * The rendezvous (HRW) score of a volume for a shard: xxh64 of "<shard>/<volumeId>" with
 * seed 0. Higher wins; ties (never seen in practice) break by volume id.
 */
export function hrwScore(shard: number, volumeId: string): bigint {
  return xxh64(Buffer.from(`${shard}/${volumeId}`, "utf8"));
}
